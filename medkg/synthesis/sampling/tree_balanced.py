"""``tree_balanced``: uniform over children at each level of the MET.

A draw walks down from the root. At each node the options are the node itself (when it
is drawable) and each child whose subtree holds a drawable row; one option is taken
uniformly. So a node's probability is the product, over its ancestors, of
``1 / options(ancestor)``, times ``1 / options(node)`` for stopping there; where only
leaves are drawable this is the product over ancestors of ``1 / (children leading to
candidates)``. Branches with no drawable row are pruned, so a small branch gets the same
share as a big sibling instead of being drowned by it.

Computed level by level with numpy over the parent index array (about 20 vectorised
steps for the whole graph), then drawn like any weighted sampler.
"""

from __future__ import annotations

import numpy as np

from medkg.synthesis.sampling.base import Sampler, SamplingError, register_sampler


@register_sampler("tree_balanced")
class TreeBalancedSampler(Sampler):
    """Uniform over children at each level of the MET (with replacement)."""

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            raise SamplingError(self._describe_empty(mask))
        tree = self.tree
        parent = tree.parent
        # Bottom-up: does the subtree of each node hold a drawable row?
        leads = mask.copy()
        for level in reversed(tree.levels[1:]):
            up = level[leads[level]]
            leads[parent[up]] = True
        # Options at each node: stop here (if drawable) + each child that leads somewhere.
        lead_children = np.flatnonzero(leads & (parent >= 0))
        options = mask.astype(np.float64) + np.bincount(parent[lead_children], minlength=self.size)
        # Top-down: probability of reaching each node.
        reach = np.zeros(self.size, dtype=np.float64)
        roots = tree.levels[0][leads[tree.levels[0]]]
        reach[roots] = 1.0 / roots.size
        for level in tree.levels[1:]:
            down = level[leads[level]]
            up = parent[down]
            reach[down] = reach[up] / options[up]
        p = np.zeros(self.size, dtype=np.float64)
        p[mask] = reach[mask] / options[mask]
        return p / p.sum()
