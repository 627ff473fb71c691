"""The synthesis pipeline's orchestration, on a generated graph with small stand-in families.

The samplers are the real ones (medkg.synthesis.sampling); the question families, the
graph view and the verifier are small stand-ins defined here, so these tests pin the
pipeline's own behaviour: validation before work, quotas, the rare share, the funnel
counts, dedup, decontamination, shortfalls and determinism.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph, SourceInfo
from medkg.synthesis.pipeline import (
    RARE_TOLERANCE,
    SynthBackends,
    SynthConfig,
    SynthesisError,
    SynthesisShortfall,
    synthesize,
)
from medkg.synthesis.sampling import build_sampler
from tests.factories.graphs import generated_graph
from tests.factories.synth import (
    FakeFamily,
    FakeGeneFamily,
    FakeGraph,
    FewFamily,
    fake_backends,
)

BENCH = Path(__file__).parent.parent / "fixtures" / "benchmarks"
SRC = SourceInfo(name="Gen", version="1", license="CC0-1.0")


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return generated_graph()


def run(kg: KnowledgeGraph, **cfg: Any):
    return synthesize(kg, SynthConfig(**{"strategy": "uniform", **cfg}), backends=fake_backends())


def test_counts_add_up_and_rare_share_is_exact(kg):
    res = run(kg, n=100, seed=3, rare_share=0.3)
    assert len(res.items) == 100 and not res.partial
    assert res.counts["by_family"] == {"fake_dx": 50, "fake_gene": 50}
    # Genes are never rare: the 30 rare items all come from the disease family.
    assert res.counts["rare"] == {"rare": 30, "common": 70}
    assert res.counts["by_family_rare"]["fake_dx"]["rare"] == 30
    rare = res.distribution["rare"]
    assert rare["realised"] == pytest.approx(0.3) and rare["within_tolerance"]
    assert rare["tolerance"] == RARE_TOLERANCE
    # Every draw lands in exactly one funnel bucket.
    for name, f in res.counts["funnel"].items():
        buckets = ("rejected", "invalid", "surplus", "duplicate", "contaminated", "accepted")
        assert f["draws"] == sum(f[b] for b in buckets), name
        assert f["accepted"] == res.counts["by_family"][name]
    funnel = res.counts["funnel"]
    assert res.rejects["no_cues"] == sum(f["rejected"] for f in funnel.values()) > 0
    assert res.rejects["verify:distractor_fits"] == sum(f["invalid"] for f in funnel.values()) > 0
    assert not any(i.answer_id.endswith(("3", "7")) for i in res.items)
    dedup = res.counts["dedup"]
    assert dedup["exact"] + dedup["near"] == sum(f["duplicate"] for f in funnel.values())
    assert dedup["kept"] == 100
    assert res.counts["by_hops"] == {"1": 50, "2": 50}
    assert res.distribution["seed_kind"] == {"Disease": 50, "Gene": 50}
    assert sum(res.distribution["seed_branch"].values()) == 100
    assert set(res.distribution["seed_branch"]) <= {"GEN:A", "GEN:B", "GENE:" + "x"} | {
        i.seed_entity for i in res.items if i.family == "fake_gene"
    }
    assert res.graph_hash == "fakehash" and res.source_versions == {"Gen": "1"}
    assert len({i.id for i in res.items}) == 100


def test_weights_and_rare_share_allocation(kg):
    res = run(kg, n=60, seed=1, family_weights={"fake_dx": 0.75, "fake_gene": 0.25}, rare_share=0.5)
    assert res.counts["by_family"] == {"fake_dx": 45, "fake_gene": 15}
    assert res.counts["rare"]["rare"] == 30
    fams = res.distribution["families"]
    assert fams["fake_dx"]["requested_share"] == 0.75 and fams["fake_dx"]["realised_share"] == 0.75
    assert res.distribution["family_tv_distance"] == pytest.approx(0.0)


def test_same_config_same_items(kg):
    a = run(kg, n=40, seed=9, rare_share=0.25)
    b = run(kg, n=40, seed=9, rare_share=0.25)
    c = run(kg, n=40, seed=10, rare_share=0.25)
    assert [i.id for i in a.items] == [i.id for i in b.items]
    assert a.manifest() == b.manifest()
    assert [i.id for i in a.items] != [i.id for i in c.items]


def test_near_duplicates_from_repeated_seeds_are_counted(kg):
    # Eight eligible diseases, one of them rejected and one failing verification: repeated
    # seeds give paraphrase-level vignettes (3 of 4 cues shared) that dedup removes.
    small = generated_graph(n_diseases=8, n_genes=6)
    res = synthesize(
        small,
        SynthConfig(n=12, seed=2, strategy="uniform", families=["fake_dx"], allow_partial=True),
        backends=fake_backends(fake_dx=FewFamily),
    )
    dedup = res.counts["dedup"]
    assert dedup["near"] + dedup["exact"] > 0
    assert res.partial and res.shortfall == {"fake_dx": 12 - len(res.items)}
    assert res.counts["funnel"]["fake_dx"]["accepted"] == len(res.items) < 12
    assert res.warnings and "asked for 12 items" in res.warnings[0]


def test_shortfall_is_an_error_unless_partial_allowed(kg):
    small = generated_graph(n_diseases=8, n_genes=6)
    with pytest.raises(SynthesisShortfall, match=r"asked for 50 items, could make \d+") as err:
        synthesize(
            small,
            SynthConfig(n=50, strategy="uniform", families=["fake_dx"], max_draws_factor=5),
            backends=fake_backends(fake_dx=FewFamily),
        )
    assert err.value.result.partial and len(err.value.result.items) < 50


def test_decontamination_flags_or_drops_the_copied_mmlu_question(kg):
    bench = str(BENCH / "mmlu_excerpt.jsonl")
    flagged = run(kg, n=120, seed=4, families=["fake_dx"], decontam_files=[bench])
    copied = [i for i in flagged.items if i.seed_entity == "DIS:010"]
    assert copied, "the seed that copies the MMLU stem was drawn"
    assert flagged.contamination == {i.id: ["mmlu_excerpt:3"] for i in copied}
    assert all(i.provenance["contamination"] == ["mmlu_excerpt:3"] for i in copied)
    assert not any("contamination" in i.provenance for i in flagged.items if i not in copied)
    assert flagged.counts["decontam"]["flagged"] == len(copied)
    assert flagged.counts["decontam"]["file_sha256"]["mmlu_excerpt.jsonl"]
    dropped = run(
        kg, n=120, seed=4, families=["fake_dx"], decontam_files=[bench], decontam_mode="drop"
    )
    assert len(dropped.items) == 120
    assert not any(i.seed_entity == "DIS:010" for i in dropped.items)
    assert (
        dropped.counts["decontam"]["dropped"]
        == dropped.counts["funnel"]["fake_dx"]["contaminated"]
        >= 1
    )


class ExplodingBackends:
    """Backends whose graph view and families must never be reached."""


def no_work_backends() -> SynthBackends:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the config was validated")

    class NeverMake(FakeFamily):
        def make(self, row, rng):
            raise AssertionError("an item was made before the targets were checked")

    return SynthBackends(
        families={"fake_dx": NeverMake, "fake_gene": FakeGeneFamily},
        build_sampler=build_sampler,
        graph_from_kg=boom,
        verify_item=boom,
    )


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"families": ["fake_dx", "vibes"]}, r"unknown question famil.*vibes.*fake_dx"),
        ({"strategy": "astrology"}, r"unknown sampling strategy 'astrology'"),
        ({"strategy": "uniform", "strategy_params": {"temperature": 2}}, r"does not take"),
        ({"family_weights": {"fake_dx": 0.5, "fake_gene": 0.4}}, r"sum to 1, they sum to 0\.9"),
        ({"family_weights": {"fake_dx": 1.0}}, r"missing \['fake_gene'\]"),
        ({"rare_share": 1.5}, r"rare share must be in \[0, 1\]"),
        ({"n": 0}, r"n must be a positive integer"),
        ({"n_options": 7}, r"n_options must be 4 or 5"),
        ({"decontam_files": ["/nope/bench.jsonl"]}, r"benchmark file /nope/bench\.jsonl not found"),
        ({"decontam_mode": "erase"}, r"decontam mode"),
        ({"near_dup_threshold": 0.0}, r"dedup threshold"),
        ({"strategy": "rare_mixture", "rare_share": 0.2}, r"not both"),
    ],
)
def test_bad_config_errors_before_any_work(kg, cfg, message):
    with pytest.raises(SynthesisError, match=message):
        synthesize(kg, SynthConfig(**{"strategy": "uniform", **cfg}), backends=no_work_backends())


def test_bad_benchmark_file_errors_before_any_work(kg, tmp_path):
    bad = tmp_path / "bench.jsonl"
    bad.write_text('{"prompt": "no question field"}\n', encoding="utf-8")
    with pytest.raises(
        SynthesisError, match=r"bench\.jsonl: record 0 has no string field 'question'"
    ):
        synthesize(
            kg,
            SynthConfig(strategy="uniform", decontam_files=[str(bad)]),
            backends=no_work_backends(),
        )


def test_impossible_targets_error_before_any_item_is_made(kg):
    backends = no_work_backends()
    backends = SynthBackends(backends.families, build_sampler, FakeGraph, backends.verify_item)
    # All items from the gene family, which has no rare seed: a rare share cannot be met.
    with pytest.raises(SynthesisError, match=r"needs 10 rare items.*make only 0"):
        synthesize(
            kg,
            SynthConfig(n=20, strategy="uniform", families=["fake_gene"], rare_share=0.5),
            backends=backends,
        )
    # A family with nothing eligible in this graph.
    no_genes = generated_graph(n_genes=0)
    with pytest.raises(SynthesisError, match=r"'fake_gene' has no eligible seed"):
        synthesize(no_genes, SynthConfig(n=20, strategy="uniform"), backends=backends)


def test_seeds_are_drawn_without_replacement_and_the_report_states_the_spread(kg):
    """Before per-seed caps a concentrating sampler (the classic tree walk) repeated
    seeds; now no seed makes two items of a family while the pool is twice the quota."""
    res = run(kg, n=40, seed=2, strategy="tree_balanced", strategy_params={"floor": 1})
    per_seed = Counter((i.family, i.seed_entity) for i in res.items)
    assert max(per_seed.values()) == 1
    spread = res.distribution["spread"]["fake_dx"]
    assert spread["distinct_seeds"] == spread["items"] == 20
    assert spread["effective_n"] == pytest.approx(20.0) and spread["max_seed_share"] == 0.05
    assert spread["strata"]["all"]["cap"] == 1
    # The sampler's own spread is stated too (two equal branches: the walk is uniform).
    assert spread["strata"]["all"]["sampler_effective_n"] == pytest.approx(120.0)


def test_capacity_is_checked_before_any_item_is_made(kg):
    calls: Counter[str] = Counter()

    class Counting(FakeFamily):
        def make(self, row, rng):
            calls["make"] += 1
            return super().make(row, rng)

    backends = fake_backends(fake_dx=Counting)
    cfg = SynthConfig(n=300, seed=0, strategy="uniform", max_per_seed=2)
    with pytest.raises(SynthesisError, match=r"120 eligible seed\(s\).*at most 2.*240 at most"):
        synthesize(kg, cfg, backends=backends)
    assert calls["make"] == 0
    # The automatic cap leaves room: 300 items of 120 seeds, at most 5 each.
    res = synthesize(kg, SynthConfig(n=300, seed=0, strategy="uniform", allow_partial=True),
                     backends=backends)  # fmt: skip
    assert res.distribution["spread"]["fake_dx"]["strata"]["all"]["cap"] == 5
    assert max(Counter(i.seed_entity for i in res.items).values()) <= 5


def test_row_order_of_the_graph_does_not_change_the_dataset(kg):
    """`medkg run` synthesised on the graph as built, `medkg synth` on the graph as loaded
    from the store: same content hash, other row order, and (before rows were put in the
    canonical order) another dataset."""
    shuffled = KnowledgeGraph.from_frames(
        kg.nodes.sample(fraction=1.0, shuffle=True, seed=3),
        kg.edges.sample(fraction=1.0, shuffle=True, seed=3),
        kg.sources,
    )
    assert shuffled.content_hash() == kg.content_hash()
    assert shuffled.nodes.get_column("id").to_list() != kg.nodes.get_column("id").to_list()
    a, b = run(kg, n=50, seed=4, rare_share=0.3), run(shuffled, n=50, seed=4, rare_share=0.3)
    assert [i.to_dict() for i in a.items] == [i.to_dict() for i in b.items]
    assert a.manifest() == b.manifest()


def test_rare_quota_counts_a_common_seed_as_max_per_seed_items(kg):
    """A mixed family's common stratum holds ``max_per_seed`` items per common seed, not
    one: 80 common diseases at 2 items each hold the 90 common items of n=120 at a rare
    share of 0.25 (the split once demanded 40 rare items, one common item per seed, and
    called the run impossible: "raise the rare share")."""
    res = synthesize(
        kg,
        SynthConfig(n=120, seed=1, strategy="uniform", families=["fake_dx"], rare_share=0.25,
                    max_per_seed=2),
        backends=fake_backends(fake_dx=FakeFamily),
    )  # fmt: skip
    assert len(res.items) == 120 and not res.partial
    rare = sum(1 for it in res.items if kg.nodes.filter(pl.col("id") == it.answer_id)["rare"][0])
    assert rare == 30  # checked on the node table, not the items' own flag
    assert max(Counter(it.seed_entity for it in res.items).values()) <= 2


def test_a_rare_share_no_count_can_meet_is_an_error_before_any_draw(kg):
    """0.25 of 10 items is 2 or 3 rare items, a share of 0.2 or 0.3, both more than 2
    points away: the run used to make every item and then fail on the realised share."""
    draws: list[int] = []

    class Counting(FakeFamily):
        def make(self, row: int, rng: Any) -> Any:
            draws.append(row)
            return super().make(row, rng)

    cfg = SynthConfig(n=10, seed=0, strategy="uniform", families=["fake_dx"], rare_share=0.25)
    with pytest.raises(SynthesisError, match=r"rare share 0.25 of 10 items.*0.2000"):
        synthesize(kg, cfg, backends=fake_backends(fake_dx=Counting))
    assert draws == []
    ok = synthesize(kg, dataclasses.replace(cfg, n=12), backends=fake_backends(fake_dx=Counting))
    assert sum(it.rare for it in ok.items) == 3 and draws
