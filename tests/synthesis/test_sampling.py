"""Entity samplers: exact probabilities on a small hand-built MET, draws that follow them,
reproducibility, every bad input, and the real bundled graph (built once per module)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.sampling import (
    SAMPLERS,
    InverseFrequencySampler,
    RareMixtureSampler,
    Sampler,
    SamplingError,
    TargetSampler,
    build_sampler,
    expected_distribution,
    parse_target,
    realised_distribution,
    total_variation,
)

# A small MET. Branch A is big (8 diseases), B tiny (1 rare disease), C has 2 (one rare).
#   MET:root ─ MET:Disease ─ A ─ a1..a8      (annotation degree 0..7)
#            │             ├ B ─ b1 (rare)    (degree 20)
#            │             └ C ─ c1 (rare), c2 (degree 50, 3)
#            ├ MET:Phenotype ─ p1, p2, p3     (degree 100, 1, 0)
#            └ MET:obsolete ─ x1 (obsolete Disease)
ROWS = [
    ("MET:root", "Category", None, False, 0, False),
    ("MET:Disease", "Category", "MET:root", False, 0, False),
    ("MET:Phenotype", "Category", "MET:root", False, 0, False),
    ("MET:obsolete", "Category", "MET:root", False, 0, False),
    ("A", "Category", "MET:Disease", False, 0, False),
    ("B", "Category", "MET:Disease", False, 0, False),
    ("C", "Category", "MET:Disease", False, 0, False),
    *[(f"a{i}", "Disease", "A", False, i - 1, False) for i in range(1, 9)],
    ("b1", "Disease", "B", True, 20, False),
    ("c1", "Disease", "C", True, 50, False),
    ("c2", "Disease", "C", False, 3, False),
    ("p1", "Phenotype", "MET:Phenotype", False, 100, False),
    ("p2", "Phenotype", "MET:Phenotype", False, 1, False),
    ("p3", "Phenotype", "MET:Phenotype", False, 0, False),
    ("x1", "Disease", "MET:obsolete", False, 0, True),
]


@pytest.fixture(scope="module")
def nodes() -> pl.DataFrame:
    cols = list(zip(*ROWS, strict=True))
    return pl.DataFrame(
        {
            "id": cols[0],
            "kind": cols[1],
            "name": [f"name of {i}" for i in cols[0]],
            "met_parent": cols[2],
            "rare": cols[3],
            "annotation_degree": cols[4],
            "obsolete": cols[5],
        },
        schema={
            "id": pl.String(),
            "kind": pl.String(),
            "name": pl.String(),
            "met_parent": pl.String(),
            "rare": pl.Boolean(),
            "annotation_degree": pl.Int64(),
            "obsolete": pl.Boolean(),
        },
    )


def rows_of(nodes: pl.DataFrame, *ids: str) -> np.ndarray:
    index = {n: i for i, n in enumerate(nodes.get_column("id").to_list())}
    return np.array([index[i] for i in ids], dtype=np.int64)


def mask_of(nodes: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
    return nodes.select(expr).to_series().to_numpy().astype(bool)


def ids_of(nodes: pl.DataFrame, draws: np.ndarray) -> list[str]:
    return nodes.get_column("id").gather(draws).to_list()


def chi_square(observed: np.ndarray, expected_p: np.ndarray) -> float:
    expected = expected_p * observed.sum()
    return float((((observed - expected) ** 2) / expected).sum())


# Upper 0.1% points of the chi-square distribution, by degrees of freedom.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 7: 24.32, 8: 26.12, 10: 29.59}

GAPS = [{"id": "a1", "gap": 1.0}, {"id": "b1", "gap": 6.0}, {"id": "p3", "gap": 3.0}]


def all_strategies(tmp_path: Path) -> dict[str, dict[str, object]]:
    gaps = tmp_path / "gaps.json"
    gaps.write_text(json.dumps(GAPS))
    return {
        "uniform": {},
        "tree_balanced": {},
        "spread": {"floor": 3},
        "inverse_frequency": {"temperature": 0.5},
        "rare_mixture": {"alpha": 0.4, "base": "tree_balanced"},
        "target": {"shares": {"Disease": 0.7, "Phenotype": 0.3}},
        "coverage_gap": {"gaps": gaps},
    }


# -- interface ---------------------------------------------------------------------------


def test_registry_lists_every_strategy():
    assert set(SAMPLERS) == {
        "uniform",
        "tree_balanced",
        "spread",
        "inverse_frequency",
        "rare_mixture",
        "target",
        "coverage_gap",
    }
    assert all(issubclass(cls, Sampler) for cls in SAMPLERS.values())


def test_every_strategy_is_reproducible_and_never_draws_scaffold_or_obsolete(nodes, tmp_path):
    for name, params in all_strategies(tmp_path).items():
        sampler = build_sampler(name, nodes, **params)
        a = sampler.sample(2000, np.random.default_rng(42))
        b = sampler.sample(2000, np.random.default_rng(42))
        c = sampler.sample(2000, np.random.default_rng(43))
        assert a.dtype == np.int64 and a.shape == (2000,), name
        assert np.array_equal(a, b), f"{name}: same seed, different draws"
        assert not np.array_equal(a, c), f"{name}: different seeds, same draws"
        drawn = set(ids_of(nodes, a))
        assert not drawn & {"MET:root", "MET:Disease", "MET:Phenotype", "MET:obsolete", "x1"}
        # A fresh sampler (empty cache) gives the same draws as a warm one.
        fresh = build_sampler(name, nodes, **params).sample(2000, np.random.default_rng(42))
        assert np.array_equal(a, fresh), name
        assert sampler.sample(0, np.random.default_rng(1)).shape == (0,)


def test_probabilities_sum_to_one_and_match_draws(nodes, tmp_path):
    """For each strategy, the draws follow the probabilities it states (chi-square)."""
    n = 40_000
    for name, params in all_strategies(tmp_path).items():
        sampler = build_sampler(name, nodes, **params)
        p = sampler.probabilities()
        assert p.shape == (nodes.height,) and abs(p.sum() - 1) < 1e-12, name
        draws = sampler.sample(n, np.random.default_rng(7))
        observed = np.bincount(draws, minlength=nodes.height)
        support = p > 0
        assert observed[~support].sum() == 0, f"{name} drew a row of probability zero"
        if name == "target":
            continue  # exact allocation per group: checked in its own test
        dof = int(support.sum()) - 1
        stat = chi_square(observed[support], p[support])
        assert stat < CHI2_999.get(dof, dof + 4 * np.sqrt(2 * dof)), (name, stat, dof)


def test_candidates_restrict_every_strategy(nodes, tmp_path):
    only = mask_of(nodes, pl.col("id").is_in(["a1", "a2", "b1", "c1", "p3"]))
    for name, params in all_strategies(tmp_path).items():
        if name == "target":
            params = {"shares": {"Disease": 0.5, "Phenotype": 0.5}}
        draws = build_sampler(name, nodes, **params).sample(
            500, np.random.default_rng(3), candidates=only
        )
        assert set(ids_of(nodes, draws)) <= {"a1", "a2", "b1", "c1", "p3"}, name


def test_kinds_parameter(nodes):
    draws = build_sampler("uniform", nodes, kinds=["Phenotype"]).sample(
        300, np.random.default_rng(0)
    )
    assert set(ids_of(nodes, draws)) == {"p1", "p2", "p3"}


def test_guide_table_draws_equal_binary_search_inversion():
    """The guide-table walk returns exactly what searchsorted would, even on weights so
    skewed that long runs of tiny entries force the fallback."""
    from medkg.synthesis.sampling.base import DrawTable

    rng = np.random.default_rng(0)
    for p in (
        rng.random(5000),
        np.concatenate([np.full(4000, 1e-12), [1.0], np.full(999, 1e-9), [0.0] * 10]),
        np.array([0.0, 1.0, 0.0]),
    ):
        table = DrawTable.from_probabilities(p / p.sum())
        got = table.draw(50_000, np.random.default_rng(9))
        u = np.random.default_rng(9).random(50_000) * table.rows.size
        want = table.rows[np.searchsorted(table.cdf, u, side="right")]
        assert np.array_equal(got, want)
        assert np.all(p[got] > 0)


def test_sub_sampler_must_share_the_frame(nodes):
    other = nodes.with_columns(pl.col("id") + "x")
    with pytest.raises(SamplingError, match="different nodes frame"):
        build_sampler("rare_mixture", nodes, base=build_sampler("uniform", other))


# -- tree_balanced -------------------------------------------------------------------------


def test_tree_balanced_exact_probabilities(nodes):
    sampler = build_sampler("tree_balanced", nodes, floor=1)  # the classic walk
    diseases = mask_of(nodes, pl.col("kind") == "Disease")
    p = sampler.probabilities(diseases)
    # root → MET:Disease (only branch with candidates) → A, B, C each 1/3 → leaves.
    by_id = dict(zip(nodes.get_column("id").to_list(), p.tolist(), strict=True))
    assert by_id["b1"] == pytest.approx(1 / 3)
    assert by_id["c1"] == pytest.approx(1 / 6) and by_id["c2"] == pytest.approx(1 / 6)
    for i in range(1, 9):
        assert by_id[f"a{i}"] == pytest.approx(1 / 24)
    # Pruning: without B's subtree, A and C split the mass.
    no_b = diseases & ~mask_of(nodes, pl.col("id") == "b1")
    p2 = dict(zip(nodes.get_column("id").to_list(), sampler.probabilities(no_b), strict=True))
    assert p2["a1"] == pytest.approx(1 / 16) and p2["c1"] == pytest.approx(1 / 4)
    # Internal drawable nodes count as one option (stopping there): A, B, C are Category.
    p_all = dict(zip(nodes.get_column("id").to_list(), sampler.probabilities(), strict=True))
    # root: MET:Disease, MET:Phenotype → 1/2 each; MET:Disease: A, B, C → 1/6 each;
    # A: itself + 8 children → 1/54 each; B: itself + b1 → 1/12 each.
    assert p_all["A"] == pytest.approx(1 / 54) and p_all["a3"] == pytest.approx(1 / 54)
    assert p_all["B"] == pytest.approx(1 / 12) and p_all["b1"] == pytest.approx(1 / 12)
    assert p_all["p1"] == pytest.approx(1 / 6)


def test_tree_balanced_gives_each_child_an_equal_share(nodes):
    diseases = mask_of(nodes, pl.col("kind") == "Disease")
    rng = np.random.default_rng(11)
    n = 30_000
    draws = build_sampler("tree_balanced", nodes, floor=1).sample(n, rng, candidates=diseases)
    shares = realised_distribution(nodes, draws, by=["A", "B", "C"])
    observed = np.array([shares[b] * n for b in ("A", "B", "C")])
    assert chi_square(observed, np.full(3, 1 / 3)) < CHI2_999[2]
    # Uniform drowns the small branch: B gets 1/11 of the draws instead of 1/3.
    uni = build_sampler("uniform", nodes).sample(n, rng, candidates=diseases)
    assert realised_distribution(nodes, uni, by=["A", "B", "C"])["B"] < 0.12


def test_tree_balance_stops_at_the_subtree_size_floor(nodes):
    """Below the floor a branch gets mass in proportion to its size: with A (8 leaves),
    B (1) and C (2) and floor 4, A gets 4 parts, B 1 and C 2; at or above the floor the
    branches share equally (floor 1: the classic walk gives B a third of the mass)."""
    diseases = mask_of(nodes, pl.col("kind") == "Disease")
    ids = nodes.get_column("id").to_list()
    p = dict(zip(ids, build_sampler("tree_balanced", nodes, floor=4).probabilities(diseases),
                 strict=True))  # fmt: skip
    assert p["b1"] == pytest.approx(1 / 7) and p["c1"] == pytest.approx(1 / 7)
    assert p["a1"] == pytest.approx(4 / 7 / 8)
    # A floor as large as the graph is uniform over the drawable rows.
    wide = build_sampler("tree_balanced", nodes, floor=10_000)
    live = wide.drawable(diseases)
    np.testing.assert_allclose(wide.probabilities(diseases)[live], 1 / live.sum())
    with pytest.raises(SamplingError, match="floor"):
        build_sampler("tree_balanced", nodes, floor=0)


def test_spread_mixes_tree_balance_with_uniform(nodes):
    diseases = mask_of(nodes, pl.col("kind") == "Disease")
    tree = build_sampler("tree_balanced", nodes, floor=2).probabilities(diseases)
    uni = build_sampler("uniform", nodes).probabilities(diseases)
    mix = build_sampler("spread", nodes, floor=2, uniform_share=0.25).probabilities(diseases)
    np.testing.assert_allclose(mix, 0.75 * tree + 0.25 * uni)
    from medkg.synthesis.sampling import effective_n

    assert effective_n(mix) > effective_n(tree)
    assert effective_n(uni) == pytest.approx(int((uni > 0).sum()))
    with pytest.raises(SamplingError, match="uniform_share"):
        build_sampler("spread", nodes, uniform_share=1.5)


# -- inverse_frequency -------------------------------------------------------------------


def test_inverse_frequency_weights_and_temperature(nodes):
    ids = nodes.get_column("id").to_list()
    deg = nodes.get_column("annotation_degree").to_numpy().astype(float)
    live = mask_of(nodes, ~pl.col("id").str.starts_with("MET:") & ~pl.col("obsolete"))
    low = live & (deg <= 1)  # the least-annotated entities
    low_share = []
    for t in (0.25, 0.5, 1.0, 2.0, 8.0, 1e6):
        p = build_sampler("inverse_frequency", nodes, temperature=t).probabilities()
        w = np.where(live, (deg + 1) ** (-1 / t), 0)
        np.testing.assert_allclose(p, w / w.sum(), rtol=1e-12)
        low_share.append(p[low].sum())
    uniform_low = low.sum() / live.sum()
    # Low counts are favoured at every finite T, most at small T; T → ∞ tends to uniform.
    assert all(s > uniform_low for s in low_share[:-1])
    assert low_share == sorted(low_share, reverse=True)
    assert low_share[-1] == pytest.approx(uniform_low, abs=1e-4)
    # The most-annotated entity (p1, degree 100) is the least likely at T = 1.
    p1 = build_sampler("inverse_frequency", nodes).probabilities()
    assert p1[ids.index("p1")] == p1[live].min()
    # Tiny T does not underflow to all-zero weights: everything goes to the minimum count.
    tiny = build_sampler("inverse_frequency", nodes, temperature=1e-3).probabilities(
        mask_of(nodes, pl.col("id").is_in(["b1", "c1", "p1"]))
    )
    assert tiny[ids.index("b1")] == pytest.approx(1.0)


def test_inverse_frequency_counts_tables(nodes, tmp_path):
    ids = nodes.get_column("id").to_list()
    table = {"a1": 100, "a2": 0, "p1": 3, "not-a-node": 7}
    csv = tmp_path / "counts.csv"
    pl.DataFrame({"id": list(table), "count": list(table.values())}).write_csv(csv)
    js = tmp_path / "counts.json"
    js.write_text(json.dumps(table))
    js_list = tmp_path / "counts_list.json"
    js_list.write_text(json.dumps([{"id": k, "count": v} for k, v in table.items()]))
    frame = pl.DataFrame({"id": list(table), "count": list(table.values())})
    ps = []
    for spec in (csv, str(js), js_list, frame, table):
        s = build_sampler("inverse_frequency", nodes, counts=spec)
        assert isinstance(s, InverseFrequencySampler) and s.unmatched_ids == 1
        ps.append(s.probabilities())
    for p in ps[1:]:
        np.testing.assert_allclose(p, ps[0])
    p = ps[0]
    # Unlisted rows count 0 (never seen): weight 1, like a2; a1 (count 100) weighs 1/101.
    assert p[ids.index("a2")] == pytest.approx(p[ids.index("b1")])
    assert p[ids.index("a1")] == pytest.approx(p[ids.index("a2")] / 101)


# -- rare_mixture --------------------------------------------------------------------------


def test_rare_mixture_realises_alpha_and_keeps_pools_apart(nodes):
    rare_rows = set(rows_of(nodes, "b1", "c1").tolist())
    for alpha in (0.0, 0.25, 1.0):
        draws = build_sampler("rare_mixture", nodes, alpha=alpha).sample(
            20_000, np.random.default_rng(5)
        )
        share = np.isin(draws, list(rare_rows)).mean()
        assert share == pytest.approx(alpha, abs=0.02)
    # Composable: the base can be any strategy or an instance; its own weights are used.
    base = build_sampler("inverse_frequency", nodes, temperature=0.1)
    mix = build_sampler("rare_mixture", nodes, alpha=0.5, base=base)
    p = mix.probabilities()
    assert p[list(rare_rows)].sum() == pytest.approx(0.5)
    # Non-rare half: inverse frequency at T=0.1 puts almost everything on degree-0 rows.
    zero_deg = rows_of(nodes, "a1", "p3", "A", "B", "C")
    assert p[zero_deg].sum() == pytest.approx(0.5, abs=1e-3)


def test_rare_mixture_errors(nodes):
    with pytest.raises(SamplingError, match=r"alpha must be in \[0, 1\]"):
        build_sampler("rare_mixture", nodes, alpha=1.5)
    no_rare = mask_of(nodes, ~pl.col("rare"))
    with pytest.raises(SamplingError, match="no rare disease is drawable"):
        build_sampler("rare_mixture", nodes, alpha=0.3).sample(
            10, np.random.default_rng(0), no_rare
        )
    only_rare = mask_of(nodes, pl.col("rare"))
    with pytest.raises(SamplingError, match="has nothing to draw outside the rare"):
        build_sampler("rare_mixture", nodes, alpha=0.3).sample(
            10, np.random.default_rng(0), only_rare
        )
    # alpha = 1 needs no base pool.
    draws = build_sampler("rare_mixture", nodes, alpha=1.0).sample(
        10, np.random.default_rng(0), only_rare
    )
    assert set(ids_of(nodes, draws)) <= {"b1", "c1"}


# -- target --------------------------------------------------------------------------------


def test_target_allocates_exactly_n_when_shares_sum_to_one_only_within_tolerance(nodes):
    # the shares sum to 1 + 9e-7 (accepted: the tolerance is 1e-6); unnormalised quotas
    # floor to 10_000_009 draws for n = 10_000_000
    shares = {"A": 0.2000009, "B": 0.5, "C": 0.3}
    sampler = build_sampler("target", nodes, by="branch", shares=shares)
    assert isinstance(sampler, TargetSampler)
    n = 10_000_000
    allocation = sampler.allocation(n)
    assert sum(allocation.values()) == n
    for group, share in shares.items():
        assert abs(allocation[group] - n * share) <= 1 + n * 1e-6


@pytest.mark.parametrize("n", [1, 7, 100, 9999])
def test_target_shares_within_tolerance(nodes, n):
    shares = {"A": 0.2, "B": 0.5, "C": 0.3}
    sampler = build_sampler("target", nodes, by="branch", shares=shares)
    assert isinstance(sampler, TargetSampler)
    draws = sampler.sample(n, np.random.default_rng(n))
    realised = realised_distribution(nodes, draws, by=list(shares))
    for group, share in shares.items():
        assert abs(realised.get(group, 0.0) - share) < 1 / n  # the stated tolerance
    assert total_variation(realised, shares) <= len(shares) / (2 * n)
    assert sum(sampler.allocation(n).values()) == n


def test_target_by_kind_with_a_composed_within_sampler(nodes):
    sampler = build_sampler(
        "target",
        nodes,
        shares={"Disease": 0.25, "Phenotype": 0.75},
        within="inverse_frequency",
        within_params={"temperature": 0.05},
    )
    draws = sampler.sample(400, np.random.default_rng(0))
    assert realised_distribution(nodes, draws, "kind") == {"Disease": 0.25, "Phenotype": 0.75}
    # Within Phenotype, T=0.05 puts (almost) everything on p3 (degree 0).
    assert ids_of(nodes, draws).count("p3") >= 299
    # Draws are shuffled, not blocked by group.
    assert len(set(ids_of(nodes, draws[:40]))) > 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"shares": {"Disease": 0.5, "Phenotype": 0.4}}, r"sum to 0\.9, not 1"),
        ({"shares": {"Disease": 1.2, "Phenotype": -0.2}}, "non-negative"),
        ({"shares": {}}, "no shares"),
        ({"shares": {"Disease": 0.5, "Dragon": 0.5}}, r"unknown kind\(s\) \['Dragon'\]"),
        ({"by": "branch", "shares": {"A": 0.5, "ZZZ": 0.5}}, r"unknown branch id\(s\) \['ZZZ'\]"),
        ({"by": "branch", "shares": {"MET:Disease": 0.5, "A": 0.5}}, "overlap: A lies inside"),
        ({"by": "colour", "shares": {"A": 1.0}}, "by must be one of"),
    ],
)
def test_target_bad_shares(nodes, params, message):
    with pytest.raises(SamplingError, match=message):
        build_sampler("target", nodes, **params)


def test_target_empty_branch(nodes):
    sampler = build_sampler("target", nodes, by="branch", shares={"MET:obsolete": 0.5, "A": 0.5})
    with pytest.raises(SamplingError, match=r"'MET:obsolete' has share 0\.5 but nothing drawable"):
        sampler.sample(10, np.random.default_rng(0))
    # A zero share for an empty branch is fine.
    zero = build_sampler("target", nodes, by="branch", shares={"MET:obsolete": 0.0, "A": 1.0})
    assert len(zero.sample(10, np.random.default_rng(0))) == 10


def test_parse_target(tmp_path):
    assert parse_target("kind=Disease:0.5,Phenotype:0.5") == (
        "kind",
        {"Disease": 0.5, "Phenotype": 0.5},
    )
    assert parse_target("branch=MESH:C04:0.25,ICD10:II:0.75") == (
        "branch",
        {"MESH:C04": 0.25, "ICD10:II": 0.75},
    )
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"branch": {"MET:Gene": 0.1, "MET:Disease": 0.9}}))
    assert parse_target(str(f)) == ("branch", {"MET:Gene": 0.1, "MET:Disease": 0.9})
    for bad, msg in [
        ("Disease:0.5", "must look like kind="),
        ("kind=Disease", "must look like GROUP:SHARE"),
        ("kind=Disease:x", "must look like GROUP:SHARE"),
        ("kind=Disease:0.5,Disease:0.5", "twice"),
        (str(tmp_path / "missing.json"), "missing.json does not exist"),
    ]:
        with pytest.raises(SamplingError, match=msg):
            parse_target(bad)
    f.write_text("{not json")
    with pytest.raises(SamplingError, match=r"t\.json is not valid JSON"):
        parse_target(str(f))
    f.write_text(json.dumps({"shares": {}}))
    with pytest.raises(SamplingError, match='one key, "kind" or "branch"'):
        parse_target(str(f))


# -- coverage_gap ----------------------------------------------------------------------------


def test_coverage_gap_weights_and_formats(nodes, tmp_path):
    ids = nodes.get_column("id").to_list()
    listed = tmp_path / "gaps.json"
    listed.write_text(json.dumps(GAPS))
    keyed = tmp_path / "gaps_keyed.json"
    keyed.write_text(json.dumps({g["id"]: {"gap": g["gap"]} for g in GAPS}))
    p = build_sampler("coverage_gap", nodes, gaps=listed).probabilities()
    np.testing.assert_allclose(p, build_sampler("coverage_gap", nodes, gaps=keyed).probabilities())
    assert p[ids.index("b1")] == pytest.approx(0.6) and p[ids.index("a1")] == pytest.approx(0.1)
    assert p.sum() == pytest.approx(1) and p[ids.index("a2")] == 0  # unlisted: not drawn
    # The biggest gap is drawn most.
    draws = build_sampler("coverage_gap", nodes, gaps=listed).sample(5000, np.random.default_rng(0))
    counts = {i: ids_of(nodes, draws).count(i) for i in ("a1", "b1", "p3")}
    assert counts["b1"] > counts["p3"] > counts["a1"] > 0
    # count form: least-covered first; score form: 1 - score; temperature sharpens.
    by_count = build_sampler(
        "coverage_gap", nodes, gaps=[{"id": "a1", "count": 0}, {"id": "a2", "count": 9}]
    ).probabilities()
    assert by_count[ids.index("a1")] == pytest.approx(10 * by_count[ids.index("a2")])
    by_score = build_sampler(
        "coverage_gap",
        nodes,
        gaps=[{"id": "a1", "score": 0.9}, {"id": "a2", "score": 0.6}],
        temperature=0.5,
    ).probabilities()
    assert by_score[ids.index("a2")] == pytest.approx(16 * by_score[ids.index("a1")])
    with_unlisted = build_sampler("coverage_gap", nodes, gaps=listed, unlisted_gap=1.0)
    assert with_unlisted.probabilities()[ids.index("a2")] > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('"a string"', "expected a list of entries or an object keyed by id"),
        ("[]", "lists no entities"),
        ('[{"gap": 1}]', "entry 0 must be an object with a string id"),
        ('[{"id": "a1"}]', r"exactly one of \['gap', 'count', 'score'\]"),
        ('[{"id": "a1", "gap": 1, "count": 2}]', "exactly one of"),
        ('[{"id": "a1", "gap": "big"}]', "gap is not a number"),
        ('[{"id": "a1", "gap": -1}]', "gap must be non-negative"),
        ('[{"id": "a1", "score": 1.5}]', r"score must be in \[0, 1\]"),
        ('[{"id": "a1", "gap": 1}, {"id": "a2", "count": 2}]', "mixes measures"),
        ('[{"id": "a1", "gap": 1}, {"id": "a1", "gap": 2}]', "'a1' is listed twice"),
        ('{"a1": 3}', "entry 'a1' must be an object"),
        ('[{"id": "nope", "gap": 1}]', "none of its 1 id"),
    ],
)
def test_coverage_gap_malformed_file_names_the_file(nodes, tmp_path, content, message):
    f = tmp_path / "my_gaps.json"
    f.write_text(content)
    with pytest.raises(SamplingError, match=message) as err:
        build_sampler("coverage_gap", nodes, gaps=f)
    assert "my_gaps.json" in str(err.value)


def test_coverage_gap_missing_file_and_zero_weights(nodes, tmp_path):
    with pytest.raises(SamplingError, match=r"gaps file .*absent\.json does not exist"):
        build_sampler("coverage_gap", nodes, gaps=tmp_path / "absent.json")
    covered = build_sampler("coverage_gap", nodes, gaps=[{"id": "a1", "score": 1.0}])
    with pytest.raises(SamplingError, match="weight zero"):
        covered.sample(5, np.random.default_rng(0))


# -- bad input common to every sampler -----------------------------------------------------


def test_common_bad_input(nodes):
    with pytest.raises(SamplingError, match=r"unknown sampling strategy 'zipf'; choose from \["):
        build_sampler("zipf", nodes)
    with pytest.raises(SamplingError, match=r"'uniform' does not take \['alpha'\]"):
        build_sampler("uniform", nodes, alpha=0.3)
    with pytest.raises(SamplingError, match="temperature must be a positive"):
        build_sampler("inverse_frequency", nodes, temperature=0)
    with pytest.raises(SamplingError, match=r"unknown kind\(s\) \['Dragon'\]"):
        build_sampler("uniform", nodes, kinds=["Dragon"])
    with pytest.raises(SamplingError, match="no column 'nope'"):
        build_sampler("inverse_frequency", nodes, column="nope")
    sampler = build_sampler("uniform", nodes)
    rng = np.random.default_rng(0)
    with pytest.raises(SamplingError, match="n must be a non-negative integer"):
        sampler.sample(-1, rng)
    with pytest.raises(SamplingError, match=r"rng must be a numpy\.random\.Generator"):
        sampler.sample(3, 42)  # type: ignore[arg-type]
    with pytest.raises(SamplingError, match="candidates must be a bool array"):
        sampler.sample(3, rng, np.ones(3, dtype=bool))
    nothing = np.zeros(nodes.height, dtype=bool)
    for name in ("uniform", "tree_balanced", "inverse_frequency"):
        with pytest.raises(SamplingError, match="nothing to draw"):
            build_sampler(name, nodes).sample(3, rng, nothing)


def test_tree_errors(nodes):
    with pytest.raises(SamplingError, match="no met_parent column"):
        build_sampler("tree_balanced", nodes.drop("met_parent")).sample(1, np.random.default_rng(0))
    subset = nodes.filter(pl.col("id") != "A")
    with pytest.raises(SamplingError, match=r"name a met_parent that is not a row .*e\.g\. A"):
        build_sampler("tree_balanced", subset).sample(1, np.random.default_rng(0))
    cyclic = nodes.with_columns(
        pl.when(pl.col("id") == "MET:root")
        .then(pl.lit("a1"))
        .otherwise(pl.col("met_parent"))
        .alias("met_parent")
    )
    with pytest.raises(SamplingError, match="cycle"):
        build_sampler("tree_balanced", cyclic).sample(1, np.random.default_rng(0))


def test_distributions(nodes):
    draws = rows_of(nodes, "a1", "a2", "b1", "p1")
    assert realised_distribution(nodes, draws, "kind") == {"Disease": 0.75, "Phenotype": 0.25}
    assert realised_distribution(nodes, draws, "rare") == {"not_rare": 0.75, "rare": 0.25}
    assert realised_distribution(nodes, draws, "branch:2") == {
        "A": 0.5,
        "B": 0.25,
        "p1": 0.25,
    }
    assert realised_distribution(nodes, draws, "branch:1") == {
        "MET:Disease": 0.75,
        "MET:Phenotype": 0.25,
    }
    assert realised_distribution(nodes, draws, ["A", "MET:Disease"]) == {
        "(other)": 0.25,
        "A": 0.5,
        "MET:Disease": 0.25,
    }
    uniform = build_sampler("uniform", nodes).probabilities()
    exp = expected_distribution(nodes, uniform, "kind")
    assert exp == pytest.approx({"Category": 3 / 17, "Disease": 11 / 17, "Phenotype": 3 / 17})
    assert total_variation({"x": 1.0}, {"y": 1.0}) == 1.0
    assert total_variation({"x": 0.5, "y": 0.5}, {"x": 0.5, "y": 0.5}) == 0.0
    with pytest.raises(SamplingError, match="by must be"):
        realised_distribution(nodes, draws, "colour")
    with pytest.raises(SamplingError, match="depth must be a non-negative integer"):
        realised_distribution(nodes, draws, "branch:x")


# -- the real bundled graph ----------------------------------------------------------------


@pytest.fixture(scope="module")
def graph_nodes(bundled_kg: KnowledgeGraph) -> pl.DataFrame:
    return bundled_kg.nodes


@pytest.mark.slow
def test_real_graph(graph_nodes: pl.DataFrame):
    nodes = graph_nodes
    rng = np.random.default_rng(2024)
    # Rare mixture realises alpha within 2 points (n = 20,000), over a tree-balanced base
    # whose own rare share is far below alpha.
    for alpha in (0.1, 0.3, 0.6):
        mix = build_sampler("rare_mixture", nodes, alpha=alpha, base="tree_balanced")
        assert isinstance(mix, RareMixtureSampler)
        draws = mix.sample(20_000, rng)
        assert realised_distribution(nodes, draws, "rare")["rare"] == pytest.approx(alpha, abs=0.02)
        kinds = set(
            nodes.get_column("kind")
            .gather(draws[np.isin(draws, np.flatnonzero(mix.rare_mask))])
            .to_list()
        )
        assert kinds == {"Disease"}

    # Vectorised: 1e6 draws from ~75k drawable nodes, well under a second each.
    timings = {}
    samplers: dict[str, dict[str, Any]] = {
        "uniform": {},
        "tree_balanced": {},
        "inverse_frequency": {"temperature": 1.0},
        "rare_mixture": {"alpha": 0.3},
        "target": {"shares": {"Disease": 0.4, "Phenotype": 0.4, "Gene": 0.2}},
    }
    for name, params in samplers.items():
        sampler = build_sampler(name, nodes, **params)
        assert sampler.eligible.sum() > 70_000
        sampler.sample(10, rng)  # build the cached draw table
        start = time.perf_counter()
        draws = sampler.sample(1_000_000, rng)
        timings[name] = time.perf_counter() - start
        assert draws.shape == (1_000_000,)
    print("1e6 draws (s):", {k: round(v, 3) for k, v in timings.items()})
    assert max(timings.values()) < 2.0  # typically 0.01-0.06 s; loose for shared cores

    # Tree-balanced: the five kind branches under the root get ~1/5 each.
    tb = build_sampler("tree_balanced", nodes).sample(50_000, rng)
    shares = realised_distribution(nodes, tb, "branch:1")
    assert len(shares) == 5 and all(abs(s - 0.2) < 0.01 for s in shares.values())

    # Target by branch on real MET nodes.
    target = {"MET:Disease": 0.5, "MET:Gene": 0.3, "MET:Drug": 0.2}
    draws = build_sampler("target", nodes, by="branch", shares=target).sample(10_001, rng)
    assert total_variation(realised_distribution(nodes, draws, list(target)), target) < 3 / 10_001
