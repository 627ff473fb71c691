"""Drugs: the bundled dictionary, identity rules, the TSV format, the pickle rule, bad input."""

from __future__ import annotations

import bz2
import json
import pickle
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import CATEGORY, DRUG, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.drugs import DrugsSource
from medkg.kg.sources.mesh import MeshSource
from tests.factories.sources import FIXTURES, assert_well_formed, node, parents

TSV = FIXTURES / "drugs_excerpt.tsv"


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return DrugsSource().load()


def test_registered():
    assert SOURCES["drugs"] is DrugsSource


def test_bundled_counts_and_provenance(bundled: KnowledgeGraph):
    assert_well_formed(bundled, "DrugNER")
    info = bundled.sources[0]
    assert info.version.startswith("2.0.9")
    assert "CC0" in info.license
    drugs = bundled.nodes.filter(pl.col("kind") == DRUG)
    assert drugs.height == 20_070  # one node per canonical drug: no id is shared
    assert bundled.report["drugs.entries_merged_into_shared_id"] == 0
    prefixes = drugs.get_column("id").str.extract(r"^([A-Z]+):").value_counts()
    by_prefix = dict(prefixes.iter_rows())
    # 12,279 entries carry a DrugBank id; 9,497 are confirmed against DrugBank's own names
    # (or repaired, or DrugBank's name is one of the entry's synonyms).
    assert by_prefix["DRUGBANK"] == 9_497
    assert set(by_prefix) == {"DRUGBANK", "DRUGBANKX", "MESH", "MEDLINEPLUS", "DRUGNER"}
    assert sum(by_prefix.values()) == drugs.height
    assert by_prefix["DRUGNER"] == bundled.report["drugs.local_ids"]
    assert by_prefix["DRUGBANKX"] == bundled.report["drugs.unconfirmed_drugbank_local_ids"]


def test_bundled_abacavir(bundled: KnowledgeGraph):
    abacavir = node(bundled, "DRUGBANK:DB01048")
    assert abacavir["name"] == "Abacavir"
    assert "ziagen" in abacavir["synonyms"]
    assert abacavir["xrefs"] == ["MEDLINEPLUS:a699012"]
    props = json.loads(abacavir["props"])
    assert props["formula"] == "C28H38N12O6S"
    assert props["smiles"].startswith("C1CC1NC2=C3C(=NC(=N2)N)")


def test_bundled_brand_names_are_flagged(bundled: KnowledgeGraph):
    adalimumab = node(bundled, "DRUGBANK:DB00051")
    scopes = dict(zip(adalimumab["synonyms"], adalimumab["synonym_scopes"], strict=True))
    assert scopes["humira"] == "BRAND"
    assert scopes["d2e7 antibody"] == "RELATED"
    assert (
        bundled.nodes.select(pl.col("synonym_scopes").list.count_matches("BRAND").sum()).item()
        > 100
    )


def test_bundled_mesh_ids_are_the_drugs_own(bundled: KnowledgeGraph):
    # The package gives acetaminophen and aspirin the same MeSH id, D058633 (Antipyretics,
    # a pharmacological action); checked against MeSH, each gets its own descriptor.
    for drug, mesh in (("DRUGBANK:DB00316", "D000082"), ("DRUGBANK:DB00945", "D001241")):
        row = node(bundled, drug)
        assert f"MESH:{mesh}" in row["xrefs"] and "MESH:D058633" not in row["xrefs"]
        props = json.loads(row["props"])
        assert (props["mesh_id_check"], props["mesh_id_given"]) == (["repaired"], ["D058633"])
    assert node(bundled, "MESH:D058633")["name"] == "Antipyretics"  # its own entry
    # The "Propranolol" entry's MeSH id was D014665 (Vasodilator Agents).
    propranolol = bundled.nodes.filter(pl.col("name") == "Propranolol").row(0, named=True)
    assert "MESH:D011433" in propranolol["xrefs"]
    # A given id naming something else, with no descriptor of the drug's name: dropped.
    receptor = node(bundled, "DRUGNER:fragile-x-mental-retardation-protein")
    assert json.loads(receptor["props"])["mesh_id_unreliable"] == ["D005600"]  # the syndrome
    checks = {k: bundled.report[f"drugs.mesh_ids_{k}"] for k in ("confirmed", "repaired")}
    assert checks == {"confirmed": 5_266, "repaired": 3_472}
    assert bundled.report["drugs.mesh_ids_unconfirmed"] == 11
    assert bundled.report["drugs.mesh_ids_added"] == 296
    assert bundled.sources[0].counts["mesh_ids_repaired"] == 3_472  # into the manifest
    assert bundled.report.get("drugs.mesh_ids_shared_by_several_drugs", 0) == 0


