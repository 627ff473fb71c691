"""The offline bulk path: the importer's CSV files, and a real import into a fresh database
of a real Neo4j server that then reads back the same graph as the online path writes."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from medkg.kg import neo4j_server as runner
from medkg.kg.build import stats
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import StoreError
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.kg.stores.neo4j_bulk import (
    ARRAY_DELIMITER,
    bulk_import,
    finish_import,
    write_import_files,
)
from tests.factories.stores import assert_same_graph


def test_import_files_are_typed_and_complete(small_kg: KnowledgeGraph, tmp_path: Path) -> None:
    files = write_import_files(small_kg, tmp_path / "csv")
    header = (tmp_path / "csv" / "entities.header.csv").read_text().strip().split(",")
    assert header[:3] == [":ID(Entity)", "id:string", ":LABEL"]
    assert "synonyms:string[]" in header and "obsolete:boolean" in header
    rows = list(csv.reader((tmp_path / "csv" / "entities.csv").open()))
    assert len(rows) == files.node_rows == small_kg.nodes.height
    # nodes are numbered 0..n-1 in table order: the importer's actual node ids
    assert [r[0] for r in rows] == [str(i) for i in range(len(rows))]
    assert [r[1] for r in rows] == small_kg.nodes.get_column("id").to_list()
    marfan = next(r for r in rows if r[1] == "ORPHA:558")
    assert marfan[2] == f"Entity{ARRAY_DELIMITER}Disease"
    assert marfan[header.index("synonyms:string[]")] == f"MFS{ARRAY_DELIMITER}Marfan's syndrome"
    # relationships name their ends by those numbers; read back, they are the edge table's
    number = {r[0]: r[1] for r in rows}
    rels = list(csv.reader((tmp_path / "csv" / "relationships.csv").open()))
    assert [(number[r[0]], r[2], number[r[1]]) for r in rels] == list(
        small_kg.edges.select("src", "rel", "dst").iter_rows()
    )
    tree = list(csv.reader((tmp_path / "csv" / "tree.csv").open()))
    parents = small_kg.nodes.filter(small_kg.nodes["met_parent"].is_not_null())
    assert sorted((number[r[0]], number[r[1]]) for r in tree) == sorted(
        parents.select("id", "met_parent").iter_rows()
    )
    n_tree = small_kg.nodes.filter(small_kg.nodes["met_parent"].is_not_null()).height
    assert (
        files.relationship_rows
        == small_kg.edges.height + n_tree
        == files.tree_links + len(small_kg.edges)
    )
    # synonyms hold no nulls: their empty lists are left absent and read back as [];
    # xrefs hold nulls too, so its empty lists are written once the server is up.
    assert files.absent_empty == {"nodes": ["synonyms", "synonym_scopes"]}
    assert sorted(k for k, _, v in files.later["nodes"]["xrefs"]) == sorted(
        small_kg.nodes.filter(pl.col("xrefs").list.len() == 0).get_column("id").to_list()
    )
    assert not files.multiline  # no value holds a line break: parsed in parallel
    with pytest.raises(StoreError, match="not empty"):
        write_import_files(small_kg, tmp_path / "csv")


def dangling(kg: KnowledgeGraph) -> KnowledgeGraph:
    """``kg`` with one more edge whose target is no entity of the graph."""
    extra = kg.edges.head(1).with_columns(pl.lit("HP:9999999").alias("dst"))
    return KnowledgeGraph(nodes=kg.nodes, edges=pl.concat([kg.edges, extra]), sources=kg.sources)


def test_an_edge_to_no_entity_is_refused_by_name(small_kg: KnowledgeGraph, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"edge .* its dst 'HP:9999999' is no entity"):
        write_import_files(dangling(small_kg), tmp_path / "csv")


def awkward_lists(kg: KnowledgeGraph) -> KnowledgeGraph:
    """``kg`` with ``[""]`` in a list column without nulls, and two edge list columns:
    ``tags`` (empty lists, no nulls) and ``codes`` (empty lists and a null)."""
    ids = kg.nodes.get_column("id").to_list()
    syn = kg.nodes.get_column("synonyms").to_list()
    nodes = kg.nodes.with_columns(
        pl.Series(
            "synonyms", [[""] if i == "HP:0003577" else s for i, s in zip(ids, syn, strict=True)]
        )
    )
    n = kg.edges.height
    edges = kg.edges.with_columns(
        pl.Series("tags", [["t"], *[[]] * (n - 1)], dtype=pl.List(pl.String)),
        pl.Series("codes", [["ECO:1"], None, *[[]] * (n - 2)], dtype=pl.List(pl.String)),
    )
    return KnowledgeGraph(nodes=nodes, edges=edges, sources=kg.sources, report=kg.report)


def jvm_arguments(pid: int) -> list[str]:
    """The command line process ``pid`` runs (Linux ``/proc``)."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def rel_key_constraints(store: Neo4jStore) -> set[str]:
    rows = store.read(lambda run: run("SHOW CONSTRAINTS YIELD name RETURN name"), "constraints")
    return {r["name"] for r in rows if r["name"].startswith("medkg_rel_key_unique_")}


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_import_reads_back_the_same_graph(
    small_kg: KnowledgeGraph, tmp_path: Path, medkg_home: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores.embedded import EmbeddedStore

    work = tmp_path / "bulk-server"
    got = bulk_import(small_kg, work, name="bulk-test")
    try:  # one JVM imported, then started the server on the imported database
        assert got.nodes == small_kg.nodes.height and got.server.uri.startswith("bolt://")
        assert runner.status("bulk-test") is not None
        assert got.import_seconds > 0 and got.start_seconds > 0
        # the DBMS came up beside the importer in the same JVM, whose CPU the marks carry
        assert 0 < got.dbms_seconds <= got.seconds and got.jvm_cpu_seconds > 0
        assert not (work / "import-home" / "data").exists()  # the staged store moved in
        # the importing JVM compiles with C1 only (runner.IMPORT_JIT)
        assert set(runner.IMPORT_JIT) <= set(jvm_arguments(got.server.pid))
    finally:
        runner.stop("bulk-test")
    # A second import into the now existing database is refused unless asked to replace it,
    # and leaves no server behind.
    with pytest.raises(StoreError, match=r"offline import .* failed: .*replaced only with"):
        bulk_import(small_kg, work, name="bulk-test")
    assert runner.status("bulk-test") is None

    # What an empty CSV field cannot carry: [""], and edge lists with and without nulls.
    kg = awkward_lists(small_kg)
    graph = tmp_path / "graph"
    EmbeddedStore(graph).save(kg)
    cli = CliRunner()
    args = ["neo4j", "import", "--graph", str(graph), "--data-dir", str(work), "--heap", "512m"]
    res = cli.invoke(app, [*args, "--replace", "--json"])
    assert res.exit_code == 0, res.output
    try:
        figures = json.loads(res.stdout)
        assert figures["nodes"] == kg.nodes.height
        # the server is up now: a second import must wait for it to stop
        again = cli.invoke(app, args)
        assert again.exit_code == 2 and "needs it stopped" in again.output
        user, password = runner.credentials()
        store = Neo4jStore(uri=figures["uri"], user=user, password=password)
        try:
            assert_same_graph(store.load(), kg)
            node = store.get_node("HP:0003577")
            assert node is not None and node["synonyms"] == [""] and node["xrefs"] == []
            links = store.neighbours("OMIM:154700")
            assert all(isinstance(r["tags"], list) for r in links)
            assert stats(store.stats_view()) == stats(kg)
            assert store.met_children("MET:Disease")[0] >= 1  # MET_PARENT links imported
            assert store.search("marfan")[0]["id"] == "ORPHA:558"  # full-text index online
        finally:
            store.close()
    finally:
        runner.stop()


@pytest.mark.neo4j
@pytest.mark.slow
def test_key_constraints_come_with_the_first_online_save(
    small_kg: KnowledgeGraph, tmp_path: Path, medkg_home: Path
) -> None:
    """An import declares the database loaded without the relationship key constraints;
    the first online save creates them before its MERGE and updates the graph correctly."""
    work = tmp_path / "lazy"
    done = bulk_import(small_kg, work, name="bulk-lazy", jit=())  # the JVM's default compilation
    try:
        assert not set(runner.IMPORT_JIT) & set(jvm_arguments(done.server.pid))
        user, password = runner.credentials("bulk-lazy")
        store = Neo4jStore(uri=done.server.uri, user=user, password=password)
        try:
            finish_import(store, small_kg, done)
            assert rel_key_constraints(store) == set()
            assert_same_graph(store.load(), small_kg)
            # an incremental update: one edge gone, one edge's onset changed
            edges = small_kg.edges.slice(1).with_columns(
                pl.when(pl.int_range(pl.len()) == 0)
                .then(pl.lit("HP:0003577"))
                .otherwise(pl.col("onset"))
                .alias("onset")
            )
            changed = KnowledgeGraph(nodes=small_kg.nodes, edges=edges, sources=small_kg.sources)
            report = store.save(changed)
            types = set(small_kg.edges.get_column("rel").to_list())
            assert rel_key_constraints(store) == {f"medkg_rel_key_unique_{t}" for t in types}
            assert report.details["relationships_deleted"] == 2  # the dropped and the old row
            assert_same_graph(store.load(), changed)
        finally:
            store.close()
    finally:
        runner.stop("bulk-lazy")


@pytest.mark.neo4j
def test_a_failing_file_writer_leaves_no_server(
    small_kg: KnowledgeGraph, tmp_path: Path, medkg_home: Path
) -> None:
    """The server JVM starts while the files are written; when writing them fails, the JVM
    is stopped and the error is the writer's."""
    with pytest.raises(StoreError, match="is no entity"):
        bulk_import(dangling(small_kg), tmp_path / "w", name="bulk-fail")
    assert runner.status("bulk-fail") is None
    assert not (tmp_path / "w" / "data" / "databases" / "neo4j").exists()
    assert not list((tmp_path / "w").glob(".import-*"))  # staging removed


def test_the_array_delimiter_inside_a_list_is_refused(
    small_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    ids = small_kg.nodes.get_column("id").to_list()
    nodes = small_kg.nodes.with_columns(
        pl.Series(
            "synonyms",
            [[f"a{ARRAY_DELIMITER}b"] if i == "ORPHA:558" else [] for i in ids],
            dtype=pl.List(pl.String),
        )
    )
    kg = KnowledgeGraph(nodes=nodes, edges=small_kg.edges, sources=small_kg.sources)
    with pytest.raises(StoreError, match=r"synonyms.*U\+001F.*ORPHA:558"):
        write_import_files(kg, tmp_path / "csv")
