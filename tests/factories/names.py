"""Plain formulations of the synthesis name rules: the references the fast one-pass name
signatures of :mod:`medkg.synthesis.clinical` are checked against."""

from __future__ import annotations

from medkg.kg.index import SynthesisGraph
from medkg.synthesis.clinical import acronym, name_core


def names_of(g: SynthesisGraph, row: int) -> list[str]:
    """A row's name and its synonyms."""
    return [g.names[row], *(g.synonyms[row] if row < len(g.synonyms) else [])]


def plain_cores(g: SynthesisGraph, row: int) -> list[frozenset[str]]:
    """The non-empty name cores of a row's name and synonyms."""
    return [c for c in {name_core(x) for x in names_of(g, row)} if c]


def plain_acronyms(g: SynthesisGraph, row: int) -> set[str]:
    """Acronyms of a row's name cores (their words in name order)."""
    names = names_of(g, row)
    return {acronym(" ".join(sorted(name_core(x), key=x.lower().find))) for x in names} - {""}
