"""Checking a batch of texts handed to a batch API (embedders, retrievers)."""

from __future__ import annotations

from collections.abc import Sequence

from medkg.errors import MedkgError


def text_batch(
    texts: Sequence[str],
    *,
    call: str,
    noun: str,
    plural: str,
    empty: type[MedkgError],
) -> list[str]:
    """``texts`` as a list, or the error the batch API ``call`` gives: a bare string (a
    sequence was meant), a non-string item, or an empty ``noun`` raised as ``empty``; items
    are named by their index in the caller's list."""
    if isinstance(texts, str | bytes):
        raise TypeError(f"{call}() takes a sequence of {plural}, not a single string")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"{noun} {i} is {type(t).__name__}, not str")
        if not t.strip():
            raise empty(f"{noun} {i} is empty")
    return items
