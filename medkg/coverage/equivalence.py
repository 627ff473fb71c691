"""Which graph entities denote the same concept: the graph's exact MAPS_TO mappings.

A ``MAPS_TO`` edge links entities of different sources (``OMIM:154700 MAPS_TO
MESH:D008382``). Edges marked ``props.match = "broad"`` say the target is a *broader*
concept (a subtype mapped to its family), so they are not equivalence. What is left is
read as "the same concept", in both directions, **one hop only**: chaining hops would
merge every subtype that maps to one descriptor into one concept.

The linker returns these equivalents with each mention, the linking evaluation counts a
prediction as right "via MAPS_TO" when the gold id is one of them, and the coverage audit
rolls a mention up the branches of its equivalents as well as its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import polars as pl

from medkg.kg.model import MAPS_TO, KnowledgeGraph


def _is_broad(props: str | None) -> bool:
    if not props:
        return False
    try:
        data = json.loads(props)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("match") == "broad"


def exact_mapping_pairs(kg: KnowledgeGraph) -> pl.DataFrame:
    """``src``, ``dst`` of the graph's MAPS_TO edges that are not broad matches."""
    edges = kg.edges.filter(pl.col("rel") == MAPS_TO).select("src", "dst", "props")
    broad = [_is_broad(p) for p in edges.get_column("props").to_list()]
    return (
        edges.filter(~pl.Series(broad, dtype=pl.Boolean()))
        .select("src", "dst")
        .unique(maintain_order=True)
    )


class Equivalence:
    """Exact-mapping neighbours of each entity (symmetric, one hop)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        nbrs: dict[str, set[str]] = {}
        for a, b in pairs:
            if a == b:
                continue
            nbrs.setdefault(a, set()).add(b)
            nbrs.setdefault(b, set()).add(a)
        self._nbrs = {k: tuple(sorted(v)) for k, v in nbrs.items()}

    @classmethod
    def from_graph(cls, kg: KnowledgeGraph) -> Equivalence:
        """Equivalence from the graph's exact MAPS_TO edges."""
        return cls(exact_mapping_pairs(kg).iter_rows())

    def of(self, entity_id: str) -> tuple[str, ...]:
        """The entities mapped to ``entity_id`` as the same concept (itself excluded)."""
        return self._nbrs.get(entity_id, ())

    def same(self, a: str, b: str) -> bool:
        """``a`` is ``b`` or an exact mapping links them."""
        return a == b or b in self._nbrs.get(a, ())

    def __len__(self) -> int:
        return len(self._nbrs)


__all__ = ["Equivalence", "exact_mapping_pairs"]
