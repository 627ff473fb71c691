"""Synthesis end to end: sample seeds → make items → verify → dedup → decontaminate.

::

    from medkg.synthesis.pipeline import SynthConfig, synthesize

    result = synthesize(kg, SynthConfig(n=1000, seed=7, families=["diagnosis", "gene"],
                                        rare_share=0.3))  # strategy "spread"
    result.export("out/")            # JSONL, Parquet, HF folder, TRL forms, manifest.json

Order of work. Everything the config names is checked first (family and strategy names,
shares, the rare share, dedup/decontam settings; benchmark files are read and indexed),
then the graph view is built once, then per family: its eligible mask, its quota, its rare
quota and its sampler, so an impossible target (a family with nothing eligible, more rare
items than the families able to make them can hold) is an error before any item is made.

Quotas. ``n`` is split over the families by ``family_weights`` (equal by default) with
largest remainders. With ``rare_share`` α, ``round(α n)`` items must be rare: they are
split, again by largest remainder, over the families whose eligible seeds include rare
diseases; each such family draws its rare and its common stratum apart, each with the
configured strategy restricted to that pool. Items are accepted into the rare or common
stratum until each is full, so the realised rare share equals the requested one up to
rounding; an item whose stratum is already full is counted as ``surplus`` (valid, not
needed), never silently dropped. A rare share that no count of ``n`` items meets within
``RARE_TOLERANCE`` (0.25 of 10 items) is an error before any item is made.

Spread. A seed makes at most ``cap`` items of a family and is drawn at most two times per
item it made plus ``2 + SEED_RETRIES`` (never more than ``2 cap + SEED_RETRIES``); then it
leaves the pool (the sampler renormalises over the rest).
``cap`` is ``max_per_seed``, by default 1 - sampling without replacement - while the
stratum's pool holds ``SPREAD_MARGIN`` times its quota, else the smallest cap that does,
at most ``MAX_AUTO_CAP``.
A pool that cannot hold its quota at its cap is an error before any item is made, unless
the other families' same strata have room (rebalancing, :mod:`medkg.synthesis.runner`,
moves a family's shortfall onto them). So no
seed holds more than ``cap`` items, near duplicates (same answer, similar stem) are rare,
and a run ends when its pools are used up instead of spinning on duplicates.

Every draw ends in exactly one bucket of the family's funnel (``made`` … ``accepted``);
the buckets add up to the draws. Too few items after the draw budget is spent is an
error (:class:`SynthesisShortfall`), or with ``allow_partial`` a result that says so in
``partial``, ``shortfall`` and the manifest - never a silently smaller dataset.
"""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medkg.apportion import largest_remainder
from medkg.kg.model import KnowledgeGraph
from medkg.progress import Progress
from medkg.synthesis.config import (
    RARE_TOLERANCE,
    SHARE_TOLERANCE,
    SynthConfig,
    SynthesisError,
    SynthesisShortfall,
)
from medkg.synthesis.decontam import Decontaminator, NgramIndex, load_benchmarks
from medkg.synthesis.dedup import Deduplicator
from medkg.synthesis.items import QAItem
from medkg.synthesis.ranges import first_pass_local, top_up
from medkg.synthesis.report import realised_distribution, run_counts
from medkg.synthesis.runner import (
    MAX_AUTO_CAP,
    FamilyRun,
    auto_cap,
    complete,
)

if TYPE_CHECKING:
    from medkg.engines.base import Engine

SHUFFLE_SALT = 0x5EED
# Families made only when named (a family class's ``opt_in``): the drug family asks for
# MeSH chemical classes, which tests taxonomy rather than pharmacology (see README,
# "Question families"). The final order is a seeded permutation of the generation order.
OPT_IN_FAMILIES = frozenset({"drug"})


def _opt_in(families: Mapping[str, Any], name: str) -> bool:
    return name in OPT_IN_FAMILIES or bool(getattr(families[name], "opt_in", False))


