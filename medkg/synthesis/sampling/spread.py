"""``spread``: the default seed sampler - tree balance down to a floor, mixed with uniform.

``p = (1 - uniform_share) * tree_balanced(floor) + uniform_share * uniform`` over the same
drawable rows. The tree part keeps small organ systems and branches from being drowned
by big ones; the uniform part puts a floor under every row's probability, so no row's
probability is more than ``1 / (uniform_share * drawable)`` below the uniform one and the
mass cannot collapse onto a few rows. The synthesis pipeline adds per-seed caps on top
(without replacement by default, see :mod:`medkg.synthesis.pipeline`).

Like every sampler it composes: ``rare_mixture`` uses it for both pools when the rare share
is given, and ``coverage_gap`` can be chosen instead to steer towards coverage gaps.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from medkg.synthesis.sampling.base import Sampler, SamplingError, register_sampler
from medkg.synthesis.sampling.tree_balanced import DEFAULT_FLOOR, TreeBalancedSampler

DEFAULT_UNIFORM_SHARE = 0.5


@register_sampler("spread")
class SpreadSampler(Sampler):
    """Mixture of ``tree_balanced`` (with a subtree-size floor) and ``uniform``."""

    def __init__(
        self,
        nodes: pl.DataFrame,
        *,
        floor: int = DEFAULT_FLOOR,
        uniform_share: float = DEFAULT_UNIFORM_SHARE,
        kinds: list[str] | None = None,
    ) -> None:
        super().__init__(nodes, kinds=kinds)
        share = float(uniform_share)
        if not 0.0 <= share <= 1.0:
            raise SamplingError(f"spread: uniform_share must be in [0, 1], got {uniform_share}")
        self.uniform_share = share
        self.tree_part = TreeBalancedSampler(nodes, floor=floor, kinds=kinds)

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        uniform = self._normalise(np.ones(self.size), mask)
        if self.uniform_share >= 1.0:
            return uniform
        tree = self.tree_part.probabilities(mask)
        return (1.0 - self.uniform_share) * tree + self.uniform_share * uniform


def effective_n(p: np.ndarray) -> float:
    """Effective number of rows of a distribution: ``1 / sum(p^2)`` (0 for an empty one)."""
    p = np.asarray(p, dtype=np.float64)
    total = p.sum()
    if total <= 0:
        return 0.0
    q = p / total
    return float(1.0 / np.square(q).sum())


def top_share(p: np.ndarray, fraction: float = 0.01) -> float:
    """Share of the mass held by the top ``fraction`` of the rows with positive mass."""
    q = np.sort(np.asarray(p, dtype=np.float64)[np.asarray(p) > 0])[::-1]
    if q.size == 0:
        return 0.0
    k = max(1, int(np.ceil(fraction * q.size)))
    return float(q[:k].sum() / q.sum())
