"""The store interface: persist a :class:`KnowledgeGraph` and read it back.

Template method: :meth:`GraphStore.save` validates the graph once, here, and hands a
clean graph to the backend's ``_save``; backends implement ``_save``, ``_load`` and the
small read helpers curators use (``get_node``, ``search``, ``neighbours``). A registry
maps a config key (``embedded``, ``neo4j``) to the class, so callers never branch on
backends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import polars as pl

from medkg.errors import MedkgError
from medkg.kg.model import KnowledgeGraph
from medkg.progress import Progress
from medkg.registry import Registry

log = logging.getLogger(__name__)


class StoreError(MedkgError, RuntimeError):
    """A store could not be read or written; the message says which and why."""


class GraphValidationError(StoreError):
    """The graph handed to a store breaks an invariant (duplicate ids, dangling edges)."""


@dataclass
class SaveReport:
    """What a save did: rows written per table, time taken, the graph hash."""

    store: str
    location: str
    nodes: int
    edges: int
    content_hash: str
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def validate_graph(kg: KnowledgeGraph) -> None:
    """Raise :class:`GraphValidationError` for duplicate node ids or edges to unknown nodes."""
    ids = kg.nodes.get_column("id")
    if ids.null_count():
        raise GraphValidationError(f"{ids.null_count()} node(s) have no id")
    dup = kg.nodes.group_by("id").len().filter(pl.col("len") > 1)
    if dup.height:
        sample = ", ".join(dup.get_column("id").head(5).to_list())
        raise GraphValidationError(f"{dup.height} duplicate node id(s), e.g. {sample}")
    known = kg.nodes.select("id")
    for end in ("src", "dst"):
        dangling = (
            kg.edges.select(pl.col(end).alias("id")).unique().join(known, on="id", how="anti")
        )
        if dangling.height:
            sample = ", ".join(sorted(dangling.get_column("id").head(5).to_list()))
            raise GraphValidationError(
                f"{dangling.height} edge {end} id(s) are not nodes of the graph, e.g. {sample}"
            )


class GraphStore(ABC):
    """Persist and reload a knowledge graph; answer the look-ups curators make."""

    key: ClassVar[str]
    lock_wait: float = 0.0
    """Seconds a writer waits for another writer's lock before giving up (0: fail at once)."""
    save_progress: Progress | None = None
    """Called as ``(step, rows_done, rows_total)`` while a long save writes (Neo4j)."""
    _lock_depth: int = 0

    def save(self, kg: KnowledgeGraph) -> SaveReport:
        """Validate, then write the whole graph, replacing what the store held; one writer
        at a time (see :meth:`writing`)."""
        validate_graph(kg)
        with self.writing():
            start = time.perf_counter()
            report = self._save(kg)
        log.info("saved %d nodes, %d edges to %s in %.2f s", kg.nodes.height, kg.edges.height,
                 self.describe_location(), time.perf_counter() - start)  # fmt: skip
        return report

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's single-writer lock for the block (re-entrant). A second writer
        gets :class:`~medkg.errors.LockedError` naming the holder, or waits ``lock_wait`` s."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with self._writer_lock():
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def _writer_lock(self) -> contextlib.AbstractContextManager[Any]:
        """The backend's lock; none by default."""
        return contextlib.nullcontext()

    def load(self) -> KnowledgeGraph:
        """Read the whole graph back; StoreError (from :meth:`_check_loadable`) when it cannot."""
        self._check_loadable()
        start = time.perf_counter()
        kg = self._load()
        log.info("loaded %d nodes, %d edges from %s in %.2f s", kg.nodes.height, kg.edges.height,
                 self.describe_location(), time.perf_counter() - start)  # fmt: skip
        return kg

    def stats_view(self) -> KnowledgeGraph:
        """A graph with at least the columns :func:`medkg.kg.build.stats` reads; backends
        that can aggregate in place (Neo4j) avoid loading the whole graph."""
        return self.load()

    def _check_loadable(self) -> None:
        """Raise StoreError when there is no complete graph to load; backends may say more."""
        if not self.exists():
            raise StoreError(
                f"{self.describe_location()} holds no graph; run `medkg kg build` first"
            )

    @abstractmethod
    def _save(self, kg: KnowledgeGraph) -> SaveReport: ...

    @abstractmethod
    def _load(self) -> KnowledgeGraph: ...

    @abstractmethod
    def exists(self) -> bool:
        """True when the store holds a complete graph."""

    @abstractmethod
    def describe_location(self) -> str:
        """Where the store lives, for messages (a path or a Bolt URI, never a password)."""

    @abstractmethod
    def manifest(self) -> dict[str, Any]:
        """Sources, versions, counts and content hash of the stored graph."""

    @abstractmethod
    def get_node(self, node_id: str) -> dict[str, Any] | None:
        """One node's properties, or None."""

    @abstractmethod
    def neighbours(self, node_id: str) -> list[dict[str, Any]]:
        """Edges touching a node: dicts with src, rel, dst, direction and the other node's name."""

    @abstractmethod
    def search(self, text: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        """Entities whose name or synonyms match ``text``, best first (id, kind, name, score)."""

    def local_folder(self) -> Path | None:
        """The folder holding the graph's files, for readers that take one (the ``graph``
        corpus reader); ``None`` for a store that keeps the graph elsewhere (a server)."""
        return None

    def write_node_properties(self, overlay: str, rows: pl.DataFrame) -> int:
        """Attach extra per-node properties (e.g. coverage counts) without changing the graph.

        ``rows`` has an ``id`` column and one column per property; ``overlay`` names the set
        (``[a-z0-9_.]``; an embedded store keeps it as ``<overlay>.parquet`` beside the graph).
        Idempotent: the same rows write the same values. Returns the rows written. Callers
        hold :meth:`writing`. Raises :class:`StoreError` where the store cannot do it."""
        raise StoreError(f"{self.describe_location()} does not support node property write-back")

    def met_children(self, node_id: str, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        """Children of a node in the medical entity tree: (total count, first ``limit``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list tree children")

    def met_path(self, node_id: str) -> list[dict[str, Any]]:
        """The node and its primary ancestors up to the MET root (id, kind, name)."""
        path: list[dict[str, Any]] = []
        seen: set[str] = set()
        current: str | None = node_id
        while current and current not in seen:
            seen.add(current)
            node = self.get_node(current)
            if node is None:
                break
            path.append({"id": node["id"], "kind": node.get("kind"), "name": node.get("name")})
            current = node.get("met_parent")
        return path

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Backends by name, imported on first use (neo4j's driver only when a Neo4j store is asked
# for); third-party backends arrive through the ``medkg.stores`` entry-point group.
STORES: Registry[type[GraphStore]] = Registry(
    "store",
    group="medkg.stores",
    error=StoreError,
    lazy={
        "embedded": "medkg.kg.stores.embedded:EmbeddedStore",
        "neo4j": "medkg.kg.stores.neo4j:Neo4jStore",
    },
)

#: Class decorator: ``@register_store("name")`` adds a backend to :data:`STORES`.
register_store = STORES.register


def default_store_key(env: dict[str, str] | None = None) -> str:
    """``neo4j`` when NEO4J_URI is set, else ``embedded``."""
    env = dict(os.environ) if env is None else env
    return "neo4j" if env.get("NEO4J_URI") else "embedded"


def open_store(key: str | None = None, **options: Any) -> GraphStore:
    """Build the store named by ``key`` (default from the environment) with its options."""
    return STORES.build(key or default_store_key(), **options)
