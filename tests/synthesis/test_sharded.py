"""Synthesis with the families' first passes as shards (medkg.synthesis.sharded) on the
local engine: the dataset and manifest are byte-identical to the one-process run, also when
one family's items duplicate another's (that family is run again on the driver), on the
generated graph with the stand-in families of tests/factories/synth.py (real samplers,
real dedup, real decontamination index)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medkg.engines import LocalEngine
from medkg.synthesis.decontam import Decontaminator
from medkg.synthesis.pipeline import SynthConfig, canonical_graph, synthesize
from medkg.synthesis.sharded import FamilyPass
from tests.factories.graphs import generated_graph
from tests.factories.sharding import MMLU_EXCERPT, StatefulGeneFamily, TwinDxFamily, digest
from tests.factories.synth import (
    MMLU_STEM,
    FakeFamily,
    FakeGeneFamily,
    FewFamily,
    fake_backends,
)


@pytest.fixture(scope="module")
def kg():
    return generated_graph()


@pytest.mark.parametrize("mode", ["flag", "drop"])
def test_decontamination_after_the_shards_equals_the_one_process_run(kg, mode):
    config = SynthConfig(n=120, seed=4, strategy="uniform", decontam_files=[str(MMLU_EXCERPT)],
                         decontam_mode=mode)  # fmt: skip
    plain = synthesize(kg, config, backends=fake_backends())
    sharded = synthesize(kg, config, backends=fake_backends(), engine=LocalEngine())
    assert digest(sharded) == digest(plain)
    assert plain.counts["decontam"]["matched"] >= 1  # fake_dx copies an MMLU stem
    assert sharded.contamination == plain.contamination
    assert sharded.sharding["taken_over"] == ["fake_dx", "fake_gene"]
    assert sharded.sharding["rerun_on_driver"] == []
    assert sorted(sharded.sharding["shard_cpu_s"]) == ["fake_dx", "fake_gene"]
    assert "sharding" not in sharded.manifest() and not plain.sharding


def test_rebalancing_after_the_shards_equals_the_one_process_run(kg):
    backends = fake_backends(fake_dx=FewFamily, fake_gene=FakeGeneFamily)
    config = SynthConfig(n=200, strategy="uniform")
    plain = synthesize(kg, config, backends=backends)
    sharded = synthesize(kg, config, backends=backends, engine=LocalEngine())
    assert plain.counts["rebalanced"]  # the rebalancing rounds ran after the shards
    assert digest(sharded) == digest(plain)


def test_a_family_objects_state_travels_back_for_the_rebalancing(kg):
    """The rebalancing rounds continue a family on the driver: its object's state from the
    shard (a real family's OptionBalance) must come with it, or the items differ."""
    backends = fake_backends(fake_dx=FewFamily, fake_gene=StatefulGeneFamily)
    config = SynthConfig(n=200, strategy="uniform")
    plain = synthesize(kg, config, backends=backends)
    sharded = synthesize(kg, config, backends=backends, engine=LocalEngine())
    assert plain.counts["rebalanced"]["fake_gene"]["all"] > 0
    assert digest(sharded) == digest(plain)


def test_a_cross_family_duplicate_reruns_that_family_on_the_driver(kg):
    backends = fake_backends(fake_dx=FakeFamily, fake_twin=TwinDxFamily)
    config = SynthConfig(n=160, strategy="uniform", allow_partial=True)
    plain = synthesize(kg, config, backends=backends)
    sharded = synthesize(kg, config, backends=backends, engine=LocalEngine())
    assert digest(sharded) == digest(plain)
    assert sharded.sharding["taken_over"] == ["fake_dx"]
    assert sharded.sharding["rerun_on_driver"] == ["fake_twin"]
    # The twin's shard alone (its own dedup only) keeps items the global run drops:
    # taking the shard over as is would have changed the dataset.
    # the rows a run draws from: the graph in canonical order, as synthesize() passes it
    task = FamilyPass(canonical_graph(kg), config, ["fake_dx", "fake_twin"], None, backends)
    alone = {i.id for i in task.run(("fake_twin", 0)).state["out"]}
    kept = {i.id for i in plain.items if i.family == "fake_twin"}
    assert alone != kept
    assert plain.counts["funnel"]["fake_twin"]["duplicate"] > 0 and kept


def test_the_shard_outcome_travels_and_restores_the_rng(kg):
    """A shard's state restores a run that continues exactly as the original would."""
    from medkg.synthesis.pipeline import SynthBackends, family_run, plan_families
    from medkg.synthesis.sharded import restore_run, run_state

    backends: SynthBackends = fake_backends()
    config = SynthConfig(n=60, strategy="uniform")
    graph = backends.graph_from_kg(kg)
    plan = plan_families(kg, graph, config, ["fake_dx", "fake_gene"], backends)[0]
    run = family_run(plan, config)
    run.rng.integers(1000, size=7)
    copy = restore_run(family_run(plan, config), run_state(run))
    np.testing.assert_array_equal(copy.rng.integers(1000, size=5), run.rng.integers(1000, size=5))


def test_a_pickled_task_gives_the_same_shard(kg, tmp_path):
    """What a worker receives (a pickle, no built state) makes the same shard outcome,
    the benchmark index included (remote workers need not see the benchmark files)."""
    import pickle

    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"id": "x", "question": MMLU_STEM}) + "\n")
    config = SynthConfig(n=40, decontam_files=[str(bench)], decontam_mode="drop")
    checker = Decontaminator(config.decontam_config())
    task = FamilyPass(kg, config, ["fake_dx"], checker, fake_backends(fake_dx=FakeFamily))
    here = task.run(("fake_dx", 0))
    bench.unlink()
    there = pickle.loads(pickle.dumps(task)).run(("fake_dx", 0))
    assert [i.id for i in there.state["out"]] == [i.id for i in here.state["out"]]
    assert [(i.id, d, k) for i, d, k in there.trace] == [(i.id, d, k) for i, d, k in here.trace]
