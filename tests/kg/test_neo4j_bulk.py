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
from medkg.kg.stores.neo4j_bulk import ARRAY_DELIMITER, bulk_import, write_import_files
from tests.factories.stores import assert_same_graph


def test_import_files_are_typed_and_complete(small_kg: KnowledgeGraph, tmp_path: Path) -> None:
    files = write_import_files(small_kg, tmp_path / "csv")
    header = (tmp_path / "csv" / "entities.header.csv").read_text().strip().split(",")
    assert header[:2] == ["id:ID(Entity)", ":LABEL"]
    assert "synonyms:string[]" in header and "obsolete:boolean" in header
    rows = list(csv.reader((tmp_path / "csv" / "entities.csv").open()))
    assert len(rows) == files.node_rows == small_kg.nodes.height
    marfan = next(r for r in rows if r[0] == "ORPHA:558")
    assert marfan[1] == f"Entity{ARRAY_DELIMITER}Disease"
    assert marfan[header.index("synonyms:string[]")] == f"MFS{ARRAY_DELIMITER}Marfan's syndrome"
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


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_import_reads_back_the_same_graph(small_kg: KnowledgeGraph, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores.embedded import EmbeddedStore
    from medkg.kg.stores.neo4j import Neo4jStore

    runtime = runner.ensure_runtime()
    work = tmp_path / "bulk-server"
    got = bulk_import(small_kg, runtime, work)
    assert got.nodes == small_kg.nodes.height
    # A second import into the now existing database is refused unless asked to replace it.
    with pytest.raises(StoreError, match=r"offline import .* failed"):
        bulk_import(small_kg, runtime, work)

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
        finally:
            store.close()
    finally:
        runner.stop()


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
