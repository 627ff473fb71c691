"""Sense choice for surface forms that name several entities, from the text's context.

One form often names several graph entities. Two cases differ:

* the entities are **the same concept** in different sources ("Marfan syndrome" in MeSH,
  OMIM, Orphanet and ICD-10, joined by exact MAPS_TO mappings): any is right; the user's
  preferred source order (``LinkerConfig.prefix_priority``) picks one, and the mention
  carries the others as ``equivalents``;
* the entities are **different concepts** ("DM" as diabetes mellitus or myotonic
  dystrophy; a disease and a phenotype of the same name): the text decides. Each concept
  (a group of equivalent candidates) gets a support score: how many of the entities the
  same text mentions unambiguously are it, one of its equivalents, or one of its graph
  neighbours (any relation: parent, child, phenotype, gene, ...). The best supported
  concept wins; on a tie (no support at all, most often) the priority order of the
  dictionary does.

Neighbourhoods are kept only for entities that share a form with another one, so the
table stays small (:meth:`SenseContext.from_graph`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from medkg.coverage.equivalence import Equivalence, exact_mapping_pairs
from medkg.kg.model import GENE, IS_A, KnowledgeGraph


class SenseContext:
    """Graph neighbourhoods of ambiguous candidates, exact-mapping equivalence and the
    preferred source order."""

    def __init__(
        self,
        neighbours: dict[str, frozenset[str]],
        equivalence: Equivalence,
        prefix_priority: Sequence[str],
        mapping_pairs: pl.DataFrame | None = None,
        kind_rank: dict[str, int] | None = None,
        symbols: Iterable[str] = (),
    ) -> None:
        self.neighbours = neighbours
        self.equivalence = equivalence
        self._prefix_rank = {p: i for i, p in enumerate(prefix_priority)}
        self._pairs = mapping_pairs
        # position of each ambiguous candidate's kind in LinkerConfig.kinds: within one
        # concept the kind order comes before the source order
        self.kind_rank = kind_rank or {}
        # gene symbols of the graph (names and synonyms in capitals): short forms that
        # are not linked as undefined abbreviations of other kinds
        self.symbols = frozenset(symbols)

    @classmethod
    def from_graph(
        cls,
        kg: KnowledgeGraph,
        ambiguous: Iterable[str],
        prefix_priority: Sequence[str],
        kinds: Sequence[str] = (),
        linkable: Iterable[str] = (),
    ) -> SenseContext:
        """Neighbourhoods (edges of any relation, both directions) of the ``ambiguous``
        candidates, the kinds' positions in ``kinds`` of those and of every ``linkable``
        entity (a mention moves to an exact equivalent of its own kind only), and the
        graph's exact mappings."""
        wanted = pl.Series("id", sorted(set(ambiguous)), dtype=pl.String())
        ranked = pl.Series("id", sorted(set(ambiguous) | set(linkable)), dtype=pl.String())
        position = {k: i for i, k in enumerate(kinds)}
        kind_rank = {
            i: position.get(k, len(position))
            for i, k in kg.nodes.filter(pl.col("id").is_in(ranked.implode()))
            .select("id", "kind")
            .iter_rows()
        }
        edges = kg.edges.select("src", "dst")
        both = pl.concat([
            edges.filter(pl.col("src").is_in(wanted.implode())).rename({"src": "id", "dst": "nbr"}),
            edges.filter(pl.col("dst").is_in(wanted.implode())).select(
                pl.col("dst").alias("id"), pl.col("src").alias("nbr")
            ),
        ]).unique()  # fmt: skip
        neighbours = {
            i: frozenset(n) for i, n in both.group_by("id").agg(pl.col("nbr")).iter_rows()
        }
        pairs = exact_mapping_pairs(kg)
        genes = kg.nodes.filter(pl.col("kind") == GENE)
        forms = genes.get_column("name").drop_nulls().to_list() + (
            genes.get_column("synonyms").explode().drop_nulls().to_list()
        )
        symbols = {f for f in forms if f.isupper() and f.isalnum() and len(f) <= 8}
        return cls(
            neighbours, Equivalence(pairs.iter_rows()), prefix_priority, pairs, kind_rank, symbols
        )

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        """``neighbours.parquet`` and ``mappings.parquet`` beside the surface table."""
        ids = sorted(set(self.neighbours) | set(self.kind_rank))
        pl.DataFrame(
            {
                "id": ids,
                "kind_rank": [self.kind_rank.get(i) for i in ids],
                "nbrs": [sorted(self.neighbours.get(i, ())) for i in ids],
            },
            schema={"id": pl.String(), "kind_rank": pl.Int64(), "nbrs": pl.List(pl.String())},
        ).write_parquet(folder / "neighbours.parquet")
        pairs = (
            self._pairs
            if self._pairs is not None
            else pl.DataFrame(schema={"src": pl.String(), "dst": pl.String()})
        )
        pairs.write_parquet(folder / "mappings.parquet")
        pl.DataFrame(
            {"symbol": sorted(self.symbols)}, schema={"symbol": pl.String()}
        ).write_parquet(folder / "symbols.parquet")

    @classmethod
    def load(cls, folder: Path, prefix_priority: Sequence[str]) -> SenseContext:
        nb = pl.read_parquet(folder / "neighbours.parquet")
        pairs = pl.read_parquet(folder / "mappings.parquet")
        neighbours = {i: frozenset(n) for i, _, n in nb.iter_rows() if n}
        kind_rank = {i: k for i, k, _ in nb.iter_rows() if k is not None}
        symbols = pl.read_parquet(folder / "symbols.parquet").get_column("symbol").to_list()
        return cls(
            neighbours, Equivalence(pairs.iter_rows()), prefix_priority, pairs, kind_rank, symbols
        )

    # ------------------------------------------------------------------ choice
    def support(self, candidate: str, context: set[str]) -> int:
        """Context entities that are ``candidate``, its equivalents or its neighbours."""
        if not context:
            return 0
        n = int(candidate in context)
        n += sum(e in context for e in self.equivalence.of(candidate))
        nbrs = self.neighbours.get(candidate)
        if nbrs:
            n += len(nbrs & context)
        return n

    def choose(self, candidates: Sequence[str], context: set[str]) -> str:
        """The candidate to link (see the module docstring); ``candidates`` best first."""
        if len(candidates) == 1:
            return candidates[0]
        # group equivalent candidates into concepts, in priority order
        concepts: list[list[str]] = []
        for c in candidates:
            for group in concepts:
                if any(self.equivalence.same(c, g) for g in group):
                    group.append(c)
                    break
            else:
                concepts.append([c])
        best = concepts[0]
        if len(concepts) > 1 and context:
            scores = [sum(self.support(c, context) for c in g) for g in concepts]
            top = max(scores)
            if top > 0:
                best = concepts[scores.index(top)]
        if len(best) == 1:
            return best[0]
        n = len(self._prefix_rank)
        # within one concept: the kind order, then the preferred source, then the
        # dictionary order
        return min(
            best,
            key=lambda c: (
                self.kind_rank.get(c, n),
                self._prefix_rank.get(c.split(":", 1)[0], n),
                best.index(c),
            ),
        )


