"""MeSH disease descriptors: the bundled dictionary, the TSV format, the pickle rule, the
tree-number hierarchy, and bad input."""

from __future__ import annotations

import bz2
import json
import pickle
from collections import OrderedDict
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import CATEGORY, DISEASE, IS_A, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.mesh import MeshSource
from medkg.kg.sources.mesh_categories import BRANCHES, TOP_LEVEL, link_tree_numbers
from tests.sources import FIXTURES, assert_well_formed, node, parents

TSV = FIXTURES / "mesh_descriptors_excerpt.tsv"
MARFAN = "MESH:D056846"
MARFAN_TREES = [
    "C05.116.099.674",
    "C14.240.400.725",
    "C14.280.400.725",
    "C16.131.077.550",
    "C16.131.240.400.720",
    "C16.320.540",
    "C17.300.500",
]


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return MeshSource().load()


def small_dictionary() -> dict:
    """A dictionary in the bundled pickle's shape (two real entries)."""
    return {
        "disease_canonical_to_data": {
            "marfan syndrome": {"mesh_id": "D056846", "mesh_tree": ["C17.300.500"], "name": "Marfan Syndrome"},
            "connective tissue diseases": {"mesh_id": "D003095", "mesh_tree": ["C17.300"], "name": "Connective Tissue Diseases"},
        },
        "disease_variant_to_canonical": {
            "marfan syndrome": ["marfan syndrome"],
            "marfans syndrome": ["marfan syndrome"],
            "connective tissue disease": ["connective tissue diseases"],
        },
        "disease_variant_to_variant_data": {},
    }  # fmt: skip


def test_registered():
    assert SOURCES["mesh"] is MeshSource


def test_bundled_counts_and_provenance(bundled: KnowledgeGraph):
    assert_well_formed(bundled, "mesh")
    info = bundled.sources[0]
    assert info.version == "0.4 (MeSH 2025)"
    assert "public domain" in info.license and "MIT" in info.license
    descriptors = bundled.nodes.filter(pl.col("id").str.contains(r"^MESH:D\d{6}"))
    assert descriptors.height >= 5_600
    assert set(descriptors.get_column("kind").unique()) == {DISEASE}
    assert set(bundled.nodes.filter(pl.col("kind") == CATEGORY).get_column("id")) <= {
        f"MESH:{c}" for c in (*BRANCHES, *TOP_LEVEL)
    }
    # 6,083 canonical entries under 5,688 ids; one entry has the id '8' and is skipped.
    assert bundled.report["mesh.entries_merged_into_shared_descriptor"] == 395
    assert bundled.report["mesh.entries_without_valid_id_skipped"] == 1
    assert bundled.report["mesh.invalid_tree_numbers_ignored"] == 8
    assert descriptors.height == 5_688 - 1


def test_bundled_marfan(bundled: KnowledgeGraph):
    marfan = node(bundled, MARFAN)
    assert marfan["name"] == "Marfan Syndrome"
    assert json.loads(marfan["props"])["tree_numbers"] == MARFAN_TREES
    assert "marfan syndrome, type i" in marfan["synonyms"]
    assert "marfan syndrome" not in marfan["synonyms"]  # equals the name
    assert set(marfan["synonym_scopes"]) == {"RELATED"}
    # One parent per placement whose ancestor is in the data: a DAG, deduplicated.
    marfan_parents = parents(bundled, MARFAN)
    assert len(marfan_parents) >= 4
    assert node(bundled, "MESH:D003095")["name"] == "Connective Tissue Diseases"  # C17.300
    assert "MESH:D003095" in marfan_parents


def test_bundled_merges_entries_sharing_an_id(bundled: KnowledgeGraph):
    multiple = node(bundled, "MESH:D008607")
    assert multiple["name"] == "Abnormalities, Multiple"  # shallowest tree number wins
    merged = json.loads(multiple["props"])["merged_names"]
    assert "Cockayne Syndrome" in merged and "Prader-Willi Syndrome" in merged
    assert "Cockayne Syndrome" in multiple["synonyms"]
    assert bundled.nodes.filter(pl.col("name") == "Cockayne Syndrome").is_empty()


def test_bundled_top_level_descriptors_sit_under_their_branch(bundled: KnowledgeGraph):
    neoplasms = bundled.nodes.filter(pl.col("name") == "Neoplasms")
    assert neoplasms.height == 1  # the descriptor owning C04; no synthetic twin
    assert "C04" in json.loads(neoplasms.item(0, "props"))["tree_numbers"]
    assert "MESH:C" in parents(bundled, neoplasms.item(0, "id"))
    assert node(bundled, "MESH:C")["name"] == "Diseases"
    assert bundled.node("MESH:C04") is None


def test_bundled_non_disease_trees_are_flagged(bundled: KnowledgeGraph):
    outside = bundled.nodes.filter(pl.col("props").str.contains('"disease_tree":false'))
    assert outside.height == bundled.report["mesh.descriptors_outside_disease_trees"]
    assert 500 < outside.height < 1_000
    # Back Pain has only malformed numbers ("C23.") but still reads as a disease.
    back = node(bundled, "MESH:D017116")
    assert "disease_tree" not in json.loads(back["props"])
    assert parents(bundled, "MESH:D017116") == set()


