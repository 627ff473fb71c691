"""The fast name signatures, hierarchy checks and gene candidates (issue #12 speed work)
answer exactly as plain formulations of the same rules, written out here, on the real
bundled graph."""

from __future__ import annotations

import re

import numpy as np
import pytest

from medkg.kg.index import SynthesisGraph
from medkg.kg.model import DRUG, PHENOTYPE
from medkg.synthesis.clinical import (
    DESCENDANT_LIMIT,
    _name_sig,
    name_core,
    related_to,
)
from medkg.synthesis.distractors import genes_of_similar_diseases, similar_diseases
from tests.factories.names import plain_acronyms, plain_cores

pytestmark = pytest.mark.slow

_DESIGNATORS = {
    "type", "types", "subtype", "form", "forms", "group", "groups", "class", "variant",
    "complementation", "susceptibility", "to", "with", "autosomal", "dominant", "recessive",
    "linked", "x", "y", "the", "of", "and", "due", "a", "an", "in", "familial", "isolated",
}  # fmt: skip


def plain_core(name: str) -> frozenset[str]:
    """The documented rule, word by word: tokens of the lower-cased name without "'s",
    minus designators, numbers, roman numerals, numbered designators and single letters."""
    out = set()
    for w in re.findall(r"[0-9a-z]+", name.lower().replace("'s", "")):
        if w in _DESIGNATORS or w.isdigit() or len(w) == 1:
            continue
        if re.fullmatch(r"[0-9]+[a-z]", w):
            continue
        if re.fullmatch(r"x{0,3}(ix|iv|v?i{0,3})", w):  # roman numerals up to 39
            continue
        out.add(w)
    return frozenset(out)


@pytest.fixture(scope="module")
def g(bundled_kg) -> SynthesisGraph:
    return SynthesisGraph.from_kg(bundled_kg)


def test_name_core_matches_the_word_by_word_rule(g):
    names = [x for row in range(g.n) for x in (g.names[row], *g.synonyms[row])]
    assert len(names) > 100_000
    for x in names:
        assert name_core(x) == plain_core(x), x
    # the memo of classified words does not leak between names
    assert name_core("Type 2 diabetes") == {"diabetes"} == name_core("Diabetes, type II")
    assert name_core("Malignant hyperthermia susceptibility 5") == {"malignant", "hyperthermia"}


def test_one_pass_signature_has_the_plain_cores_and_acronyms(g):
    rows = np.random.default_rng(0).choice(g.n, size=4000, replace=False).tolist()
    for row in rows:
        words, ones, acronyms, _, cores, _, _ = _name_sig(g, row)
        assert set(cores) == set(plain_cores(g, row))
        assert acronyms == plain_acronyms(g, row)
        assert words == frozenset().union(*plain_cores(g, row))
        assert ones == {next(iter(c)) for c in plain_cores(g, row) if len(c) == 1}


def plain_hierarchy_related(g: SynthesisGraph, a: int, b: int) -> bool:
    side_a = [a, *g.equiv.row(a).tolist()]
    side_b = [b, *g.equiv.row(b).tolist()]
    return any(g.anc.has(x, y) or g.anc.has(y, x) for x in side_a for y in side_b)


@pytest.mark.parametrize("kind", [DRUG, PHENOTYPE])
def test_key_checks_by_descendants_and_by_ancestors_agree(g, kind):
    """Small keys are checked through their descendants, large ones (MeSH classes, high
    HPO terms) through the candidate's ancestors: both give the plain hierarchy answer."""
    rng = np.random.default_rng(1)
    of_kind = np.flatnonzero(g.is_kind(kind))
    big = of_kind[g.desc.degree()[of_kind] > DESCENDANT_LIMIT]
    small = of_kind[(g.desc.degree()[of_kind] > 1) & (g.desc.degree()[of_kind] <= 20)]
    assert big.size and small.size
    keys = [*rng.choice(big, size=min(10, big.size), replace=False).tolist(),
            *rng.choice(small, size=30, replace=False).tolist()]  # fmt: skip
    hits = 0
    for key in keys:
        check = related_to(g, key, names=False)
        cands = [*g.desc.row(key)[:15].tolist(), *g.anc.row(key).tolist(),
                 *rng.choice(of_kind, size=15).tolist()]  # fmt: skip
        for c in cands:
            expected = g.equivalent(c, key) or plain_hierarchy_related(g, key, c)
            assert check(c) == expected, (g.ids[key], g.ids[c])
            hits += expected
    assert 0 < hits < len(keys) * 40


def test_genes_of_similar_diseases_first_seen_order(g):
    diseases = np.flatnonzero(g.dis_gene.degree() > 0)
    for d in np.random.default_rng(2).choice(diseases, size=200, replace=False).tolist():
        dis, jac = similar_diseases(g, d, 60)
        genes: dict[int, float] = {}
        for x, j in zip(dis.tolist(), jac.tolist(), strict=True):
            for gene in g.dis_gene.row(x).tolist():
                genes.setdefault(gene, j)
        rows, sims = genes_of_similar_diseases(g, dis, jac)
        assert rows.tolist() == list(genes)
        assert sims.tolist() == list(genes.values())
