"""A fresh Neo4j database in one pass through Neo4j's own offline importer.

The online path (:class:`medkg.kg.stores.neo4j.Neo4jStore`) MERGEs rows in batched
transactions: idempotent, incremental, and bounded by transaction overhead. For a new
database, ``neo4j-admin database import full`` (the ``neo4j-import-tool`` jar, already in
the local server's runtime) writes the store files directly. This module

1. writes the graph as the importer's CSV files (typed headers; entities labelled
   ``Entity`` + their kind, relationships keyed as the online path keys them, and the MET's
   ``MET_PARENT`` links) into a staging folder;
2. runs the importer on a stopped server's data folder (``WORK_DIR/data``), replacing the
   database only with ``overwrite=True``;
3. leaves the rest to the online store once the server is up again: its constraints and
   indexes, and the meta node that marks the graph complete
   (:meth:`Neo4jStore.adopt_bulk_import`).

The result is the same database the online path builds (the store conformance round trip
checks it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph
from medkg.kg.neo4j_server import JAVA_OPENS, Neo4jRuntime, Neo4jServerError
from medkg.kg.stores.base import StoreError
from medkg.kg.stores.neo4j_tables import edge_keys, storable_tables, tree_link_rows

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
    """The importer's input: node and relationship CSV files, with what they hold."""

    folder: Path
    nodes: list[Path] = field(default_factory=list)
    relationships: list[Path] = field(default_factory=list)
    node_rows: int = 0
    relationship_rows: int = 0


def _csv_type(name: str) -> str:
    if name.startswith("List(") and name.endswith(")"):
        return _csv_type(name[5:-1]) + "[]"
    return _CSV_TYPES[name]


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """List columns as delimiter-joined strings (the importer splits them back)."""
    return frame.with_columns(
        pl.col(c).cast(pl.List(pl.String)).list.join(ARRAY_DELIMITER)
        for c, t in frame.schema.items()
        if isinstance(t, pl.List)
    )


def write_import_files(kg: KnowledgeGraph, folder: str | Path) -> BulkFiles:
    """Write ``kg`` as importer CSV files into ``folder`` (created; must be empty)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise StoreError(f"{folder}: the import staging folder is not empty")
    nodes, edges = kg.nodes, kg.edges
    node_columns, edge_columns, _ = storable_tables(nodes, edges)
    out = BulkFiles(folder)

    node_types = dict((c, t) for c, t in node_columns)
    header = [f"id:ID({ID_SPACE})", ":LABEL"] + [
        f"{c}:{_csv_type(t)}" for c, t in node_columns if c != "id"
    ]
    labels = (
        pl.when(pl.col("kind").is_null())
        .then(pl.lit(cypher.ENTITY))
        .otherwise(pl.lit(cypher.ENTITY + ARRAY_DELIMITER) + pl.col("kind"))
        .alias(":LABEL")
    )
    props = [c for c in node_types if c != "id"]
    table = _flatten(nodes.select("id", labels, *props))
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
    table = _flatten(keyed.select("src", "dst", "rel", "key", *(c for c, _ in edge_props)))
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
        "--array-delimiter=U+001F", "--multiline-fields=true", "--strict=true",
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
) -> dict[str, float | int]:
    """Import ``kg`` into the database of a **stopped** server whose work folder is
    ``work_dir`` (its data is ``work_dir/data``). Returns rows and seconds. An existing
    database is replaced only with ``overwrite``; a failed import names the importer's
    own message and the report file."""
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
        proc = subprocess.run(cmd, env=env, cwd=staging, capture_output=True, text=True)
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
    return {
        "nodes": files.node_rows,
        "relationships": files.relationship_rows,
        "write_csv_seconds": round(written, 3),
        "import_seconds": round(imported, 3),
        "rows_per_second": round(rows / max(written + imported, 1e-9)),
    }


__all__ = ["ARRAY_DELIMITER", "BulkFiles", "bulk_import", "import_command", "write_import_files"]
