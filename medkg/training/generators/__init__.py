"""Deprecated import path: use :mod:`medkg.llm` (moved there; removed after this release).

Re-exports :mod:`medkg.llm`; the submodules ``base``, ``local`` and ``openai_compat``
are deprecated aliases of ``medkg.llm.base`` etc. (Not replaced by ``medkg.llm`` in
``sys.modules``: the import system would then load ``medkg/llm/*.py`` a second time under
the old names.)
"""

from medkg.llm import *  # noqa: F403
from medkg.llm import __all__ as __all__
