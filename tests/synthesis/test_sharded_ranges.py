"""Seed-range shards inside a family (``shards_per_family`` K > 1, medkg.synthesis.ranges)
on the generated graph with the stand-in families of tests/factories/synth.py (real
samplers, real dedup, real decontamination index): the local run and the sharded run give
the same bytes, runs repeat, the ranges hold disjoint seeds, a range whose items duplicate
an earlier range's is run again on the driver, and K = 1 is the dataset it always was."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medkg.engines import LocalEngine
from medkg.synthesis.config import SynthesisError
from medkg.synthesis.items import QAItem, Reject
from medkg.synthesis.pipeline import SynthConfig, canonical_graph, plan_families, synthesize
from medkg.synthesis.ranges import range_plan
from medkg.synthesis.sharded import FamilyPass
from tests.factories.graphs import generated_graph
from tests.factories.sharding import MMLU_EXCERPT, StatefulGeneFamily, TwinDxFamily, digest
from tests.factories.synth import FakeFamily, FakeGeneFamily, fake_backends


class PairedFamily(FakeFamily):
    """The seeds come in pairs (neighbours in the family's seed list) that make items about
    the pair's first seed: the two seeds' items are near duplicates (same answer, 3 of 4
    cues) or exact ones, so a range holding one seed of a pair duplicates the range that
    holds the other."""

    name = "fake_pair"

    def make(self, row: int, rng: np.random.Generator) -> QAItem | Reject:
        pos = int(np.searchsorted(self.rows, row))
        return super().make(int(self.rows[pos - pos % 2]), rng)


@pytest.fixture(scope="module")
def kg():
    return generated_graph()


def _words(stem: str) -> set[str]:
    return set(re.findall(r"\w+", stem.lower()))


def assert_no_near_duplicates(items: list[QAItem], threshold: float = 0.8) -> None:
    """Written here, not medkg's Deduplicator: no two kept items of the same answer have
    stems whose word sets overlap at or above ``threshold`` (Jaccard)."""
    by_answer: dict[str, list[set[str]]] = {}
    for item in items:
        by_answer.setdefault(item.answer_id, []).append(_words(item.question))
    for stems in by_answer.values():
        for a, b in itertools.combinations(stems, 2):
            assert len(a & b) / len(a | b) < threshold, (sorted(a), sorted(b))


@pytest.mark.parametrize("k", [2, 3])
def test_ranges_on_an_engine_equal_the_local_run_and_repeat(kg, k):
    config = SynthConfig(n=120, seed=4, strategy="uniform", shards_per_family=k,
                         decontam_files=[str(MMLU_EXCERPT)])  # fmt: skip
    plain = synthesize(kg, config, backends=fake_backends())
    again = synthesize(kg, config, backends=fake_backends())
    sharded = synthesize(kg, config, backends=fake_backends(), engine=LocalEngine())
    assert digest(plain) == digest(again) == digest(sharded)
    labels = [f"{f}#{r}" for f in ("fake_dx", "fake_gene") for r in range(k)]
    assert sharded.sharding["taken_over"] == labels and sharded.sharding["shards"] == 2 * k
    assert len(plain.items) == 120 and len({i.id for i in plain.items}) == 120
    assert plain.manifest()["config"]["shards_per_family"] == k
    # K is part of the dataset's definition: the same seed without ranges draws otherwise.
    one = synthesize(kg, SynthConfig(n=120, seed=4, strategy="uniform",
                                     decontam_files=[str(MMLU_EXCERPT)]),
                     backends=fake_backends())  # fmt: skip
    assert {i.id for i in one.items} != {i.id for i in plain.items}
    assert "shards_per_family" not in one.manifest()["config"]  # default manifests unchanged


def test_k1_is_the_one_stream_dataset(kg):
    config = SynthConfig(n=120, seed=4, strategy="uniform")
    base = synthesize(kg, config, backends=fake_backends())
    explicit = synthesize(kg, SynthConfig(n=120, seed=4, strategy="uniform", shards_per_family=1),
                          backends=fake_backends(), engine=LocalEngine())  # fmt: skip
    assert digest(explicit) == digest(base)
    assert explicit.sharding["taken_over"] == ["fake_dx", "fake_gene"]


def test_ranges_deal_out_disjoint_seeds_and_split_the_quota(kg):
    backends = fake_backends()
    config = SynthConfig(n=101, seed=2, strategy="uniform", rare_share=0.3, shards_per_family=3)
    graph = backends.graph_from_kg(kg)
    for plan in plan_families(kg, graph, config, ["fake_dx", "fake_gene"], backends):
        parts = [range_plan(plan, config, r, graph, backends) for r in range(3)]
        assert len({id(p.family) for p in parts} | {id(plan.family)}) == 4  # fresh objects
        for key, (_, pool, cap) in plan.strata.items():
            masks = [p.strata[key][1] for p in parts]
            assert not (masks[0] & masks[1]).any() and not (masks[1] & masks[2]).any()
            assert not (masks[0] & masks[2]).any()
            np.testing.assert_array_equal(masks[0] | masks[1] | masks[2], pool)
            sizes = [int(m.sum()) for m in masks]
            assert max(sizes) - min(sizes) <= 1
            assert sum(p.wanted[key] for p in parts) == plan.wanted[key]
            assert all(p.strata[key][2] == cap for p in parts)
        assert sum(p.quota for p in parts) == plan.quota


def test_rare_share_and_seed_caps_hold_with_ranges(kg):
    config = SynthConfig(n=150, seed=1, strategy="uniform", rare_share=0.3, shards_per_family=4)
    result = synthesize(kg, config, backends=fake_backends())
    assert len(result.items) == 150
    assert sum(i.rare for i in result.items) == round(0.3 * 150)  # counted from the items
    # The per-seed cap holds across ranges (their pools are disjoint): counted from the items.
    spread = result.distribution["spread"]
    made = Counter((i.family, "rare" if i.rare else "common", i.seed_entity) for i in result.items)
    for (family, stratum, _), count in made.items():
        assert count <= spread[family]["strata"][stratum]["cap"]
    assert spread["fake_dx"]["strata"]["common"]["cap"] == 1 and max(made.values()) > 1
    assert_no_near_duplicates(result.items)


def test_a_range_duplicating_an_earlier_range_is_run_again_on_the_driver(kg):
    backends = fake_backends(fake_pair=PairedFamily, fake_gene=FakeGeneFamily)
    config = SynthConfig(n=100, strategy="uniform", shards_per_family=2, allow_partial=True)
    plain = synthesize(kg, config, backends=backends)
    sharded = synthesize(kg, config, backends=backends, engine=LocalEngine())
    assert digest(sharded) == digest(plain)
    assert "fake_pair#1" in sharded.sharding["rerun_on_driver"]
    assert "fake_pair#0" in sharded.sharding["taken_over"]
    assert plain.counts["funnel"]["fake_pair"]["duplicate"] > 0
    assert_no_near_duplicates(plain.items)
    # Range 1 alone (its own dedup only) keeps items the global run drops: taking its
    # shard over as is would have put duplicates of range 0's items in the dataset.
    # the rows a run draws from: the graph in canonical order, as synthesize() passes it
    task = FamilyPass(canonical_graph(kg), config, ["fake_pair", "fake_gene"], None, backends)
    first = {i.id for i in task.run(("fake_pair", 0)).state["out"]}
    alone = [i for i in task.run(("fake_pair", 1)).state["out"]]
    kept = {i.id for i in plain.items if i.family == "fake_pair"}
    assert first <= kept
    assert {i.id for i in alone} - kept
    with pytest.raises(AssertionError):
        assert_no_near_duplicates([i for i in plain.items if i.id in first] + alone)


def test_ranges_rerun_across_families_and_carry_family_state_into_rebalancing(kg):
    twin = fake_backends(fake_dx=FakeFamily, fake_twin=TwinDxFamily)
    config = SynthConfig(n=160, strategy="uniform", allow_partial=True, shards_per_family=2)
    plain = synthesize(kg, config, backends=twin)
    sharded = synthesize(kg, config, backends=twin, engine=LocalEngine())
    assert digest(sharded) == digest(plain)
    assert sharded.sharding["rerun_on_driver"] == ["fake_twin#0", "fake_twin#1"]
    assert_no_near_duplicates(plain.items)
    from tests.factories.synth import FewFamily

    stateful = fake_backends(fake_dx=FewFamily, fake_gene=StatefulGeneFamily)
    config = SynthConfig(n=200, strategy="uniform", shards_per_family=2)
    plain = synthesize(kg, config, backends=stateful)
    sharded = synthesize(kg, config, backends=stateful, engine=LocalEngine())
    assert plain.counts["rebalanced"]["fake_gene"]["all"] > 0
    assert digest(sharded) == digest(plain)


@pytest.mark.parametrize("bad", [0, -2, True, 1.5])
def test_a_bad_shard_count_is_an_error_before_any_work(kg, bad):
    with pytest.raises(SynthesisError, match="shards_per_family must be a positive integer"):
        synthesize(kg, SynthConfig(n=10, shards_per_family=bad), backends=fake_backends())


def test_cli_rejects_a_bad_shard_count(tmp_path: Path):
    from medkg.cli.main import app

    out = tmp_path / "ds"
    res = CliRunner().invoke(app, ["synth", "--n", "10", "--out", str(out), "--shards-per-family",
                                   "0", "--path", str(tmp_path / "no-graph")])  # fmt: skip
    assert res.exit_code != 0 and "shards_per_family must be a positive integer" in res.output
    assert not out.exists()


class UnrangedDx(FakeFamily):
    """fake_dx that must see its whole history (as chain's key choice): never cut."""

    seed_ranges = False


def test_a_family_that_must_see_its_history_stays_one_unit(kg):
    backends = fake_backends(fake_dx=UnrangedDx, fake_gene=FakeGeneFamily)
    ranged = SynthConfig(n=120, seed=5, strategy="uniform", shards_per_family=3)
    result = synthesize(kg, ranged, backends=backends, engine=LocalEngine())
    assert result.sharding["taken_over"] == ["fake_dx", "fake_gene#0", "fake_gene#1", "fake_gene#2"]
    assert digest(result) == digest(synthesize(kg, ranged, backends=backends))
    # its own stream and whole pool, as without ranges (fake_gene never duplicates it)
    plain = synthesize(kg, SynthConfig(n=120, seed=5, strategy="uniform"), backends=backends)
    ids = [sorted(i.id for i in r.items if i.family == "fake_dx") for r in (result, plain)]
    assert ids[0] == ids[1]
    genes = [sorted(i.id for i in r.items if i.family == "fake_gene") for r in (result, plain)]
    assert genes[0] != genes[1]
