"""A Neo4j save reports its progress per step (rows done of rows total)."""

from __future__ import annotations

import itertools

import pytest

from medkg.kg.model import KnowledgeGraph


@pytest.mark.neo4j
def test_neo4j_save_reports_rows_per_step(neo4j_server: object, small_kg: KnowledgeGraph) -> None:
    from medkg.kg.stores.neo4j import Neo4jStore

    store = Neo4jStore(uri=neo4j_server.uri, batch_size=4)  # type: ignore[attr-defined]
    events: list[tuple[str, int, int]] = []
    store.save_progress = lambda step, done, total: events.append((step, done, total))
    try:
        store.clear()
        store.save(small_kg)
    finally:
        store.close()
    entities = [(d, t) for s, d, t in events if s == "writing entities"]
    relations = [(d, t) for s, d, t in events if s == "writing relationships"]
    assert len(entities) >= 3  # one tick per transaction of <= 4 rows
    assert entities[-1] == (small_kg.nodes.height, small_kg.nodes.height)
    assert relations[-1] == (small_kg.edges.height, small_kg.edges.height)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(entities))