def test_tsv_excerpt():
    kg = MeshSource(TSV).load()
    assert_well_formed(kg, "mesh")
    assert kg.sources[0].version == "tsv"
    assert parents(kg, MARFAN) == {
        "MESH:D003095",  # C17.300.500 -> Connective Tissue Diseases
        "MESH:C05",  # no ancestor in the file: the top-level category
        "MESH:C14",
        "MESH:C16",
    }
    assert parents(kg, "MESH:D003095") == {"MESH:D017437"}  # C17.300 -> C17
    assert parents(kg, "MESH:D017437") == {"MESH:C"}  # owns C17 itself
    assert parents(kg, "MESH:D000066498") == {"MESH:F03"}  # Adjustment Disorders
    assert parents(kg, "MESH:F03") == {"MESH:F"}
    assert node(kg, "MESH:C16")["name"] == TOP_LEVEL["C16"]
    assert node(kg, "MESH:C16")["kind"] == CATEGORY
    assert node(kg, MARFAN)["synonyms"][:2] == ["marfan's syndrome", "marfans syndrome"]
    assert kg.edges.filter(pl.col("rel") != IS_A).is_empty()


def test_tsv_without_header_and_with_short_rows(tmp_path: Path):
    path = tmp_path / "mesh.tsv"
    path.write_text(
        "D056846\tMarfan Syndrome\n\nD003095\tConnective Tissue Diseases\tC17.300\n",
        encoding="utf-8",
    )
    kg = MeshSource(path).load()
    assert_well_formed(kg, "mesh")
    assert kg.nodes.get_column("id").to_list()[:2] == [MARFAN, "MESH:D003095"]
    assert parents(kg, MARFAN) == set()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("X056846\tMarfan Syndrome", "not a MeSH descriptor id"),
        ("D056846\t ", "empty name"),
        ("D056846\tMarfan Syndrome\tC17.300.5", "malformed tree number"),
        ("D056846", "expected 2-4 tab-separated columns"),
    ],
)
def test_bad_tsv_line_names_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "mesh.tsv"
    path.write_text(
        f"mesh_id\tname\ttree_numbers\tsynonyms\nD003095\tConnective Tissue Diseases\n{line}\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=message) as err:
        MeshSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 3)


def test_non_utf8_tsv_names_the_line(tmp_path: Path):
    path = tmp_path / "mesh.tsv"
    path.write_bytes(b"D003095\tConnective Tissue Diseases\nD056846\tSyndrome de Marfan \xe9\n")
    with pytest.raises(SourceError, match="not UTF-8") as err:
        MeshSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 2)


@pytest.mark.parametrize("content", [None, b"", b"# only a comment\n"])
def test_missing_or_empty_file(tmp_path: Path, content: bytes | None):
    path = tmp_path / "mesh.tsv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        MeshSource(path).load()
    assert err.value.path == str(path)


def test_user_pickle_is_refused_unless_trusted(tmp_path: Path):
    path = tmp_path / "disease_ner_dictionary.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps(small_dictionary())))
    with pytest.raises(SourceError, match="trust_pickle=True") as err:
        MeshSource(path).load()
    assert err.value.path == str(path)
    kg = MeshSource(path, trust_pickle=True).load()
    assert_well_formed(kg, "mesh")
    assert parents(kg, MARFAN) == {"MESH:D003095"}
    assert node(kg, MARFAN)["synonyms"] == ["marfans syndrome"]


def test_trusted_pickle_still_cannot_load_classes(tmp_path: Path):
    path = tmp_path / "dictionary.pkl"
    path.write_bytes(pickle.dumps(OrderedDict(small_dictionary())))  # needs a global
    with pytest.raises(SourceError, match=r"not a readable pickle.*not allowed"):
        MeshSource(path, trust_pickle=True).load()


def test_pickle_without_the_expected_keys(tmp_path: Path):
    path = tmp_path / "dictionary.pkl"
    path.write_bytes(pickle.dumps({"drug_canonical_to_data": {}}))
    with pytest.raises(SourceError, match="lacks the expected keys"):
        MeshSource(path, trust_pickle=True).load()


def test_corrupt_bz2(tmp_path: Path):
    path = tmp_path / "dictionary.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps(small_dictionary()))[:40])
    with pytest.raises(SourceError, match="corrupt bz2"):
        MeshSource(path, trust_pickle=True).load()


def test_link_tree_numbers_rules():
    links = link_tree_numbers(
        {
            "MESH:A": ["C04", "C04.588"],  # owns a top-level number and a child of it
            "MESH:B": ["C04.588.033", "C14.907"],  # nearest owned ancestor skips a gap
            "MESH:X": ["Q01.100"],  # unknown branch: no edge, counted
        }
    )
    assert list(links.edges) == [
        ("MESH:A", "MESH:C"),  # C04.588's only ancestor C04 is its own: the branch
        ("MESH:B", "MESH:A"),
        ("MESH:B", "MESH:C14"),
    ]
    assert links.unknown_top_level == 1
    assert links.category_rows() == [
        ("MESH:C", "Diseases", "C", None),
        ("MESH:C14", "Cardiovascular Diseases", "C14", "MESH:C"),
    ]
