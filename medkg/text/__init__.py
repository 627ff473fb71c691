"""Text normalisation shared by linking, verification, dedup and decontamination.

* :mod:`medkg.text.fold` — the length-preserving fold of entity linking (lower case,
  accents stripped, non-alphanumerics to spaces) with offsets back to the original;
* :mod:`medkg.text.names` — whole-word name matching in question text.
"""

from medkg.text.fold import Normalised, fold, surface_key
from medkg.text.names import MIN_NAME_CHARS, names_in, normalise

__all__ = ["MIN_NAME_CHARS", "Normalised", "fold", "names_in", "normalise", "surface_key"]
