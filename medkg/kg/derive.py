"""Separate what medkg derives (mappings, the tree) from what sources gave, so a graph
can be extended with another source and re-derived (``medkg kg import``)."""

from __future__ import annotations

import polars as pl

from medkg.kg.model import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph
from medkg.kg.resolve import RESOLVER
from medkg.kg.tree import MET_SOURCE

DERIVED_SOURCES = (RESOLVER.name, MET_SOURCE.name)


def source_layer(kg: KnowledgeGraph) -> KnowledgeGraph:
    """The graph as its sources gave it: no MET scaffold, tree columns or resolver edges."""
    nodes = kg.nodes.filter(~pl.col("source").is_in(DERIVED_SOURCES)).select(list(NODE_SCHEMA))
    edges = kg.edges.filter(~pl.col("source").is_in(DERIVED_SOURCES)).select(list(EDGE_SCHEMA))
    sources = [s for s in kg.sources if s.name not in DERIVED_SOURCES]
    report = {k: v for k, v in kg.report.items() if not k.startswith(("resolve.", "tree."))}
    return KnowledgeGraph(nodes=nodes, edges=edges, sources=sources, report=report)


def without_source(kg: KnowledgeGraph, name: str) -> KnowledgeGraph:
    """The graph minus one source's nodes, edges and metadata (to replace its release)."""
    return KnowledgeGraph(
        nodes=kg.nodes.filter(pl.col("source") != name),
        edges=kg.edges.filter(pl.col("source") != name),
        sources=[s for s in kg.sources if s.name != name],
        report=kg.report,
    )
