"""The offline bulk path: the importer's CSV files, and a real import into a fresh database
of a real Neo4j server that then reads back the same graph as the online path writes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from medkg.kg import neo4j_server as runner
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import StoreError
from medkg.kg.stores.neo4j_bulk import ARRAY_DELIMITER, bulk_import, write_import_files
from tests.kg.test_store_conformance import assert_same_graph


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
    assert files.relationship_rows == small_kg.edges.height + n_tree
    with pytest.raises(StoreError, match="not empty"):
        write_import_files(small_kg, tmp_path / "csv")


@pytest.mark.neo4j
@pytest.mark.slow
def test_bulk_import_reads_back_the_same_graph(small_kg: KnowledgeGraph, tmp_path: Path) -> None:
    from medkg.kg.stores.neo4j import Neo4jStore

    runtime = runner.ensure_runtime()
    work = tmp_path / "bulk-server"
    got = bulk_import(small_kg, runtime, work)
    assert got["nodes"] == small_kg.nodes.height
    # A second import into the now existing database is refused unless asked to replace it.
    with pytest.raises(StoreError, match="offline import .* failed"):
        bulk_import(small_kg, runtime, work)
    bulk_import(small_kg, runtime, work, overwrite=True)

    info = runner.start(data_dir=work, port=0, name="pytest-bulk", heap="512m")
    try:
        store = Neo4jStore(uri=info.uri)
        try:
            report = store.adopt_bulk_import(small_kg, seconds=1.0)
            assert report.details == {"offline_import": 1}
            assert_same_graph(store.load(), small_kg)
            children = store.met_children("MET:Disease")
            assert children[0] >= 1  # the MET_PARENT links were imported
        finally:
            store.close()
    finally:
        runner.stop("pytest-bulk")
