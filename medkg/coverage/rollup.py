"""The counts an audit takes from a mention table, computable shard by shard.

:func:`medkg.coverage.audit.audit` needs, of a dataset's ``(item, entity)`` mentions, only
per-node counts of *distinct items* (``items``, ``concept_items``, ``rollup_items``),
per-node mention counts, and a few dataset-wide totals (linked items, items naming a rare
disease, mentions by method, ...). :func:`count_mentions` reduces a mention table to
exactly those (:class:`AuditCounts`, bounded by the number of graph nodes);
:class:`CountsMerger` adds the counts of several tables.

Adding is exact because an item lies in one shard: a distinct-item count over the whole
corpus is the sum of the shards' distinct-item counts when no item id appears in two
shards. :func:`medkg.coverage.sharded.link_corpus` checks that (an error names both
records of a repeated id), so the audit of a corpus from its shards' counts is the audit
of its whole mention table, to the byte. Nothing in the audit is per item beyond these
distinct counts (the concentration statistics, the rank-frequency curve, AMCS's linked
entities all come from the per-node counts).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from medkg.kg.model import DISEASE


def ancestor_counts(pairs: pl.DataFrame, parents: pl.DataFrame, max_depth: int) -> pl.DataFrame:
    """Distinct ``key`` per node over each node and all its MET ancestors.

    ``pairs`` has columns ``key`` and ``id``; ``parents`` has ``id`` and ``met_parent``.
    Returns ``id``, ``n``: how many distinct keys sit at or below each node.
    """
    frontier = pairs.select("key", "id").unique()
    levels = [frontier]
    for _ in range(max_depth + 1):
        frontier = (
            frontier.join(parents, on="id", how="inner")
            .select("key", pl.col("met_parent").alias("id"))
            .drop_nulls("id")
            .unique()
        )
        if frontier.is_empty():
            break
        levels.append(frontier)
    return pl.concat(levels).unique().group_by("id").agg(pl.len().cast(pl.Int64).alias("n"))


@dataclass(frozen=True)
class AuditTree:
    """What counting needs of the graph: node ids, MET parents, kinds, rare flags and the
    tree's depth (small and picklable: it travels to the workers that count shards)."""

    nodes: pl.DataFrame  # id, met_parent, kind, rare (null rare read as False)
    max_depth: int

    @classmethod
    def of(cls, tree: pl.DataFrame) -> AuditTree:
        """From a node table with the MET columns (``id``, ``met_parent``, ``kind``,
        ``rare``, ``depth``)."""
        nodes = tree.select("id", "met_parent", "kind", pl.col("rare").fill_null(False))
        return cls(nodes, int(tree.get_column("depth").cast(pl.Int64).max() or 0))  # type: ignore[arg-type]

    @property
    def parents(self) -> pl.DataFrame:
        return self.nodes.select("id", "met_parent").drop_nulls("met_parent")


_ITEMS = pl.Int64


def _empty(*columns: str) -> pl.DataFrame:
    return pl.DataFrame(schema={"id": pl.String, **{c: _ITEMS for c in columns}})


@dataclass
class AuditCounts:
    """A mention table reduced to what the audit reads (see the module doc). The frames
    are keyed by node ``id`` and hold only nodes with a non-zero count."""

    entities: pl.DataFrame  # id, items (distinct items naming it), mentions
    concept: pl.DataFrame  # id, concept_items (distinct items naming it or an equivalent)
    rollup: pl.DataFrame  # id, rollup_items (distinct items at or below it, concepts)
    follow: bool  # the equivalents were followed (the table had an equivalents column)
    mentions: int = 0  # mentions of graph nodes
    unknown: int = 0  # mentions of ids not in the graph
    mentioned_items: int = 0  # distinct items with any mention (graph node or not)
    linked_items: int = 0  # distinct items with a mention of a graph node
    rare_items: int = 0  # distinct items naming a rare disease
    disease_mentions: int = 0
    rare_disease_mentions: int = 0
    by_method: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, follow: bool) -> AuditCounts:
        return cls(_empty("items", "mentions"), _empty("concept_items"), _empty("rollup_items"),
                   follow)  # fmt: skip

    @property
    def entity_ids(self) -> list[str]:
        """The graph nodes mentioned, sorted."""
        return sorted(self.entities.get_column("id").to_list())


