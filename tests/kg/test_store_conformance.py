"""One suite, every store backend: the embedded Parquet store and a real Neo4j server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph, edges_frame
from medkg.kg.stores.base import GraphStore, GraphValidationError, StoreError
from medkg.kg.stores.embedded import EmbeddedStore
from tests.factories.stores import assert_same_graph

BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("neo4j", id="neo4j", marks=pytest.mark.neo4j),
]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    if request.param == "embedded":
        yield EmbeddedStore(tmp_path / "graph")
        return
    from medkg.kg.stores.neo4j import Neo4jStore

    server = request.getfixturevalue("neo4j_server")
    neo = Neo4jStore(uri=server.uri, batch_size=4)  # small batches: several per table
    neo.clear()
    try:
        yield neo
    finally:
        neo.close()


def smaller(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Drop the gene and one modifier, change a name and a kind: a different graph."""
    gone = {"NCBIGene:2200", "HP:0003593"}
    nodes = kg.nodes.filter(~pl.col("id").is_in(gone)).with_columns(
        pl.when(pl.col("id") == "HP:0000545")
        .then(pl.lit("Near-sightedness"))
        .otherwise(pl.col("name"))
        .alias("name"),
        pl.when(pl.col("id") == "HP:0003577")
        .then(pl.lit("Phenotype"))
        .otherwise(pl.col("kind"))
        .alias("kind"),
        pl.when(pl.col("id") == "HP:0001166")
        .then(pl.lit("MET:Phenotype"))
        .otherwise(pl.col("met_parent"))
        .alias("met_parent"),
    )
    edges = kg.edges.filter(~pl.col("src").is_in(gone) & ~pl.col("dst").is_in(gone))
    return KnowledgeGraph.from_frames(nodes, edges, kg.sources[:2], {"note": "smaller"})


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def expected_neighbours(kg: KnowledgeGraph, node_id: str) -> list[dict[str, Any]]:
    names = {r["id"]: (r["name"], r["kind"]) for r in kg.nodes.iter_rows(named=True)}
    out = []
    for row in kg.edges.iter_rows(named=True):
        if node_id not in (row["src"], row["dst"]):
            continue
        other = row["dst"] if row["src"] == node_id else row["src"]
        out.append(
            {
                **row,
                "direction": "out" if row["src"] == node_id else "in",
                "other": other,
                "other_name": names[other][0],
                "other_kind": names[other][1],
            }
        )
    return sorted(out, key=_key)


