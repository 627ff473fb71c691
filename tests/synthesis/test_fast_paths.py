"""The fast relatedness checks answer exactly as their plain formulation, and a fixed-seed
dataset on the real graph stays byte-identical (speed work must not change any item).

The reference functions below are the straightforward versions of the rules in
:mod:`medkg.synthesis.clinical` (every core against every core, ancestors recomputed per
call), kept here so that the cached/pre-filtered versions are checked against them."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from medkg.io import write_jsonl
from medkg.kg.index import SynthesisGraph
from medkg.synthesis.clinical import (
    TYPED,
    _words,
    names_related,
    related_to,
    series_stem,
)
from medkg.synthesis.distractors import similar_diseases
from medkg.synthesis.export import item_row
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.names import plain_acronyms, plain_cores

pytestmark = pytest.mark.slow

# sha256 of items.jsonl of `medkg synth --n 2000 --seed 0` on the bundled graph. A change
# that alters items on purpose (new check, new template) updates it; a speed-up must not.
# 5 Dec 2026: provenance gained distractor_reasons; without that key the items hash to
# 2323f2ae…e1ffe8 as before (checked when the key was added).
# 5 Dec 2026 (#10 rest): every item's provenance graph_hash changed (checked DrugBank ids,
# drug categories, rarity, xref confidence); otherwise 3 items differ, the diagnosis, gene and
# phenotype items seeded on OMIM:123400 Creutzfeldt-Jakob disease, now rare (rare flag and
# difficulty +0.2, so their ids). Before: 926c6934…ab.
# 5 Dec 2026 (#11, third session): the graph gained the MeSH supplementary records (6,557
# Disease nodes), so rows renumber and every family draws other seeds (ab358585…01a);
# then members of one numbered series whose name cores are one word ("Deafness, autosomal
# recessive 94" / "... 48", no longer joined through a shared MeSH heading) became related:
# 147 items differ (chain 145, diagnosis 2), test_real_dataset's sibling check is clean again.
# 5 Dec 2026 (chain answer prior): chain offers keys that owe distractor appearances
# first (OptionBalance.owes), so 57 of the 400 chain items differ (their distractors, then
# every later draw of the family); no other family changes. Before: 132a7d4f…ecccf.
# 5 Dec 2026 (MeSH split entry terms): the synonym "combined" of Multiple Carboxylase
# Deficiency is gone, and with it 24 wrong broad MAPS_TO edges into it, which had made the
# combined immunodeficiencies "related" to each other; one diagnosis item now offers one of
# them as a distractor (its id, options and rationale differ), every item's graph_hash
# differs. Before: 52a50385…e8ff2.
# 5 Dec 2026 (review4, HPO gene frequencies): 24,511 GENE_HAS_PHENOTYPE edges whose diseases
# give different frequencies no longer state the first one (props.frequencies instead);
# graph e62deda4beff -> 92cd6a7508ab. Items differ only in provenance graph_hash (checked:
# 0 of 2,000 differ without it). Before: a7e2fb89…2ae4.
# 5 Dec 2026 (review3): gene and chain distractors avoid the genes of the fitting
# diseases' MAPS_TO equivalents (a source attaches genes to its own id: all four distractors
# of a lupus gene item were genes of ORPHA:536, the twin of OMIM:152700). 4 items were wrong
# (gene 2, chain 2); with the draws after them 284 items differ (chain 146, gene 138).
# Before: a7e2fb89…2ae4.
# 5 Dec 2026 (review3): phenotype options read the disease's MAPS_TO equivalents (a
# feature of ORPHA:353298 Roifman syndrome was a wrong option for OMIM:616651, the same
# disease): 9 positive items were wrong; with the draws after them 324 phenotype items
# differ. Before: 7c853dc8…5221.
# 5 Dec 2026 (review3): diagnosis and chain distractors are checked through their MAPS_TO
# twins too (ORPHA:776's twin has every finding; OMIM:151623's twin ORPHA:524 holds the
# gene link): 7 of 10,000 items were wrong (none of these 2,000); 3 chain items differ here
# (the family's filter changed the candidates of later draws). Before: db945302…f4a4.
# 5 Dec 2026 (merge): the review3 items on graph 92cd6a7508ab (review4); they differ from
# bafeb825…a2e3 only in provenance graph_hash.
ITEMS_SHA256 = "8cc40ff08f7fbb742731d904dd122d645f5a6c11c47cb628cfef3c3a37db4d7a"


def ref_names_related(g: SynthesisGraph, a: int, b: int) -> bool:
    if _words(g, a) == _words(g, b):
        return True
    if series_stem(g.names[a]) and series_stem(g.names[a]) == series_stem(g.names[b]):
        return True
    ca, cb = plain_cores(g, a), plain_cores(g, b)
    typed = bool(TYPED.search(g.names[a])) and bool(TYPED.search(g.names[b]))
    for x in ca:
        for y in cb:
            if len(x) >= 2 and len(y) >= 2 and (x <= y or y <= x):
                return True
            if typed and x == y:
                return True
    for x in ca:
        if len(x) == 1 and next(iter(x)) in plain_acronyms(g, b):
            return True
    return any(len(y) == 1 and next(iter(y)) in plain_acronyms(g, a) for y in cb)


def ref_related(g: SynthesisGraph, key: int, c: int) -> bool:
    if g.equivalent(c, key):
        return True
    key_side = [key, *g.equiv.row(key).tolist()]
    side = [c, *g.equiv.row(c).tolist()]
    key_up = {a for x in key_side for a in g.anc.row(x).tolist()}
    up = {a for x in side for a in g.anc.row(x).tolist()}
    if key_up & set(side) or up & set(key_side):
        return True
    return ref_names_related(g, key, c)


@pytest.fixture(scope="module")
def graph(bundled_kg):
    return bundled_kg


def test_fast_relatedness_matches_the_plain_rules(graph):
    g = SynthesisGraph.from_kg(graph)
    rng = np.random.default_rng(3)
    diseases = np.flatnonzero(g.dis_pheno.degree() >= 3)
    pairs = []
    for key in rng.choice(diseases, size=150, replace=False).tolist():
        cands, _ = similar_diseases(g, key, 30)  # the hard negatives pick() screens
        pairs += [(key, int(c)) for c in cands]
        pairs += [(key, int(c)) for c in rng.choice(g.n, size=20)]
    assert len(pairs) > 3000
    fast = [related_to(g, k)(c) for k, c in pairs]
    slow = [ref_related(g, k, c) for k, c in pairs]
    assert fast == slow
    assert 50 < sum(fast) < len(pairs)  # both answers occur, so the test can fail
    names_fast = [names_related(g, k, c) for k, c in pairs]
    assert names_fast == [ref_names_related(g, k, c) for k, c in pairs]
    assert any(names_fast)


def test_fixed_seed_dataset_is_byte_identical(graph, tmp_path):
    result = synthesize(graph, SynthConfig(n=2000, seed=0))
    path = tmp_path / "items.jsonl"
    write_jsonl(path, [item_row(i) for i in result.items])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ITEMS_SHA256