def count_mentions(
    tree: AuditTree, mentions: pl.DataFrame, *, follow_equivalents: bool = True
) -> AuditCounts:
    """Reduce a mention table (``item_id``, ``entity_id``, optional ``equivalents`` and
    ``method``) to the audit's counts. With ``follow_equivalents`` and an ``equivalents``
    column, a mention also counts for its entity's exact-mapping equivalents."""
    ids = tree.nodes.get_column("id").implode()
    known = mentions.filter(pl.col("entity_id").is_in(ids))
    pairs = known.select(pl.col("item_id").alias("key"), pl.col("entity_id").alias("id"))
    follow = follow_equivalents and "equivalents" in known.columns
    if follow:
        # (item, equivalent) pairs: the concept a mention names, in every source
        via = (
            known.select(pl.col("item_id").alias("key"), pl.col("equivalents").alias("id"))
            .explode("id")
            .drop_nulls("id")
            .filter(pl.col("id").is_in(ids))
        )
        concept_pairs = pl.concat([pairs, via]).unique()
    else:
        concept_pairs = pairs
    entities = known.group_by("entity_id").agg(
        pl.col("item_id").n_unique().cast(_ITEMS).alias("items"),
        pl.len().cast(_ITEMS).alias("mentions"),
    )
    concept = concept_pairs.group_by("id").agg(
        pl.col("key").n_unique().cast(_ITEMS).alias("concept_items")
    )
    rollup = ancestor_counts(concept_pairs, tree.parents, tree.max_depth)
    disease = known.join(tree.nodes.select("id", "rare", "kind"), left_on="entity_id",
                         right_on="id").filter(pl.col("kind") == DISEASE)  # fmt: skip
    rare = disease.filter(pl.col("rare"))
    by_method = (
        dict(known.group_by("method").len().iter_rows()) if "method" in known.columns else {}
    )
    return AuditCounts(
        entities=entities.rename({"entity_id": "id"}),
        concept=concept,
        rollup=rollup.rename({"n": "rollup_items"}),
        follow=follow,
        mentions=known.height,
        unknown=mentions.height - known.height,
        mentioned_items=mentions.get_column("item_id").n_unique(),
        linked_items=pairs.get_column("key").n_unique(),
        rare_items=rare.get_column("item_id").n_unique(),
        disease_mentions=disease.height,
        rare_disease_mentions=rare.height,
        by_method=by_method,
    )


_TOTALS = ("mentions", "unknown", "mentioned_items", "linked_items", "rare_items",
           "disease_mentions", "rare_disease_mentions")  # fmt: skip
_FRAMES = ("entities", "concept", "rollup")


class CountsMerger:
    """Adds the :class:`AuditCounts` of shards whose items are disjoint. Memory stays
    bounded by the graph: pending frames are summed whenever they hold more rows than
    ``limit`` (at most one row per node each)."""

    def __init__(self, follow: bool, limit: int = 200_000) -> None:
        self.total = AuditCounts.empty(follow)
        self.limit = limit
        self.pending: dict[str, list[pl.DataFrame]] = {f: [] for f in _FRAMES}
        self.rows = 0
        self.by_method: Counter[str] = Counter()

    def add(self, counts: AuditCounts) -> None:
        if counts.follow != self.total.follow:  # every shard's table has the same columns
            raise ValueError("counts with and without equivalents cannot be added")
        for name in _TOTALS:
            setattr(self.total, name, getattr(self.total, name) + getattr(counts, name))
        self.by_method.update(counts.by_method)
        for name in _FRAMES:
            frame = getattr(counts, name)
            self.pending[name].append(frame)
            self.rows += frame.height
        if self.rows > self.limit:
            self._reduce()

    def _reduce(self) -> None:
        for name in _FRAMES:
            parts = [getattr(self.total, name), *self.pending[name]]
            summed = pl.concat(parts).group_by("id").agg(pl.all().sum())
            setattr(self.total, name, summed)
            self.pending[name] = []
        self.rows = 0

    def result(self) -> AuditCounts:
        """The counts of everything added so far."""
        self._reduce()
        self.total.by_method = dict(self.by_method)
        return self.total


__all__ = [
    "AuditCounts",
    "AuditTree",
    "CountsMerger",
    "ancestor_counts",
    "count_mentions",
]
