"""Rebalancing of shortfalls between families, the per-seed draw limit and the single
verification of an item, on the generated graph and the stand-in families of
tests/factories/synth.py (real samplers, real dedup)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from medkg.synthesis.items import VERIFIED_ATTR, Reject
from medkg.synthesis.pipeline import SynthBackends, SynthConfig, SynthesisShortfall, synthesize
from tests.factories.graphs import generated_graph
from tests.factories.synth import FakeFamily, FakeGeneFamily, FewFamily, fake_backends, fake_verify


class OtherDxFamily(FakeFamily):
    """A second disease family (its own cue words, so it never duplicates fake_dx)."""

    name = "fake_dx2"

    def stem(self, row: int, rng: np.random.Generator) -> str:
        cues = [f"finding{row}z{j}" for j in rng.choice(self.n_cues, 4, replace=False)]
        return f"Which disorder shows {', '.join(cues)}?"


@pytest.fixture(scope="module")
def kg():
    return generated_graph()


def test_a_family_shortfall_moves_to_the_family_with_room(kg):
    # fake_dx makes one distinct item per seed (about 96 usable seeds for its 100 items):
    # before rebalancing the run ended short; now fake_gene makes the rest.
    backends = fake_backends(fake_dx=FewFamily, fake_gene=FakeGeneFamily)
    strict = synthesize(
        kg,
        SynthConfig(n=200, strategy="uniform", rebalance=False, allow_partial=True),
        backends=backends,
    )
    short = strict.shortfall["fake_dx"]
    assert short > 0 and len(strict.items) == 200 - short
    with pytest.raises(SynthesisShortfall):
        synthesize(kg, SynthConfig(n=200, strategy="uniform", rebalance=False), backends=backends)

    res = synthesize(kg, SynthConfig(n=200, strategy="uniform"), backends=backends)
    assert len(res.items) == 200 and not res.partial and not res.warnings
    by_family = Counter(i.family for i in res.items)
    assert by_family == {"fake_dx": 100 - short, "fake_gene": 100 + short}
    assert res.counts["rebalanced"] == {"fake_dx": {"all": -short}, "fake_gene": {"all": short}}
    assert res.manifest()["counts"]["rebalanced"] == res.counts["rebalanced"]
    # The first pass is unchanged: the families' own items are those of the strict run.
    strict_ids = {i.id for i in strict.items}
    assert {i.id for i in res.items if i.family == "fake_dx"} <= strict_ids
    again = synthesize(kg, SynthConfig(n=200, strategy="uniform"), backends=backends)
    assert [i.id for i in again.items] == [i.id for i in res.items]


def test_a_rare_shortfall_moves_to_other_rare_strata_and_the_share_is_met(kg):
    backends = fake_backends(fake_dx=FewFamily, fake_dx2=OtherDxFamily)
    cfg: dict[str, Any] = {"n": 160, "strategy": "uniform", "rare_share": 0.5}
    strict = synthesize(
        kg, SynthConfig(**cfg, rebalance=False, allow_partial=True), backends=backends
    )
    short = strict.shortfall["fake_dx"]
    assert short > 0
    assert sum(i.rare for i in strict.items) == 80 - short

    res = synthesize(kg, SynthConfig(**cfg), backends=backends)
    assert len(res.items) == 160 and not res.partial
    assert sum(i.rare for i in res.items) == 80  # the requested share, exactly
    assert res.distribution["rare"]["within_tolerance"]
    assert res.counts["rebalanced"] == {
        "fake_dx": {"rare": -short},
        "fake_dx2": {"rare": short},
    }
    rare = Counter(i.family for i in res.items if i.rare)
    assert rare == {"fake_dx": 40 - short, "fake_dx2": 40 + short}


def test_a_seed_that_keeps_failing_leaves_the_pool_early(kg):
    """With a per-seed cap of 3 a seed could be drawn 7 times; one that never makes an
    item (its id ends in 3: make rejects it) now leaves after 3 draws, and a seed that
    made m items has had at most 2 m + 3 draws (when the run fills in this first pass:
    only a family still short after rebalancing gets the plain 2 cap + 1 draws back)."""
    draws: Counter[str] = Counter()

    class Counting(FakeFamily):
        def make(self, row, rng):
            draws[self.g.ids[row]] += 1
            return super().make(row, rng)

    res = synthesize(
        kg,
        SynthConfig(n=180, seed=0, strategy="uniform", families=["fake_dx"]),
        backends=fake_backends(fake_dx=Counting),
    )
    assert len(res.items) == 180
    assert res.distribution["spread"]["fake_dx"]["strata"]["all"]["cap"] == 3
    failing = {seed: d for seed, d in draws.items() if seed.endswith("3")}
    assert failing and max(failing.values()) == 3
    made = Counter(i.seed_entity for i in res.items)
    assert all(d <= 2 * made[seed] + 3 for seed, d in draws.items())


def test_an_item_the_family_verified_is_not_verified_again(kg):
    """Families run the verifier inside make(); the pipeline ran the very same check a
    second time on every item (about a tenth of the CPU of a run)."""
    calls: Counter[str] = Counter()

    def counting_verify(item, graph):
        calls[item.question + "|".join(item.options)] += 1
        return fake_verify(item, graph)

    class SelfVerifying(FakeFamily):
        def make(self, row, rng):
            item = super().make(row, rng)
            if not isinstance(item, Reject) and self.g.ids[row] < "DIS:060":
                if counting_verify(item, self.g):
                    return Reject("verify", "failed")
                item.__dict__[VERIFIED_ATTR] = (counting_verify, id(self.g))
            return item

    backends = fake_backends(fake_dx=SelfVerifying)
    backends = SynthBackends(
        backends.families, backends.build_sampler, backends.graph_from_kg, counting_verify
    )
    res = synthesize(
        kg, SynthConfig(n=80, strategy="uniform", families=["fake_dx"]), backends=backends
    )
    low = [i for i in res.items if i.seed_entity < "DIS:060"]
    high = [i for i in res.items if i.seed_entity >= "DIS:060"]
    assert low and high

    def key(i):
        return i.question + "|".join(i.options)

    assert all(calls[key(i)] == 1 for i in low)  # once, by the family
    assert all(calls[key(i)] == 1 for i in high)  # once, by the pipeline
    assert not any(i.seed_entity.endswith("7") for i in res.items)  # both checks applied


def test_a_family_still_short_gets_the_plain_draw_limit_back(kg):
    """The early set-aside must not cost capacity: a lone family that falls short in its
    first pass continues with 2 cap + 1 draws per seed (the CLI test's 200 fake_dx items
    ended at 194 without this)."""
    draws: Counter[str] = Counter()

    class Counting(FakeFamily):
        def make(self, row, rng):
            draws[self.g.ids[row]] += 1
            return super().make(row, rng)

    res = synthesize(
        kg,
        SynthConfig(n=200, seed=0, strategy="uniform", families=["fake_dx"]),
        backends=fake_backends(fake_dx=Counting),
    )
    assert len(res.items) == 200 and not res.partial
    cap = res.distribution["spread"]["fake_dx"]["strata"]["all"]["cap"]
    failing = [d for seed, d in draws.items() if seed.endswith("3")]
    assert 3 < max(failing) <= 2 * cap + 1


def test_a_family_with_no_quota_of_its_own_can_take_over_a_shortfall(kg):
    # n=3 over two families gives fake_gene 1 item; n=1 gives it none (quota 0) - the
    # shortfall of a family that cannot make its item must still find room there.
    class Never(FakeFamily):
        def make(self, row, rng):
            return Reject("no_cues", self.g.ids[row])

    backends = fake_backends(fake_dx=Never, fake_gene=FakeGeneFamily)
    res = synthesize(kg, SynthConfig(n=1, strategy="uniform"), backends=backends)
    assert [i.family for i in res.items] == ["fake_gene"]
    assert res.counts["rebalanced"] == {"fake_dx": {"all": -1}, "fake_gene": {"all": 1}}
