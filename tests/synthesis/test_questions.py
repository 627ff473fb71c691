"""Question families on a small hand-built graph (and 200 items per family on the real one)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from medkg.kg.index import SynthesisGraph
from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.items import QAItem, Reject
from medkg.synthesis.questions import FAMILIES, make_family
from medkg.synthesis.questions.base import phrase
from medkg.synthesis.verify import verify_item
from tests.factories.graphs import synthetic_graph

CUE_FAMILIES = ("diagnosis", "gene", "chain")


@pytest.fixture(scope="module")
def g() -> SynthesisGraph:
    return synthetic_graph()


def run(g: SynthesisGraph, name: str, n: int, seed: int = 0, n_options: int = 5):
    fam = make_family(name, g, n_options=n_options)
    eligible = np.flatnonzero(fam.eligible())
    rng = np.random.default_rng(seed)
    items: list[QAItem] = []
    rejects: collections.Counter[str] = collections.Counter()
    for s in rng.choice(eligible, size=n):
        out = fam.make(int(s), rng)
        if isinstance(out, Reject):
            rejects[out.reason] += 1
        else:
            items.append(out)
    return items, rejects


def test_registry_names_every_family_and_refuses_unknown(g: SynthesisGraph):
    assert set(FAMILIES) == {"diagnosis", "gene", "phenotype", "category", "chain", "drug"}
    with pytest.raises(ValueError, match="unknown question family"):
        make_family("nonsense", g)
    with pytest.raises(ValueError, match="unknown parameter"):
        make_family("diagnosis", g, k_mni=3)
    with pytest.raises(ValueError, match="n_options"):
        make_family("diagnosis", g, n_options=3)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_emits_items_that_verify(g: SynthesisGraph, name: str):
    items, rejects = run(g, name, 120)
    assert len(items) >= 40, (name, rejects)
    for it in items:
        it.check_shape()
        assert verify_item(it, g) == [], (it.to_dict(), verify_item(it, g))
        assert it.family == name and it.id.startswith(f"{name}-")
        assert set(it.rationale) == {"understanding", "recall", "reasoning", "conclusion"}
        assert all(it.rationale.values())
        assert 0.0 <= it.difficulty <= 1.0 and it.hops >= 1
        assert it.answer_id in it.path_nodes and it.answer_id in it.entity_ids
        assert len(it.distractor_ids) == len(it.options) - 1
        assert it.provenance["graph_hash"] == g.content_hash and it.provenance["template"]
    hops = {it.hops for it in items}
    if name == "chain":
        assert hops == {3}
    if name == "gene":
        assert hops == {2}


def test_diagnosis_options_come_from_similar_diseases(g: SynthesisGraph):
    items, _ = run(g, "diagnosis", 60)
    for it in items:
        a = g.row(it.answer_id)
        mine = set(g.dis_pheno.row(a).tolist())
        for d in it.distractor_ids:  # hard negatives share phenotypes with the answer
            assert mine & set(g.dis_pheno.row(g.row(d)).tolist())


def test_not_annotated_phenotypes_never_appear_as_cues(g: SynthesisGraph):
    seen = 0
    for name in CUE_FAMILIES:
        items, _ = run(g, name, 150, seed=3)
        for it in items:
            pheno = g.kind_codes["Phenotype"]
            cues = [g.row(e) for e in it.entity_ids if g.kind[g.row(e)] == pheno]
            disease = g.row(it.answer_id if name == "diagnosis" else it.seed_entity)
            nots = set(g.dis_not.row(disease).tolist())
            assert nots, "every synthetic disease has a NOT annotation"
            for c in cues:
                assert not (set(g.anc.row(c).tolist()) & nots)
                seen += 1
    assert seen > 300


def test_distractor_sharing_every_cue_is_never_chosen(g: SynthesisGraph):
    items, _ = run(g, "diagnosis", 200, seed=5)
    for it in items:
        pheno = g.kind_codes["Phenotype"]
        cues = np.array([g.row(e) for e in it.entity_ids if g.kind[g.row(e)] == pheno])
        for d in it.distractor_ids:
            assert not g.has_phenotype(g.row(d), cues).all()


@pytest.mark.parametrize("n_options", [4, 5])
def test_answer_letters_are_balanced(g: SynthesisGraph, n_options: int):
    counts = np.zeros(n_options)
    total = 0
    for name in ("category", "drug", "diagnosis"):
        items, _ = run(g, name, 600, seed=11, n_options=n_options)
        for it in items:
            counts[it.answer_index] += 1
            total += 1
    assert total >= 1000
    expected = total / n_options
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 18.5, (counts, chi2)  # p < 0.001 for 3-4 degrees of freedom


def test_same_seed_gives_identical_items(g: SynthesisGraph):
    for name in FAMILIES:
        a, ra = run(g, name, 40, seed=9)
        b, rb = run(synthetic_graph(), name, 40, seed=9)
        assert [x.to_dict() for x in a] == [x.to_dict() for x in b]
        assert ra == rb
        c, _ = run(g, name, 40, seed=10)
        assert [x.id for x in a] != [x.id for x in c]


def test_too_few_phenotypes_is_a_counted_reject(g: SynthesisGraph):
    fam = make_family("diagnosis", g, k_min=7, k_max=7)
    out = fam.make(g.row("ORPHA:900"), np.random.default_rng(0))
    assert isinstance(out, Reject) and out.reason == "too_few_phenotypes"
    assert not fam.eligible().any()  # every synthetic disease has 6 positive annotations


def test_drug_and_category_answers_are_on_the_is_a_path(g: SynthesisGraph):
    for name in ("drug", "category"):
        items, _ = run(g, name, 60)
        for it in items:
            assert set(it.path_rels) == {"IS_A"}
            # hops count reasoning steps, not the path's length (a category look-up is one
            # step however deep the IS_A chain; it counted as 2-4 before)
            assert it.hops == (2 if it.template == "category.msca.v1" else 1)
    items, _ = run(g, "drug", 30)
    assert all(it.template == "drug.mesh_class.v1" for it in items)


def test_phenotype_family_has_both_forms(g: SynthesisGraph):
    items, _ = run(g, "phenotype", 200)
    forms = collections.Counter(it.template for it in items)
    assert forms["phenotype.positive.v1"] and forms["phenotype.negative.v1"]
    for it in items:
        if it.template == "phenotype.negative.v1":
            assert "NOT" in it.question


@pytest.fixture(scope="module")
def real_graph(bundled_kg: KnowledgeGraph) -> SynthesisGraph:
    return SynthesisGraph.from_kg(bundled_kg, content_hash="test")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_real_graph_200_items_per_family_all_verify(real_graph: SynthesisGraph, name: str):
    fam = make_family(name, real_graph)
    eligible = np.flatnonzero(fam.eligible())
    rng = np.random.default_rng(2024)
    items = []
    for s in rng.choice(eligible, size=400, replace=False):
        out = fam.make(int(s), rng)
        if not isinstance(out, Reject):
            items.append(out)
        if len(items) == 200:
            break
    assert len(items) == 200
    for it in items:
        assert verify_item(it, real_graph) == []
    assert len({it.id for it in items}) == 200


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_distractor_records_why_it_is_wrong(g: SynthesisGraph, name: str):
    items, _ = run(g, name, 60, seed=3)
    assert items
    pheno = g.kind_codes["Phenotype"]
    for it in items:
        reasons = it.provenance["distractor_reasons"]
        assert set(reasons) == set(it.distractor_ids) and all(reasons.values()), reasons
        if name != "diagnosis":
            continue
        # "not annotated in HPO with <cue>": the cue is one of the item's findings and the
        # distractor has no phenotype annotation to it in the graph
        cues = {g.names[g.row(e)]: g.row(e) for e in it.entity_ids if g.kind[g.row(e)] == pheno}
        for d, reason in reasons.items():
            hit = [n for n in cues if reason.endswith(phrase(n))]
            assert reason.startswith("not annotated in HPO with ") and hit, reason
            assert cues[hit[0]] not in g.dis_pheno.row(g.row(d)).tolist()
