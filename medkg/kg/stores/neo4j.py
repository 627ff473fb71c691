"""Neo4j store: the graph as ``(:Entity:<Kind>)`` nodes and typed relationships.

Layout (see :mod:`medkg.kg.cypher` for the exact Cypher):

* each node-table row is one ``(:Entity:<Kind>)`` node; each column is a property (lists
  stay lists, nulls are absent, ``props`` stays its JSON string). Tree columns are stored
  the same way and also drawn as ``(child)-[:MET_PARENT {met_tree: true}]->(parent)``
  so curators can browse the MET in Neo4j Browser; those links are never read back as
  edge rows;
* each edge-table row is one relationship carrying a deterministic ``key`` (a hash over
  all its columns; exact duplicate rows get ``-1``, ``-2``, ... so none collapse) that
  writes MERGE on, so saving twice changes nothing; a uniqueness constraint per type on
  ``key`` gives MERGE a unique index to seek;
* ``(:MedkgMeta {id: "graph"})`` records the load state (``loading`` until the last batch
  is in, then ``complete``), content hash, counts, sources, report and the column types
  that let :meth:`Neo4jStore.load` rebuild the exact tables.

A save writes in transactions of at most ``batch_size`` rows (a batch travels as one list
per column, not one map per row, see :func:`column_batches`), replaces a previous graph (entities and
relationships not in the new one are deleted) and is safe to re-run after a crash; a
store whose last save did not finish says so instead of serving a partial graph.
The ``neo4j`` driver is imported lazily, so ``medkg kg ...`` starts fast without it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.config import Neo4jSettings
from medkg.errors import UsageError
from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph, SourceInfo
from medkg.kg.stores.base import GraphStore, SaveReport, StoreError, register_store
from medkg.kg.stores.locks import neo4j_lock
from medkg.kg.stores.neo4j_connection import START_HINT, Neo4jConnection, summary_counters
from medkg.kg.stores.neo4j_tables import (
    Batch,
    batch_rows,
    column_batches,
    dtype_from_name,
    dtype_name,
    edge_keys,
    key_batches,
    rows_frame,
    storable_tables,
    stored_schema,
)

if TYPE_CHECKING:
    from neo4j import Driver

FORMAT = "medkg-neo4j/1"
DEFAULT_BATCH_SIZE = 10_000


@register_store("neo4j")
class Neo4jStore(Neo4jConnection, GraphStore):
    """A Neo4j database (5.x, Community is enough) reached over Bolt."""

    def __init__(
        self,
        uri: str | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        settings: Neo4jSettings | None = None,
    ) -> None:
        env = settings or Neo4jSettings.from_env()
        resolved_uri = uri or (env.uri if env else None)
        if not resolved_uri:
            raise StoreError(f"no Neo4j server configured: {START_HINT}")
        self.settings = Neo4jSettings.resolve(resolved_uri, user, password, database, env)
        if batch_size < 1:
            raise UsageError("batch_size must be at least 1")
        self.batch_size = batch_size
        self._driver_obj: Driver | None = None

    def _writer_lock(self) -> contextlib.AbstractContextManager[Any]:
        return neo4j_lock(self._driver, self.settings.database, self.describe_location(),
                          self.lock_wait, self._errors)  # fmt: skip

    def write_batches(
        self, batches: Iterable[Batch], action: str, rows_total: int = 0
    ) -> dict[str, int]:
        """Run the batches in write transactions of at most ``batch_size`` rows; summed counters.

        Consecutive small batches (a rare kind, a small relationship type) share one
        transaction, so a save commits about once per ``batch_size`` rows, not once per group.
        With ``rows_total``, :attr:`save_progress` hears ``(action, rows done, rows_total)``
        after every transaction.
        """
        total: Counter[str] = Counter()
        done = 0

        def commit(group: list[Batch], rows: int) -> None:
            nonlocal done
            total.update(session.execute_write(work, group))
            done += rows
            if rows_total and self.save_progress is not None:
                self.save_progress(action, done, rows_total)

        def work(tx: Any, group: list[Batch]) -> Counter[str]:
            got: Counter[str] = Counter()
            for query, params in group:
                got.update(summary_counters(tx.run(query, params).consume()))
            return got

        with self._errors(action), self._session() as session:
            group: list[Batch] = []
            rows = 0
            for batch in batches:
                n = batch_rows(batch)
                if group and rows + n > self.batch_size:
                    commit(group, rows)
                    group, rows = [], 0
                group.append(batch)
                rows += n
            if group:
                commit(group, rows)
        return dict(total)

    _write_batches = write_batches  # the name the coverage write-back looks up

    # ----------------------------------------------------------------- meta
    def _meta(self) -> dict[str, Any] | None:
        rows = self._read(cypher.read_meta(), "reading the graph metadata", meta_id=cypher.META_ID)
        return rows[0]["meta"] if rows else None

    def complete(self, meta: dict[str, Any]) -> None:
        """Record ``meta`` (:func:`graph_meta`) as the meta node: the graph is complete."""
        self._set_meta(meta)

    def _set_meta(self, props: dict[str, Any]) -> None:
        self._run(
            cypher.set_meta(), "recording the load state", meta_id=cypher.META_ID, props=props
        )

    def _complete_meta(self) -> dict[str, Any]:
        return self.check_complete(
            self._read(cypher.read_meta(), "reading the graph metadata", meta_id=cypher.META_ID)
        )

    def check_complete(self, meta_rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The meta node's properties from the rows of :func:`medkg.kg.cypher.read_meta`;
        StoreError when the database holds no graph, a half-loaded one or another format."""
        meta = meta_rows[0]["meta"] if meta_rows else None
        if meta is None:
            raise StoreError(
                f"{self.describe_location()} holds no graph; run `medkg kg build` first"
            )
        if meta.get("state") != "complete":
            raise StoreError(
                f"{self.describe_location()} holds a half-loaded graph (a save started "
                f"{meta.get('started_at', '?')} did not finish); re-run the build "
                "(`medkg kg build`) to load it again"
            )
        if meta.get("format") != FORMAT:
            raise StoreError(
                f"{self.describe_location()}: graph format {meta.get('format')!r}, expected {FORMAT!r}"
            )
        return meta

    def exists(self) -> bool:
        meta = self._meta()
        return meta is not None and meta.get("state") == "complete"

    def _check_loadable(self) -> None:
        """StoreError when the database holds no graph, a half-loaded one or another format."""
        self._complete_meta()

    def manifest(self) -> dict[str, Any]:
        meta = self._complete_meta()
        return {
            "format": meta["format"],
            "content_hash": meta["content_hash"],
            "counts": json.loads(meta["counts"]),
            "sources": json.loads(meta["sources"]),
            "report": json.loads(meta["report"]),
            "state": meta["state"],
            "saved_at": meta.get("saved_at"),
            "seconds": meta.get("seconds"),
            "location": self.describe_location(),
        }

    # ----------------------------------------------------------------- write
    def _save(self, kg: KnowledgeGraph) -> SaveReport:
        start = time.perf_counter()
        nodes, edges = kg.nodes, kg.edges
        # Everything that could refuse the graph is checked before the first write.
        node_columns, edge_columns, rels = storable_tables(nodes, edges)
        content_hash = kg.content_hash()
        keys = edge_keys(edges)
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        schema_names = self._schema_names()
        self._ensure_schema(cypher.schema_statements(), schema_names)
        self._set_meta(
            {
                "format": FORMAT,
                "state": "loading",
                "content_hash": content_hash,
                "started_at": started_at,
            }
        )
        details: Counter[str] = Counter()

        # Which entities and relationships the new graph no longer has. An empty database
        # (no entities) has no medkg relationships either: nothing to read back.
        old_kinds = {
            r["id"]: r["kind"]
            for r in self._read(cypher.read_entity_ids(), "reading existing entities")
        }
        stale: dict[str, list[str]] = defaultdict(list)
        if old_kinds:
            new_keys = set(keys)
            for row in self._read(cypher.read_edge_keys(), "reading existing relationships"):
                if row["key"] not in new_keys:
                    stale[row["rel"]].append(row["key"])
        rel_types = sorted(set(rels) | set(stale))
        for rel in rel_types:  # a store saved before the key constraints has plain indexes
            legacy = cypher.legacy_relationship_key_index_name(rel)
            if legacy in schema_names:
                self._run(cypher.drop_index(legacy), "replacing a relationship key index")
                schema_names.discard(legacy)
        self._ensure_schema(
            [cypher.relationship_key_constraint(rel) for rel in rel_types], schema_names
        )
        for rel, rel_keys in sorted(stale.items()):
            got = self.write_batches(
                key_batches(cypher.delete_edges(rel), "keys", rel_keys, self.batch_size),
                "deleting old relationships",
            )
            details["relationships_deleted"] += got.get("relationships_deleted", 0)
        ids = nodes.get_column("id").to_list()
        new_ids = set(ids)
        gone = [i for i in old_kinds if i not in new_ids]
        if gone:
            got = self.write_batches(
                key_batches(cypher.delete_entities(), "ids", gone, self.batch_size),
                "deleting old entities",
            )
            details["nodes_deleted"] += got.get("nodes_deleted", 0)
            details["relationships_deleted"] += got.get("relationships_deleted", 0)

        # Entities whose kind changed lose their old kind label.
        relabel: dict[str, list[str]] = defaultdict(list)  # old kind label -> ids
        if old_kinds:
            for node_id, kind in zip(ids, nodes.get_column("kind").to_list(), strict=True):
                old = old_kinds.get(node_id)
                if old is not None and old != kind and cypher.NAME_RE.match(old):
                    relabel[old].append(node_id)
        for label, label_ids in sorted(relabel.items()):
            self.write_batches(
                key_batches(cypher.remove_kind_label(label), "ids", label_ids, self.batch_size),
                "fixing kind labels",
            )

        # Entities, grouped by kind label, sent as columns.
        node_props = [c for c in nodes.columns if c != "id"]
        by_kind = sorted(
            nodes.partition_by("kind", as_dict=True, maintain_order=True).items(),
            key=lambda kv: kv[0][0] or "",
        )
        got = self.write_batches(
            (
                batch
                for (kind,), part in by_kind
                for batch in column_batches(
                    part,
                    self.batch_size,
                    {"ids": "id"},
                    node_props,
                    functools.partial(cypher.merge_nodes, kind),
                )
            ),
            "writing entities",
            nodes.height,
        )
        details.update({k: v for k, v in got.items() if k in ("nodes_created", "properties_set")})

        # Edges, grouped by relationship type, each MERGEd on its key.
        edge_props = [c for c in edges.columns if c not in ("src", "rel", "dst")]
        keyed = edges.with_columns(pl.Series("key", keys, dtype=pl.String()))
        by_rel = sorted(keyed.partition_by("rel", as_dict=True, maintain_order=True).items())
        got = self.write_batches(
            (
                batch
                for (rel,), part in by_rel
                for batch in column_batches(
                    part,
                    self.batch_size,
                    {"keys": "key", "src": "src", "dst": "dst"},
                    edge_props,
                    functools.partial(cypher.merge_edges, rel),
                )
            ),
            "writing relationships",
            edges.height,
        )
        details["relationships_created"] += got.get("relationships_created", 0)

        # The MET as browsable MET_PARENT links (derived; never read back as edge rows).
        if old_kinds:  # only a database that held a graph can have stale tree links
            self._run(cypher.delete_stale_tree_links(), "updating tree links")
        if "met_parent" in nodes.columns:
            tree = nodes.select("id", "met_parent").filter(pl.col("met_parent").is_not_null())
            linked = self._tree_links(tree)
            details["met_parent_links"] = linked
            details["met_parent_missing"] = tree.height - linked

        self.complete(
            graph_meta(
                kg, content_hash, node_columns, edge_columns,
                started_at=started_at, seconds=time.perf_counter() - start,
                tree_links=details.get("met_parent_links", 0),
            )
        )  # fmt: skip
        return SaveReport(
            store=self.key,
            location=self.describe_location(),
            nodes=nodes.height,
            edges=edges.height,
            content_hash=content_hash,
            seconds=time.perf_counter() - start,
            details=dict(details),
        )

    def ensure_schema(self, statements: list[str]) -> None:
        """Create those of ``statements`` (constraints, indexes; see :mod:`medkg.kg.cypher`)
        the database lacks, then wait until every index is online."""
        self._ensure_schema(statements, self._schema_names())

    def _schema_names(self) -> set[str]:
        """Names of the indexes and constraints the database has."""
        return {
            r["name"]
            for query in cypher.show_schema_names()
            for r in self._read(query, "reading indexes")
        }

    def _ensure_schema(self, statements: list[str], existing: set[str]) -> None:
        """Create the indexes/constraints not in ``existing`` (updated), then wait for them.

        Plain and full-text indexes go first: Neo4j populates them in the background, while
        a uniqueness constraint is built and checked inside its own statement, so on a
        database that already holds data (an offline import) the two overlap."""
        missing = sorted(
            (s for s in statements if cypher.statement_name(s) not in existing),
            key=lambda s: s.startswith("CREATE CONSTRAINT"),
        )
        for statement in missing:
            self._run(statement, "creating constraints and indexes")
            existing.add(cypher.statement_name(statement))
        if missing:
            self._run(cypher.await_indexes(), "waiting for indexes", timeout_seconds=300)

    def _tree_links(self, tree: pl.DataFrame) -> int:
        """Draw the MET links for ``tree`` rows (id, met_parent); returns how many were drawn."""
        linked = 0

        def work(tx: Any, params: dict[str, Any]) -> int:
            return sum(r["linked"] for r in tx.run(cypher.merge_tree_links(), params))

        with self._errors("writing tree links"), self._session() as session:
            for start in range(0, tree.height, self.batch_size):
                part = tree.slice(start, self.batch_size)
                params = {"ids": part.get_column("id").to_list()}
                params["parents"] = part.get_column("met_parent").to_list()
                linked += session.execute_write(work, params)
        return linked

    def clear(self) -> int:
        """Delete every medkg entity, relationship and the metadata; returns nodes deleted."""
        # Relationships first, so no node batch drags a hub's thousands of them along.
        for query in (cypher.clear_relationships_batch(), cypher.clear_batch()):
            deleted = 0
            while True:
                rows = self._read_write(query, "clearing the graph", limit=self.batch_size)
                n = rows[0]["deleted"] if rows else 0
                deleted += n
                if n == 0:
                    break
        return deleted

    # ----------------------------------------------------------------- read
    def _load(self) -> KnowledgeGraph:
        meta = self._complete_meta()
        node_schema, node_absent = stored_schema(meta, "nodes")
        edge_schema, edge_absent = stored_schema(meta, "edges")
        node_rows = self._read(cypher.read_nodes(), "reading entities")
        nodes = rows_frame((r["props"] for r in node_rows), node_schema, node_absent)
        edge_rows = self._read(cypher.read_edges(), "reading relationships")
        edges = rows_frame(
            ({**r["props"], "src": r["src"], "rel": r["rel"], "dst": r["dst"]} for r in edge_rows),
            edge_schema,
            edge_absent,
        )
        if nodes.height != json.loads(meta["counts"]).get("nodes") or edges.height != json.loads(
            meta["counts"]
        ).get("edges"):
            raise StoreError(
                f"{self.describe_location()} holds {nodes.height} entities and {edges.height} "
                f"relationships, but its last save recorded {meta['counts']}; the database was "
                "changed outside medkg - re-run the build"
            )
        kg = KnowledgeGraph(
            nodes=nodes,
            edges=edges,
            sources=[SourceInfo(**s) for s in json.loads(meta["sources"])],
            report=json.loads(meta["report"]),
        )
        kg.nodes, kg.edges = kg.canonical()
        return kg

    def stats_view(self) -> KnowledgeGraph:
        from medkg.kg.stores.neo4j_stats import stats_view

        return stats_view(self)

    def get_node(self, node_id: str) -> dict[str, Any] | None:
        schema, absent = stored_schema(self._complete_meta(), "nodes")
        rows = self._read(cypher.get_node(), "reading an entity", id=node_id)
        if not rows:
            return None
        return rows_frame([rows[0]["props"]], schema, absent).row(0, named=True)

    def neighbours(self, node_id: str) -> list[dict[str, Any]]:
        edge_schema, absent = stored_schema(self._complete_meta(), "edges")
        schema = {
            **edge_schema,
            "direction": pl.String(),
            "other": pl.String(),
            "other_name": pl.String(),
            "other_kind": pl.String(),
        }
        seen: set[str] = set()
        rows = []
        for r in self._read(cypher.neighbours(), "reading neighbours", id=node_id):
            key = r["props"].get("key")
            if key in seen:  # a self-loop matches once per direction
                continue
            seen.add(key)
            rows.append(
                {
                    **r["props"],
                    "src": r["src"],
                    "rel": r["rel"],
                    "dst": r["dst"],
                    "direction": "out" if r["src"] == node_id else "in",
                    "other": r["other"],
                    "other_name": r["other_name"],
                    "other_kind": r["other_kind"],
                }
            )
        frame = rows_frame(rows, schema, absent)
        order = [
            "rel",
            "direction",
            "other",
            *[c for c in schema if c not in ("rel", "direction", "other")],
        ]
        sortable = [c for c in order if not isinstance(schema[c], pl.List)]
        return frame.sort(sortable, nulls_last=True).to_dicts()

    def search(self, text: str, limit: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        """Entities whose name or synonyms match ``text``, ranked like the embedded store.

        The full-text index over name and synonyms finds candidates; they are re-ranked
        with :func:`medkg.kg.search.search_nodes`, so both stores order results alike.
        """
        from medkg.kg.resolve import normalise_name
        from medkg.kg.search import search_nodes

        schema, absent = stored_schema(self._complete_meta(), "nodes")
        words = normalise_name(text)
        if not words:
            return []
        rows = self._read(
            cypher.search(),
            "searching entity names",
            text=cypher.lucene_query(words),
            kind=kind,
            limit=max(200, 20 * limit),
        )
        cand_schema = {c: schema.get(c, pl.String()) for c in ("id", "kind", "name", "synonyms")}
        cand_schema["synonyms"] = pl.List(pl.String())
        if "annotation_degree" in schema:
            cand_schema["annotation_degree"] = schema["annotation_degree"]
        candidates = rows_frame(rows, cand_schema, absent)
        return search_nodes(candidates, text, limit=limit, kind=kind)

    def met_children(self, node_id: str, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
        self._complete_meta()
        rows = self._read(cypher.met_children(), "reading tree children", id=node_id, limit=limit)
        if not rows:
            return 0, []
        return int(rows[0]["total"]), list(rows[0]["children"])


def graph_meta(
    kg: KnowledgeGraph,
    content_hash: str,
    node_columns: list[list[str]],
    edge_columns: list[list[str]],
    *,
    started_at: str,
    seconds: float,
    tree_links: int,
    **extra: Any,
) -> dict[str, Any]:
    """The meta node of a complete save of ``kg``: what :meth:`Neo4jStore.load` needs to
    rebuild the exact tables, the counts it checks, and the summary `kg stats` reads
    (:func:`medkg.kg.stores.neo4j_stats.stats_summary`); ``extra`` is recorded as given."""
    from medkg.kg.stores.neo4j_stats import stats_summary

    return {
        "format": FORMAT,
        "state": "complete",
        "content_hash": content_hash,
        "counts": json.dumps(kg.counts(), sort_keys=True),
        "sources": json.dumps([s.to_dict() for s in kg.sources], sort_keys=True),
        "report": json.dumps(kg.report, sort_keys=True, default=str),
        "node_columns": json.dumps(node_columns),
        "edge_columns": json.dumps(edge_columns),
        "tree_links": tree_links,
        "stats_summary": json.dumps(stats_summary(kg.nodes), sort_keys=True),
        "started_at": started_at,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        **extra,
    }


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "FORMAT",
    "Neo4jStore",
    "dtype_from_name",
    "dtype_name",
    "edge_keys",
]
