"""Neo4j-specific behaviour of the store: layout in the database and every error path."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from medkg.config import Neo4jSettings
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import StoreError, open_store
from medkg.kg.stores.neo4j import Neo4jStore, dtype_from_name, dtype_name, edge_keys

pytestmark = pytest.mark.neo4j

PASSWORD = "medkg-test-secret"


@pytest.fixture()
def neo(neo4j_server: Any) -> Iterator[Neo4jStore]:
    store = Neo4jStore(uri=neo4j_server.uri, batch_size=3)
    store.clear()
    try:
        yield store
    finally:
        store.close()


def _db(store: Neo4jStore, query: str, **params: Any) -> list[dict[str, Any]]:
    return store._read(query, "test query", **params)


def _snapshot(store: Neo4jStore) -> dict[str, Any]:
    nodes = _db(
        store,
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props ORDER BY n.id",
    )
    rels = _db(
        store,
        "MATCH (s)-[r]->(d) RETURN s.id AS s, type(r) AS t, d.id AS d, properties(r) AS p "
        "ORDER BY s, t, d, r.key",
    )
    for n in nodes:
        n["labels"] = sorted(n["labels"])
        if "MedkgMeta" in n["labels"]:
            for volatile in ("saved_at", "started_at", "seconds"):
                n["props"].pop(volatile, None)
    return {"nodes": nodes, "rels": rels}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- layout
def test_layout_labels_keys_and_tree_links(neo: Neo4jStore, small_kg: KnowledgeGraph) -> None:
    report = neo.save(small_kg)
    counts = _db(neo, "MATCH (n:Entity) RETURN count(n) AS n")[0]["n"]
    assert counts == small_kg.nodes.height
    labels = _db(neo, "MATCH (n:Entity {id: 'ORPHA:558'}) RETURN labels(n) AS l")[0]["l"]
    assert sorted(labels) == ["Disease", "Entity"]
    keyed = _db(neo, "MATCH ()-[r]->() WHERE r.key IS NOT NULL RETURN count(r) AS n")[0]["n"]
    assert keyed == small_kg.edges.height
    keys = {r["k"] for r in _db(neo, "MATCH ()-[r]->() RETURN r.key AS k") if r["k"]}
    assert keys == set(edge_keys(small_kg.edges))
    tree = _db(
        neo,
        "MATCH (c)-[r:MET_PARENT]->(p) RETURN c.id AS c, p.id AS p, r.key AS key",
    )
    want = {
        (i, p) for i, p in small_kg.nodes.select("id", "met_parent").iter_rows() if p is not None
    }
    assert {(r["c"], r["p"]) for r in tree} == want
    assert all(r["key"] is None for r in tree)
    assert report.details["met_parent_links"] == len(want)
    assert report.details["met_parent_missing"] == 0
    # Lists are Neo4j lists, props stays a JSON string, nulls are absent.
    props = _db(neo, "MATCH (n:Entity {id: 'ORPHA:558'}) RETURN properties(n) AS p")[0]["p"]
    assert props["synonyms"] == ["MFS", "Marfan's syndrome"]
    assert props["props"] == '{"prevalence":"1-5 / 10 000","type":"Disease"}'
    gene = _db(neo, "MATCH (n:Entity {id: 'MET:root'}) RETURN properties(n) AS p")[0]["p"]
    assert "met_parent" not in gene and "definition" not in gene


def test_double_save_leaves_the_database_identical(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo.save(small_kg)
    before = _snapshot(neo)
    report = neo.save(small_kg)
    assert _snapshot(neo) == before
    assert report.details.get("nodes_created", 0) == 0
    assert report.details.get("relationships_created", 0) == 0


def test_kind_change_moves_the_label_and_tree_link(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo.save(small_kg)
    changed = small_kg.nodes.with_columns(
        pl.when(pl.col("id") == "HP:0003577").then(pl.lit("Phenotype")).otherwise("kind").alias("kind"),
        pl.when(pl.col("id") == "HP:0003577").then(pl.lit("HP:0000118")).otherwise("met_parent").alias("met_parent"),
    )  # fmt: skip
    neo.save(KnowledgeGraph.from_frames(changed, small_kg.edges, small_kg.sources))
    labels = _db(neo, "MATCH (n:Entity {id: 'HP:0003577'}) RETURN labels(n) AS l")[0]["l"]
    assert sorted(labels) == ["Entity", "Phenotype"]
    parents = _db(neo, "MATCH (:Entity {id: 'HP:0003577'})-[:MET_PARENT]->(p) RETURN p.id AS p")
    assert [r["p"] for r in parents] == ["HP:0000118"]


def test_exact_duplicate_edge_rows_are_kept(neo: Neo4jStore, small_kg: KnowledgeGraph) -> None:
    edges = pl.concat([small_kg.edges, small_kg.edges.head(1)])
    kg = KnowledgeGraph.from_frames(small_kg.nodes, edges, small_kg.sources)
    neo.save(kg)
    back = neo.load()
    assert back.edges.height == edges.height
    assert back.content_hash() == kg.content_hash()


def test_search_uses_the_fulltext_index(neo: Neo4jStore, small_kg: KnowledgeGraph) -> None:
    neo.save(small_kg)
    idx = _db(neo, "SHOW FULLTEXT INDEXES YIELD name, properties RETURN name, properties")
    assert {"name": "medkg_entity_search", "properties": ["name", "synonyms"]} in idx
    assert neo.search("arachnodactyly")[0]["id"] == "HP:0001166"


def _operators(plan: Any) -> list[str]:
    out = [f"{plan['operatorType'].split('@')[0]} {plan.get('args', {}).get('Details', '')}"]
    for child in plan.get("children", []):
        out += _operators(child)
    return out


@pytest.mark.parametrize("state", ["empty", "holding the graph"])
def test_write_plans_seek_indexes_and_have_no_eager(
    neo: Neo4jStore, small_kg: KnowledgeGraph, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """Every MERGE the save sends, planned against the database as it is at that moment:
    entities seek the id constraint, relationships seek their ``key`` uniqueness constraint
    (a plain index was planned as a scan while its type was empty), no Eager buffers a batch."""
    if state != "empty":
        neo.save(small_kg)
    real = Neo4jStore.write_batches
    plans: dict[str, list[str]] = {}

    def explaining(self: Neo4jStore, batches: Any, action: str, rows_total: int = 0) -> Any:
        batches = list(batches)
        for query, params in batches:
            if "MERGE" in query and query not in plans:
                with self._session() as session:
                    plans[query] = _operators(
                        session.run("EXPLAIN " + query, params).consume().plan
                    )
        return real(self, batches, action, rows_total)

    monkeypatch.setattr(Neo4jStore, "write_batches", explaining)
    neo.save(small_kg)
    rels = set(small_kg.edges.get_column("rel").to_list())
    merged_rels = {q.split("[r:`")[1].split("`")[0] for q in plans if "[r:`" in q}
    assert merged_rels == rels
    for query, ops in plans.items():
        shown = f"{query}\n" + "\n".join(ops)
        assert not any(op.startswith("Eager ") for op in ops), shown
        if "[r:`" in query:
            seek = "DirectedRelationshipUniqueIndexSeek(Locking)"
            assert any(op.startswith(seek) and "(key)" in op for op in ops), shown
            assert not any("IndexScan" in op or "Expand" in op for op in ops), shown
        else:
            seek = "NodeUniqueIndexSeek(Locking)"
            assert any(op.startswith(seek) and "Entity(id)" in op for op in ops), shown


def test_plain_key_indexes_of_older_saves_become_constraints(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    for name in _db(neo, "SHOW CONSTRAINTS YIELD name RETURN name"):
        if name["name"].startswith("medkg_rel_key_"):
            neo._run(f"DROP CONSTRAINT `{name['name']}`", "test")
    neo._run("CREATE INDEX medkg_rel_key_IS_A FOR ()-[r:IS_A]-() ON (r.key)", "test")
    neo.save(small_kg)
    indexes = {r["name"] for r in _db(neo, "SHOW INDEXES YIELD name RETURN name")}
    assert "medkg_rel_key_IS_A" not in indexes
    constraints = {
        r["name"]: r["type"] for r in _db(neo, "SHOW CONSTRAINTS YIELD name, type RETURN *")
    }
    for rel in set(small_kg.edges.get_column("rel").to_list()):
        assert constraints[f"medkg_rel_key_unique_{rel}"] == "RELATIONSHIP_UNIQUENESS"
    assert neo.load().content_hash() == small_kg.content_hash()


def test_resave_drops_properties_that_became_null(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo.save(small_kg)
    nulled = small_kg.nodes.with_columns(
        pl.lit(None, dtype=pl.String()).alias("definition"),  # null in every batch
        pl.when(pl.col("id") == "ORPHA:558").then(None).otherwise("name").alias("name"),
    )
    edges = small_kg.edges.with_columns(pl.lit(None, dtype=pl.String()).alias("evidence"))
    kg = KnowledgeGraph.from_frames(nulled, edges, small_kg.sources)
    neo.save(kg)
    props = _db(neo, "MATCH (n:Entity {id: 'ORPHA:558'}) RETURN properties(n) AS p")[0]["p"]
    assert "name" not in props and "definition" not in props and props["kind"] == "Disease"
    left = _db(neo, "MATCH (n:Entity) WHERE n.definition IS NOT NULL RETURN count(n) AS n")
    assert left[0]["n"] == 0
    keyed = _db(neo, "MATCH ()-[r]->() WHERE r.evidence IS NOT NULL RETURN count(r) AS n")
    assert keyed[0]["n"] == 0
    back = neo.load()
    assert back.content_hash() == kg.content_hash()


# --------------------------------------------------------------------------- refusals
def test_unstorable_graphs_are_refused_before_any_write(
    neo: Neo4jStore, small_kg: KnowledgeGraph
) -> None:
    neo.save(small_kg)
    before = _snapshot(neo)
    bad_kind = small_kg.nodes.with_columns(
        pl.when(pl.col("id") == "HP:0000545").then(pl.lit("Rare disease")).otherwise("kind").alias("kind")
    )  # fmt: skip
    with pytest.raises(StoreError, match="'Rare disease' cannot be a Neo4j label"):
        neo.save(KnowledgeGraph.from_frames(bad_kind, small_kg.edges, small_kg.sources))
    null_elem = small_kg.nodes.with_columns(
        pl.when(pl.col("id") == "HP:0000545")
        .then(pl.lit(["a", None], dtype=pl.List(pl.String())))
        .otherwise("xrefs")
        .alias("xrefs")
    )
    with pytest.raises(StoreError, match=r"\['xrefs'\] hold null elements"):
        neo.save(KnowledgeGraph.from_frames(null_elem, small_kg.edges, small_kg.sources))
    keyed = small_kg.edges.with_columns(pl.lit("x").alias("key"))
    with pytest.raises(StoreError, match="clash"):
        neo.save(KnowledgeGraph.from_frames(small_kg.nodes, keyed, small_kg.sources))
    assert _snapshot(neo) == before


def test_column_type_names_round_trip() -> None:
    for dtype in (pl.String(), pl.Int32(), pl.Int64(), pl.Float64(), pl.Boolean(),
                  pl.List(pl.String()), pl.List(pl.Int64())):  # fmt: skip
        assert dtype_from_name(dtype_name(dtype)) == dtype
    with pytest.raises(StoreError, match="cannot be stored"):
        dtype_name(pl.Struct({"a": pl.Int64()}))


# --------------------------------------------------------------------------- half-loaded
def test_interrupted_save_is_reported_as_half_loaded(
    neo: Neo4jStore, small_kg: KnowledgeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    neo.save(small_kg)
    real = Neo4jStore.write_batches
    calls = {"n": 0}

    def failing(self: Neo4jStore, batches: Any, action: str, rows_total: int = 0) -> Any:
        calls["n"] += 1
        if action == "writing relationships":  # crash on edges, after entities are in
            raise KeyboardInterrupt("simulated crash")
        return real(self, batches, action, rows_total)

    monkeypatch.setattr(Neo4jStore, "write_batches", failing)
    with pytest.raises(KeyboardInterrupt):
        neo.save(small_kg)
    monkeypatch.undo()
    assert calls["n"] > 1
    assert not neo.exists()
    for read in (neo.load, neo.manifest):
        with pytest.raises(StoreError, match=r"half-loaded.*re-run the build"):
            read()
    with pytest.raises(StoreError, match="half-loaded"):
        neo.get_node("ORPHA:558")
    neo.save(small_kg)  # re-running the save repairs it
    assert neo.exists()
    assert neo.load().content_hash() == small_kg.content_hash()


def test_changes_outside_medkg_are_detected(neo: Neo4jStore, small_kg: KnowledgeGraph) -> None:
    neo.save(small_kg)
    neo._read_write("MATCH (n:Entity {id: 'NCBIGene:2200'}) DETACH DELETE n", "test")
    with pytest.raises(StoreError, match="changed outside medkg"):
        neo.load()


# --------------------------------------------------------------------------- connection errors
def test_server_down_names_the_uri_and_the_fix() -> None:
    uri = f"bolt://127.0.0.1:{_free_port()}"
    store = Neo4jStore(uri=uri, password="not-shown-anywhere")
    with pytest.raises(StoreError) as info:
        store.exists()
    message = str(info.value)
    assert uri in message
    assert "medkg neo4j start" in message
    assert "not-shown-anywhere" not in message


def test_no_uri_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEO4J_URI", raising=False)
    with pytest.raises(StoreError, match="NEO4J_URI"):
        Neo4jStore()


def test_settings_come_from_the_environment_without_io(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"bolt://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("NEO4J_URI", uri)
    monkeypatch.setenv("NEO4J_USER", "curator")
    monkeypatch.setenv("NEO4J_PASSWORD", "pw-from-env")
    monkeypatch.setenv("NEO4J_DATABASE", "medkg")
    store = open_store()  # NEO4J_URI set: the registry picks neo4j; nothing connects yet
    assert isinstance(store, Neo4jStore)
    assert store.settings == Neo4jSettings(uri, "curator", "pw-from-env", "medkg")
    assert store._driver_obj is None
    assert "pw-from-env" not in store.describe_location()


def test_unknown_database(neo4j_server: Any) -> None:
    store = Neo4jStore(uri=neo4j_server.uri, database="nosuchdb")
    with pytest.raises(StoreError, match="database 'nosuchdb' does not exist"):
        store.exists()
    store.close()


@pytest.fixture(scope="module")
def auth_server(medkg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second real server with authentication on (user neo4j, a known password)."""
    from medkg.kg import neo4j_server as runner

    info = runner.start(
        data_dir=tmp_path_factory.mktemp("neo4j_auth"),
        port=0,
        auth=("neo4j", PASSWORD),
        name="pytest-auth",
        heap="512m",
    )
    try:
        yield info
    finally:
        runner.stop("pytest-auth")


def test_wrong_password_is_a_clear_error(auth_server: Any, small_kg: KnowledgeGraph) -> None:
    assert auth_server.user == "neo4j"
    wrong = Neo4jStore(uri=auth_server.uri, user="neo4j", password="wrong-password")
    with pytest.raises(StoreError) as info:
        wrong.exists()
    message = str(info.value)
    assert "rejected user 'neo4j'" in message and auth_server.uri in message
    assert "wrong-password" not in message and PASSWORD not in message
    anonymous = Neo4jStore(uri=auth_server.uri, user="neo4j", password="")
    with pytest.raises(StoreError, match="rejected user"):
        anonymous.exists()
    right = Neo4jStore(uri=auth_server.uri, user="neo4j", password=PASSWORD)
    try:
        right.save(small_kg)
        assert right.load().content_hash() == small_kg.content_hash()
    finally:
        right.close()
