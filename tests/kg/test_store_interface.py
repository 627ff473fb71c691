"""What the store interface offers callers instead of branching on a store's class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import GraphStore, SaveReport, StoreError
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore


class MinimalStore(GraphStore):
    """A store that implements only what is abstract (a third-party backend's first cut)."""

    def _save(self, kg: KnowledgeGraph) -> SaveReport:
        raise NotImplementedError

    def _load(self) -> KnowledgeGraph:
        raise NotImplementedError

    def exists(self) -> bool:
        return True

    def describe_location(self) -> str:
        return "minimal://"

    def manifest(self) -> dict[str, Any]:
        return {}

    def get_node(self, node_id: str) -> dict[str, Any] | None:
        return None

    def neighbours(self, node_id: str) -> list[dict[str, Any]]:
        return []

    def search(self, text: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        return []


def test_local_folder(tmp_path: Path) -> None:
    assert EmbeddedStore(tmp_path / "g").local_folder() == tmp_path / "g"
    # a server store keeps no files here (the constructor does no I/O)
    assert Neo4jStore(uri="bolt://127.0.0.1:1", password="x").local_folder() is None
    assert MinimalStore().local_folder() is None


def test_write_node_properties_is_refused_where_unsupported() -> None:
    rows = pl.DataFrame({"id": ["HP:1"], "coverage_x_items": [1]})
    with pytest.raises(StoreError, match="minimal:// does not support node property write-back"):
        MinimalStore().write_node_properties("coverage.x", rows)


def test_embedded_write_node_properties_needs_a_graph(tmp_path: Path) -> None:
    rows = pl.DataFrame({"id": ["HP:1"], "coverage_x_items": [1]})
    with pytest.raises(StoreError, match="holds no graph"):
        EmbeddedStore(tmp_path / "empty").write_node_properties("coverage.x", rows)
    assert not (tmp_path / "empty" / "coverage.x.parquet").exists()
