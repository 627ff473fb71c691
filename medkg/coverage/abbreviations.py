"""Abbreviation detectors for entity linking: "long form (SF)" / "SF (long form)" pairs.

:class:`SchwartzHearstDetector` is the Schwartz & Hearst (2003) algorithm (the one
scispaCy's AbbreviationDetector implements) without spaCy; :class:`ScispacyDetector` runs
scispaCy itself on a blank pipeline. :data:`ABBREVIATION_DETECTORS` maps the
:class:`~medkg.coverage.linking.LinkerConfig` ``abbreviations`` names to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol


class AbbreviationDetector(Protocol):
    """Finds (short form span, long form span) pairs in a text, offsets end-exclusive."""

    def find(self, text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]: ...


def _best_long_form(short: str, long: str) -> int | None:
    """Schwartz & Hearst (2003): start of the shortest suffix of ``long`` whose characters
    cover ``short`` right to left, the first character starting a word; None if none."""
    s = len(short) - 1
    ll = len(long) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while (ll >= 0 and long[ll].lower() != c) or (s == 0 and ll > 0 and long[ll - 1].isalnum()):
            ll -= 1
        if ll < 0:
            return None
        ll -= 1
        s -= 1
    return long.rfind(" ", 0, ll + 1) + 1


def _is_short_form(candidate: str) -> bool:
    return (
        2 <= len(candidate) <= 10
        and len(candidate.split()) <= 2
        and any(c.isalpha() for c in candidate)
        and candidate[0].isalnum()
    )


_PAREN = re.compile(r"\(([^()]{1,120})\)")


class SchwartzHearstDetector:
    """The Schwartz-Hearst abbreviation algorithm (as in scispaCy), without spaCy."""

    def find(self, text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        out: list[tuple[tuple[int, int], tuple[int, int]]] = []
        if "(" not in text:
            return out
        for m in _PAREN.finditer(text):
            inner = m.group(1).strip()
            inner_start = m.start(1) + (len(m.group(1)) - len(m.group(1).lstrip()))
            before = text[: m.start()].rstrip()
            if _is_short_form(inner):
                # "long form (SF)": the long form is among the preceding min(|SF|+5, 2|SF|)
                # words, within the sentence/clause.
                n_words = min(len(inner) + 5, len(inner) * 2)
                window_start = max(before.rfind(c) for c in ".;:\n") + 1
                words = list(re.finditer(r"\S+", before[window_start:]))[-n_words:]
                if not words:
                    continue
                cand_start = window_start + words[0].start()
                candidate = before[cand_start:]
                start = _best_long_form(inner, candidate)
                if start is None or len(candidate) - start <= len(inner):
                    continue
                out.append(
                    ((inner_start, inner_start + len(inner)), (cand_start + start, len(before)))
                )
            else:
                # "SF (long form)": the word before the parenthesis is the short form.
                word = re.search(r"(\S+)$", before)
                if word is None or not _is_short_form(word.group(1)) or len(inner.split()) < 2:
                    continue
                short = word.group(1)
                if not short.isupper():
                    continue
                start = _best_long_form(short, inner)
                if start is None:
                    continue
                out.append(
                    (
                        (word.start(1), word.end(1)),
                        (inner_start + start, inner_start + len(inner)),
                    )
                )
        return out


class ScispacyDetector:
    """scispaCy's AbbreviationDetector on a blank English pipeline (needs ``scispacy``)."""

    def __init__(self) -> None:
        try:
            import spacy
            from scispacy.abbreviation import AbbreviationDetector as _Sci  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "abbreviations='scispacy' needs scispaCy: pip install scispacy==0.6.2"
            ) from exc
        self._nlp = spacy.blank("en")
        self._nlp.add_pipe("abbreviation_detector")

    def find(self, text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        if "(" not in text:
            return []
        doc = self._nlp(text)
        out = []
        for abrv in doc._.abbreviations:
            lf = abrv._.long_form
            out.append(((abrv.start_char, abrv.end_char), (lf.start_char, lf.end_char)))
        return out


ABBREVIATION_DETECTORS: dict[str, Callable[[], AbbreviationDetector]] = {
    "schwartz_hearst": SchwartzHearstDetector,
    "scispacy": ScispacyDetector,
}


def clinical_abbreviations() -> list[tuple[str, tuple[str, ...]]]:
    """The curated clinical abbreviations (``data/clinical_abbreviations.tsv``, each with
    its cited source): ``(abbreviation, graph names tried in order)``."""
    from importlib.resources import files

    text = (files("medkg.coverage") / "data" / "clinical_abbreviations.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return [(r[0], tuple(n.strip() for n in r[2].split("|"))) for r in rows[1:]]


__all__ = [
    "ABBREVIATION_DETECTORS",
    "AbbreviationDetector",
    "SchwartzHearstDetector",
    "ScispacyDetector",
    "clinical_abbreviations",
]
