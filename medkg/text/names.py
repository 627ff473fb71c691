"""Whole-word name matching in question text, shared by the verifier, the paraphrase
re-check and the retrieval query generator (no model or generator imports here)."""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_NAME_CHARS = 3  # shorter names/synonyms ("A", "CF"?) are too ambiguous to match in text


def normalise(text: str) -> str:
    """Lower case, punctuation to spaces, padded with spaces for whole-word containment."""
    return " " + " ".join(re.sub(r"[\W_]+", " ", text.lower()).split()) + " "


def names_in(text_norm: str, names: Iterable[str], min_chars: int = MIN_NAME_CHARS) -> bool:
    """True if any name of at least ``min_chars`` characters (whole words, case and
    punctuation ignored) occurs in ``text_norm`` (a :func:`normalise`-d text)."""
    for name in names:
        n = normalise(name)
        if len(n.strip()) >= min_chars and n in text_norm:
            return True
    return False


__all__ = ["MIN_NAME_CHARS", "names_in", "normalise"]
