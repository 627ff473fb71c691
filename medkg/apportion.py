"""Split an integer total by weights: the largest-remainder (Hamilton) method.

Used wherever exact integer counts must follow shares: items per question family, a
stratum's shortfall over the families that can take it, draws per target group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def largest_remainder(total: int, weights: Sequence[float] | np.ndarray) -> list[int]:
    """Integer counts summing to ``total`` in proportion to ``weights``.

    Each count is the floor or the ceiling of its exact quota ``total * w / sum(weights)``;
    the leftover units go to the largest fractional parts, ties to the weight listed first.
    Weights need not sum to 1 (they are normalised, so shares that sum to 1 only up to a
    tolerance still give exactly ``total``). All zeros when ``total <= 0`` or the weights
    sum to 0. Weights must be finite and non-negative.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return [0] * len(w)
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        # stable sort on the negated remainder: ties keep the weights' order
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:left]] += 1
    return [int(x) for x in base]


__all__ = ["largest_remainder"]
