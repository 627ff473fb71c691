"""Text normalisation of entity linking: one folding for dictionary surface forms and the
texts they are found in, with offsets that map back to the original text."""

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
            )
            out = base if len(base) == 1 else low
        else:
            out = " "
        self[code] = ord(out)
        return ord(out)


_FOLD = _FoldTable()
for _code in range(128):
    _FOLD[_code]
_SPACE_RUN = re.compile(" {2,}")


def fold(text: str) -> str:
    """Length-preserving normalisation: lower case, no accents, non-alphanumerics spaces."""
    return text.translate(_FOLD)


def surface_key(text: str) -> str:
    """The dictionary key of a surface form: folded, single-spaced, padded with spaces."""
    return " " + " ".join(fold(text).split()) + " "


class Normalised:
    """A text folded, padded and collapsed, with the map back to original offsets."""

    __slots__ = ("_breaks", "_shifts", "text")

    def __init__(self, original: str) -> None:
        padded = " " + fold(original) + " "
        breaks: list[int] = []
        shifts: list[int] = []
        if "  " in padded:
            removed = 0
            pieces: list[str] = []
            last = 0
            for m in _SPACE_RUN.finditer(padded):
                pieces.append(padded[last : m.start() + 1])
                last = m.end()
                removed += m.end() - m.start() - 1
                # collapsed positions from here on sit `removed` characters earlier
                breaks.append(m.start() + 1 - (removed - (m.end() - m.start() - 1)))
                shifts.append(removed)
            pieces.append(padded[last:])
            padded = "".join(pieces)
        self.text = padded
        self._breaks = breaks
        self._shifts = shifts

    def original(self, pos: int) -> int:
        """Offset in the original text of collapsed position ``pos`` (a non-space char or
        the position just after one)."""
        i = bisect.bisect_right(self._breaks, pos) - 1
        return pos + (self._shifts[i] if i >= 0 else 0) - 1


__all__ = ["Normalised", "fold", "surface_key"]
