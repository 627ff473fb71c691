"""`kg stats` on Neo4j without loading the graph: the database groups and counts.

:func:`stats_view` asks Neo4j for the entities grouped by the columns
:func:`medkg.kg.build.stats` summarises (kind, source, depth, rarity, placement,
annotation degree) and for relationship counts by type (from its count store), then
expands those counts into narrow frames, so ``stats()`` runs unchanged on them and gives
the same figures as on the whole graph, at a fraction of the transfer and memory.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph, SourceInfo

if TYPE_CHECKING:
    from medkg.kg.stores.neo4j import Neo4jStore

GROUP_COLUMNS = {
    "kind": pl.String(),
    "source": pl.String(),
    "depth": pl.Int64(),
    "met_placement": pl.String(),
}
DETAIL_COLUMNS = {"rare": pl.Boolean(), "rare_reason": pl.String(), "annotation_degree": pl.Int64()}
DETAIL_KINDS = ("Disease", "Phenotype", "Gene")
"""Kinds whose rarity / annotation degree `kg stats` reads (see medkg.kg.build.stats)."""


def _expand(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    """One row per counted item: each group row repeated ``n`` times (groups sorted)."""
    groups = pl.DataFrame(rows, schema={**schema, "n": pl.Int64()}, orient="row")
    if groups.is_empty():
        return pl.DataFrame(schema=schema)
    groups = groups.sort(list(schema), nulls_last=True)
    index = pl.Series("i", range(groups.height)).repeat_by(groups.get_column("n")).explode()
    return groups.drop("n")[index.to_list()]


def _nodes(store: Neo4jStore) -> pl.DataFrame:
    """Entities as narrow rows. stats() reads rarity and degree only per kind, never jointly
    with source, depth or placement, so those come from cheap per-kind label scans and are
    set beside the kind's rows; if a kind's counts disagree (labels out of step with
    ``kind``), the exact joint grouping is used instead."""
    base = _expand(store._read(cypher.stats_node_groups(), "counting entities"), GROUP_COLUMNS)
    parts = []
    for (kind,), part in base.partition_by("kind", as_dict=True, maintain_order=True).items():
        if kind in DETAIL_KINDS:
            rows = store._read(cypher.stats_kind_details(kind), "counting entities", kind=kind)
            detail = _expand(rows, DETAIL_COLUMNS)
            if detail.height != part.height:
                full = store._read(cypher.stats_node_groups(detail=True), "counting entities")
                return _expand(full, {**GROUP_COLUMNS, **DETAIL_COLUMNS})
        else:
            detail = pl.DataFrame(
                {c: pl.Series(c, [None] * part.height, dtype=t) for c, t in DETAIL_COLUMNS.items()}
            )
        parts.append(pl.concat([part, detail], how="horizontal"))
    return pl.concat(parts) if parts else pl.DataFrame(schema={**GROUP_COLUMNS, **DETAIL_COLUMNS})


def stats_view(store: Neo4jStore) -> KnowledgeGraph:
    """A graph with only the columns `kg stats` reads, built from Cypher aggregations."""
    meta = store._complete_meta()
    node_columns = {name for name, _type in json.loads(meta["node_columns"])}
    nodes = _nodes(store)
    if "met_parent" in node_columns:  # the tree exists: stats() reports its figures
        nodes = nodes.with_columns(pl.lit("", dtype=pl.String()).alias("met_parent"))
    edge_rows = []
    for row in store._read(cypher.relationship_types(), "listing relationship types"):
        rel = row["rel"]
        # Edge rows are keyed; only the derived tree links (TREE_REL) are not, so every
        # other type is counted from the count store instead of scanning relationships.
        query = (cypher.count_keyed_relationships if rel == cypher.TREE_REL
                 else cypher.count_relationships)(rel)  # fmt: skip
        n = store._read(query, "counting relationships")[0]["n"]
        if n:
            edge_rows.append({"rel": rel, "n": n})
    edges = _expand(sorted(edge_rows, key=lambda r: str(r["rel"])), {"rel": pl.String()})
    return KnowledgeGraph(
        nodes=nodes,
        edges=edges,
        sources=[SourceInfo(**s) for s in json.loads(meta["sources"])],
        report=json.loads(meta["report"]),
    )


__all__ = ["DETAIL_COLUMNS", "DETAIL_KINDS", "GROUP_COLUMNS", "stats_view"]