def test_bundled_drug_mesh_ids_match_the_hand_listed_sample(bundled: KnowledgeGraph):
    from tests.factories.sources import well_known

    sample = well_known("drug")
    by_name = {n.casefold(): ui for ui, n in sample.items()}
    seen = {}
    for node_id, name, xrefs in bundled.nodes.select("id", "name", "xrefs").iter_rows():
        if name.casefold() in by_name:
            mesh = [x for x in [node_id, *xrefs] if x.startswith("MESH:D")]
            seen[name.casefold()] = mesh
    assert len(seen) >= 30
    assert {n: m for n, m in seen.items() if m != [f"MESH:{by_name[n]}"]} == {}


def well_known_drugbank() -> dict[str, set[str]]:
    """DrugBank id -> the (case-folded) names a correct node may carry, hand-listed."""
    rows: dict[str, set[str]] = {}
    path = FIXTURES / "drugbank_well_known.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "drugbank_id\t")) or not line.strip():
            continue
        db, name, aka = line.split("\t")
        rows[db] = {n.casefold() for n in (name, *aka.split("|")) if n}
    return rows


def test_bundled_drugbank_ids_match_the_hand_listed_sample(bundled: KnowledgeGraph):
    # No node shows a real-looking DrugBank id with the wrong name: the package's
    # "Propranolol" came as DB03322 (DrugBank's Dexpropranolol) with another drug's data.
    sample = well_known_drugbank()
    assert len(sample) >= 30
    owner = {n: db for db, names in sample.items() for n in names}
    right, wrong = set(), {}
    for node_id, name, xrefs in bundled.nodes.select("id", "name", "xrefs").iter_rows():
        drugbank = {x.removeprefix("DRUGBANK:") for x in [node_id, *xrefs] if "DRUGBANK:" in x}
        for db in drugbank & set(sample):
            if name.casefold() in sample[db]:
                right.add(db)
            else:
                wrong[f"DRUGBANK:{db}"] = name
        if name.casefold() in owner and drugbank - {owner[name.casefold()]}:
            wrong[name] = sorted(drugbank)
    assert wrong == {}
    # Nearly every well-known drug is in the dictionary under its true DrugBank id
    # (Dexpropranolol is not in the dictionary at all).
    assert len(right) >= len(sample) - 2, sorted(set(sample) - right)
    propranolol = node(bundled, "DRUGBANK:DB00571")
    assert propranolol["name"] == "Propranolol"
    props = json.loads(propranolol["props"])
    assert (props["drugbank_id_check"], props["drugbank_id_given"]) == (["repaired"], ["DB03322"])
    assert bundled.node("DRUGBANK:DB03322") is None


def test_bundled_unconfirmed_drugbank_ids_are_never_ids_nor_xrefs(bundled: KnowledgeGraph):
    # DB15463 (Belzutifan) is named "PT2977" in the evidence table: not confirmable offline.
    belzutifan = bundled.nodes.filter(pl.col("name") == "Belzutifan").row(0, named=True)
    assert not belzutifan["id"].startswith("DRUGBANK:")
    assert not any(x.startswith("DRUGBANK:") for x in belzutifan["xrefs"])
    props = json.loads(belzutifan["props"])
    assert (props["drugbank_id_check"], props["drugbank_id_unverified"]) == (
        ["unconfirmed"],
        ["DB15463"],
    )
    local = bundled.nodes.filter(pl.col("id").str.starts_with("DRUGBANKX:"))
    assert local.height == bundled.report["drugs.unconfirmed_drugbank_local_ids"] > 2_000
    assert local.get_column("props").str.contains('"drugbank_id_unverified"').all()
    counts = bundled.sources[0].counts  # the verdicts travel into the manifest
    assert counts["drugbank_ids_unconfirmed"] == bundled.report["drugs.drugbank_ids_unconfirmed"]
    assert sum(
        counts[f"drugbank_ids_{v}"] for v in ("confirmed", "repaired", "synonym", "added")
    ) == (bundled.nodes.filter(pl.col("id").str.starts_with("DRUGBANK:")).height)


