"""A fresh Neo4j database in one pass through Neo4j's own offline importer.

The online path (:class:`medkg.kg.stores.neo4j.Neo4jStore`) MERGEs rows in batched
transactions: idempotent, incremental, and bounded by transaction overhead. For a new
database, ``neo4j-admin database import full`` (the ``neo4j-import-tool`` jar, already in
the local server's runtime) writes the store files directly. This module

1. starts the server's JVM in import mode and, meanwhile, writes the graph as the
   importer's CSV files (typed headers; nodes numbered 0..n-1 as the importer's actual
   node ids; entities labelled ``Entity`` + their kind; relationships keyed as the online
   path keys them; the MET's ``MET_PARENT`` links) into a staging folder;
2. that JVM runs the importer into a staging data folder while it starts the DBMS on the
   stopped server's data folder (``WORK_DIR/data``) beside it, then moves the imported
   store into place and starts the database on it (``MedkgNeo4j.java``); this process
   computes the graph's content hash for the meta node meanwhile. An existing database is
   replaced only with ``overwrite=True`` (:func:`bulk_import`);
3. finishes the database on the started server (:func:`finish_import`, through the
   store's public schema, transaction and meta methods): the indexes and constraints reads
   need, awaited until ONLINE, a count-store check that it holds the graph, and the meta
   node that marks it complete. The relationship key constraints are left to the first
   online save, whose MERGE they serve (:func:`schema_for`).

The importer cannot write an empty array (an empty field leaves the property absent, see
neo4j/neo4j#13566). A list column that holds no nulls is therefore recorded in the meta node
as "absent means empty" and reads back ``[]`` (no write needed); only a list column that
holds both nulls and empty lists gets ``[]`` written on its empty rows afterwards. The graph
reads back identical to the online path's (the store conformance round trip checks it);
in Cypher, such a property is absent where the online path stores ``[]``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.kg import cypher
from medkg.kg import neo4j_server as runner
from medkg.kg.model import KnowledgeGraph
from medkg.kg.neo4j_server import Neo4jServerError, ServerInfo
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
    """What :func:`bulk_import` did: rows, stage timings (seconds), the server it started,
    and what :func:`finish_import` needs (the content hash computed while the importer ran,
    the files' bookkeeping).

    Stages: ``write_csv_seconds`` (this process writes the files) overlaps
    ``jvm_ready_seconds`` (the server JVM starts and loads the importer); then
    ``import_seconds`` (the importer); ``dbms_seconds`` (from the call until the DBMS is up,
    beside the two before) and ``start_seconds`` (from the importer's end until the
    database serves the imported store: what is left of the DBMS start, the switch to the
    imported store); ``seconds`` is all of it, from the call to a server that answers.
    CPU seconds: ``csv_cpu_seconds`` of this process writing the files, ``jvm_cpu_seconds``
    of the server JVM until it serves (importer and DBMS start)."""

    nodes: int
    relationships: int
    write_csv_seconds: float
    jvm_ready_seconds: float
    import_seconds: float
    dbms_seconds: float
    start_seconds: float
    seconds: float
    csv_cpu_seconds: float
    jvm_cpu_seconds: float
    server: ServerInfo = field(repr=False)
    content_hash: str = field(repr=False)
    files: BulkFiles = field(repr=False)

    def figures(self) -> dict[str, float | int]:
        """The counts and timings (JSON-ready)."""
        out = asdict(self)
        del out["content_hash"], out["files"], out["server"]
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


def _node_numbers(edges: pl.DataFrame, numbers: pl.DataFrame, what: str) -> pl.DataFrame:
    """``edges`` with ``src``/``dst`` replaced by the node numbers of ``numbers`` (id, n);
    StoreError naming the first row whose end is no entity of the graph."""
    out = edges
    for end in ("src", "dst"):
        out = out.join(
            numbers.rename({"id": end, "n": f"{end}_n"}), on=end, how="left", maintain_order="left"
        )
        missing = out.filter(pl.col(f"{end}_n").is_null())
        if missing.height:
            row = missing.row(0, named=True)
            raise StoreError(
                f"{what} {row['src']!r} -> {row['dst']!r}: its {end} {row[end]!r} is no entity "
                "of the graph"
            )
    return out.with_columns(pl.col("src_n").alias("src"), pl.col("dst_n").alias("dst")).drop(
        "src_n", "dst_n"
    )


def write_import_files(kg: KnowledgeGraph, folder: str | Path) -> BulkFiles:
    """Write ``kg`` as importer CSV files into ``folder`` (created; must be empty).

    Nodes are numbered 0..n-1 in table order and the files use those numbers as the
    importer's actual node ids (``--id-type=actual``): relationships name their ends by
    number, so the importer keeps no string-id map and parses no string ids twice. The
    entity id is an ordinary ``id`` property."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise StoreError(f"{folder}: the import staging folder is not empty")
    nodes, edges = kg.nodes, kg.edges
    node_columns, edge_columns, _ = storable_tables(nodes, edges)
    out = BulkFiles(folder, multiline=_has_newline(nodes) or _has_newline(edges))
    # the importer's node ids: one numbering, read by the entity rows and the links alike
    numbered = nodes.with_row_index("n")
    numbers = numbered.select("id", "n")

    header = [f":ID({ID_SPACE})", "id:string", ":LABEL"] + [
        f"{c}:{_csv_type(t)}" for c, t in node_columns if c != "id"
    ]
    labels = (
        pl.when(pl.col("kind").is_null())
        .then(pl.lit(cypher.ENTITY))
        .otherwise(pl.lit(cypher.ENTITY + ARRAY_DELIMITER) + pl.col("kind"))
        .alias(":LABEL")
    )
    props = [c for c, _ in node_columns if c != "id"]
    table = _lists(numbered, "nodes", "id", out).select("n", "id", labels, *props)
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
    table = _node_numbers(_lists(keyed, "edges", "key", out), numbers, "edge").select(
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
        _node_numbers(tree.rename({"id": "src", "met_parent": "dst"}), numbers, "tree link").select(
            "src", "dst", pl.lit(cypher.TREE_REL).alias("type"), pl.lit("true").alias("mark")
        ).write_csv(path, include_header=False)
        (folder / "tree.header.csv").write_text(
            f":START_ID({ID_SPACE}),:END_ID({ID_SPACE}),:TYPE,{cypher.TREE_MARK}:boolean\n",
            encoding="utf-8",
        )
        out.relationships.append(path)
        out.relationship_rows += tree.height
        out.tree_links = tree.height
    return out


def import_arguments(
    files: BulkFiles, *, database: str = "neo4j", overwrite: bool = False
) -> list[str]:
    """The arguments of ``neo4j-admin database import full`` for ``files``."""

    def group(path: Path) -> str:
        return f"{path.with_name(path.stem + '.header.csv')},{path}"

    return [
        "database", "import", "full", database,
        *(f"--nodes={group(p)}" for p in files.nodes),
        *(f"--relationships={group(p)}" for p in files.relationships),
        "--id-type=actual", "--array-delimiter=U+001F",
        f"--multiline-fields={'true' if files.multiline else 'false'}", "--strict=true",
        f"--overwrite-destination={'true' if overwrite else 'false'}",
        f"--report-file={files.folder / 'import.report'}", "--verbose",
    ]  # fmt: skip


def _import_failure(log: Path) -> tuple[str, str] | None:
    """``(message, whole report)`` of a failed import from the server log, else None: the
    message is the importer's innermost cause."""
    try:
        lines = [ln for ln in log.read_text("utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return None
    end = next((i for i, ln in enumerate(lines) if ln.startswith(runner.IMPORT_FAILED)), None)
    if end is None:
        return None
    begin = next((i for i in range(end - 1, -1, -1) if lines[i].startswith("IMPORT FAILED")), 0)
    report = [ln.strip() for ln in lines[begin:end] if not ln.lstrip().startswith(("at ", "..."))]
    why = report[-1].removeprefix("Caused by: ") if report else ""
    return why, "\n".join(report)


def bulk_import(
    kg: KnowledgeGraph,
    work_dir: str | Path,
    *,
    overwrite: bool = False,
    heap: str = "1g",
    name: str = runner.DEFAULT_NAME,
    port: int = 0,
    keep_files: Path | None = None,
    timeout: float = 3600.0,
    jit: tuple[str, ...] = runner.IMPORT_JIT,
) -> BulkImport:
    """Import ``kg`` into the data folder ``work_dir/data`` of a **stopped** server named
    ``name``, then start that server on it: one JVM runs the importer and then serves
    (:func:`medkg.kg.neo4j_server.start` with an import first). It starts while this process
    writes the import files, imports them into a staging data folder while its DBMS starts,
    and this process computes the graph's content hash meanwhile. Call
    :func:`finish_import` next. An existing database is replaced only with ``overwrite``; a
    failed import names the importer's own message and leaves no server running. ``jit``:
    the server JVM's compiler options (C1 only by default, see
    :data:`medkg.kg.neo4j_server.IMPORT_JIT`; ``()`` for the JVM's defaults)."""
    work_dir = Path(work_dir).expanduser().resolve()
    existing = work_dir / "data" / "databases" / "neo4j"
    if not overwrite and existing.is_dir() and any(existing.iterdir()):
        raise StoreError(
            f"offline import into {work_dir / 'data'} failed: the database {existing} exists "
            "(an existing database is replaced only with overwrite)"
        )
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    home = work_dir / "import-home"
    shutil.rmtree(home / "data", ignore_errors=True)  # a failed run's staged store
    (home / "conf").mkdir(parents=True, exist_ok=True)
    (home / "conf" / "neo4j.conf").write_text(
        f"server.directories.data={home / 'data'}\nserver.directories.logs={home / 'logs'}\n",
        encoding="utf-8",
    )
    fresh = not (work_dir / "data").exists()  # removed again when the import fails
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=work_dir))
    state: dict[str, Any] = {}
    begun = time.time()
    with ThreadPoolExecutor(1) as pool:

        def prepare() -> list[str]:
            t0, cpu0 = time.time(), time.process_time()
            state["files"] = write_import_files(kg, staging)
            state["written"] = time.time() - t0
            state["csv_cpu"] = time.process_time() - cpu0
            # The meta node's content hash is computed while the JVM imports.
            state["hashing"] = pool.submit(kg.content_hash)
            # The staging data folder is new: the switch to it replaces the database.
            return import_arguments(state["files"])

        job = runner.ImportFirst(home, prepare, jit=jit)
        try:
            info = runner.start(
                data_dir=work_dir, port=port, heap=heap, name=name, timeout=timeout,
                import_first=job,
            )  # fmt: skip
        except BaseException as exc:
            if fresh:  # the DBMS started beside the importer: nothing half-written stays
                shutil.rmtree(work_dir / "data", ignore_errors=True)
            if not isinstance(exc, Neo4jServerError):
                raise
            failure = _import_failure(work_dir / "server.log")
            if failure is None:
                raise
            why, _report = failure
            raise StoreError(f"offline import into {work_dir / 'data'} failed: {why}") from exc
        finally:
            if keep_files is not None and staging.is_dir():
                shutil.copytree(staging, keep_files, dirs_exist_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(home / "data", ignore_errors=True)
        ready = time.time()
        content_hash = state["hashing"].result()
    files: BulkFiles = state["files"]
    imported = job.marks.get("IMPORTED", ready)
    waiting = job.marks.get("WAITING", job.go)  # the JVM reads GO once it waits for it
    return BulkImport(
        nodes=files.node_rows,
        relationships=files.relationship_rows,
        write_csv_seconds=round(state["written"], 3),
        import_seconds=round(imported - max(job.go, waiting), 3),
        dbms_seconds=round(job.marks.get("DBMS", ready) - begun, 3),
        start_seconds=round(ready - imported, 3),
        jvm_ready_seconds=round(waiting - begun, 3),
        seconds=round(ready - begun, 3),
        csv_cpu_seconds=round(state["csv_cpu"], 3),
        jvm_cpu_seconds=round(job.cpu.get("SERVING", 0.0), 3),
        server=info,
        content_hash=content_hash,
        files=files,
    )


def schema_for(rels: list[str]) -> list[str]:
    """The constraints and indexes a loaded database needs before it is declared loaded:
    the entity and meta ones (every read query uses them), plus the relationship key
    constraints of ``rels``. An import passes only the types whose values it writes
    afterwards (those writes seek by key): the other key constraints serve the online
    save's MERGE, which creates them itself on its first run
    (:meth:`medkg.kg.stores.neo4j.Neo4jStore.save`); an imported database has unique keys
    by construction (:func:`medkg.kg.stores.neo4j_tables.edge_keys`)."""
    return [*cypher.schema_statements(), *(cypher.relationship_key_constraint(r) for r in rels)]


def finish_import(store: Neo4jStore, kg: KnowledgeGraph, done: BulkImport) -> SaveReport:
    """Finish a database the offline importer wrote from ``kg`` (:func:`bulk_import`), on
    the started server: the indexes and constraints reads need (:func:`schema_for`, built
    once over the imported data and awaited until ONLINE), the values the files could not
    carry, a count-store check that the database holds what ``kg`` holds, and the meta node
    that marks the graph complete."""
    from medkg.kg.stores.neo4j import graph_meta

    start = time.perf_counter()
    node_columns, edge_columns, rels = storable_tables(kg.nodes, kg.edges)
    later_edges = done.files.later.get("edges", {})
    keyed_later = sorted({rel for rows in later_edges.values() for _, rel, _ in rows if rel})
    store.ensure_schema(schema_for(keyed_later))
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
    seconds = done.seconds + time.perf_counter() - start
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
    "import_arguments",
    "schema_for",
    "write_import_files",
]
