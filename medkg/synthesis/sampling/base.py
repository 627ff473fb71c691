"""The sampler interface, the registry, and the MET arrays samplers share.

Template method: :meth:`Sampler.sample` validates ``n``, ``rng`` and the ``candidates``
mask once, here, intersects the mask with the sampler's drawable set, and hands a clean
mask to the backend's ``_sample``. Most backends only say how likely each row is
(:meth:`Sampler._probabilities`); the base turns that into draws with one cumulative sum
and one ``searchsorted`` over ``rng.random(n)``, so no Python code runs per draw. The
cumulative table is cached per mask, so repeated calls cost only the draws.

Drawable by default: live entities, i.e. not obsolete and not MET scaffolding
(``MET:*`` nodes such as ``MET:root``, ``MET:Disease``). ``kinds=`` narrows that further;
``candidates`` narrows it per call.
"""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import polars as pl

from medkg.errors import MedkgError
from medkg.registry import Registry

SCAFFOLD_PREFIX = "MET:"


class SamplingError(MedkgError, ValueError):
    """Nothing can be drawn, or a sampler was given bad parameters; the message says why."""


@dataclass(frozen=True)
class MetArrays:
    """The medical entity tree as numpy arrays over the rows of a nodes frame.

    ``parent[i]`` is the row of node ``i``'s ``met_parent`` (-1 for a root), ``depth`` is
    computed from those parents (roots are 0), ``levels[d]`` holds the rows at depth ``d``.
    """

    parent: np.ndarray
    depth: np.ndarray
    levels: tuple[np.ndarray, ...]

    @property
    def max_depth(self) -> int:
        return len(self.levels) - 1

    def ancestor_at(self, depth: int) -> np.ndarray:
        """Row of each node's ancestor at ``depth`` (the node itself where it is shallower)."""
        anc = np.arange(self.parent.size, dtype=np.int64)
        for _ in range(max(self.max_depth - depth, 0)):
            deeper = self.depth[anc] > depth
            if not deeper.any():
                break
            anc[deeper] = self.parent[anc[deeper]]
        return anc

    def in_subtree(self, row: int) -> np.ndarray:
        """Bool mask of the rows in the subtree rooted at ``row`` (itself included)."""
        return self.ancestor_at(int(self.depth[row])) == row


def met_arrays(nodes: pl.DataFrame) -> MetArrays:
    """Parent indices, depths and levels of the MET from a nodes frame (``id``, ``met_parent``).

    Raises :class:`SamplingError` when the frame has no ``met_parent`` column, names a parent
    that is not one of its rows, or the parents form a cycle.
    """
    if "met_parent" not in nodes.columns:
        raise SamplingError(
            "the nodes frame has no met_parent column: build the medical entity tree first "
            "(medkg.kg.tree.build_tree, or load the graph from a store)"
        )
    m = nodes.height
    rows = pl.DataFrame(
        {"id": nodes.get_column("id"), "row": np.arange(m, dtype=np.int64)},
        schema={"id": pl.String(), "row": pl.Int64()},
    )
    parent_col = nodes.select(pl.col("met_parent").alias("id")).join(
        rows, on="id", how="left", maintain_order="left"
    )
    dangling = parent_col.filter(pl.col("id").is_not_null() & pl.col("row").is_null())
    if dangling.height:
        sample = ", ".join(sorted(set(dangling.get_column("id").to_list()))[:5])
        raise SamplingError(
            f"{dangling.height} node(s) name a met_parent that is not a row of the frame "
            f"(e.g. {sample}); sample on the whole graph and restrict with `candidates`"
        )
    parent = parent_col.get_column("row").fill_null(-1).to_numpy().astype(np.int64, copy=False)
    depth = np.zeros(m, dtype=np.int64)
    anc = parent.copy()
    live = np.flatnonzero(anc >= 0)
    steps = 0
    while live.size:
        steps += 1
        if steps > m:
            raise SamplingError("met_parent forms a cycle: the MET must be a tree")
        depth[live] += 1
        anc[live] = parent[anc[live]]
        live = live[anc[live] >= 0]
    order = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[order], np.arange(int(depth.max(initial=0)) + 2))
    levels = tuple(order[bounds[d] : bounds[d + 1]] for d in range(bounds.size - 1))
    return MetArrays(parent=parent, depth=depth, levels=levels)


def bool_column(nodes: pl.DataFrame, name: str, default: bool = False) -> np.ndarray:
    """A boolean column as a numpy array (nulls and a missing column read as ``default``)."""
    if name not in nodes.columns:
        return np.full(nodes.height, default, dtype=bool)
    return nodes.get_column(name).fill_null(default).cast(pl.Boolean).to_numpy().astype(bool)


