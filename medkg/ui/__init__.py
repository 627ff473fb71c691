"""The curator workbench: a local web application over the graph store (`medkg ui`).

Layers: :mod:`graph` (an integer-indexed view of one graph snapshot), :mod:`entity`,
:mod:`datasets`, :mod:`mappings`, :mod:`coverage` (what each page shows, no HTML),
:mod:`app` (state, token, errors) and :mod:`routes` (the pages). Templates and the
vendored JavaScript live in ``templates/`` and ``static/``.
"""
