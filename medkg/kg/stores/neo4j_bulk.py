"""A fresh Neo4j database in one pass through Neo4j's own offline importer.

The online path (:class:`medkg.kg.stores.neo4j.Neo4jStore`) MERGEs rows in batched
transactions: idempotent, incremental, and bounded by transaction overhead. For a new
database, ``neo4j-admin database import full`` (the ``neo4j-import-tool`` jar, already in
the local server's runtime) writes the store files directly. This module

1. writes the graph as the importer's CSV files (typed headers; entities labelled
   ``Entity`` + their kind, relationships keyed as the online path keys them, and the MET's
   ``MET_PARENT`` links) into a staging folder;
2. runs the importer on a stopped server's data folder (``WORK_DIR/data``), replacing the
   database only with ``overwrite=True``, while this process computes the graph's content
   hash for the meta node;
3. finishes the database once the server is up again (:func:`finish_import`, through the
   store's public schema, transaction and meta methods): its constraints and indexes, a
   count-store check that it holds the graph, and the meta node that marks it complete.

The importer cannot write an empty array (an empty field leaves the property absent, see
neo4j/neo4j#13566). A list column that holds no nulls is therefore recorded in the meta node
as "absent means empty" and reads back ``[]`` (no write needed); only a list column that
holds both nulls and empty lists gets ``[]`` written on its empty rows afterwards. The graph
reads back identical to the online path's (the store conformance round trip checks it);
in Cypher, such a property is absent where the online path stores ``[]``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph
from medkg.kg.neo4j_server import JAVA_OPENS, Neo4jRuntime, Neo4jServerError
from medkg.kg.stores.base import SaveReport, StoreError
from medkg.kg.stores.neo4j_tables import edge_keys, storable_tables, tree_link_rows

if TYPE_CHECKING:
    from medkg.kg.stores.neo4j import Neo4jStore

# Unit separator, never inside a name or synonym; the importer also splits labels on it.
ARRAY_DELIMITER = "\x1f"
ID_SPACE = cypher.ENTITY
_CSV_TYPES = {
    "String": "string", "Boolean": "boolean", "Float32": "float", "Float64": "double",
    "Int8": "byte", "Int16": "short", "Int32": "int", "Int64": "long",
    "UInt8": "short", "UInt16": "int", "UInt32": "long",
}  # fmt: skip


@dataclass
class BulkFiles:
    """The importer's input: node and relationship CSV files, with what they hold.

    ``absent_empty`` names per table (``nodes``/``edges``) the list columns whose empty
    lists the files leave absent and that read back as ``[]``; ``later`` holds the values
    the files cannot carry (an empty list in a column that also holds nulls, ``[""]``),
    per table and column as ``(id or key, rel, value)``, written once the server is up."""

    folder: Path
    nodes: list[Path] = field(default_factory=list)
    relationships: list[Path] = field(default_factory=list)
    node_rows: int = 0
    relationship_rows: int = 0
    tree_links: int = 0
    multiline: bool = False
    absent_empty: dict[str, list[str]] = field(default_factory=dict)
    later: dict[str, dict[str, list[tuple[str, str | None, list[Any]]]]] = field(
        default_factory=dict
    )


@dataclass
class BulkImport:
    """What :func:`bulk_import` did: rows, phase timings, and what :func:`finish_import`
    needs (the content hash computed while the importer ran, the files' bookkeeping)."""

    nodes: int
    relationships: int
    write_csv_seconds: float
    import_seconds: float
    rows_per_second: int
    content_hash: str = field(repr=False)
    files: BulkFiles = field(repr=False)

    def figures(self) -> dict[str, float | int]:
        """The counts and timings (JSON-ready)."""
        out = asdict(self)
        del out["content_hash"], out["files"]
        return out


def _csv_type(name: str) -> str:
    if name.startswith("List(") and name.endswith(")"):
        return _csv_type(name[5:-1]) + "[]"
    return _CSV_TYPES[name]


def _has_newline(frame: pl.DataFrame) -> bool:
    """True when a string (or list of strings) holds a line break: only then does the
    importer need ``--multiline-fields``, which stops it from parsing a file in parallel."""
    checks = [
        pl.col(c).str.contains("[\r\n]").any()
        if t == pl.String
        else pl.col(c).list.eval(pl.element().str.contains("[\r\n]").any()).list.first().any()
        for c, t in frame.schema.items()
        if t == pl.String or (isinstance(t, pl.List) and t.inner == pl.String)
    ]
    return bool(checks) and any(v is True for v in frame.select(checks).row(0))


def _lists(frame: pl.DataFrame, table: str, key: str, files: BulkFiles) -> pl.DataFrame:
    """List columns as delimiter-joined strings (the importer splits them back), with
    ``files.absent_empty`` / ``files.later`` for the values an empty field cannot carry."""
    joined = []
    for col, dtype in frame.schema.items():
        if not isinstance(dtype, pl.List):
            continue
        values = pl.col(col).cast(pl.List(pl.String))
        bad = frame.filter(values.list.eval(pl.element().str.contains(ARRAY_DELIMITER)).list.any())
        if bad.height:
            raise StoreError(
                f"{table} list column {col!r} holds the importer's array delimiter (U+001F), "
                f"e.g. at {bad.get_column(key)[0]!r}; load this graph with `medkg kg build`"
            )
        empty_field = frame.filter(values.list.join(ARRAY_DELIMITER) == "")
        if frame.get_column(col).null_count() == 0:
            files.absent_empty.setdefault(table, []).append(col)
            empty_field = empty_field.filter(pl.col(col).list.len() > 0)  # [""] and the like
        if empty_field.height:
            rel = empty_field.get_column("rel") if table == "edges" else None
            files.later.setdefault(table, {})[col] = [
                (k, None if rel is None else rel[i], v)
                for i, (k, v) in enumerate(empty_field.select(key, col).iter_rows())
            ]
        joined.append(values.list.join(ARRAY_DELIMITER).alias(col))
    return frame.with_columns(joined)


def write_import_files(kg: KnowledgeGraph, folder: str | Path) -> BulkFiles:
    """Write ``kg`` as importer CSV files into ``folder`` (created; must be empty)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise StoreError(f"{folder}: the import staging folder is not empty")
    nodes, edges = kg.nodes, kg.edges
    node_columns, edge_columns, _ = storable_tables(nodes, edges)
    out = BulkFiles(folder, multiline=_has_newline(nodes) or _has_newline(edges))

    header = [f"id:ID({ID_SPACE})", ":LABEL"] + [
        f"{c}:{_csv_type(t)}" for c, t in node_columns if c != "id"
    ]
    labels = (
        pl.when(pl.col("kind").is_null())
        .then(pl.lit(cypher.ENTITY))
        .otherwise(pl.lit(cypher.ENTITY + ARRAY_DELIMITER) + pl.col("kind"))
        .alias(":LABEL")
    )
    props = [c for c, _ in node_columns if c != "id"]
    table = _lists(nodes, "nodes", "id", out).select("id", labels, *props)
    path = folder / "entities.csv"
    table.write_csv(path, include_header=False)
    (folder / "entities.header.csv").write_text(",".join(header) + "\n", encoding="utf-8")
    out.nodes.append(path)
    out.node_rows += table.height

    edge_props = [(c, t) for c, t in edge_columns if c not in ("src", "rel", "dst")]
    keyed = edges.with_columns(pl.Series("key", edge_keys(edges), dtype=pl.String()))
    header = [f":START_ID({ID_SPACE})", f":END_ID({ID_SPACE})", ":TYPE", "key:string"] + [
        f"{c}:{_csv_type(t)}" for c, t in edge_props
    ]
    table = _lists(keyed, "edges", "key", out).select(
        "src", "dst", "rel", "key", *(c for c, _ in edge_props)
    )
    path = folder / "relationships.csv"
    table.write_csv(path, include_header=False)
    (folder / "relationships.header.csv").write_text(",".join(header) + "\n", encoding="utf-8")
    out.relationships.append(path)
    out.relationship_rows += table.height

    if "met_parent" in nodes.columns:
        tree = tree_link_rows(nodes)
        path = folder / "tree.csv"
        tree.with_columns(
            pl.lit(cypher.TREE_REL).alias("type"), pl.lit("true").alias("mark")
        ).write_csv(path, include_header=False)
        (folder / "tree.header.csv").write_text(
            f":START_ID({ID_SPACE}),:END_ID({ID_SPACE}),:TYPE,{cypher.TREE_MARK}:boolean\n",
            encoding="utf-8",
        )
        out.relationships.append(path)
        out.relationship_rows += tree.height
        out.tree_links = tree.height
    return out


def import_command(
    runtime: Neo4jRuntime, files: BulkFiles, *, java: str = "java", heap: str = "1g",
    database: str = "neo4j", overwrite: bool = False,
) -> list[str]:  # fmt: skip
    """The ``neo4j-admin database import full`` command line for ``files``."""

    def group(path: Path) -> str:
        return f"{path.with_name(path.stem + '.header.csv')},{path}"

    return [
        java, f"-Xmx{heap}", *JAVA_OPENS, "-cp", str(runtime.lib / "*"),
        "org.neo4j.cli.AdminTool", "database", "import", "full", database,
        *(f"--nodes={group(p)}" for p in files.nodes),
        *(f"--relationships={group(p)}" for p in files.relationships),
        "--array-delimiter=U+001F",
        f"--multiline-fields={'true' if files.multiline else 'false'}", "--strict=true",
        f"--overwrite-destination={'true' if overwrite else 'false'}",
        f"--report-file={files.folder / 'import.report'}",
    ]  # fmt: skip


def bulk_import(
    kg: KnowledgeGraph,
    runtime: Neo4jRuntime,
    work_dir: str | Path,
    *,
    overwrite: bool = False,
    heap: str = "1g",
    keep_files: Path | None = None,
) -> BulkImport:
    """Import ``kg`` into the database of a **stopped** server whose work folder is
    ``work_dir`` (its data is ``work_dir/data``); then start the server and call
    :func:`finish_import`. An existing database is replaced only with ``overwrite``; a
    failed import names the importer's own message."""
    work_dir = Path(work_dir).expanduser().resolve()
    java = shutil.which("java")
    if java is None:
        raise Neo4jServerError("the offline importer needs Java 17+ on PATH")
    home = work_dir / "import-home"
    (home / "conf").mkdir(parents=True, exist_ok=True)
    (home / "conf" / "neo4j.conf").write_text(
        f"server.directories.data={work_dir / 'data'}\n"
        f"server.directories.logs={work_dir / 'import-home' / 'logs'}\n",
        encoding="utf-8",
    )
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=work_dir))
    try:
        t0 = time.perf_counter()
        files = write_import_files(kg, staging)
        written = time.perf_counter() - t0
        env = {
            "PATH": os.environ.get("PATH", ""),
            "NEO4J_HOME": str(home),
            "NEO4J_CONF": str(home / "conf"),
        }  # a minimal environment: the importer needs nothing else of the caller's
        cmd = import_command(runtime, files, java=java, heap=heap, overwrite=overwrite)
        t1 = time.perf_counter()
        # The meta node's content hash is computed while the importer (a JVM) works.
        with ThreadPoolExecutor(1) as pool:
            hashing = pool.submit(kg.content_hash)
            proc = subprocess.run(cmd, env=env, cwd=staging, capture_output=True, text=True)
            content_hash = hashing.result()
        imported = time.perf_counter() - t1
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
            why = next((ln for ln in reversed(lines) if not ln.lstrip().startswith("at ")), "")
            if not overwrite and "exist" in why.lower():
                why += " (an existing database is replaced only with overwrite)"
            raise StoreError(f"offline import into {work_dir / 'data'} failed: {why}")
        if keep_files is not None:
            shutil.copytree(staging, keep_files, dirs_exist_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    rows = files.node_rows + files.relationship_rows
    return BulkImport(
        nodes=files.node_rows,
        relationships=files.relationship_rows,
        write_csv_seconds=round(written, 3),
        import_seconds=round(imported, 3),
        rows_per_second=round(rows / max(written + imported, 1e-9)),
        content_hash=content_hash,
        files=files,
    )


def schema_for(rels: list[str]) -> list[str]:
    """The constraints and indexes of a graph with relationship types ``rels`` (the online
    path creates the same ones before writing)."""
    return [*cypher.schema_statements(), *(cypher.relationship_key_constraint(r) for r in rels)]


def finish_import(store: Neo4jStore, kg: KnowledgeGraph, done: BulkImport) -> SaveReport:
    """Finish a database the offline importer wrote from ``kg`` (:func:`bulk_import`), on
    the started server: constraints and indexes (built once over the imported data), the
    values the files could not carry, a count-store check that the database holds what
    ``kg`` holds, and the meta node that marks the graph complete."""
    from medkg.kg.stores.neo4j import graph_meta

    start = time.perf_counter()
    node_columns, edge_columns, rels = storable_tables(kg.nodes, kg.edges)
    store.ensure_schema(schema_for(rels))
    for _table, columns in sorted(done.files.later.items()):
        for col, rows in sorted(columns.items()):
            by_rel: dict[str | None, list[dict[str, Any]]] = {}
            for key, rel, value in rows:
                row = {"id" if rel is None else "key": key, "props": {col: value}}
                by_rel.setdefault(rel, []).append(row)
            for rel, maps in sorted(by_rel.items(), key=lambda kv: str(kv[0])):
                query = (cypher.set_entity_properties() if rel is None
                         else cypher.set_relationship_properties(rel))  # fmt: skip
                batches = (
                    (query, {"rows": maps[i : i + store.batch_size]})
                    for i in range(0, len(maps), store.batch_size)
                )
                store.write_batches(batches, "writing values the importer cannot carry")
    kinds = sorted(k for k in kg.counts()["nodes_by_kind"] if k is not None)
    rel_types = sorted({*rels, cypher.TREE_REL})
    got = store.read(
        lambda run: run(cypher.count_store_counts(kinds, rel_types))[0], "counting the import"
    )
    relationships = sum(got[f"rel{i}"] for i in range(len(rel_types)))
    if got["entities"] != kg.nodes.height or relationships != done.relationships:
        raise StoreError(
            f"{store.describe_location()}: the offline import holds {got['entities']} entities "
            f"and {relationships} relationships, the graph {kg.nodes.height} and "
            f"{done.relationships} (edges and tree links)"
        )
    seconds = done.write_csv_seconds + done.import_seconds + time.perf_counter() - start
    store.complete(
        graph_meta(
            kg, done.content_hash, node_columns, edge_columns,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"), seconds=seconds,
            tree_links=done.files.tree_links, loaded_by="offline import",
            absent_empty_lists=json.dumps(done.files.absent_empty, sort_keys=True),
        )
    )  # fmt: skip
    return SaveReport(
        store=store.key,
        location=store.describe_location(),
        nodes=kg.nodes.height,
        edges=kg.edges.height,
        content_hash=done.content_hash,
        seconds=seconds,
        details={"offline_import": 1},
    )


__all__ = [
    "ARRAY_DELIMITER",
    "BulkFiles",
    "BulkImport",
    "bulk_import",
    "finish_import",
    "import_command",
    "schema_for",
    "write_import_files",
]