def scr_number(entity_id: str) -> int | None:
    """The number of a MeSH supplementary record's UI ("MESH:C565165" -> 565165), else None."""
    ui = entity_id[5:] if entity_id.startswith("MESH:C") else ""
    return int(ui[1:]) if ui[1:].isdigit() else None


def deferred_scr_headings(
    kg: KnowledgeGraph, defer_from: str | None, linkable: Iterable[str]
) -> dict[str, str]:
    """Linkable MeSH supplementary records at or after UI ``defer_from`` ("C560000"), each
    with the MeSH descriptor it is mapped to (its ``IS_A`` parent; the graph's placement
    parent first when there are several), or itself when it has none.

    Why: NLM added the disease portion of OMIM to MeSH as supplementary records from the
    2013 release on (NLM Technical Bulletin 2012 Nov-Dec, "What's New for 2013 MeSH"),
    one block of UIs (C56xxxx: 3,418 disease SCRs in the graph, after a gap from the
    2,730 of the earlier rare-disease block, C535xxx-C539xxx). Text annotated against an
    older vocabulary names those diseases by the OMIM entry or by the descriptor the record
    now maps to (:meth:`~medkg.coverage.linking.Linker._preferred`)."""
    cut = scr_number(f"MESH:{defer_from}") if defer_from else None
    if cut is None:
        return {}
    late = {e for e in linkable if (n := scr_number(e)) is not None and n >= cut}
    if not late:
        return {}
    parents = (
        kg.edges.filter(
            (pl.col("rel") == IS_A)
            & pl.col("src").is_in(list(late))
            & pl.col("dst").str.starts_with("MESH:D")
        )
        .select("src", "dst")
        .sort("src", "dst")
    )
    placed: dict[str, str] = (
        dict(kg.nodes.filter(pl.col("id").is_in(list(late))).select("id", "met_parent").iter_rows())
        if "met_parent" in kg.nodes.columns
        else {}
    )
    heads: dict[str, str] = {e: e for e in late}
    for src, dst in parents.iter_rows():
        if heads[src] == src or dst == placed.get(src):
            heads[src] = dst
    return heads


__all__ = ["SenseContext", "deferred_scr_headings", "scr_number"]
