"""`kg stats` on Neo4j without loading the graph: the database groups and counts.

:func:`stats_view` asks Neo4j for the entities grouped by the columns
:func:`medkg.kg.build.stats` summarises (kind, source, depth, rarity, placement,
annotation degree) and for relationship counts by type, then expands those counts into
narrow frames, so ``stats()`` runs unchanged on them and gives the same figures as on the
whole graph, at a fraction of the transfer and memory.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import polars as pl

from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph, SourceInfo

if TYPE_CHECKING:
    from medkg.kg.stores.neo4j import Neo4jStore

NODE_STATS_COLUMNS = {
    "kind": pl.String(),
    "source": pl.String(),
    "depth": pl.Int64(),
    "rare": pl.Boolean(),
    "rare_reason": pl.String(),
    "met_placement": pl.String(),
    "annotation_degree": pl.Int64(),
}


def _expand(rows: list[dict[str, object]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """One row per counted item: each group row repeated ``n`` times."""
    groups = pl.DataFrame(rows, schema={**schema, "n": pl.Int64()}, orient="row")
    if groups.is_empty():
        return pl.DataFrame(schema=schema)
    index = pl.Series("i", range(groups.height)).repeat_by(groups.get_column("n")).explode()
    return groups.drop("n")[index.to_list()]


def stats_view(store: Neo4jStore) -> KnowledgeGraph:
    """A graph with only the columns `kg stats` reads, built from Cypher aggregations."""
    meta = store._complete_meta()
    node_columns = {name for name, _type in json.loads(meta["node_columns"])}
    node_rows = store._read(cypher.stats_node_groups(), "counting entities")
    nodes = _expand(node_rows, NODE_STATS_COLUMNS)
    if "met_parent" in node_columns:  # the tree exists: stats() reports its figures
        nodes = nodes.with_columns(pl.lit("", dtype=pl.String()).alias("met_parent"))
    edge_rows = store._read(cypher.stats_edge_groups(), "counting relationships")
    edges = _expand(edge_rows, {"rel": pl.String()})
    return KnowledgeGraph(
        nodes=nodes,
        edges=edges,
        sources=[SourceInfo(**s) for s in json.loads(meta["sources"])],
        report=json.loads(meta["report"]),
    )


__all__ = ["NODE_STATS_COLUMNS", "stats_view"]
