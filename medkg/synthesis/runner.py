"""One family's draw loop, resumable, and the rebalancing of shortfalls between families.

:class:`FamilyRun` holds a family's whole draw state (its random stream, the items each
seed made, the draws each seed took, what each stratum still needs, the funnel), so a
run that stopped short can be given more to do later and continue exactly where it was.

Rebalancing (``SynthConfig.rebalance``, on by default). Some families cannot make their
quota on a given graph: a chain seed has few distinct items, so at 100,000 items the
chain family runs out of pool long before its 20,000. After every family has run once,
each stratum's shortfall (``all``; or ``rare`` / ``common`` under a requested rare
share) is moved onto the families that still have room in the *same* stratum, split
over them by their family weights (largest remainder, family order breaking ties), and
those families continue their runs. A receiver that falls short in turn is left out of
the next round, until the shortfall is made up or no family has room. Moving within a
stratum keeps the rare share: a family that cannot make its rare items hands them to
the other families' rare strata, never to its own common one. Everything is in family
order with each family's own random stream, so the result is deterministic. What moved
is stated in ``counts["rebalanced"]`` of the manifest and in the CLI summary.

Draws per seed. A seed first gets two draws per item it made plus three
(:func:`draw_limit`), so at large ``n`` the seeds that keep failing leave early and the
draws per item stay flat. Only where a shortfall is left after rebalancing do all seeds
get the plain ``2 cap + SEED_RETRIES`` back (:func:`complete`): the early set-aside costs
no capacity.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from medkg.apportion import largest_remainder
from medkg.synthesis.items import VERIFIED_ATTR, QAItem, Reject

if TYPE_CHECKING:
    from medkg.synthesis.config import SynthConfig
    from medkg.synthesis.dedup import Duplicate
    from medkg.synthesis.pipeline import FamilyPlan, SynthBackends


class DuplicateCheck(Protocol):
    """What a run asks of deduplication (a :class:`~medkg.synthesis.dedup.Deduplicator`,
    or a wrapper that records its answers for a sharded run)."""

    def check(self, item: QAItem) -> Duplicate | None: ...


class ContaminationCheck(Protocol):
    """What a run asks of decontamination (a :class:`~medkg.synthesis.decontam.Decontaminator`)."""

    def keep(self, item: QAItem) -> bool: ...


STALL_DRAWS = 2_000  # a family stops after this many draws in a row with nothing accepted
SEED_RETRIES = 1  # a seed is drawn at most 2 * cap + this many times, then set aside
SPREAD_MARGIN = 2.0  # auto cap: eligible seeds x cap >= this x the stratum's quota
MAX_AUTO_CAP = 10  # a seed makes few distinct items (its cue sets): no larger automatic cap
MAX_REBALANCE_ROUNDS = 8  # each round drops at least one receiver: a bound, not a tuning knob


def draw_limit(made: np.ndarray, cap: int) -> np.ndarray:
    """Draws a seed may take: two per item it has made plus two for the next one, plus
    ``SEED_RETRIES``, at most ``2 cap + SEED_RETRIES`` (with cap 1 that is the plain
    ``2 cap + 1``). So a seed with few distinct items (a chain seed's gene has few other
    diseases) is set aside after a few draws that gave nothing, instead of taking
    ``2 cap + 1`` mostly failing draws once caps grow at large ``n``: the draws per item
    stay flat as ``n`` grows."""
    return 2 * np.minimum(made + 1, cap) + SEED_RETRIES


def auto_cap(config: SynthConfig, quota: int, seeds: int) -> int:
    """Items one seed may make in a stratum of ``seeds`` seeds holding ``quota`` items."""
    if config.max_per_seed is not None:
        return int(config.max_per_seed)
    return min(MAX_AUTO_CAP, max(1, math.ceil(SPREAD_MARGIN * quota / max(seeds, 1))))


@dataclass
class FamilyRun:
    """A family's draw state: run it, give it more to do, run it again."""

    plan: FamilyPlan
    config: SynthConfig
    rng: np.random.Generator
    need: dict[str, int]
    budget: int
    funnel: Counter[str] = field(default_factory=Counter)
    out: list[QAItem] = field(default_factory=list)
    made_by_seed: np.ndarray = field(init=False)
    draws_by_seed: np.ndarray = field(init=False)
    cap_of: np.ndarray = field(init=False)
    # strata this run stopped short in: they take over no other family's shortfall
    exhausted: set[str] = field(default_factory=set)
    loose: bool = False  # last resort: the plain 2 cap + SEED_RETRIES draws per seed

    def __post_init__(self) -> None:
        size = self.plan.eligible.size
        self.made_by_seed = np.zeros(size, dtype=np.int32)
        self.draws_by_seed = np.zeros(size, dtype=np.int32)
        self.cap_of = np.zeros(size, dtype=np.int32)
        for _, pool, cap in self.plan.strata.values():
            self.cap_of[pool] = cap

    def accepted_in(self, stratum: str) -> int:
        if stratum == "all":
            return len(self.out)
        return sum(1 for item in self.out if item.rare == (stratum == "rare"))

    @property
    def short(self) -> int:
        return sum(self.need.values())

    def add(self, stratum: str, extra: int) -> None:
        """Make ``extra`` more items of ``stratum``: more draws, and a larger per-seed cap
        when the stratum's seeds cannot hold its new total at the old one."""
        self.need[stratum] = self.need.get(stratum, 0) + extra  # a quota of 0 has no entry
        self.budget += math.ceil(extra * self.config.max_draws_factor) + 100
        sampler, pool, cap = self.plan.strata[stratum]
        total = self.accepted_in(stratum) + self.need[stratum]
        new_cap = max(cap, auto_cap(self.config, total, int(pool.sum())))
        if new_cap != cap:
            self.plan.strata[stratum] = (sampler, pool, new_cap)
            self.cap_of[pool] = new_cap

    def _draw_batch(self, left: int) -> np.ndarray:
        """Seeds for the strata still needed, from the seeds not yet used up, shuffled."""
        parts = []
        for key, (sampler, pool, cap) in self.plan.strata.items():
            want = self.need.get(key, 0)
            if want <= 0:
                continue
            made = self.made_by_seed
            limit = 2 * cap + SEED_RETRIES if self.loose else draw_limit(made, cap)
            live = pool & (made < cap) & (self.draws_by_seed < limit)
            if not live.any():
                continue
            k = min(left, max(16, int(want * 1.25)))
            parts.append(np.asarray(sampler.sample(k, self.rng, candidates=live), dtype=np.int64))
        if not parts:
            return np.zeros(0, dtype=np.int64)
        rows = np.concatenate(parts)
        return rows[self.rng.permutation(rows.size)] if len(parts) > 1 else rows

    def run(
        self,
        graph: Any,
        backends: SynthBackends,
        dedup: DuplicateCheck,
        checker: ContaminationCheck | None,
        rejects: Counter[str],
        advance: Callable[[], None],
    ) -> None:
        """Draw seeds until the strata are full or the budget is spent; ``advance()`` after
        every accepted item.

        Funnel buckets (they add up to ``draws``): ``rejected`` (make said no), ``invalid``
        (bad shape or failed verification), ``surplus`` (valid, stratum full),
        ``duplicate``, ``contaminated`` (dropped by decontamination), ``accepted``.
        """
        funnel, need, plan = self.funnel, self.need, self.plan
        made_by_seed, draws_by_seed, cap_of = self.made_by_seed, self.draws_by_seed, self.cap_of
        since_accept = 0
        while self.short > 0 and funnel["draws"] < self.budget and since_accept < STALL_DRAWS:
            rows = self._draw_batch(self.budget - funnel["draws"])
            if rows.size == 0:
                break  # every seed of the strata still needed is used up
            for row in rows.tolist():
                if self.short == 0 or since_accept >= STALL_DRAWS:
                    break
                cap, done = int(cap_of[row]), int(made_by_seed[row])
                tries = 2 * (cap if self.loose else min(done + 1, cap)) + SEED_RETRIES
                if done >= cap or draws_by_seed[row] >= tries:
                    continue  # drawn twice in one batch: set aside before this draw
                funnel["draws"] += 1
                since_accept += 1
                draws_by_seed[row] += 1
                made = plan.family.make(int(row), self.rng)
                if isinstance(made, Reject):
                    funnel["rejected"] += 1
                    rejects[made.reason] += 1
                    continue
                try:
                    made.check_shape()
                except ValueError:
                    funnel["invalid"] += 1
                    rejects["bad_shape"] += 1
                    continue
                stratum = "all" if plan.rare_quota is None else ("rare" if made.rare else "common")
                if need[stratum] <= 0:
                    funnel["surplus"] += 1
                    continue
                problems = (
                    []
                    if made.__dict__.get(VERIFIED_ATTR) == (backends.verify_item, id(graph))
                    else backends.verify_item(made, graph)
                )
                if problems:
                    funnel["invalid"] += 1
                    rejects[f"verify:{problems[0].split(':', 1)[0].strip()}"] += 1
                    continue
                if not made.id:  # families set it already (it excludes provenance)
                    made.with_id()
                if dedup.check(made) is not None:
                    funnel["duplicate"] += 1
                    continue
                if checker is not None and not checker.keep(made):
                    funnel["contaminated"] += 1
                    continue
                need[stratum] -= 1
                made_by_seed[row] += 1
                funnel["accepted"] += 1
                since_accept = 0
                self.out.append(made)
                advance()
        stalled = since_accept >= STALL_DRAWS and self.short > 0
        funnel["stalled"] = int(stalled or bool(funnel["stalled"]))
        self.exhausted |= {key for key, left in need.items() if left > 0}