def test_tsv_drugbank_ids_checked_on_request(tmp_path: Path):
    path = tmp_path / "drugs.tsv"
    path.write_text(
        "Propranolol\tDB03322\t\t\t\tdexpropranolol\n"  # the package's entry
        "Aspirin\tDB00945\t\t\t\tacetylsalicylic acid\n"  # DrugBank's name as a synonym
        "Newdrugumab\tDB19999\n"  # newer than the evidence table
        "Metformin\n",  # no id given: DrugBank has the name
        encoding="utf-8",
    )
    as_given = DrugsSource(path, disease_mesh_ids=set()).load()
    assert node(as_given, "DRUGBANK:DB03322")["name"] == "Propranolol"
    kg = DrugsSource(path, disease_mesh_ids=set(), verify_ids=True).load()
    ids = kg.nodes.filter(pl.col("kind") == DRUG).select("id", "name").rows()
    assert ids == [
        ("DRUGBANK:DB00571", "Propranolol"),
        ("DRUGBANK:DB00945", "Aspirin"),
        ("DRUGBANKX:newdrugumab", "Newdrugumab"),
        ("DRUGBANK:DB00331", "Metformin"),
    ]
    assert json.loads(node(kg, "DRUGBANKX:newdrugumab")["props"])["drugbank_id_unverified"] == [
        "DB19999"
    ]
    verdicts = {v: kg.report[f"drugs.drugbank_ids_{v}"] for v in ("repaired", "synonym", "added")}
    assert verdicts == {"repaired": 1, "synonym": 1, "added": 1}


def test_bundled_never_reuses_a_disease_descriptor_id(bundled: KnowledgeGraph):
    diseases = MeshSource().load().nodes.select("id")
    assert bundled.nodes.select("id").join(diseases, on="id", how="semi").is_empty()


def test_bundled_hierarchy(bundled: KnowledgeGraph):
    categories = bundled.nodes.filter(pl.col("kind") == CATEGORY).get_column("id").to_list()
    assert "MESH:D" in categories and "MESH:D02" in categories
    assert all(c == "MESH:D" or (c.startswith("MESH:D") and len(c) == 8) for c in categories)
    assert parents(bundled, "MESH:D02") == {"MESH:D"}
    acetaminophen = parents(bundled, "DRUGBANK:DB00316")
    assert acetaminophen and all(
        p.startswith(("MESH:", "DRUGBANK:", "DRUGNER:", "MEDLINEPLUS:")) for p in acetaminophen
    )
    with_trees = bundled.nodes.filter(pl.col("props").str.contains('"tree_numbers"'))
    children = set(bundled.edges.get_column("src").to_list())
    assert set(with_trees.get_column("id").to_list()) <= children
    # Drugs without tree numbers get no IS_A.
    assert not parents(bundled, "DRUGBANK:DB01048")