def mask_digest(mask: np.ndarray) -> bytes:
    return hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()


@dataclass(frozen=True)
class DrawTable:
    """Weighted draws by inversion with a guide table (Chen & Asau's method), vectorised.

    ``cdf`` is the cumulative weight of the rows with positive probability, scaled so the
    total is ``K`` = number of such rows; ``guide[j]`` is the first position whose
    cumulative weight exceeds ``j``. A draw ``y = K * u`` starts at ``guide[floor(y)]``
    and steps forward while ``cdf <= y``: on average about one step, against the ~17
    binary-search steps of ``searchsorted`` (what ``Generator.choice`` does). Draws still
    in flight after a few steps (long runs of tiny weights) finish with ``searchsorted``.
    The result is exactly the inverse-CDF draw for ``u``.
    """

    rows: np.ndarray
    cdf: np.ndarray
    guide: np.ndarray

    STEPS: ClassVar[int] = 4

    @classmethod
    def from_probabilities(cls, p: np.ndarray) -> DrawTable:
        rows = np.flatnonzero(p > 0).astype(np.int64, copy=False)
        cdf = np.cumsum(p[rows])
        k = rows.size
        cdf *= k / cdf[-1]
        cdf[-1] = np.inf  # every y < K stops at the last row at the latest
        guide = np.searchsorted(cdf, np.arange(k, dtype=np.float64), side="right")
        return cls(rows=rows, cdf=cdf, guide=guide)

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        y = rng.random(n) * self.rows.size
        pos = self.guide[y.astype(np.int64)]
        active = np.flatnonzero(self.cdf[pos] <= y)
        for _ in range(self.STEPS):
            if not active.size:
                break
            pos[active] += 1
            active = active[self.cdf[pos[active]] <= y[active]]
        if active.size:
            pos[active] = np.searchsorted(self.cdf, y[active], side="right")
        return self.rows[pos]


class Sampler(ABC):
    """Draw rows of a nodes frame; seeded, vectorised, with replacement unless documented.

    Subclasses implement :meth:`_probabilities` (how likely each row is, given a mask of
    drawable rows) and may override :meth:`_sample` when they compose other samplers.
    """

    key: ClassVar[str]
    _CACHE_SIZE: ClassVar[int] = 4

    def __init__(self, nodes: pl.DataFrame, *, kinds: Sequence[str] | None = None) -> None:
        if "id" not in nodes.columns or "kind" not in nodes.columns:
            raise SamplingError("the nodes frame needs at least the columns id and kind")
        self.nodes = nodes
        self.kinds = tuple(kinds) if kinds else None
        if self.kinds:
            known = set(nodes.get_column("kind").unique().drop_nulls().to_list())
            unknown = sorted(set(self.kinds) - known)
            if unknown:
                raise SamplingError(f"unknown kind(s) {unknown}; the graph has {sorted(known)}")
        self._cache: OrderedDict[bytes, DrawTable] = OrderedDict()

    @property
    def size(self) -> int:
        """Number of rows in the nodes frame."""
        return self.nodes.height

    @cached_property
    def eligible(self) -> np.ndarray:
        """Rows this sampler may ever draw: live entities (of ``kinds`` when given)."""
        ids = self.nodes.get_column("id")
        mask = ~bool_column(self.nodes, "obsolete") & ~ids.str.starts_with(
            SCAFFOLD_PREFIX
        ).fill_null(True).to_numpy().astype(bool)
        if self.kinds:
            mask &= self.nodes.get_column("kind").is_in(list(self.kinds)).to_numpy().astype(bool)
        return mask

    @cached_property
    def tree(self) -> MetArrays:
        return met_arrays(self.nodes)

    # -- public API (checks live here, once) ---------------------------------------------

    def sample(
        self, n: int, rng: np.random.Generator, candidates: np.ndarray | None = None
    ) -> np.ndarray:
        """Draw ``n`` row indices (int64) into :attr:`nodes`, restricted to ``candidates``."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise SamplingError(f"n must be a non-negative integer, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise SamplingError(
                f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        mask = self.drawable(candidates)
        out = self._sample(int(n), rng, mask)
        return np.asarray(out, dtype=np.int64)

    def probabilities(self, candidates: np.ndarray | None = None) -> np.ndarray:
        """Probability of drawing each row (float64 over all rows, summing to 1)."""
        return self._probabilities(self.drawable(candidates))

    def drawable(self, candidates: np.ndarray | None = None) -> np.ndarray:
        """The eligible rows intersected with ``candidates`` (validated)."""
        if candidates is None:
            return self.eligible
        cand = np.asarray(candidates)
        if cand.dtype != np.bool_ or cand.shape != (self.size,):
            raise SamplingError(
                f"candidates must be a bool array of shape ({self.size},), "
                f"got dtype {cand.dtype} shape {cand.shape}"
            )
        return self.eligible & cand

    # -- hooks -----------------------------------------------------------------------------

    @abstractmethod
    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        """Probabilities over all rows, zero outside ``mask``; raise SamplingError if none."""

    def _sample(self, n: int, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        table = self._table(mask)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        return table.draw(n, rng)

    def _table(self, mask: np.ndarray) -> DrawTable:
        key = mask_digest(mask)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        table = DrawTable.from_probabilities(self._probabilities(mask))
        self._cache[key] = table
        if len(self._cache) > self._CACHE_SIZE:
            self._cache.popitem(last=False)
        return table

    # -- helpers for subclasses ----------------------------------------------------------

    def _describe_empty(self, mask: np.ndarray, what: str = "") -> str:
        scope = f" {what}" if what else ""
        kinds = f" of kind {list(self.kinds)}" if self.kinds else ""
        return (
            f"{self.key}: nothing to draw{scope}: {int(mask.sum())} drawable row(s){kinds} "
            f"out of {self.size} after the candidates filter"
        )

    def _normalise(self, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Zero weights outside ``mask`` and scale to sum 1; SamplingError when all are zero."""
        w = np.where(mask, weights, 0.0).astype(np.float64, copy=False)
        if not mask.any():
            raise SamplingError(self._describe_empty(mask))
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise SamplingError(f"{self.key}: weights must be finite and non-negative")
        total = w.sum()
        if total <= 0:
            raise SamplingError(
                f"{self.key}: all {int(mask.sum())} drawable row(s) have weight zero"
            )
        return w / total


