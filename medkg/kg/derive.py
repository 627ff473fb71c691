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


IMPORTS_KEY = "store.imported_sources"
"""Report key (kept in the store's manifest) naming the sources added with `kg import`."""


def imported_names(report: dict[str, object]) -> list[str]:
    """Sources a store's graph got from `medkg kg import` (from its manifest's report)."""
    names = report.get(IMPORTS_KEY) or []
    return sorted(str(n) for n in names) if isinstance(names, list) else []


def imported_layer(kg: KnowledgeGraph, names: list[str]) -> KnowledgeGraph:
    """Only the given (imported) sources' nodes, edges and metadata, as they were loaded."""
    layer = source_layer(kg)
    return KnowledgeGraph(
        nodes=layer.nodes.filter(pl.col("source").is_in(names)),
        edges=layer.edges.filter(pl.col("source").is_in(names)),
        sources=[s for s in layer.sources if s.name in names],
        report={},
    )


def with_imports(kg: KnowledgeGraph, names: list[str]) -> KnowledgeGraph:
    """``kg`` with its report naming the imported sources (recorded in the manifest)."""
    report = {**kg.report, IMPORTS_KEY: sorted(set(names))} if names else dict(kg.report)
    if not names:
        report.pop(IMPORTS_KEY, None)
    return KnowledgeGraph(nodes=kg.nodes, edges=kg.edges, sources=kg.sources, report=report)
