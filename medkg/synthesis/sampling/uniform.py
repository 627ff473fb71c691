"""``uniform``: every drawable row equally likely."""

from __future__ import annotations

import numpy as np

from medkg.synthesis.sampling.base import Sampler, SamplingError, register_sampler


@register_sampler("uniform")
class UniformSampler(Sampler):
    """Uniform over the drawable rows (with replacement)."""

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        return self._normalise(np.ones(self.size), mask)

    def _sample(self, n: int, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            raise SamplingError(self._describe_empty(mask))
        return rows[rng.integers(0, rows.size, size=n)]