def complete(
    runs: list[FamilyRun], weights: list[float], run_one: Any, *, move: bool
) -> dict[str, dict[str, int]]:
    """After the first pass: move shortfalls onto families with room (``move``); where a
    shortfall is left, give every seed the plain ``2 cap + SEED_RETRIES`` draws (the
    seeds set aside early by :func:`draw_limit` get their remaining tries), let the short
    families continue, and move what is still missing once more. Returns what moved."""
    moved = rebalance(runs, weights, run_one) if move else {}
    if not any(run.short for run in runs):
        return moved
    for run in runs:
        run.loose = True
        run.exhausted.clear()
    for run in runs:
        if run.short:
            run_one(run)
    if move:
        for name, per in rebalance(runs, weights, run_one).items():
            for stratum, delta in per.items():
                _note(moved, name, stratum, delta)
    return {name: dict(sorted(v.items())) for name, v in sorted(moved.items())}


def rebalance(
    runs: list[FamilyRun],
    weights: list[float],
    run_one: Any,
) -> dict[str, dict[str, int]]:
    """Move each stratum's shortfall onto the families with room in that stratum (see the
    module docstring); ``run_one(run)`` continues a run. Returns, per family, the items
    it gave away (negative) or took over (positive) per stratum."""
    moved: dict[str, dict[str, int]] = {}
    for _ in range(MAX_REBALANCE_ROUNDS):
        short: Counter[str] = Counter()
        for run in runs:
            for key, left in run.need.items():
                if left > 0:
                    short[key] += left
        if not short:
            break
        progressed = False
        for key in sorted(short):
            takers = [
                i
                for i, run in enumerate(runs)
                if key in run.plan.strata
                and key not in run.exhausted
                and run.plan.strata[key][1].any()
            ]
            if not takers:
                continue
            for run in runs:  # the givers hand their shortfall over
                left = run.need.get(key, 0)
                if left > 0:
                    run.need[key] = 0
                    _note(moved, run.plan.name, key, -left)
            parts = largest_remainder(short[key], [weights[i] for i in takers])
            for i, extra in zip(takers, parts, strict=True):
                if extra:
                    runs[i].add(key, extra)
                    _note(moved, runs[i].plan.name, key, extra)
                    progressed = True
        if not progressed:
            break
        for run in runs:
            if any(left > 0 and key not in run.exhausted for key, left in run.need.items()):
                run_one(run)
    return {name: dict(sorted(v.items())) for name, v in sorted(moved.items())}


def _note(moved: dict[str, dict[str, int]], family: str, stratum: str, delta: int) -> None:
    per = moved.setdefault(family, {})
    per[stratum] = per.get(stratum, 0) + delta
    if per[stratum] == 0:
        del per[stratum]
    if not per:
        del moved[family]