@dataclass(frozen=True)
class SynthBackends:
    """Where families, samplers, the graph view and the verifier come from (injectable)."""

    families: Mapping[str, Callable[..., Any]]
    build_sampler: Callable[..., Any]
    graph_from_kg: Callable[[KnowledgeGraph], Any]
    verify_item: Callable[[QAItem, Any], list[str]]

    @classmethod
    def default(cls) -> SynthBackends:
        from medkg.kg.index import SynthesisGraph
        from medkg.synthesis.questions import FAMILIES
        from medkg.synthesis.sampling import build_sampler
        from medkg.synthesis.verify import verify_item

        return cls(FAMILIES, build_sampler, SynthesisGraph.from_kg, verify_item)


@dataclass
class FamilyPlan:
    name: str
    family: Any
    eligible: np.ndarray
    quota: int
    rare_quota: int | None  # None: no rare stratification
    sampler: Any
    alpha: float | None
    # stratum -> (sampler, its pool of seed rows, items one seed may make in it)
    strata: dict[str, tuple[Any, np.ndarray, int]] = field(default_factory=dict)
    wanted: dict[str, int] = field(default_factory=dict)  # stratum -> items asked of it


@dataclass
class SynthResult:
    items: list[QAItem]
    rejects: dict[str, int]  # make() rejects, invalid shapes and verification failures by reason
    distribution: dict[str, Any]
    counts: dict[str, Any]
    config: SynthConfig
    graph_hash: str
    source_versions: dict[str, str]
    partial: bool = False
    shortfall: dict[str, int] = field(default_factory=dict)
    contamination: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # How the shards ran (engine, workers, families taken over or rerun): provenance of
    # the run, not of the dataset, so not in the manifest (it is the same either way).
    sharding: dict[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """Everything about how the dataset was made (no timestamps, no local paths)."""
        return {
            "config": self.config.to_dict(),
            "seed": self.config.seed,
            "graph_hash": self.graph_hash,
            "source_versions": dict(sorted(self.source_versions.items())),
            "counts": self.counts,
            "distribution": self.distribution,
            "rejects": dict(sorted(self.rejects.items())),
            "partial": self.partial,
            "shortfall": dict(sorted(self.shortfall.items())),
            "contamination": dict(sorted(self.contamination.items())),
            "warnings": list(self.warnings),
        }

    def export(self, out_dir: str | Path, formats: Sequence[str] | None = None) -> Any:
        """Write the dataset and its manifest (see :mod:`medkg.synthesis.export`)."""
        from medkg.synthesis.export import FORMATS, export_items

        return export_items(self.items, out_dir, self.manifest(), formats or FORMATS)


# ----------------------------------------------------------------------------- helpers
def _family_rng(seed: int, name: str) -> np.random.Generator:
    # Keyed by the family's name so one family's stream does not depend on the others.
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def validate_config(config: SynthConfig, backends: SynthBackends) -> list[str]:
    """Check the config's names and numbers; return the family list to use."""
    if isinstance(config.n, bool) or not isinstance(config.n, int) or config.n < 1:
        raise SynthesisError(f"n must be a positive integer, got {config.n!r}")
    known = sorted(backends.families)
    families = list(config.families) or [f for f in known if not _opt_in(backends.families, f)]
    unknown = sorted(set(families) - set(known))
    if unknown:
        raise SynthesisError(f"unknown question famil(y/ies) {unknown}; choose from {known}")
    if len(set(families)) != len(families):
        raise SynthesisError(f"families listed twice: {families}")
    if config.family_weights is not None:
        weights = dict(config.family_weights)
        extra = sorted(set(weights) - set(families))
        missing = sorted(set(families) - set(weights))
        if extra or missing:
            raise SynthesisError(
                f"family weights must name exactly the chosen families {families}: "
                + (f"unknown {extra} " if extra else "")
                + (f"missing {missing}" if missing else "")
            )
        if any((not math.isfinite(w)) or w < 0 for w in weights.values()):
            raise SynthesisError(f"family weights must be finite and non-negative: {weights}")
        total = sum(weights.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise SynthesisError(f"family weights must sum to 1, they sum to {total:.6g}")
    if config.rare_share is not None:
        if not 0.0 <= config.rare_share <= 1.0:
            raise SynthesisError(f"rare share must be in [0, 1], got {config.rare_share}")
        if config.strategy == "rare_mixture":
            raise SynthesisError(
                "give the rare share either as --rare-share or as the rare_mixture strategy's "
                "alpha, not both (with --rare-share the strategy is the mixture's base)"
            )
    if config.n_options not in (4, 5):
        raise SynthesisError(f"n_options must be 4 or 5, got {config.n_options}")
    k = config.shards_per_family
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SynthesisError(f"shards_per_family must be a positive integer, got {k!r}")
    if config.max_draws_factor < 1:
        raise SynthesisError(f"max_draws_factor must be >= 1, got {config.max_draws_factor}")
    try:
        config.dedup_config().validate()
        config.decontam_config().validate()
    except ValueError as exc:
        raise SynthesisError(str(exc)) from None
    return families


def _rare_disease_mask(kg: KnowledgeGraph) -> np.ndarray:
    nodes = kg.nodes
    if "rare" not in nodes.columns:
        return np.zeros(nodes.height, dtype=bool)
    rare = nodes.get_column("rare").fill_null(False).to_numpy().astype(bool)
    disease = (nodes.get_column("kind") == "Disease").fill_null(False).to_numpy().astype(bool)
    return rare & disease


def plan_families(
    kg: KnowledgeGraph,
    graph: Any,
    config: SynthConfig,
    families: list[str],
    backends: SynthBackends,
) -> list[FamilyPlan]:
    """Quotas, rare quotas, eligible masks and samplers; every impossibility is an error."""
    quotas = largest_remainder(config.n, config.weights_for(families))
    built = {}
    eligible = {}
    for name in families:
        family = backends.families[name](graph, n_options=config.n_options)
        mask = np.asarray(family.eligible(), dtype=bool)
        if mask.shape != (kg.nodes.height,):
            raise SynthesisError(f"family {name!r}: eligible mask has shape {mask.shape}")
        built[name], eligible[name] = family, mask
    for name, quota in zip(families, quotas, strict=True):
        if quota and not eligible[name].any():
            raise SynthesisError(
                f"family {name!r} has no eligible seed entity in this graph "
                f"(it was asked for {quota} items)"
            )
    rare_quotas: list[int | None] = [None] * len(families)
    mixed = [False] * len(families)
    if config.rare_share is not None:
        rare_quotas, mixed = _rare_quotas(kg, config, families, quotas, eligible)
    plans = []
    rare_pool = _rare_disease_mask(kg)
    for i, name in enumerate(families):
        quota, rare_quota = quotas[i], rare_quotas[i]
        alpha = None if rare_quota is None or quota == 0 else rare_quota / quota
        params = dict(config.strategy_params)
        try:
            sampler = backends.build_sampler(config.strategy, kg.nodes, **params)
        except ValueError as exc:
            raise SynthesisError(f"family {name!r}: {exc}") from None
        if alpha is not None and not mixed[i]:
            # The family's seeds are all rare, or none are: draw only from the pool it needs.
            pool = rare_pool if alpha == 1 else ~rare_pool
            eligible[name] = eligible[name] & pool
        if mixed[i] and rare_quota is not None:
            # Two pools drawn apart (the rare share α is realised by the quotas, not by luck).
            wanted = {"rare": rare_quota, "common": quota - rare_quota}
            pools = {"rare": eligible[name] & rare_pool, "common": eligible[name] & ~rare_pool}
        elif rare_quota is not None:  # one stratum only: its items all rare, or all common
            key = "rare" if rare_quota == quota and quota > 0 else "common"
            wanted, pools = {key: quota}, {key: eligible[name]}
        else:
            wanted = {"all": quota}
            pools = {"all": eligible[name]}
        strata = {key: (sampler, pools[key], _seed_cap(config, wanted[key], pools[key]))
                  for key in wanted}  # fmt: skip
        plans.append(
            FamilyPlan(
                name, built[name], eligible[name], quota, rare_quota, sampler, alpha, strata, wanted
            )
        )
    check_capacity(config, plans)
    return plans


def _seed_cap(config: SynthConfig, quota: int, pool: np.ndarray) -> int:
    """Items one seed may make in a stratum: ``max_per_seed``, else 1 (without replacement)
    while the pool holds ``SPREAD_MARGIN`` times the quota, else the smallest cap that
    does, at most ``MAX_AUTO_CAP``."""
    return 1 if quota == 0 else auto_cap(config, quota, int(pool.sum()))


def check_capacity(config: SynthConfig, plans: Sequence[FamilyPlan]) -> None:
    """Capacity estimate before any work: a stratum whose seeds cannot hold its quota at
    its cap is an error, unless a stated partial result is allowed, or rebalancing is on
    and the other families' same strata have room for the excess (it is moved to them
    once this family's pool is used up; see :mod:`medkg.synthesis.runner`)."""
    if config.allow_partial:
        return
    room: Counter[str] = Counter()
    wanted: Counter[str] = Counter()
    for plan in plans:
        for key, (_, pool, cap) in plan.strata.items():
            room[key] += int(pool.sum()) * cap
            wanted[key] += plan.wanted[key]
    for plan in plans:
        for key, (_, pool, cap) in plan.strata.items():
            seeds, quota = int(pool.sum()), plan.wanted[key]
            if seeds * cap >= quota or (config.rebalance and room[key] >= wanted[key]):
                continue
            where = "" if key == "all" else f" ({key} stratum)"
            raise SynthesisError(
                f"family {plan.name!r}{where} needs {quota} items but has {seeds} eligible "
                f"seed(s) that may make at most {cap} item(s) each ({seeds * cap} at most): "
                "lower n or this family's weight, raise max_per_seed, or allow a stated "
                "partial result"
            )


def _rare_quotas(
    kg: KnowledgeGraph,
    config: SynthConfig,
    families: list[str],
    quotas: list[int],
    eligible: Mapping[str, np.ndarray],
) -> tuple[list[int | None], list[bool]]:
    """Rare items per family: all of a family seeded only by rare diseases, none of one
    with no rare disease among its seeds, the rest split over the mixed families."""
    assert config.rare_share is not None
    rare_total = round(config.rare_share * config.n)
    closest = rare_total / config.n if config.n else config.rare_share
    if abs(closest - config.rare_share) > RARE_TOLERANCE + 1e-12 and not config.allow_partial:
        # no count of n items is within the tolerance: say so before any item is made
        raise SynthesisError(
            f"rare share {config.rare_share} of {config.n} items: the closest count, "
            f"{rare_total}, is a share of {closest:.4f}, more than {RARE_TOLERANCE} away; "
            "raise n or allow a stated partial result"
        )
    rare_pool = _rare_disease_mask(kg)
    has_rare = [bool((eligible[f] & rare_pool).any()) for f in families]
    has_common = [bool((eligible[f] & ~rare_pool).any()) for f in families]
    mixed = [r and c for r, c in zip(has_rare, has_common, strict=True)]
    only_rare = [r and not c for r, c in zip(has_rare, has_common, strict=True)]
    fixed = sum(q for q, o in zip(quotas, only_rare, strict=True) if o)
    capacity = sum(q for q, r in zip(quotas, has_rare, strict=True) if r)
    if rare_total > capacity:
        able = [f for f, r in zip(families, has_rare, strict=True) if r]
        raise SynthesisError(
            f"rare share {config.rare_share} needs {rare_total} rare items, but the families "
            f"with rare diseases among their seeds ({able or 'none'}) make only {capacity} "
            f"of the {config.n} items"
        )
    if rare_total < fixed:
        rare_only = [f for f, o in zip(families, only_rare, strict=True) if o]
        raise SynthesisError(
            f"rare share {config.rare_share} allows {rare_total} rare items, but the families "
            f"{rare_only} draw only rare diseases and make {fixed} of the {config.n} items: "
            "raise the rare share or lower their weights"
        )
    # A mixed family's common stratum holds at most ``per_seed`` items per common seed (its
    # largest cap: max_per_seed, else MAX_AUTO_CAP): the rest of its quota must be rare.
    per_seed = config.max_per_seed if config.max_per_seed is not None else MAX_AUTO_CAP
    commons = [int((eligible[f] & ~rare_pool).sum()) for f in families]
    floor = [max(0, q - c * per_seed) if m else 0
             for q, c, m in zip(quotas, commons, mixed, strict=True)]  # fmt: skip
    if rare_total - fixed < sum(floor):
        raise SynthesisError(
            f"rare share {config.rare_share} allows {rare_total} rare items, but the families' "
            f"common seeds cannot hold the rest ({dict(zip(families, commons, strict=True))} "
            f"common seeds, at most {per_seed} item(s) each): raise the rare share or "
            "max_per_seed"
        )
    split = _capped_allocation(
        rare_total - fixed - sum(floor),
        [q - lo if m else 0 for q, lo, m in zip(quotas, floor, mixed, strict=True)],
        [q - lo for q, lo in zip(quotas, floor, strict=True)],
    )
    rare_quotas: list[int | None] = [
        q if o else (s + lo if m else 0)
        for q, o, m, s, lo in zip(quotas, only_rare, mixed, split, floor, strict=True)
    ]
    return rare_quotas, mixed


def _capped_allocation(total: int, weights: Sequence[int], caps: Sequence[int]) -> list[int]:
    """Largest remainder by ``weights``, each part at most its cap (excess redistributed)."""
    alloc = [0] * len(weights)
    remaining = total
    active = [i for i, w in enumerate(weights) if w > 0]
    while remaining > 0 and active:
        part = largest_remainder(remaining, [weights[i] for i in active])
        for i, p in zip(active, part, strict=True):
            alloc[i] += p
        over = sum(max(alloc[i] - caps[i], 0) for i in active)
        for i in active:
            alloc[i] = min(alloc[i], caps[i])
        remaining = over
        active = [i for i in active if alloc[i] < caps[i]]
    return alloc


# ----------------------------------------------------------------------------- synthesis
def synthesize(
    kg: KnowledgeGraph,
    config: SynthConfig,
    *,
    backends: SynthBackends | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> SynthResult:
    """Make ``config.n`` verified, deduplicated, decontaminated items from ``kg``;
    ``progress("synthesise", accepted, config.n)`` after every accepted item.

    With an ``engine`` (:mod:`medkg.engines`: local or Ray) the families' first passes
    run as shards on it and are checked against global deduplication and
    decontamination after the shards (:mod:`medkg.synthesis.sharded`): the dataset is
    byte-identical to the one made without an engine."""
    given_backends = backends  # the shards rebuild the default ones on their workers
    backends = backends or SynthBackends.default()
    families = validate_config(config, backends)
    kg = canonical_graph(kg)
    # Static checks done: read the benchmarks (their errors come before any item work).
    index = benchmark_index(config)
    checker = None if index is None else Decontaminator(config.decontam_config(), index)
    dedup = Deduplicator(config.dedup_config())
    try:  # the strategy's name and parameters, before the graph view is built
        backends.build_sampler(config.strategy, kg.nodes, **dict(config.strategy_params))
    except ValueError as exc:
        raise SynthesisError(str(exc)) from None
    graph = backends.graph_from_kg(kg)
    plans = plan_families(kg, graph, config, families, backends)

    rejects: Counter[str] = Counter()
    n_accepted = 0
    sharding: dict[str, Any] = {}

    def advance() -> None:
        nonlocal n_accepted
        n_accepted += 1
        if progress is not None:
            progress("synthesise", n_accepted, config.n)

    def run_one(run: FamilyRun) -> None:
        run.run(graph, backends, dedup, checker, rejects, advance)

    if engine is None:
        runs = first_pass_local(plans, config, graph, backends, run_one)
    else:
        from medkg.synthesis.sharded import first_pass_sharded

        first = first_pass_sharded(
            engine, kg, graph, config, families, plans, backends, checker, progress,
            task_backends=given_backends,
        )  # fmt: skip
        runs, dedup, checker = first.runs, first.dedup, first.checker
        rejects.update(first.rejects)
        n_accepted = sum(len(run.out) for run in runs)
        sharding = {
            **engine.describe(),
            "shards": len(first.shard_cpu_s),
            "taken_over": first.replayed,
            "rerun_on_driver": first.rerun,
            "shard_cpu_s": first.shard_cpu_s,
            "replay_s": first.driver_s,
        }
    rebalance_start = time.perf_counter()
    top_up(runs, config, run_one)  # K > 1: a short family's other ranges' seeds first
    moved = complete(runs, config.weights_for(families), run_one, move=config.rebalance)
    if sharding:  # what the driver spent after the shards (a cost figure, not output)
        sharding["rebalance_s"] = round(time.perf_counter() - rebalance_start, 2)

    items = [item for run in runs for item in run.out]
    order = np.random.default_rng([config.seed, SHUFFLE_SALT]).permutation(len(items))
    items = [items[i] for i in order]
    funnels = {run.plan.name: run.funnel for run in runs}
    accepted = {run.plan.name: run.out for run in runs}
    shortfall = {run.plan.name: run.short for run in runs if run.short > 0}
    counts = run_counts(items, plans, funnels, dedup, checker, config)
    counts["rebalanced"] = moved
    result = SynthResult(
        items=items,
        rejects=dict(sorted(rejects.items())),
        distribution=realised_distribution(kg, items, plans, config),
        counts=counts,
        config=config,
        graph_hash=str(getattr(graph, "content_hash", "") or kg.content_hash()),
        source_versions=dict(getattr(graph, "source_versions", None) or kg.source_versions()),
        partial=bool(shortfall),
        shortfall=shortfall,
        contamination=dict(checker.matches) if checker else {},
        sharding=sharding,
    )
    rare = result.distribution.get("rare", {})
    if rare.get("within_tolerance") is False:
        result.warnings.append(
            f"realised rare share {rare['realised']:.4f} is more than {RARE_TOLERANCE} away "
            f"from the requested {rare['requested']}"
        )
    if shortfall:
        made = ", ".join(f"{p.name} {len(accepted[p.name])}/{p.quota}" for p in plans)
        if moved:
            made += f"; rebalanced {moved}"
        message = (
            f"asked for {config.n} items, could make {len(items)} ({made}); "
            f"rejects {dict(sorted(rejects.items()))}, duplicates {dedup.counts['exact']} exact "
            f"+ {dedup.counts['near']} near"
        )
        result.warnings.insert(0, message)
        if not config.allow_partial:
            raise SynthesisShortfall(
                message + "; allow a stated partial result with allow_partial / --allow-partial",
                result,
            )
    elif result.warnings and not config.allow_partial:
        raise SynthesisError("; ".join(result.warnings))
    return result


def benchmark_index(config: SynthConfig) -> NgramIndex | None:
    """The n-gram index of the benchmarks to decontaminate against (None: decontamination
    is off); a bad benchmark file is a :class:`SynthesisError`."""
    decontam_cfg = config.decontam_config()
    if not decontam_cfg.enabled:
        return None
    try:
        return NgramIndex(
            load_benchmarks(decontam_cfg), decontam_cfg.ngram, decontam_cfg.short_ngram
        )
    except ValueError as exc:
        raise SynthesisError(str(exc)) from None


def family_run(
    plan: FamilyPlan, config: SynthConfig, rng: np.random.Generator | None = None
) -> FamilyRun:
    """A family's run state for ``plan``: its seeded random stream (or ``rng``: a seed
    range's, :mod:`medkg.synthesis.ranges`), per-stratum needs and seed counters (public:
    the sharded plan in :mod:`medkg.synthesis.sharded` builds one per shard, so every
    engine starts each family exactly as the one-process path does)."""
    if plan.quota == 0:
        need: dict[str, int] = {}
    elif plan.rare_quota is None:
        need = {"all": plan.quota}
    else:
        need = {"rare": plan.rare_quota, "common": plan.quota - plan.rare_quota}
    budget = math.ceil(plan.quota * config.max_draws_factor) + 100
    if rng is None:
        rng = _family_rng(config.seed, plan.name)
    return FamilyRun(plan, config, rng, need, budget)


def canonical_graph(kg: KnowledgeGraph) -> KnowledgeGraph:
    """``kg`` with its rows in the canonical order of its content hash: rows are what the
    samplers draw, so a graph built in memory (``medkg run``) and the same graph loaded
    from a store (``medkg synth``) give the same dataset."""
    nodes, edges = kg.canonical()
    return KnowledgeGraph(nodes=nodes, edges=edges, sources=list(kg.sources), report=kg.report)


__all__ = [
    "RARE_TOLERANCE",
    "SynthBackends",
    "SynthConfig",
    "SynthResult",
    "SynthesisError",
    "SynthesisShortfall",
    "realised_distribution",
    "synthesize",
    "validate_config",
]
