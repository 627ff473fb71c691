"""``target``: realise given shares per kind or per MET branch.

The user gives shares per group — kinds (``by="kind"``: ``{"Disease": 0.5, ...}``) or
branches (``by="branch"``: a MET node id stands for its whole subtree) — that sum to 1
(±1e-6). For ``n`` draws, group counts are allocated exactly by largest remainder
(Hamilton): each group gets ``floor(n * share)``, and the leftover draws go to the largest
fractional parts (ties: the order given). Then each group is drawn by the ``within``
sampler (uniform by default; any strategy) restricted to that group, and the draws are
shuffled together.

Tolerance: every group's realised share is within ``1/n`` of its target (strictly less),
so the total variation distance to the target is at most ``groups / (2n)``.

Errors: shares not summing to 1, a negative share, unknown kinds or ids, branches that
overlap (one inside another), or a group with a positive share and nothing drawable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.apportion import largest_remainder
from medkg.synthesis.sampling.base import (
    Sampler,
    SamplingError,
    register_sampler,
    resolve_sampler,
)

SHARE_TOLERANCE = 1e-6
TARGET_BY = ("kind", "branch")


def parse_target(spec: str) -> tuple[str, dict[str, float]]:
    """Parse ``kind=Disease:0.5,Phenotype:0.5``, ``branch=MESH:C04:0.3,...`` or a JSON file.

    The JSON file holds one key, ``kind`` or ``branch``, mapping to ``{group: share}``.
    Ids may contain colons: the share is whatever follows the last one.
    """
    path = Path(spec)
    if spec.lower().endswith(".json") or path.is_file():
        if not path.is_file():
            raise SamplingError(f"target file {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SamplingError(f"target file {path} is not valid JSON: {exc}") from None
        if not (isinstance(data, dict) and len(data) == 1 and next(iter(data)) in TARGET_BY):
            raise SamplingError(
                f'target file {path} must hold one key, "kind" or "branch", '
                f"mapping to {{group: share}}"
            )
        by, given = next(iter(data.items()))
        if not isinstance(given, dict) or not all(_is_number(v) for v in given.values()):
            raise SamplingError(f"target file {path}: {by} must map each group to a number")
        return by, {str(k): float(v) for k, v in given.items()}
    by, sep, rest = spec.partition("=")
    if not sep or by not in TARGET_BY or not rest:
        raise SamplingError(
            f"target {spec!r} must look like kind=Disease:0.5,Phenotype:0.5 or "
            f"branch=<MET id>:<share>,... or name a JSON file"
        )
    shares: dict[str, float] = {}
    for item in rest.split(","):
        group, sep, value = item.strip().rpartition(":")
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not sep or not group or not math.isfinite(share):
            raise SamplingError(f"target entry {item!r} must look like GROUP:SHARE")
        if group in shares:
            raise SamplingError(f"target names {group!r} twice")
        shares[group] = share
    return by, shares


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@register_sampler("target")
class TargetSampler(Sampler):
    """Exact per-group counts (largest remainder) for target shares, then ``within`` each."""

    def __init__(
        self,
        nodes: pl.DataFrame,
        *,
        shares: Mapping[str, float],
        by: str = "kind",
        within: str | Sampler = "uniform",
        within_params: dict[str, Any] | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        super().__init__(nodes, kinds=kinds)
        if by not in TARGET_BY:
            raise SamplingError(f"target: by must be one of {list(TARGET_BY)}, got {by!r}")
        if not shares:
            raise SamplingError("target: no shares given")
        values = np.array([float(v) for v in shares.values()], dtype=np.float64)
        if not np.all(np.isfinite(values)) or (values < 0).any():
            raise SamplingError(f"target: shares must be non-negative numbers, got {dict(shares)}")
        if abs(values.sum() - 1.0) > SHARE_TOLERANCE:
            raise SamplingError(
                f"target: shares sum to {values.sum():.6g}, not 1 (±{SHARE_TOLERANCE:g})"
            )
        self.by = by
        self.shares = {str(k): float(v) for k, v in shares.items()}
        self.share_values = values
        self.groups = self._group_masks(list(self.shares))
        self.within = resolve_sampler(within, nodes, within_params, "within")

    def _group_masks(self, groups: list[str]) -> list[np.ndarray]:
        if self.by == "kind":
            kind = self.nodes.get_column("kind")
            known = set(kind.unique().drop_nulls().to_list())
            unknown = [g for g in groups if g not in known]
            if unknown:
                raise SamplingError(
                    f"target: unknown kind(s) {unknown}; the graph has {sorted(known)}"
                )
            return [(kind == g).fill_null(False).to_numpy().astype(bool) for g in groups]
        rows = pl.DataFrame({"id": groups}, schema={"id": pl.String()}).join(
            self.nodes.select("id").with_row_index("row"),
            on="id",
            how="left",
            maintain_order="left",
        )
        unknown = rows.filter(pl.col("row").is_null()).get_column("id").to_list()
        if unknown:
            raise SamplingError(f"target: unknown branch id(s) {unknown}")
        tree = self.tree
        masks = [tree.in_subtree(int(r)) for r in rows.get_column("row").to_list()]
        for i, gi in enumerate(groups):
            for j, gj in enumerate(groups):
                if i != j and masks[j][int(rows.get_column("row")[i])]:
                    raise SamplingError(
                        f"target: branches overlap: {gi} lies inside {gj}; give disjoint branches"
                    )
        return masks

    def _check_groups(self, mask: np.ndarray) -> list[np.ndarray]:
        pools = []
        for (group, share), gmask in zip(self.shares.items(), self.groups, strict=True):
            pool = self.within.drawable(mask & gmask)
            if share > 0 and not pool.any():
                raise SamplingError(
                    f"target: {self.by} {group!r} has share {share:g} but nothing drawable "
                    f"(empty branch or filtered out by kinds/candidates)"
                )
            pools.append(pool)
        return pools

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        p = np.zeros(self.size, dtype=np.float64)
        for share, pool in zip(self.share_values, self._check_groups(mask), strict=True):
            if share > 0:
                p += share * self.within.probabilities(pool)
        return p

    def _sample(self, n: int, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        pools = self._check_groups(mask)
        counts = largest_remainder(n, self.share_values)
        parts = [
            self.within.sample(int(c), rng, pool)
            for c, pool in zip(counts, pools, strict=True)
            if c > 0
        ]
        out = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        return out[rng.permutation(out.size)]

    def allocation(self, n: int) -> dict[str, int]:
        """How many of ``n`` draws each group gets."""
        return dict(zip(self.shares, largest_remainder(n, self.share_values), strict=True))
