"""The one text normalisation of medkg, shared by linking, verification, dedup and
decontamination (so "Sjögren" and "Sjogren" are the same text everywhere).

* :mod:`medkg.text.fold` — the length-preserving fold (lower case, accents stripped,
  non-alphanumerics to spaces) with offsets back to the original, its padded
  :func:`surface_key` and its :func:`words`;
* :mod:`medkg.text.names` — whole-word name matching in question text.
"""

from medkg.text.fold import Normalised, fold, surface_key, words
from medkg.text.names import MIN_NAME_CHARS, names_in, normalise

__all__ = [
    "MIN_NAME_CHARS",
    "Normalised",
    "fold",
    "names_in",
    "normalise",
    "surface_key",
    "words",
]
