"""MeSH identities: the evidence check, and the bundled MeSH source's UI-name pairs against a
hand-listed sample of well-known descriptors (tests/fixtures/sources/mesh_well_known.tsv)."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph
from medkg.kg.sources.mesh import MeshSource
from medkg.kg.sources.mesh_evidence import EVIDENCE, MeshNames, mesh_names, word_key
from tests.factories.sources import well_known


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return MeshSource().load()


def test_sample_is_large_enough_and_distinct():
    sample = well_known()
    assert len(sample) >= 36 and len(set(sample.values())) == len(sample)
    assert len(well_known("disease")) >= 36


def test_evidence_agrees_with_the_hand_listed_sample():
    evidence = mesh_names()
    wrong = {ui: evidence.name_of(ui) for ui, name in well_known().items()}
    assert {ui: n for ui, n in wrong.items() if n != well_known()[ui]} == {}


def test_evidence_file_is_deterministic_and_documented():
    with gzip.open(EVIDENCE, "rt", encoding="utf-8") as fh:
        header = [line for line in fh.read().splitlines() if line.startswith("#")]
    assert "scripts/make_mesh_evidence.py" in header[0]
    assert any("MeSH 2026" in line for line in header)
    assert EVIDENCE.read_bytes()[4:8] == b"\0\0\0\0"  # gzip MTIME field: no timestamp


def test_verify_verdicts():
    ev = MeshNames(
        {"D1": "Marfan Syndrome", "D2": "Weill-Marchesani Syndrome", "D3": "Intractable Pain"},
        {"D4": ["Heparitin Sulfate"], "D3": ["Pain, Intractable"]},
    )
    assert ev.verify("D1", "marfan syndrome").verdict == "confirmed"  # case-insensitive
    check = ev.verify("D2", "Marfan Syndrome")
    assert (check.verdict, check.ui) == ("repaired", "D1")
    assert ev.verify("D3", "Pain, Intractable").verdict == "confirmed"  # a MEDLINE name
    assert ev.verify("D4", "Heparitin Sulfate").ui == "D4"  # only MEDLINE names it
    check = ev.verify("D9", "Syndrome, Marfan")  # unknown id, word-order variant
    assert (check.verdict, check.ui, check.evidence_name) == ("repaired", "D1", "Marfan Syndrome")
    assert ev.verify("D1", "Loeys-Dietz Syndrome") == ev.verify(None, "Loeys-Dietz Syndrome")
    assert ev.verify("D1", "Loeys-Dietz Syndrome").verdict == "unconfirmed"
    assert word_key("Premature Rupture of Fetal Membranes") == word_key(
        "Fetal Membranes, Premature Rupture"
    )


def test_ambiguous_word_keys_are_never_used():
    ev = MeshNames({"D1": "Child Abuse", "D2": "Abuse, Child"}, {})  # two UIs, one key
    assert ev.verify("D9", "Abuse Child").verdict == "unconfirmed"
    assert ev.verify("D2", "Abuse, Child").verdict == "confirmed"


def test_bundled_ui_name_pairs_match_mesh(bundled: KnowledgeGraph):
    names = dict(bundled.nodes.select("id", "name").iter_rows())
    sample = well_known("disease")
    wrong = {
        ui: names.get(f"MESH:{ui}")
        for ui, name in sample.items()
        if (names.get(f"MESH:{ui}") or "").casefold() != name.casefold()
    }
    assert wrong == {}


def test_no_real_looking_id_names_a_sampled_concept_wrongly(bundled: KnowledgeGraph):
    # Every node carrying a sampled name has the sample's UI, and no MESH node carries a
    # sampled UI under another name: the package's ids for these (D056846 for Marfan
    # Syndrome, D008607 for a dozen syndromes, D019005 for Cystic Fibrosis) are gone.
    by_name = {name.casefold(): ui for ui, name in well_known().items()}
    mesh = bundled.nodes.filter(pl.col("id").str.starts_with("MESH:D"))
    for node_id, name in mesh.select("id", "name").iter_rows():
        ui = node_id.removeprefix("MESH:")
        if name.casefold() in by_name:
            assert ui == by_name[name.casefold()], (node_id, name)
        if ui in well_known():
            assert name.casefold() == well_known()[ui].casefold(), (node_id, name)


@pytest.mark.slow
def test_identity_counts_reach_the_manifest_and_kg_stats(tmp_path):
    import json

    from typer.testing import CliRunner

    from medkg.cli.main import app

    runner = CliRunner()
    path = tmp_path / "graph"
    built = runner.invoke(app, ["kg", "build", "--path", str(path), "--sources", "mesh", "--json"])
    assert built.exit_code == 0, built.output
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    [mesh] = [s for s in manifest["sources"] if s["name"] == "MeSH"]
    assert (mesh["counts"]["ids_repaired"], mesh["counts"]["ids_local"]) == (1_398, 2)
    res = runner.invoke(app, ["kg", "stats", "--path", str(path), "--json"])
    assert res.exit_code == 0, res.output
    identity = json.loads(res.stdout)["sources"]["MeSH"]["identity"]
    assert identity == {
        "ids_confirmed": 4_682,
        "ids_repaired": 1_398,
        "ids_unconfirmed": 2,
        "ids_local": 2,
    }
    text = runner.invoke(app, ["kg", "stats", "--path", str(path)])
    assert "MeSH identifiers checked" in text.output and "'ids_repaired': 1398" in text.output
