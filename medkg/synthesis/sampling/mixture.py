"""``rare_mixture``: the MedSSR rare-share mixture.

Each draw is, with probability ``alpha``, a rare disease (``rare`` is true and ``kind`` is
Disease), drawn by the ``rare`` sampler (uniform by default); otherwise it comes from the
``base`` sampler (any registered strategy or a Sampler instance), restricted to rows that
are *not* rare diseases. Keeping the two pools apart is what makes the realised rare share
``alpha`` in expectation (Binomial(n, alpha) rare draws), whatever the base favours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from medkg.kg.model import DISEASE
from medkg.synthesis.sampling.base import (
    Sampler,
    SamplingError,
    bool_column,
    register_sampler,
    resolve_sampler,
)


@register_sampler("rare_mixture")
class RareMixtureSampler(Sampler):
    """With probability ``alpha`` a rare disease, else a draw from ``base``."""

    def __init__(
        self,
        nodes: pl.DataFrame,
        *,
        alpha: float = 0.3,
        base: str | Sampler = "uniform",
        base_params: dict[str, Any] | None = None,
        rare: str | Sampler = "uniform",
        rare_params: dict[str, Any] | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        super().__init__(nodes, kinds=kinds)
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise SamplingError(f"rare_mixture: alpha must be in [0, 1], got {alpha}")
        if "rare" not in nodes.columns:
            raise SamplingError("rare_mixture: the nodes frame has no rare column")
        self.alpha = alpha
        self.base = resolve_sampler(base, nodes, base_params, "base")
        self.rare = resolve_sampler(rare, nodes, rare_params, "rare")
        self.rare_mask = bool_column(nodes, "rare") & (
            nodes.get_column("kind") == DISEASE
        ).fill_null(False).to_numpy().astype(bool)

    def _pools(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rare_pool = self.rare.drawable(mask & self.rare_mask)
        base_pool = self.base.drawable(mask & ~self.rare_mask)
        if self.alpha > 0 and not rare_pool.any():
            raise SamplingError(
                f"rare_mixture: alpha={self.alpha} but no rare disease is drawable "
                f"({int(mask.sum())} drawable row(s), none rare with kind Disease)"
            )
        if self.alpha < 1 and not base_pool.any():
            raise SamplingError(
                f"rare_mixture: the base sampler ({self.base.key}) has nothing to draw "
                f"outside the rare diseases"
            )
        return rare_pool, base_pool

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        rare_pool, base_pool = self._pools(mask)
        p = np.zeros(self.size, dtype=np.float64)
        if self.alpha > 0:
            p += self.alpha * self.rare.probabilities(rare_pool)
        if self.alpha < 1:
            p += (1.0 - self.alpha) * self.base.probabilities(base_pool)
        return p

    def _sample(self, n: int, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        rare_pool, base_pool = self._pools(mask)
        is_rare = rng.random(n) < self.alpha
        k = int(is_rare.sum())
        out = np.empty(n, dtype=np.int64)
        if k:
            out[is_rare] = self.rare.sample(k, rng, rare_pool)
        if n - k:
            out[~is_rare] = self.base.sample(n - k, rng, base_pool)
        return out