# Strategies by name, imported on first use; third-party ones arrive through the
# ``medkg.samplers`` entry-point group.
SAMPLERS: Registry[type[Sampler]] = Registry(
    "sampling strategy",
    group="medkg.samplers",
    error=SamplingError,
    lazy={
        "uniform": "medkg.synthesis.sampling.uniform:UniformSampler",
        "tree_balanced": "medkg.synthesis.sampling.tree_balanced:TreeBalancedSampler",
        "inverse_frequency": "medkg.synthesis.sampling.frequency:InverseFrequencySampler",
        "rare_mixture": "medkg.synthesis.sampling.mixture:RareMixtureSampler",
        "spread": "medkg.synthesis.sampling.spread:SpreadSampler",
        "target": "medkg.synthesis.sampling.target:TargetSampler",
        "coverage_gap": "medkg.synthesis.sampling.gaps:CoverageGapSampler",
    },
)

#: Class decorator: ``@register_sampler("name")`` makes a sampler buildable by name.
register_sampler = SAMPLERS.register


def sampler_class(name: str) -> type[Sampler]:
    """The class registered as ``name``; SamplingError listing the choices otherwise."""
    return SAMPLERS.get_class(name)


def accepted_params(name: str) -> list[str]:
    """The keyword parameters the sampler registered as ``name`` takes."""
    init = sampler_class(name).__init__
    return [p.name for p in inspect.signature(init).parameters.values() if p.kind is p.KEYWORD_ONLY]


def build_sampler(name: str, nodes: pl.DataFrame, **params: Any) -> Sampler:
    """Build the sampler registered as ``name`` over ``nodes``.

    Unknown names and parameters the sampler does not take are a :class:`SamplingError`
    that lists the choices.
    """
    cls = sampler_class(name)
    accepted = accepted_params(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise SamplingError(
            f"strategy {name!r} does not take {unknown}; it takes {sorted(accepted)}"
        )
    return cls(nodes, **params)


def resolve_sampler(
    spec: str | Sampler, nodes: pl.DataFrame, params: dict[str, Any] | None, role: str
) -> Sampler:
    """A sub-sampler given as an instance (built on the same frame) or a registry name."""
    if isinstance(spec, Sampler):
        if params:
            raise SamplingError(f"{role}_params apply only when {role} is a strategy name")
        if spec.nodes is not nodes and not spec.nodes.get_column("id").equals(
            nodes.get_column("id")
        ):
            raise SamplingError(f"the {role} sampler was built on a different nodes frame")
        return spec
    return build_sampler(spec, nodes, **(params or {}))
