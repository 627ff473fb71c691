"""What a synthesis run reports: realised distributions and the manifest's counts."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.config import RARE_TOLERANCE, SynthConfig
from medkg.synthesis.decontam import Decontaminator
from medkg.synthesis.dedup import Deduplicator
from medkg.synthesis.items import QAItem

if TYPE_CHECKING:
    from medkg.synthesis.pipeline import FamilyPlan


def share(count: int, total: int) -> float:
    return count / total if total else 0.0


def realised_distribution(
    kg: KnowledgeGraph, items: Sequence[QAItem], plans: Sequence[FamilyPlan], config: SynthConfig
) -> dict[str, Any]:
    """Requested vs realised shares by family, rare share, hops, seed kind and MET branch."""
    total = len(items)
    by_family = Counter(i.family for i in items)
    requested = {
        p.name: w for p, w in zip(plans, config.weights_for([p.name for p in plans]), strict=True)
    }
    families = {
        p.name: {
            "quota": p.quota,
            "count": by_family.get(p.name, 0),
            "requested_share": requested[p.name],
            "realised_share": share(by_family.get(p.name, 0), total),
        }
        for p in plans
    }
    tv = 0.5 * sum(abs(f["requested_share"] - f["realised_share"]) for f in families.values())
    n_rare = sum(1 for i in items if i.rare)
    rare: dict[str, Any] = {"count": n_rare, "realised": share(n_rare, total)}
    if config.rare_share is not None:
        diff = abs(rare["realised"] - config.rare_share)
        rare.update(
            requested=config.rare_share,
            difference=diff,
            tolerance=RARE_TOLERANCE,
            within_tolerance=bool(diff <= RARE_TOLERANCE + 1e-12),
        )
    return {
        "families": families,
        "family_tv_distance": tv,
        "rare": rare,
        "hops": {str(h): c for h, c in sorted(Counter(i.hops for i in items).items())},
        "spread": {p.name: seed_spread(items, p) for p in plans},
        "seed_kind": seed_kinds(kg, items),
        "seed_branch": seed_branches(kg, items),
    }


def seed_spread(items: Sequence[QAItem], plan: FamilyPlan) -> dict[str, Any]:
    """How widely a family's items spread over seeds: distinct seeds, effective N
    (``1 / sum(p^2)`` over the items' seeds), the largest seed's share and the share of
    the top 1% of seeds; and the same effective N of the sampler over the family's pool."""
    from medkg.synthesis.sampling.spread import effective_n, top_share

    counts = Counter(i.seed_entity for i in items if i.family == plan.name)
    c = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    total = float(c.sum())
    expected = {}
    for key, (sampler, pool, cap) in plan.strata.items():
        entry: dict[str, Any] = {"pool": int(pool.sum()), "cap": cap}
        if pool.any():
            p = sampler.probabilities(pool)
            entry.update(sampler_effective_n=round(effective_n(p), 1),
                         sampler_top1pct_share=round(top_share(p), 4))  # fmt: skip
        expected[key] = entry
    return {
        "items": int(total),
        "distinct_seeds": len(counts),
        "effective_n": round(effective_n(c), 1) if total else 0.0,
        "max_seed_share": round(float(c.max()) / total, 5) if total else 0.0,
        "top1pct_seed_share": round(top_share(c), 4) if total else 0.0,
        "strata": expected,
    }


def seed_kinds(kg: KnowledgeGraph, items: Sequence[QAItem]) -> dict[str, int]:
    seeds = {i.seed_entity for i in items if i.seed_entity}
    if not seeds:
        return {}

    kinds = dict(kg.nodes.filter(pl.col("id").is_in(list(seeds))).select("id", "kind").iter_rows())
    counts = Counter(kinds.get(i.seed_entity, "unknown") for i in items if i.seed_entity)
    return dict(sorted(counts.items()))


def seed_branches(kg: KnowledgeGraph, items: Sequence[QAItem]) -> dict[str, int]:
    """Items per top MET branch (the seed's ancestor two levels below the root)."""
    if not kg.has_tree or not any(i.seed_entity for i in items):
        return {}
    ids = kg.nodes.get_column("id").to_list()
    row_of = {node: r for r, node in enumerate(ids)}
    parent_ids = kg.nodes.get_column("met_parent").to_list()
    parent = np.array([row_of.get(p, -1) if p else -1 for p in parent_ids], dtype=np.int64)
    counts: Counter[str] = Counter()
    memo: dict[int, str] = {}
    for item in items:
        row = row_of.get(item.seed_entity, -1)
        if row < 0:
            counts["unknown"] += 1
            continue
        if row not in memo:
            chain = [row]
            while parent[chain[-1]] >= 0 and len(chain) < 10_000:
                chain.append(int(parent[chain[-1]]))
            # chain ends at the root; the branch is two below it (or the node itself).
            memo[row] = ids[chain[-3]] if len(chain) >= 3 else ids[row]
        counts[memo[row]] += 1
    return dict(sorted(counts.items()))


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_counts(
    items: Sequence[QAItem],
    plans: Sequence[FamilyPlan],
    funnels: Mapping[str, Counter[str]],
    dedup: Deduplicator,
    checker: Decontaminator | None,
    config: SynthConfig,
) -> dict[str, Any]:
    n_rare = sum(1 for i in items if i.rare)
    keys = ("draws", "rejected", "invalid", "surplus", "duplicate", "contaminated", "accepted")
    return {
        "requested": config.n,
        "items": len(items),
        "by_family": dict(sorted(Counter(i.family for i in items).items())),
        "rare": {"rare": n_rare, "common": len(items) - n_rare},
        "by_hops": {str(h): c for h, c in sorted(Counter(i.hops for i in items).items())},
        "by_family_rare": {
            p.name: {
                "rare": sum(1 for i in items if i.family == p.name and i.rare),
                "rare_quota": p.rare_quota,
                "alpha": p.alpha,
            }
            for p in plans
        },
        "funnel": {p.name: {k: int(funnels[p.name][k]) for k in keys} for p in plans},
        "stalled": sorted(p.name for p in plans if funnels[p.name]["stalled"]),
        "dedup": {"config": config.dedup_config().to_dict(), **dedup.counts},
        "decontam": (
            {
                "config": config.decontam_config().to_dict(),
                "file_sha256": {
                    Path(f).name: sha256_file(f) for f in config.decontam_config().files
                },
                **checker.counts,
            }
            if checker
            else {"enabled": False}
        ),
    }