# --------------------------------------------------------------------------- round trip
def test_save_load_round_trip_is_exact(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    assert not store.exists()
    with pytest.raises(StoreError, match="holds no graph"):
        store.load()
    report = store.save(small_kg)
    assert (report.nodes, report.edges) == (small_kg.nodes.height, small_kg.edges.height)
    assert report.content_hash == small_kg.content_hash()
    assert store.exists()
    back = store.load()
    assert back.nodes.columns == small_kg.nodes.columns
    assert back.nodes.schema == small_kg.nodes.schema
    assert back.edges.schema == small_kg.edges.schema
    assert_same_graph(back, small_kg)
    # The two annotations differing only in onset are two rows, the negated one kept.
    pair = back.edges.filter((pl.col("src") == "OMIM:154700") & (pl.col("dst") == "HP:0000545"))
    assert sorted(pair.get_column("onset").to_list()) == ["HP:0003577", "HP:0003593"]
    assert back.edges.filter(pl.col("negated")).height == 1
    # Tree columns come back as columns, not as MET_PARENT edge rows.
    assert back.edges.filter(pl.col("rel") == "MET_PARENT").height == 0
    null_list = back.nodes.filter(pl.col("id") == "HP:0000001").get_column("xrefs")
    assert null_list.to_list() == [None]
    empty_list = back.nodes.filter(pl.col("id") == "HP:0000118").get_column("xrefs")
    assert empty_list.to_list() == [[]]


def test_double_save_is_idempotent(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    store.save(small_kg)
    first = store.manifest()
    store.save(small_kg)
    second = store.manifest()
    for key in ("content_hash", "counts", "sources", "report"):
        assert first[key] == second[key]
    assert_same_graph(store.load(), small_kg)


def test_saving_a_different_graph_replaces_the_old_one(
    store: GraphStore, small_kg: KnowledgeGraph
) -> None:
    store.save(small_kg)
    new = smaller(small_kg)
    store.save(new)
    back = store.load()
    assert_same_graph(back, new)
    assert store.get_node("NCBIGene:2200") is None
    node = store.get_node("HP:0003577")
    assert node is not None and node["kind"] == "Phenotype"
    assert store.manifest()["counts"] == new.counts()
    # And back to the bigger one.
    store.save(small_kg)
    assert_same_graph(store.load(), small_kg)


# --------------------------------------------------------------------------- reads
@pytest.mark.parametrize(
    "node_id", ["ORPHA:558", "HP:0000001", "MET:root", "NCBIGene:2200", "HP:0000118"]
)
def test_get_node_matches_the_table_row(
    store: GraphStore, small_kg: KnowledgeGraph, node_id: str
) -> None:
    store.save(small_kg)
    assert store.get_node(node_id) == small_kg.node(node_id)


def test_get_node_unknown_is_none(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    store.save(small_kg)
    assert store.get_node("HP:9999999") is None


@pytest.mark.parametrize("node_id", ["OMIM:154700", "ORPHA:558", "HP:0000545", "MET:root"])
def test_neighbours_list_every_touching_edge(
    store: GraphStore, small_kg: KnowledgeGraph, node_id: str
) -> None:
    store.save(small_kg)
    got = store.neighbours(node_id)
    assert sorted(got, key=_key) == expected_neighbours(small_kg, node_id)
    rels = [(r["rel"], r["direction"], r["other"]) for r in got]
    assert rels == sorted(rels)


def test_manifest_counts_hash_and_sources(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    store.save(small_kg)
    manifest = store.manifest()
    assert manifest["content_hash"] == small_kg.content_hash()
    assert manifest["counts"] == small_kg.counts()
    assert manifest["sources"] == [s.to_dict() for s in small_kg.sources]
    assert manifest["report"] == small_kg.report


def test_search_finds_names_and_synonyms(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    store.save(small_kg)
    hits = store.search("Marfan syndrome")
    assert hits[0]["id"] == "ORPHA:558" and hits[0]["score"] == 1.0
    assert [h["id"] for h in store.search("spider fingers")] == ["HP:0001166"]
    assert [h["id"] for h in store.search("nearsightedness")] == ["HP:0000545"]
    assert [h["id"] for h in store.search("marfan", kind="Disease")] == [
        "ORPHA:558",
        "OMIM:154700",
    ]
    assert store.search("marfan", kind="Gene") == []
    assert store.search("fibrillin")[0]["id"] == "NCBIGene:2200"
    assert store.search('"(*') == []


def test_tree_children_and_path(store: GraphStore, small_kg: KnowledgeGraph) -> None:
    store.save(small_kg)
    total, kids = store.met_children("MET:root", limit=2)
    assert total == 5
    assert [k["id"] for k in kids] == ["MET:Phenotype", "MET:Disease"]
    assert [p["id"] for p in store.met_path("OMIM:154700")] == [
        "OMIM:154700",
        "ORPHA:558",
        "MET:Disease",
        "MET:root",
    ]


# --------------------------------------------------------------------------- validation
def test_duplicate_ids_are_refused_and_keep_the_old_graph(
    store: GraphStore, small_kg: KnowledgeGraph
) -> None:
    store.save(small_kg)
    bad = KnowledgeGraph.from_frames(
        pl.concat([small_kg.nodes, small_kg.nodes.head(2)]), small_kg.edges, small_kg.sources
    )
    with pytest.raises(GraphValidationError, match="duplicate node id"):
        store.save(bad)
    assert_same_graph(store.load(), small_kg)


def test_dangling_edges_are_refused_and_keep_the_old_graph(
    store: GraphStore, small_kg: KnowledgeGraph
) -> None:
    store.save(small_kg)
    extra = edges_frame([{"src": "ORPHA:558", "rel": "HAS_PHENOTYPE", "dst": "HP:0000000"}])
    bad = KnowledgeGraph.from_frames(
        small_kg.nodes, pl.concat([small_kg.edges, extra]), small_kg.sources
    )
    with pytest.raises(GraphValidationError, match="HP:0000000"):
        store.save(bad)
    assert_same_graph(store.load(), small_kg)
