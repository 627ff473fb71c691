"""The one text normalisation of medkg: a character fold used by the linker, the verifier,
dedup and decontamination alike, so that they agree on what counts as the same text.

:func:`fold` lower-cases, strips accents ("Sjögren" and "Sjogren" fold the same) and turns
every non-alphanumeric character into a space, one character for one (offsets map back to
the original text, which the linker needs). :func:`surface_key` is the folded text with
single spaces, padded for whole-word containment; :func:`words` its tokens."""

from __future__ import annotations

import bisect
import re
import unicodedata


class _FoldTable(dict[int, int]):
    """``str.translate`` table: one character in, one out (offsets are preserved).

    Alphanumerics are lower-cased with accents stripped; everything else becomes a
    space. Filled lazily for non-ASCII code points."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        if ch.isalnum():
            low = ch.lower()
            if len(low) != 1:
                low = ch
            base = "".join(
                c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c)
            ).lower()  # again: the decomposition may uncover a capital ("𝐌" -> "M")
            out = base if len(base) == 1 else low
        else:
            out = " "
        self[code] = ord(out)
        return ord(out)


_FOLD = _FoldTable()
for _code in range(128):
    _FOLD[_code]
_SPACE_RUN = re.compile(" {2,}")
# Accents written as combining marks (Unicode NFD: "Sjo\u0308gren"). fold() keeps one
# character for one, so it makes them spaces, which would split their word; the keys,
# the words and the linker's collapsed text drop them instead (the blocks of combining
# diacritical marks: the accents NFKD takes off precomposed letters)
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def fold(text: str) -> str:
    """Length-preserving normalisation: lower case, no accents, non-alphanumerics spaces
    (a combining mark too: see :func:`surface_key` and :class:`Normalised`, which drop it)."""
    return text.translate(_FOLD)


def _unmarked(text: str) -> str:
    return text if text.isascii() else _MARKS.sub("", text)


def surface_key(text: str) -> str:
    """The dictionary key of a surface form: folded, single-spaced, padded with spaces
    (so ``" " + word + " " in surface_key(text)`` is whole-word containment); combining
    marks are dropped ("Sjo\u0308gren" is "sjogren")."""
    return " " + " ".join(fold(_unmarked(text)).split()) + " "


def words(text: str) -> list[str]:
    """The folded word tokens of ``text`` (combining marks dropped)."""
    return fold(_unmarked(text)).split()


def _squeeze(
    text: str, spans: list[tuple[int, int]], keep: int
) -> tuple[str, list[int], list[int]]:
    """``text`` without each span's characters after its first ``keep``, and the map back:
    output positions from ``breaks[i]`` on sit ``shifts[i]`` characters earlier."""
    breaks: list[int] = []
    shifts: list[int] = []
    pieces: list[str] = []
    last = removed = 0
    for start, end in spans:
        cut = start + keep
        pieces.append(text[last:cut])
        last = end
        breaks.append(cut - removed)
        removed += end - cut
        shifts.append(removed)
    pieces.append(text[last:])
    return "".join(pieces), breaks, shifts


def _shift(pos: int, breaks: list[int], shifts: list[int]) -> int:
    i = bisect.bisect_right(breaks, pos) - 1
    return pos + (shifts[i] if i >= 0 else 0)


class Normalised:
    """A text folded, padded and collapsed, with the map back to original offsets.

    Combining marks are dropped (before the spaces are collapsed), so an accent written
    as a mark does not split its word; :meth:`end` takes a mark after a match's last
    letter into the span."""

    __slots__ = ("_breaks", "_mark_breaks", "_mark_ends", "_mark_shifts", "_shifts", "text")

    def __init__(self, original: str) -> None:
        padded = " " + fold(original) + " "
        marks = [] if original.isascii() else list(_MARKS.finditer(original))
        # original offset where a run of marks starts -> where it ends (for end())
        self._mark_ends = {m.start(): m.end() for m in marks}
        self._mark_breaks: list[int] = []
        self._mark_shifts: list[int] = []
        if marks:
            padded, self._mark_breaks, self._mark_shifts = _squeeze(
                padded, [(m.start() + 1, m.end() + 1) for m in marks], 0
            )
        self._breaks: list[int] = []
        self._shifts: list[int] = []
        if "  " in padded:
            runs = [m.span() for m in _SPACE_RUN.finditer(padded)]
            padded, self._breaks, self._shifts = _squeeze(padded, runs, 1)
        self.text = padded

    def original(self, pos: int) -> int:
        """Offset in the original text of collapsed position ``pos`` (a non-space char or
        the position just after one)."""
        pos = _shift(pos, self._breaks, self._shifts)
        if self._mark_breaks:
            pos = _shift(pos, self._mark_breaks, self._mark_shifts)
        return pos - 1

    def end(self, pos: int) -> int:
        """Original end offset (exclusive) of a match ending at collapsed ``pos``: after
        its last character and the combining marks on it."""
        o = self.original(pos - 1) + 1
        return self._mark_ends.get(o, o)


__all__ = ["Normalised", "fold", "surface_key", "words"]