def test_bundled_categories_follow_each_drugs_own_tree_numbers(bundled: KnowledgeGraph):
    # Every MeSH category above a drug (through IS_A) is the category of one of its own tree
    # numbers (before: 388 of 8,749 drugs with tree numbers, 4.4%, sat in another one).
    up: dict[str, set[str]] = {}
    for src, dst in bundled.edges.select("src", "dst").iter_rows():
        up.setdefault(src, set()).add(dst)
    crossing = {}
    for node_id, props in bundled.nodes.select("id", "props").iter_rows():
        own = {t[:3] for t in json.loads(props or "{}").get("tree_numbers") or [] if t[0] == "D"}
        if not own:
            continue
        seen, stack = set(), [node_id]
        while stack:
            for parent in up.get(stack.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        above = {p.removeprefix("MESH:") for p in seen if len(p) == len("MESH:D02")}
        if above - own:
            crossing[node_id] = sorted(above - own)
    assert crossing == {}
    # Baclofen (D02 only) no longer sits under gamma-Aminobutyric Acid (also in D12).
    baclofen = node(bundled, "DRUGBANK:DB00181")
    assert json.loads(baclofen["props"])["broader_in_other_categories"] == [
        "DRUGBANK:DB02530",
        "MESH:D002087",
    ]
    assert parents(bundled, "DRUGBANK:DB00181") == {"MESH:D02"}
    assert bundled.report["drugs.parents_in_other_categories_passed_over"] == 185


def test_tsv_identity_rules():
    kg = DrugsSource(TSV, disease_mesh_ids=set()).load()
    assert_well_formed(kg, "DrugNER")
    ids = kg.nodes.filter(pl.col("kind") == DRUG).get_column("id").to_list()
    assert ids == [
        "DRUGBANK:DB01048",  # DrugBank first
        "DRUGBANK:DB00051",
        "MESH:D028581",  # MeSH id of its own
        "MESH:D007811",
        "DRUGNER:antibodies",  # D007155 is shared by two drugs: not an identity
        "DRUGNER:antibodies-bacterial",
        "MEDLINEPLUS:a617015",
        "DRUGNER:aciclovir",  # no id at all
    ]
    assert node(kg, "DRUGBANK:DB00051")["xrefs"] == ["MESH:D000079424", "MEDLINEPLUS:a603010"]
    assert node(kg, "MESH:D007811")["xrefs"] == ["MEDLINEPLUS:a605015"]
    assert node(kg, "DRUGNER:antibodies")["xrefs"] == []
    assert kg.report["drugs.mesh_ids_shared_by_several_drugs"] == 2
    abacavir = node(kg, "DRUGBANK:DB01048")
    assert (abacavir["synonyms"], abacavir["synonym_scopes"]) == (["Ziagen"], ["BRAND"])


def test_tsv_hierarchy_uses_the_nearest_drug_ancestor():
    kg = DrugsSource(TSV, disease_mesh_ids=set()).load()
    assert parents(kg, "MESH:D007811") == {"MESH:D028581"}  # both placements, one edge
    assert parents(kg, "MESH:D028581") == {"MESH:D01"}
    assert parents(kg, "DRUGNER:antibodies-bacterial") == {"DRUGNER:antibodies"}
    assert parents(kg, "DRUGBANK:DB00051") == {"DRUGNER:antibodies"}  # skips absent levels
    assert parents(kg, "DRUGNER:antibodies") == {"MESH:D12"}
    assert parents(kg, "MESH:D12") == {"MESH:D"}
    assert node(kg, "MESH:D01")["name"] == "Inorganic Chemicals"
    assert not parents(kg, "DRUGNER:aciclovir")


def test_tsv_disease_descriptor_ids_are_avoided():
    kg = DrugsSource(TSV, disease_mesh_ids={"D028581"}).load()
    assert kg.node("MESH:D028581") is None
    elements = node(kg, "DRUGNER:lanthanoid-series-elements")
    assert json.loads(elements["props"])["mesh_id_unreliable"] == ["D028581"]
    assert kg.report["drugs.mesh_ids_colliding_with_disease_descriptors"] == 1


def test_tsv_same_id_merges_and_counts(tmp_path: Path):
    path = tmp_path / "drugs.tsv"
    path.write_text("Abacavir\tDB01048\nAbacavir Sulfate\tDB01048\t\t\t\tabc\n", encoding="utf-8")
    kg = DrugsSource(path, disease_mesh_ids=set()).load()
    assert_well_formed(kg, "DrugNER")
    assert kg.nodes.height == 1
    abacavir = node(kg, "DRUGBANK:DB01048")
    assert abacavir["synonyms"] == ["Abacavir Sulfate", "abc"]
    assert kg.report["drugs.entries_merged_into_shared_id"] == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("\tDB01048", "empty drug name"),
        ("Abacavir\tDB1048", "malformed drugbank_id"),
        ("Abacavir\t\tM056846", "malformed mesh_id"),
        ("Abacavir\t\t\t699012", "malformed medline_plus_id"),
        ("Abacavir\t\t\t\tD03.633.x", "malformed tree number"),
        ("\t".join(["Abacavir"] + [""] * 9), "at most 9 columns"),
    ],
)
def test_bad_tsv_line_names_file_and_line(tmp_path: Path, line: str, message: str):
    path = tmp_path / "drugs.tsv"
    path.write_text(f"# drugs\nname\tdrugbank_id\nAciclovir\n{line}\n", encoding="utf-8")
    with pytest.raises(SourceError, match=message) as err:
        DrugsSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 4)


def test_non_utf8_tsv_names_the_line(tmp_path: Path):
    path = tmp_path / "drugs.tsv"
    path.write_bytes(b"Aciclovir\nParac\xe9tamol\n")
    with pytest.raises(SourceError, match="not UTF-8") as err:
        DrugsSource(path).load()
    assert (err.value.path, err.value.line) == (str(path), 2)


def test_missing_file(tmp_path: Path):
    with pytest.raises(SourceError, match="file not found") as err:
        DrugsSource(tmp_path / "nope.tsv").load()
    assert err.value.path == str(tmp_path / "nope.tsv")


def test_user_pickle_is_refused_unless_trusted(tmp_path: Path):
    dictionary = {
        "drug_canonical_to_data": {"abacavir": {"name": "Abacavir", "drugbank_id": "DB01048"}},
        "drug_variant_to_canonical": {"abacavir": ["abacavir"], "ziagen": ["abacavir"]},
        "drug_variant_to_variant_data": {"ziagen": {"is_brand": True}},
    }
    path = tmp_path / "drug_ner_dictionary.pkl.bz2"
    path.write_bytes(bz2.compress(pickle.dumps(dictionary)))
    with pytest.raises(SourceError, match="refusing to unpickle") as err:
        DrugsSource(path).load()
    assert err.value.path == str(path)
    kg = DrugsSource(path, trust_pickle=True, disease_mesh_ids=set()).load()
    assert_well_formed(kg, "DrugNER")
    abacavir = node(kg, "DRUGBANK:DB01048")
    assert (abacavir["synonyms"], abacavir["synonym_scopes"]) == (["ziagen"], ["BRAND"])
