"""Write an audit's per-node counts back to the store, so curators can query the gaps.

Neo4j: every audited entity gets ``coverage_<name>_items`` (items mentioning it) and
``coverage_<name>_rollup`` (items reaching its subtree), set in batched write transactions
(idempotent: the same audit writes the same values). Then, in Neo4j Browser::

    MATCH (n:Entity:Disease) WHERE n.rare AND n.coverage_mmlu_items = 0
    RETURN n.id, n.name, n.subtree_size ORDER BY n.subtree_size DESC LIMIT 25

Embedded store: the same columns go to ``coverage.<name>.parquet`` next to the graph's
tables (the graph files, and so its content hash, are left untouched).
"""

from __future__ import annotations

import re

import polars as pl

from medkg.coverage.audit import Audit
from medkg.errors import UsageError
from medkg.kg.stores.base import GraphStore

_NAME = re.compile(r"[^a-z0-9_]+")


def property_prefix(name: str) -> str:
    """``coverage_<name>_`` with the dataset name folded to ``[a-z0-9_]``."""
    folded = _NAME.sub("_", name.lower()).strip("_")
    if not folded:
        raise UsageError(f"dataset name {name!r} gives no usable property name")
    return f"coverage_{folded}_"


def write_back(store: GraphStore, a: Audit) -> int:
    """Write ``a``'s counts for every audited node to ``store``; returns the rows written.
    Holds the store's single-writer lock, so it never interleaves with a build."""
    with store.writing():
        return _write_back(store, a)


def _write_back(store: GraphStore, a: Audit) -> int:
    prefix = property_prefix(a.name)
    rows = a.nodes.filter(pl.col("in_universe")).select(
        "id",
        pl.col("items").alias(f"{prefix}items"),
        pl.col("rollup_items").alias(f"{prefix}rollup"),
    )
    return store.write_node_properties(f"coverage.{prefix[len('coverage_') : -1]}", rows)


__all__ = ["property_prefix", "write_back"]
