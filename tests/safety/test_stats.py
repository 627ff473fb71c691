"""`kg stats` on Neo4j never loads the graph and equals the figures computed on the whole
graph loaded from the embedded store: from the save-time summary while Neo4j's count store
agrees with it, from aggregations in Cypher otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from medkg.kg import cypher
from medkg.kg.build import stats
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.kg.stores.neo4j_stats import stats_summary, stats_view

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def neo(neo4j_server: Any, small_kg: KnowledgeGraph) -> Iterator[Neo4jStore]:
    with Neo4jStore(uri=neo4j_server.uri) as store:
        store.save(small_kg)
        yield store


def queries_of(store: Neo4jStore, fn: Any) -> tuple[Any, list[str]]:
    """``fn()``'s result and the query texts it sent through ``store.read``."""
    sent: list[str] = []
    read = store.read

    def recording(work: Any, action: str) -> Any:
        def spy(run: Any) -> Any:
            def logged(query: str, **params: Any) -> Any:
                sent.append(query)
                return run(query, **params)

            return work(logged)

        return read(spy, action)

    store.read = recording  # type: ignore[method-assign]
    try:
        return fn(), sent
    finally:
        del store.read


def test_neo4j_stats_equal_the_full_graph_figures(
    neo: Neo4jStore, small_kg: KnowledgeGraph, tmp_path: Any
) -> None:
    embedded = EmbeddedStore(tmp_path / "graph")
    embedded.save(small_kg)
    expected = stats(embedded.load())
    assert expected == stats(small_kg)
    view, sent = queries_of(neo, neo.stats_view)
    assert view.nodes.height == small_kg.nodes.height
    assert view.edges.height == small_kg.edges.height
    assert stats(view) == expected
    # the summary path scans nothing: no entity scan, no relationship scan
    assert not any("RETURN n.kind AS kind" in q or "r.key IS NOT NULL" in q for q in sent)
    aggregated, sent = queries_of(neo, lambda: stats_view(neo, use_summary=False))
    assert stats(aggregated) == expected
    assert any(q == cypher.stats_node_groups() for q in sent)


def test_the_save_time_summary_equals_the_database_aggregations(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    summary = stats_summary(small_kg.nodes)

    def key(row: dict[str, Any]) -> str:
        return repr(sorted(row.items()))

    groups = neo._read(cypher.stats_node_groups(), "test")
    assert sorted(summary["groups"], key=key) == sorted(groups, key=key)
    assert set(summary["details"]) == {"Disease", "Phenotype", "Gene"} & set(
        small_kg.nodes.get_column("kind").to_list()
    )
    for kind, rows in summary["details"].items():
        got = neo._read(cypher.stats_kind_details(kind), "test", kind=kind)
        assert sorted(rows, key=key) == sorted(got, key=key), kind


def test_a_graph_changed_outside_medkg_is_aggregated_again(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    # An extra relationship written by another tool: the count store no longer matches
    # the save's record, so the summary is not trusted.
    neo._run(
        "MATCH (a:Entity {id: 'OMIM:154700'}), (b:Entity {id: 'HP:0001166'}) "
        "CREATE (a)-[:HAS_PHENOTYPE {key: 'outside'}]->(b)",
        "test",
    )
    got = stats(neo.stats_view())
    assert (
        got["edges_by_rel"]["HAS_PHENOTYPE"] == stats(small_kg)["edges_by_rel"]["HAS_PHENOTYPE"] + 1
    )
    # An entity deleted outside medkg (with its relationships).
    neo._run("MATCH (n:Entity {id: 'OMIM:154700'}) DETACH DELETE n", "test")
    nodes = small_kg.nodes.filter(pl.col("id") != "OMIM:154700")
    edges = small_kg.edges.filter(
        (pl.col("src") != "OMIM:154700") & (pl.col("dst") != "OMIM:154700")
    )
    left = KnowledgeGraph(
        nodes=nodes, edges=edges, sources=small_kg.sources, report=small_kg.report
    )
    assert stats(neo.stats_view()) == stats(left)


def test_deleted_tree_links_are_not_taken_for_edges(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo._run(f"MATCH ()-[r:{cypher.TREE_REL}]->() WITH r LIMIT 1 DELETE r", "test")
    assert stats(neo.stats_view()) == stats(small_kg)


def test_a_graph_saved_before_the_summary_is_aggregated(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo._run(
        f"MATCH (m:{cypher.META}) REMOVE m.stats_summary, m.tree_links", "forgetting the summary"
    )
    view, sent = queries_of(neo, neo.stats_view)
    assert stats(view) == stats(small_kg)
    assert cypher.stats_node_groups() in sent
