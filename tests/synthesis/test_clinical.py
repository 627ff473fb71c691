"""Clinically sound keys on a small graph in the real sources' shapes (ids, names and
relations as HPO, OMIM and Orphanet write them), and the inspect report's baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from medkg.kg.index import SynthesisGraph
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.synthesis.clinical import (
    causal_gene_links,
    clinical_terms,
    disease_like,
    name_core,
    related,
    series_stem,
)
from medkg.synthesis.distractors import OptionBalance, pick
from medkg.synthesis.inspect import answer_prior, baselines, credit, inspect_items
from medkg.synthesis.items import QAItem
from medkg.synthesis.questions.cues import frequency_note

SRC = SourceInfo(name="fixture", version="1", license="CC0-1.0")

DISEASES = {
    "ORPHA:903": "Von Willebrand disease",
    "OMIM:193400": "von Willebrand disease, type 1",
    "OMIM:277480": "von Willebrand disease, type 3",
    "OMIM:145600": "Malignant hyperthermia, susceptibility to, 1",
    "OMIM:601887": "Malignant hyperthermia, susceptibility to, 5",
    "OMIM:601410": "Diabetes mellitus, transient neonatal, 1",
    "ORPHA:99885": "Transient neonatal diabetes mellitus",
    "OMIM:123400": "Creutzfeldt-Jakob disease",
    "OMIM:137440": "Gerstmann-Straussler disease",
    "OMIM:126200": "Multiple sclerosis, susceptibility to",
    "OMIM:242890": "Immunoglobulin D level in plasma, low",
    "ORPHA:3": "Hemophilia A",
    "ORPHA:4": "Glanzmann thrombasthenia",
    "ORPHA:5": "Hemophilia B",
    "ORPHA:2128": "Isolated hemihyperplasia",
    "OMIM:235000": "Hemihyperplasia, isolated",
    # numbered series whose name cores are one word ({deafness}, {osteopetrosis})
    "OMIM:618434": "Deafness, autosomal recessive 94",
    "OMIM:609439": "Deafness, autosomal recessive 48",
    "OMIM:124900": "Deafness, autosomal dominant 1",
    "OMIM:304500": "Deafness, X-linked 1",
    "OMIM:400047": "DEAFNESS, Y-LINKED 2",
    "OMIM:259730": "Osteopetrosis, autosomal recessive 3",
    "OMIM:259710": "Osteopetrosis, autosomal recessive 2",
}
PHENOTYPES = {
    "HP:0000118": ("Phenotypic abnormality", None),
    "HP:0001871": ("Abnormality of blood and blood-forming tissues", "HP:0000118"),
    "HP:0001877": ("Abnormal hematological parameters", "HP:0001871"),
    "HP:0001892": ("Abnormal bleeding", "HP:0001877"),
    "HP:0000978": ("Bruising susceptibility", "HP:0001892"),
    "HP:0000421": ("Epistaxis", "HP:0001892"),
    "HP:0001197": ("Abnormality of prenatal development or birth", "HP:0000118"),
    "HP:0001787": ("Abnormal delivery", "HP:0001197"),
    "HP:0011410": ("Caesarian section", "HP:0001787"),
    "HP:0030365": ("Vaginal birth after Caesarian", "HP:0011410"),
    "HP:0005627": ("Type D brachydactyly", "HP:0001892"),
    "HP:0005863": ("Type E brachydactyly", "HP:0001892"),
    "HP:9000001": ("Finding 0.1.0", "HP:0001892"),
    "HP:9000002": ("Finding 0.0.1", "HP:0001892"),
}


def fixture_graph() -> SynthesisGraph:
    nodes = [{"id": i, "kind": "Disease", "name": n} for i, n in DISEASES.items()]
    nodes += [{"id": i, "kind": "Phenotype", "name": n} for i, (n, _) in PHENOTYPES.items()]
    nodes += [
        {"id": "HP:0001426", "kind": "Modifier", "name": "Multifactorial inheritance"},
        {"id": "HP:0000006", "kind": "Modifier", "name": "Autosomal dominant inheritance"},
        {"id": "HP:0040282", "kind": "Modifier", "name": "Frequent"},
        {"id": "NCBIGene:5621", "kind": "Gene", "name": "PRNP"},
        {"id": "NCBIGene:3119", "kind": "Gene", "name": "HLA-DQB1"},
        {"id": "NCBIGene:7450", "kind": "Gene", "name": "VWF"},
    ]
    edges: list[dict[str, Any]] = [
        {"src": i, "rel": "IS_A", "dst": p} for i, (_, p) in PHENOTYPES.items() if p is not None
    ]
    edges += [
        {"src": "OMIM:193400", "rel": "MAPS_TO", "dst": "ORPHA:903"},
        {"src": "NCBIGene:5621", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:123400"},
        {"src": "NCBIGene:5621", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:137440"},
        {"src": "NCBIGene:3119", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:123400"},
        {"src": "NCBIGene:3119", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:126200"},
        {"src": "NCBIGene:7450", "rel": "GENE_ASSOCIATED_WITH", "dst": "ORPHA:903"},
        {"src": "OMIM:123400", "rel": "HAS_INHERITANCE", "dst": "HP:0000006"},
        {"src": "ORPHA:903", "rel": "HAS_PHENOTYPE", "dst": "HP:0000978", "negated": False,
         "frequency": "HP:0040282", "frequency_value": 0.545},
        {"src": "ORPHA:903", "rel": "HAS_PHENOTYPE", "dst": "HP:0000421", "negated": False,
         "frequency": "3/4", "frequency_value": 0.75},
        {"src": "ORPHA:3", "rel": "HAS_PHENOTYPE", "dst": "HP:0000421", "negated": False},
    ]  # fmt: skip
    kg = KnowledgeGraph.from_frames(
        stamp(nodes_frame(nodes), SRC), stamp(edges_frame(edges), SRC), [SRC]
    )
    return SynthesisGraph.from_kg(kg)


@pytest.fixture(scope="module")
def g() -> SynthesisGraph:
    return fixture_graph()


def rows(g: SynthesisGraph, *ids: str) -> list[int]:
    return [g.row_of[i] for i in ids]


def test_name_cores_drop_numbering_and_designators():
    assert name_core("Malignant hyperthermia, susceptibility to, 5") == name_core(
        "Malignant hyperthermia, susceptibility to, 1"
    )
    assert name_core("Diabetes mellitus, transient neonatal, 1") == name_core(
        "Transient neonatal diabetes mellitus"
    )
    assert name_core("Nemaline myopathy 5C, autosomal dominant") == {"nemaline", "myopathy"}
    assert name_core("Hemophilia A") != name_core("Glanzmann thrombasthenia")
    assert name_core("3MC syndrome 1") == name_core("3MC syndrome") == {"3mc", "syndrome"}


def test_series_stem_keeps_inheritance_words_and_drops_numbering():
    assert series_stem("Deafness, autosomal recessive 94") == {"deafness", "autosomal", "recessive"}
    assert series_stem("Nemaline myopathy 5C, autosomal dominant") == {
        "nemaline", "myopathy", "autosomal", "dominant"
    }  # fmt: skip
    assert series_stem("Deafness, X-linked 1") == series_stem("DEAFNESS, Y-LINKED 2")
    assert series_stem("Hemophilia A") == frozenset()  # one word: too weak to call a series
    assert series_stem("Spinocerebellar ataxia type XI") == {"spinocerebellar", "ataxia"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ORPHA:903", "OMIM:193400"),  # MAPS_TO
        ("ORPHA:903", "OMIM:277480"),  # the disease and its type 3
        ("OMIM:145600", "OMIM:601887"),  # numbered siblings
        ("OMIM:601410", "ORPHA:99885"),  # the same disease, words reordered
        ("HP:0001892", "HP:0000978"),  # IS_A parent and child
        ("HP:0005627", "HP:0005863"),  # lettered members of one typed series
        ("ORPHA:2128", "OMIM:235000"),  # the same words reordered
        # members of one numbered series, inheritance words included: before the fix these
        # were "wrong" options for each other (their cores are one word)
        ("OMIM:618434", "OMIM:609439"),
        ("OMIM:259730", "OMIM:259710"),
        ("OMIM:304500", "OMIM:400047"),  # X-linked 1, Y-linked 2: letters are numbering
    ],
)
def test_related_pairs(g: SynthesisGraph, a: str, b: str):
    ra, rb = rows(g, a, b)
    assert related(g, ra, rb) and related(g, rb, ra)


def test_unrelated_pairs(g: SynthesisGraph):
    pairs = [("ORPHA:903", "ORPHA:3"), ("ORPHA:3", "ORPHA:4"), ("HP:0000978", "HP:0000421"),
             ("ORPHA:3", "ORPHA:5"), ("HP:9000001", "HP:9000002"),
             ("OMIM:618434", "OMIM:124900"),  # two series: recessive 94, dominant 1
             ("OMIM:618434", "OMIM:259730")]  # fmt: skip
    for a, b in pairs:
        ra, rb = rows(g, a, b)
        assert not related(g, ra, rb), (a, b)


def test_pick_never_offers_a_subtype_or_numbered_sibling_of_the_key(g: SynthesisGraph):
    """Before the fix pick only refused the same id, a MAPS_TO link or the same name:
    "von Willebrand disease, type 3" was a "wrong" option for von Willebrand disease."""
    answer = g.row_of["ORPHA:903"]
    cand = np.asarray(rows(g, "OMIM:277480", "OMIM:193400", "ORPHA:3", "ORPHA:4"), dtype=np.int64)
    chosen, _ = pick(cand, np.ones(cand.size), 2, np.random.default_rng(0), lambda c: True,
                     [answer], g)  # fmt: skip
    assert sorted(g.ids[c] for c in chosen) == ["ORPHA:3", "ORPHA:4"]


def test_only_causal_gene_links_are_keys(g: SynthesisGraph):
    """HLA-DQB1 is a susceptibility locus (multiple sclerosis, susceptibility to) beside
    the causal PRNP of Creutzfeldt-Jakob disease: before the fix it was a gene key."""
    dis_gene, gene_dis = causal_gene_links(g)
    cjd, prnp, hla = rows(g, "OMIM:123400", "NCBIGene:5621", "NCBIGene:3119")
    assert [g.ids[x] for x in dis_gene.row(cjd)] == ["NCBIGene:5621"]
    assert g.row_of["OMIM:126200"] not in gene_dis.row(hla).tolist()
    assert sorted(g.ids[x] for x in gene_dis.row(prnp)) == ["OMIM:123400", "OMIM:137440"]
    # the full association table is kept for distractor safety
    assert hla in g.dis_gene.row(cjd).tolist()


def test_clinical_terms_and_disease_like_names(g: SynthesisGraph):
    ok = clinical_terms(g)
    assert ok[g.row_of["HP:0000978"]] and ok[g.row_of["HP:0000421"]]
    for term in ("HP:0030365", "HP:0011410", "HP:0001871", "HP:0001877", "HP:0000118"):
        assert not ok[g.row_of[term]], term  # delivery terms; too general levels
    like = disease_like(g)
    assert like[g.row_of["ORPHA:903"]] and like[g.row_of["OMIM:123400"]]
    assert not like[g.row_of["OMIM:242890"]] and not like[g.row_of["OMIM:126200"]]


def test_frequency_is_stated_in_the_sources_terms(g: SynthesisGraph):
    """Before: an HPO bin became "in about 55% of patients" and 1/1 "obligate"."""
    vwd, bruise, nose = rows(g, "ORPHA:903", "HP:0000978", "HP:0000421")
    assert frequency_note(g, vwd, bruise) == "HPO frequency Frequent"
    assert frequency_note(g, vwd, nose) == "in 3 of 4 reported patients"
    assert frequency_note(g, g.row_of["ORPHA:3"], nose) == "frequency not annotated in HPO"


def test_option_balance_prefers_past_keys_and_refuses_overused_keys():
    bal = OptionBalance()
    for _ in range(3):
        bal.record(1, [2, 3, 4, 5])
    assert bal.weight(1) > bal.weight(6) > bal.weight(2)
    assert bal.overused(1, 5) and not bal.overused(2, 5)


# ----------------------------------------------------------------------------- inspect
def item(i: int, options: list[str], answer: int, question: str, template: str = "t.v1"):
    ids = [f"X:{o}" for o in options]
    return QAItem(
        family="fam", question=question, options=options, option_ids=ids, answer_index=answer,
        answer_id=ids[answer], entity_ids=[ids[answer]], path_nodes=[ids[answer]], path_rels=[],
        distractor_ids=[x for j, x in enumerate(ids) if j != answer], hops=1, rare=False,
        difficulty=0.5, rationale={}, template=template, seed_entity=f"S:{i}", id=f"fam-{i}",
    )  # fmt: skip


def test_ties_give_fractional_credit():
    assert credit([1, 1, 0, 0], 0) == 0.5 and credit([1, 1, 0, 0], 2) == 0.0
    assert credit([0, 0, 0, 0, 0], 3) == pytest.approx(0.2)


def test_baselines_catch_each_giveaway():
    stem = "A patient presents with alpha beta. Which is it?"
    # the key always the longest, shares stem words, and is the same entity every time
    items = [
        item(i, ["alpha beta gamma delta", f"x{i}", f"y{i}", f"z{i}"], i % 4 and 0, stem)
        for i in range(200)
    ]
    b = baselines(items)
    assert b["longest"]["accuracy"] == 1.0 and b["longest"]["flag"]
    assert b["stem_overlap"]["accuracy"] == 1.0
    assert b["answer_prior"]["accuracy"] > 0.9 and b["answer_prior"]["chance"] == 0.25
    # a key that is never seen before: the prior is at chance
    fresh = [item(i, [f"a{i}", f"b{i}", f"c{i}", f"d{i}"], i % 4, "Which?") for i in range(200)]
    acc, chance, n = answer_prior(fresh)
    assert acc == pytest.approx(chance) and n == 200
    report = inspect_items(fresh)
    fam = report["families"]["fam"]
    assert fam["spread"]["effective_n"] == 200 and fam["spread"]["max_seed_share"] == 0.005
    assert report["flagged"] == [] and not any(e["flag"] for e in fam["baselines"].values())
    assert fam["letters"]["counts"] == {"A": 50, "B": 50, "C": 50, "D": 50}


def test_odd_one_out_on_not_items():
    stem = "Which of the following is NOT a feature of X?"
    items = [
        item(
            i,
            ["cardiac murmur", "cardiac arrest", "cardiac hypertrophy", "renal cyst"],
            3,
            stem,
            "phenotype.negative.v1",
        )
        for i in range(50)
    ]
    assert baselines(items)["odd_one_out"]["accuracy"] == 1.0
