"""Embedded store: a directory of Parquet files plus ``manifest.json``.

Layout::

    graph/
      nodes.parquet      one row per entity (NODE_SCHEMA + tree columns)
      edges.parquet      one row per relation (EDGE_SCHEMA)
      manifest.json      format, sources with versions and licences, counts, content hash

A save goes through :func:`medkg.outputs.staged_folder` (a staging folder beside the
store, swapped in atomically), so a crash leaves the previous graph intact and never a
half-written one, and a folder medkg did not write is never replaced;
``manifest.json`` is what :meth:`exists` checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import polars as pl

from medkg.config import default_graph_dir
from medkg.kg.model import KnowledgeGraph, SourceInfo
from medkg.kg.search import search_nodes
from medkg.kg.stores.base import GraphStore, SaveReport, StoreError, register_store
from medkg.kg.stores.locks import file_lock
from medkg.outputs import legacy_manifest, recover, staged_file, staged_folder

FORMAT = "medkg-embedded/1"
KIND = "embedded-store"
LEGACY = legacy_manifest(format=FORMAT)


@register_store("embedded")
class EmbeddedStore(GraphStore):
    """Parquet files in a folder; the default store when no Neo4j server is configured."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_graph_dir()

    # ----------------------------------------------------------------- write
    def _writer_lock(self) -> contextlib.AbstractContextManager[Any]:
        lock = self.path.with_name(f".{self.path.name}.lock")
        return file_lock(lock, self.describe_location(), wait=self.lock_wait)

    def _save(self, kg: KnowledgeGraph) -> SaveReport:
        start = time.perf_counter()
        with staged_folder(self.path, KIND, legacy=LEGACY) as tmp:
            nodes, edges = kg.canonical()
            # Small row groups over id-sorted rows let look-ups skip most of the file.
            nodes.write_parquet(
                tmp / "nodes.parquet", compression="zstd", statistics=True, row_group_size=4096
            )
            edges.write_parquet(
                tmp / "edges.parquet", compression="zstd", statistics=True, row_group_size=16384
            )
            content_hash = kg.content_hash()
            manifest = {
                "format": FORMAT,
                "content_hash": content_hash,
                "counts": kg.counts(),
                "sources": [s.to_dict() for s in kg.sources],
                "report": kg.report,
            }
            (tmp / "manifest.json").write_text(
                json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8"
            )
        return SaveReport(
            store=self.key,
            location=str(self.path),
            nodes=kg.nodes.height,
            edges=kg.edges.height,
            content_hash=content_hash,
            seconds=time.perf_counter() - start,
        )

    # ----------------------------------------------------------------- read
    def local_folder(self) -> Path | None:
        return self.path

    def write_node_properties(self, overlay: str, rows: pl.DataFrame) -> int:
        """``<overlay>.parquet`` next to the graph's tables (its files and content hash stay
        untouched)."""
        self.manifest()  # raises when the store holds no graph
        with staged_file(self.path / f"{overlay}.parquet") as tmp:
            rows.write_parquet(tmp)
        return rows.height

    def exists(self) -> bool:
        if not self.path.exists():
            recover(self.path)  # a swap a crash interrupted (see medkg.outputs)
        return (self.path / "manifest.json").is_file()

    def describe_location(self) -> str:
        return f"embedded store {self.path}"

    def manifest(self) -> dict[str, Any]:
        if not self.exists():
            raise StoreError(
                f"{self.describe_location()} holds no graph; run `medkg kg build` first"
            )
        try:
            data: dict[str, Any] = json.loads((self.path / "manifest.json").read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.path / 'manifest.json'}: unreadable manifest: {exc}") from exc
        if data.get("format") != FORMAT:
            raise StoreError(
                f"{self.path / 'manifest.json'}: format {data.get('format')!r}, expected {FORMAT!r}"
            )
        return data

    def _load(self) -> KnowledgeGraph:
        manifest = self.manifest()
        try:
            nodes = pl.read_parquet(self.path / "nodes.parquet")
            edges = pl.read_parquet(self.path / "edges.parquet")
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise StoreError(f"{self.path}: cannot read Parquet tables: {exc}") from exc
        sources = [SourceInfo(**s) for s in manifest.get("sources", [])]
        return KnowledgeGraph(
            nodes=nodes, edges=edges, sources=sources, report=manifest.get("report", {})
        )

    def _scan(self, table: str) -> pl.LazyFrame:
        if not self.exists():
            raise StoreError(
                f"{self.describe_location()} holds no graph; run `medkg kg build` first"
            )
        return pl.scan_parquet(self.path / f"{table}.parquet")

    def get_node(self, node_id: str) -> dict[str, Any] | None:
        hit = self._scan("nodes").filter(pl.col("id") == node_id).collect()
        return hit.row(0, named=True) if hit.height else None

    def neighbours(self, node_id: str) -> list[dict[str, Any]]:
        edges = (
            self._scan("edges")
            .filter((pl.col("src") == node_id) | (pl.col("dst") == node_id))
            .collect()
        )
        out = edges.with_columns(
            pl.when(pl.col("src") == node_id)
            .then(pl.lit("out"))
            .otherwise(pl.lit("in"))
            .alias("direction"),
            pl.when(pl.col("src") == node_id)
            .then(pl.col("dst"))
            .otherwise(pl.col("src"))
            .alias("other"),
        )
        names = (
            self._scan("nodes")
            .select(
                pl.col("id").alias("other"),
                pl.col("name").alias("other_name"),
                pl.col("kind").alias("other_kind"),
            )
            .join(out.lazy().select("other").unique(), on="other", how="semi")
            .collect()
        )
        out = out.join(names, on="other", how="left").sort(["rel", "direction", "other"])
        return out.to_dicts()

    def search(self, text: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        return search_nodes(self._scan("nodes"), text, limit=limit, kind=kind)

    def _tree_columns(self) -> pl.DataFrame:
        return self._scan("nodes").select("id", "kind", "name", "met_parent").collect()

    def met_path(self, node_id: str) -> list[dict[str, Any]]:
        table = self._tree_columns()
        ids = table.get_column("id").to_list()
        index = dict(zip(ids, range(len(ids)), strict=True))
        kinds, names, parents = (
            table.get_column(c).to_list() for c in ("kind", "name", "met_parent")
        )
        path: list[dict[str, Any]] = []
        current: str | None = node_id
        while current in index and len(path) <= len(ids):
            i = index[current]
            path.append({"id": current, "kind": kinds[i], "name": names[i]})
            current = parents[i]
        return path

    def met_children(self, node_id: str, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        kids = (
            self._scan("nodes")
            .filter(pl.col("met_parent") == node_id)
            .select("id", "kind", "name", "subtree_size")
            .sort(["subtree_size", "id"], descending=[True, False])
            .collect()
        )
        return kids.height, kids.head(limit).to_dicts()
