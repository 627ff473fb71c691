"""Entity samplers over MET nodes: seeded, reproducible, vectorised, composable.

    from medkg.synthesis.sampling import build_sampler
    sampler = build_sampler("rare_mixture", kg.nodes, alpha=0.3, base="tree_balanced")
    rows = sampler.sample(10_000, np.random.default_rng(7))    # int64 rows of kg.nodes

One module per strategy; each registers itself in :data:`SAMPLERS` under its name.
"""

from medkg.synthesis.sampling.base import (
    SAMPLERS,
    MetArrays,
    Sampler,
    SamplingError,
    accepted_params,
    build_sampler,
    met_arrays,
    register_sampler,
)
from medkg.synthesis.sampling.distribution import (
    expected_distribution,
    group_labels,
    realised_distribution,
    total_variation,
)
from medkg.synthesis.sampling.frequency import InverseFrequencySampler, load_counts
from medkg.synthesis.sampling.gaps import CoverageGapSampler, load_gaps
from medkg.synthesis.sampling.mixture import RareMixtureSampler
from medkg.synthesis.sampling.spread import SpreadSampler, effective_n, top_share
from medkg.synthesis.sampling.target import TargetSampler, parse_target
from medkg.synthesis.sampling.tree_balanced import TreeBalancedSampler
from medkg.synthesis.sampling.uniform import UniformSampler

__all__ = [
    "SAMPLERS",
    "CoverageGapSampler",
    "InverseFrequencySampler",
    "MetArrays",
    "RareMixtureSampler",
    "Sampler",
    "SamplingError",
    "SpreadSampler",
    "TargetSampler",
    "TreeBalancedSampler",
    "UniformSampler",
    "accepted_params",
    "build_sampler",
    "effective_n",
    "expected_distribution",
    "group_labels",
    "load_counts",
    "load_gaps",
    "met_arrays",
    "parse_target",
    "realised_distribution",
    "register_sampler",
    "top_share",
    "total_variation",
]
