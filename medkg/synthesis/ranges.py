"""Seed-range shards inside a family (``SynthConfig.shards_per_family`` = K > 1).

With K = 1 (the default), and always for a family with ``seed_ranges = False`` (chain: its
key choice is steered by all its earlier keys), a family's first pass is one unit of work with one random stream
(:func:`medkg.synthesis.pipeline.family_run`), as it always was. With K > 1 each family's
first pass is cut into K *ranges*, each a unit of its own:

- the family's seed pool of every stratum is dealt out over the K ranges in a seeded
  random order (``[seed, crc32(family), RANGE_SALT, K]``), so the ranges hold disjoint
  seeds of equal number (±1) and each is a random sample of the pool: a seed's per-seed
  cap holds across ranges, and a range's draws look like the family's;
- each stratum's quota is split into K parts by largest remainder;
- each range draws from its own random stream ``[seed, crc32(family), RANGE_SALT, K, r]``
  and with its own family object (its state, e.g. the ``OptionBalance`` steering
  distractors, starts fresh in every range).

So a range depends on the run's config and seed and on nothing another range does, except
deduplication and decontamination: the units are run in (family, range) order against the
global checks, locally one after the other, on an engine as shards replayed in that order
(:mod:`medkg.synthesis.sharded`). The same config + seed gives the same dataset on every
engine; another K is another dataset (K is recorded in the manifest's config when it is
not 1).

After the ranges, a family's K runs are merged into one run (:func:`merge_runs`: items in
range order, seed counters added up, funnels added up), which continues on the driver with
a stream of its own (``[..., K, K]``) and the last range's family object: first on the
family's whole pool where a range fell short (:func:`top_up`: one range's seeds may run
out while another's are left), then in the rebalancing rounds as before.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from medkg.apportion import largest_remainder

if TYPE_CHECKING:
    from medkg.synthesis.config import SynthConfig
    from medkg.synthesis.pipeline import FamilyPlan, SynthBackends
    from medkg.synthesis.runner import FamilyRun

RANGE_SALT = 0x4A7E5
# One unit of first-pass work: a family's name and its range index (0 when K = 1).
Unit = tuple[str, int]


def ranges_of(plan: FamilyPlan, config: SynthConfig) -> int:
    """How many ranges ``plan``'s family is cut into: K, or 1 for a family that must see
    its whole history (``seed_ranges = False``, e.g. chain's key choice)."""
    return config.shards_per_family if getattr(plan.family, "seed_ranges", True) else 1


def units(plans: Sequence[FamilyPlan], config: SynthConfig) -> list[Unit]:
    """Every unit of the first pass, in the order the global checks see them."""
    return [(plan.name, r) for plan in plans for r in range(ranges_of(plan, config))]


def unit_label(unit: Unit, plan: FamilyPlan, config: SynthConfig) -> str:
    """A unit's name in reports: the family's name, ``family#r`` for a range."""
    name, r = unit
    return name if ranges_of(plan, config) == 1 else f"{name}#{r}"


def _range_rng(config: SynthConfig, name: str, r: int) -> np.random.Generator:
    k = config.shards_per_family
    return np.random.default_rng([config.seed, zlib.crc32(name.encode("utf-8")), RANGE_SALT, k, r])


def _range_masks(plan: FamilyPlan, config: SynthConfig, pool: np.ndarray) -> list[np.ndarray]:
    """``pool`` dealt over the K ranges in the family's seeded order (disjoint, ±1 sized)."""
    k = config.shards_per_family
    crc = zlib.crc32(plan.name.encode("utf-8"))
    order = np.random.default_rng([config.seed, crc, RANGE_SALT, k]).permutation(pool.size)
    rows = order[pool[order]]  # the pool's rows in the seeded order
    masks = [np.zeros(pool.size, dtype=bool) for _ in range(k)]
    for r, mask in enumerate(masks):
        mask[rows[r::k]] = True
    return masks


def range_plan(
    plan: FamilyPlan, config: SynthConfig, r: int, graph: Any, backends: SynthBackends
) -> FamilyPlan:
    """Range ``r`` of ``plan``: its part of every stratum's pool and quota, a fresh family."""
    k = config.shards_per_family
    strata = {}
    wanted = {}
    eligible = np.zeros(plan.eligible.size, dtype=bool)
    for key, (sampler, pool, cap) in plan.strata.items():
        part = _range_masks(plan, config, pool)[r]
        strata[key] = (sampler, part, cap)  # the family's cap: its pool / quota ratio holds
        wanted[key] = largest_remainder(plan.wanted[key], [1.0] * k)[r]
        eligible |= part
    quota = sum(wanted.values())
    rare_quota = None if plan.rare_quota is None else wanted.get("rare", 0)
    family = backends.families[plan.name](graph, n_options=config.n_options)
    return dataclasses.replace(
        plan, family=family, eligible=eligible, quota=quota, rare_quota=rare_quota,
        strata=strata, wanted=wanted,
    )  # fmt: skip


def unit_run(
    plan: FamilyPlan, config: SynthConfig, r: int, graph: Any, backends: SynthBackends
) -> FamilyRun:
    """A fresh run of unit ``(plan.name, r)``: the family's own run when K = 1 (the
    one-stream dataset), else range ``r``'s (:func:`range_plan`, its own stream)."""
    from medkg.synthesis.pipeline import family_run

    if ranges_of(plan, config) == 1:
        return family_run(plan, config)
    part = range_plan(plan, config, r, graph, backends)
    return family_run(part, config, rng=_range_rng(config, plan.name, r))


def merge_runs(plan: FamilyPlan, config: SynthConfig, runs: Sequence[FamilyRun]) -> FamilyRun:
    """A family's ranges as one run of ``plan`` (K = 1: the run itself): items in range
    order, seed counters and funnels added up (the ranges' pools are disjoint), needs and
    budgets added up; it continues with its own stream and the last range's family object."""
    from medkg.synthesis.pipeline import family_run

    if ranges_of(plan, config) == 1:
        (run,) = runs
        return run
    merged = family_run(plan, config, rng=_range_rng(config, plan.name, len(runs)))
    merged.need = {key: sum(run.need.get(key, 0) for run in runs) for key in merged.need}
    merged.budget = sum(run.budget for run in runs)
    funnel: Counter[str] = Counter()
    for run in runs:
        funnel.update(run.funnel)
    funnel["stalled"] = max(int(run.funnel["stalled"]) for run in runs)
    merged.funnel = funnel
    merged.out = [item for run in runs for item in run.out]
    merged.made_by_seed = np.sum([run.made_by_seed for run in runs], axis=0, dtype=np.int32)
    merged.draws_by_seed = np.sum([run.draws_by_seed for run in runs], axis=0, dtype=np.int32)
    merged.exhausted = set().union(*(run.exhausted for run in runs))
    plan.family = runs[-1].plan.family
    return merged


def top_up(
    runs: Sequence[FamilyRun], config: SynthConfig, run_one: Callable[[FamilyRun], None]
) -> None:
    """K > 1: a merged family still short (one range's seeds ran out, another's are left)
    continues on its whole pool before any shortfall moves to other families."""
    for run in runs:
        if run.short and ranges_of(run.plan, config) > 1:
            run.exhausted.clear()
            run_one(run)


def first_pass_local(
    plans: Sequence[FamilyPlan],
    config: SynthConfig,
    graph: Any,
    backends: SynthBackends,
    run_one: Callable[[FamilyRun], None],
) -> list[FamilyRun]:
    """Every unit run in (family, range) order in this process, merged per family."""
    runs = []
    for plan in plans:
        parts = [unit_run(plan, config, r, graph, backends) for r in range(ranges_of(plan, config))]
        for part in parts:
            run_one(part)
        runs.append(merge_runs(plan, config, parts))
    return runs


__all__ = [
    "RANGE_SALT",
    "Unit",
    "first_pass_local",
    "merge_runs",
    "range_plan",
    "ranges_of",
    "top_up",
    "unit_label",
    "unit_run",
    "units",
]
