"""`kg stats` on Neo4j is aggregated in the database and equals the figures computed on
the whole graph loaded from the embedded store."""

from __future__ import annotations

from typing import Any

import pytest

from medkg.kg.build import stats
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore

pytestmark = pytest.mark.neo4j


def test_neo4j_stats_from_aggregations_equal_the_full_graph_figures(
    neo4j_server: Any, small_kg: KnowledgeGraph, tmp_path: Any
) -> None:
    embedded = EmbeddedStore(tmp_path / "graph")
    embedded.save(small_kg)
    with Neo4jStore(uri=neo4j_server.uri) as neo:
        neo.save(small_kg)
        view = neo.stats_view()
        assert view.nodes.height == small_kg.nodes.height
        assert view.edges.height == small_kg.edges.height
        assert stats(view) == stats(embedded.load()) == stats(small_kg)
