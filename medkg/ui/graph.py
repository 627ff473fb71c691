"""An in-memory, integer-indexed view of the stored graph for the workbench's look-ups.

The workbench reads the graph once from the store (embedded or Neo4j, through
:meth:`GraphStore.load`) and answers every page from this index, so an entity page or a
tree expansion on the full graph costs a few dictionary look-ups and two contiguous
slices of the edge table, never a scan (see bench/bench_ui.py).

Edges are kept twice, sorted by source row and by destination row, with CSR offsets, so
"the edges of node i" is a zero-copy polars slice in either direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from medkg.kg.model import KnowledgeGraph
from medkg.kg.search import search_keys, search_nodes

NODE_FIELDS = ("id", "kind", "name", "met_parent", "subtree_size", "depth", "rare")


@dataclass(frozen=True)
class NodeRef:
    """Just enough of a node to name and link it."""

    id: str
    kind: str
    name: str
    subtree_size: int


class GraphIndex:
    """Node rows by id, tree children, and edges by either end, over one graph snapshot."""

    def __init__(self, kg: KnowledgeGraph, location: str = "") -> None:
        self.location = location
        self.content_hash = kg.content_hash()
        self.sources = {s.name: s for s in kg.sources}
        nodes = kg.nodes
        self.nodes = nodes
        ids = nodes.get_column("id").to_list()
        self.ids = ids
        self.row = {node_id: i for i, node_id in enumerate(ids)}
        self.kinds = nodes.get_column("kind").to_list()
        self.names = nodes.get_column("name").to_list()
        has_tree = "met_parent" in nodes.columns
        self.parents: list[str | None] = (
            nodes.get_column("met_parent").to_list() if has_tree else [None] * len(ids)
        )
        self.sizes: list[int] = (
            nodes.get_column("subtree_size").fill_null(0).to_list() if has_tree else [1] * len(ids)
        )
        self.children: dict[str, list[int]] = {}
        for i, parent in enumerate(self.parents):
            if parent is not None:
                self.children.setdefault(parent, []).append(i)
        for kids in self.children.values():
            kids.sort(key=lambda i: (-self.sizes[i], ids[i]))
        self.root = next(
            (
                ids[i]
                for i, p in enumerate(self.parents)
                if p is None and has_tree and ids[i] in self.children
            ),
            None,
        )
        self._search_keys = search_keys(nodes)
        self._by_src, self._src_ptr = self._sorted_edges(kg.edges, "src")
        self._by_dst, self._dst_ptr = self._sorted_edges(kg.edges, "dst")

    def _sorted_edges(self, edges: pl.DataFrame, end: str) -> tuple[pl.DataFrame, np.ndarray]:
        lookup = pl.DataFrame(
            {"_end": self.ids, "_row": np.arange(len(self.ids), dtype=np.int64)},
            schema={"_end": pl.String(), "_row": pl.Int64()},
        )
        ordered = edges.join(lookup, left_on=end, right_on="_end", how="inner").sort(
            ["_row", "rel", "src", "dst"]
        )
        rows = ordered.get_column("_row").to_numpy()
        ptr = np.searchsorted(rows, np.arange(len(self.ids) + 1), side="left")
        return ordered.drop("_row"), ptr

    # ----------------------------------------------------------------- look-ups
    def __contains__(self, node_id: object) -> bool:
        return node_id in self.row

    def node(self, node_id: str) -> dict[str, Any] | None:
        """All columns of one node, or None."""
        i = self.row.get(node_id)
        return None if i is None else self.nodes.row(i, named=True)

    def ref(self, node_id: str) -> NodeRef | None:
        i = self.row.get(node_id)
        if i is None:
            return None
        return NodeRef(node_id, self.kinds[i], self.names[i], int(self.sizes[i] or 0))

    def name_of(self, node_id: str | None) -> str:
        i = self.row.get(node_id or "")
        return self.names[i] if i is not None else ""

    def edges_out(self, node_id: str, rel: str | None = None) -> pl.DataFrame:
        """Edges whose source is ``node_id`` (all relations, or one)."""
        return self._slice(self._by_src, self._src_ptr, node_id, rel)

    def edges_in(self, node_id: str, rel: str | None = None) -> pl.DataFrame:
        """Edges whose destination is ``node_id``."""
        return self._slice(self._by_dst, self._dst_ptr, node_id, rel)

    def _slice(
        self, table: pl.DataFrame, ptr: np.ndarray, node_id: str, rel: str | None
    ) -> pl.DataFrame:
        i = self.row.get(node_id)
        if i is None:
            return table.clear()
        part = table.slice(int(ptr[i]), int(ptr[i + 1] - ptr[i]))
        return part.filter(pl.col("rel") == rel) if rel else part

    def edges_of(self, rel: str) -> pl.DataFrame:
        """Every edge of one relation type (sorted by source)."""
        return self._by_src.filter(pl.col("rel") == rel)

    def met_path(self, node_id: str) -> list[NodeRef]:
        """The node, then its tree ancestors up to the root."""
        path: list[NodeRef] = []
        current: str | None = node_id
        while current is not None and current in self.row and len(path) <= len(self.ids):
            ref = self.ref(current)
            assert ref is not None
            path.append(ref)
            current = self.parents[self.row[current]]
        return path

    def met_children(
        self, node_id: str, offset: int = 0, limit: int = 200
    ) -> tuple[int, list[NodeRef]]:
        """(number of tree children, children ``offset .. offset+limit`` largest first)."""
        kids = self.children.get(node_id, [])
        out = [
            NodeRef(self.ids[i], self.kinds[i], self.names[i], int(self.sizes[i] or 0))
            for i in kids[offset : offset + limit]
        ]
        return len(kids), out

    def subtree_ids(self, node_id: str, cap: int | None = None) -> list[str]:
        """Ids of the node and everything below it in the tree (breadth first)."""
        if node_id not in self.row:
            return []
        out, queue = [node_id], [node_id]
        while queue and (cap is None or len(out) < cap):
            nxt = []
            for current in queue:
                for i in self.children.get(current, []):
                    out.append(self.ids[i])
                    nxt.append(self.ids[i])
            queue = nxt
        return out if cap is None else out[:cap]

    def search(self, text: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        """Ranked name/synonym matches (see :func:`medkg.kg.search.search_nodes`); an exact
        id (e.g. ``ORPHA:558``) comes first with score 1."""
        hits = search_nodes(self.nodes, text, limit=limit, kind=kind, keys=self._search_keys)
        query = text.strip()
        i = self.row.get(query) if ":" in query else None
        if i is not None and (kind is None or self.kinds[i] == kind):
            hits = [h for h in hits if h["id"] != query]
            hits.insert(
                0,
                {
                    "id": query,
                    "kind": self.kinds[i],
                    "name": self.names[i],
                    "score": 1.0,
                    "matched": query,
                },
            )
        return hits[:limit]

    def kind_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kind in self.kinds:
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))


__all__ = ["GraphIndex", "NodeRef"]
