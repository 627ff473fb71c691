"""What a set of draws looks like: shares per kind, MET branch or rarity, and TVD."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from medkg.synthesis.sampling.base import SamplingError, bool_column, met_arrays

OTHER = "(other)"


def group_labels(nodes: pl.DataFrame, by: str | Sequence[str]) -> pl.Series:
    """A label per row of ``nodes``.

    ``by``: ``"kind"``; ``"rare"`` (``rare`` / ``not_rare``); ``"branch:<depth>"`` (the id of
    the row's MET ancestor at that depth, the row itself when shallower); or a list of MET
    node ids (the listed branch holding the row, else ``"(other)"``).
    """
    if isinstance(by, str):
        if by == "kind":
            return nodes.get_column("kind").fill_null("(none)")
        if by == "rare":
            rare = bool_column(nodes, "rare")
            return pl.Series("rare", np.where(rare, "rare", "not_rare"))
        if by.startswith("branch:"):
            try:
                depth = int(by.partition(":")[2])
            except ValueError:
                depth = -1
            if depth < 0:
                raise SamplingError(f"by={by!r}: the depth must be a non-negative integer")
            anc = met_arrays(nodes).ancestor_at(depth)
            return nodes.get_column("id").gather(anc)
        raise SamplingError(f"by must be kind, rare, branch:<depth> or a list of ids, got {by!r}")
    tree = met_arrays(nodes)
    ids = nodes.get_column("id")
    row_of = dict(zip(ids.to_list(), range(nodes.height), strict=True))
    labels = np.full(nodes.height, OTHER, dtype=object)
    for branch in sorted(by, key=lambda b: int(tree.depth[row_of[b]]) if b in row_of else -1):
        if branch not in row_of:
            raise SamplingError(f"unknown branch id {branch!r}")
        labels[tree.in_subtree(row_of[branch])] = branch  # deeper branches win
    return pl.Series("branch", labels.astype(str))


def realised_distribution(
    nodes: pl.DataFrame, draws: np.ndarray, by: str | Sequence[str] = "kind"
) -> dict[str, float]:
    """Share of ``draws`` (row indices into ``nodes``) in each group, sorted by group."""
    draws = np.asarray(draws, dtype=np.int64)
    if draws.size == 0:
        return {}
    labels = group_labels(nodes, by).gather(draws)
    counts = labels.value_counts(sort=False, name="n").sort(labels.name)
    total = float(draws.size)
    return {str(g): n / total for g, n in counts.iter_rows()}


def expected_distribution(
    nodes: pl.DataFrame, probabilities: np.ndarray, by: str | Sequence[str] = "kind"
) -> dict[str, float]:
    """Share of probability mass in each group (groups with zero mass left out)."""
    labels = group_labels(nodes, by)
    frame = pl.DataFrame({"g": labels, "p": np.asarray(probabilities, dtype=np.float64)})
    agg = frame.group_by("g").agg(pl.col("p").sum()).filter(pl.col("p") > 0).sort("g")
    return {str(g): float(p) for g, p in agg.iter_rows()}


def total_variation(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance ½ Σ |p − q| over the union of groups (missing = 0)."""
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)
