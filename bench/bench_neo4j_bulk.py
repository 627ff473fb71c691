"""Fresh Neo4j load of the whole bundled graph: the offline importer vs the online batched
MERGE path, in one process, each into a new database of its own private server.

The measured span of each path starts with the graph on disk (an embedded store) and no
server running on the target data folder, and ends when the database answers medkg's
queries with every index it declares loaded ONLINE (``db.awaitIndexes``) and the meta node
written:

* offline (what `medkg neo4j import` runs): load the embedded store;
  :func:`medkg.kg.stores.neo4j_bulk.bulk_import` (the server JVM starts while the CSV files
  are written, imports them with ``neo4j-admin database import full``, then starts the
  server on them; the content hash is computed meanwhile); then
  :func:`medkg.kg.stores.neo4j_bulk.finish_import` (indexes and constraints awaited
  ONLINE, count check, meta node);
* online: load the embedded store, start an empty server, :meth:`Neo4jStore.save`
  (batched UNWIND MERGE transactions). Its ratio is also given against the save alone
  (server already up), which favours the online path.

Both are checked by a round trip (not timed): the loaded graph's content hash must equal
the built graph's. Rows = nodes + relationships (edges and MET_PARENT links).

Besides the whole span, the offline path's "load proper" is CSV + importer + finishing
(the JVM and DBMS start left out), and CPU seconds are printed (the machine is shared:
CPU time depends less on the load than wall time): this process's for the CSV files, the
server JVM's until it serves (importer and DBMS start) and at the end (with the indexes);
for the online path, the server JVM's and this process's during the save.

The imported server compiles with C1 only (:data:`medkg.kg.neo4j_server.IMPORT_JIT`);
``--compare-jit`` also runs the offline path with the JVM's default compilation before it
in each run, alternating. After each offline load (not timed in its span) the
same server answers a fixed set of short queries (entity, neighbours and name search for
every 400th entity) and then the round trip reads the whole graph: their seconds and the
server JVM's CPU seconds show what the compiler choice costs the serving afterwards.

``--edges M [M ...]`` times the offline path alone on subgraphs: the first M edges, the
entities they join and the tree links among those, each saved as an embedded store of its
own before the clock starts; a line fitted through the medians splits the span into its
fixed part (JVM and DBMS start, index creation) and its per-row part.

    python bench/bench_neo4j_bulk.py --graph $MEDKG_HOME/graph [--runs 3] [--skip-online]
        [--reimport] [--compare-jit] [--edges 10 200000 629018]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from medkg.kg import neo4j_server as runner
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.kg.stores.neo4j_bulk import bulk_import, finish_import

QUERY_EVERY = 400  # the short queries ask about every 400th entity (207 of the graph)

STAGE = re.compile(r"^(?P<stage>[^\[\]]+?), started ")
DONE = re.compile(r"^Done in (?P<t>.+)$")


def round_trip(store: Neo4jStore, kg: KnowledgeGraph) -> float:
    t = time.perf_counter()
    got = store.load()
    assert got.content_hash() == kg.content_hash(), "round trip changed the graph"
    return time.perf_counter() - t


def importer_stages(log: Path) -> list[tuple[str, str]]:
    """The importer's own stage times (``--verbose``) from the server log."""
    stages, current = [], None
    for line in log.read_text("utf-8", errors="replace").splitlines():
        if m := STAGE.match(line.split("]")[-1].strip()):
            current = m["stage"]
        elif (m := DONE.match(line.strip())) and current:
            stages.append((current, m["t"]))
            current = None
        elif line.startswith("IMPORT DONE"):
            stages.append(("importer total", line.split(" in ", 1)[1].rstrip(". ")))
    return stages


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def short_queries(store: Neo4jStore, kg: KnowledgeGraph) -> float:
    """Seconds for entity + neighbours of every QUERY_EVERY-th entity and a name search
    for its name's first word (what an interactive user asks)."""
    ids = kg.nodes.get_column("id").gather_every(QUERY_EVERY).to_list()
    names = kg.nodes.get_column("name").gather_every(QUERY_EVERY).to_list()
    t = time.perf_counter()
    for node_id, name in zip(ids, names, strict=True):
        assert store.get_node(node_id) is not None, node_id
        store.neighbours(node_id)
        if name:
            store.search(name.split()[0], limit=10)
    return time.perf_counter() - t


def subgraph(kg: KnowledgeGraph, m: int) -> KnowledgeGraph:
    """The first ``m`` edges of ``kg`` (table order), the entities they join and the tree
    links to parents among those."""
    edges = kg.edges.head(m)
    ends = pl.concat([edges.get_column("src"), edges.get_column("dst")]).unique()
    nodes = kg.nodes.join(ends.to_frame("id"), on="id", how="semi", maintain_order="left")
    if "met_parent" in nodes.columns:
        parents = nodes.select(pl.col("id").alias("met_parent"))
        kept = nodes.join(parents, on="met_parent", how="semi").get_column("id")
        nodes = nodes.with_columns(
            pl.when(pl.col("id").is_in(kept.implode()))
            .then(pl.col("met_parent"))
            .alias("met_parent")
        )
    return KnowledgeGraph.from_frames(nodes, edges, kg.sources)


def fixed_cost(graph: Path, sizes: list[int], runs: int) -> None:
    """Offline spans of subgraphs (``--edges``): medians per size and a least-squares line
    span = fixed + rows / rate over them."""
    kg = EmbeddedStore(graph).load()
    points: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:  # edges
            part = Path(tmp) / f"graph-{n}"
            EmbeddedStore(part).save(subgraph(kg, n))
            spans: list[float] = []
            for run in range(1, runs + 1):
                print(
                    f"--- the first {n:,} edges, run {run}; load average {load_average()}",
                    flush=True,
                )
                got = offline_run(part, Path(tmp) / f"bulk-{n}-{run}", replace=False)
                spans.append(got["span"])
                rows = int(got["rows"])
            points.append((rows, statistics.median(spans)))
            print(f"median: {rows:,} rows in {points[-1][1]:.1f} s", flush=True)
    if len(points) > 1:
        slope, fixed = statistics.linear_regression([r for r, _ in points], [s for _, s in points])
        print(f"fit: span = {fixed:.1f} s + rows / {1 / slope:,.0f} rows/s")


def offline_run(
    graph: Path, work: Path, *, replace: bool, jit: tuple[str, ...] = runner.IMPORT_JIT
) -> dict[str, float]:
    """One timed offline load into ``work`` (see the module doc); its figures."""
    t0 = time.perf_counter()
    kg = EmbeddedStore(graph).load()
    read = time.perf_counter() - t0
    done = bulk_import(kg, work, heap="2g", name="bench-bulk", overwrite=replace, jit=jit)
    try:
        store = Neo4jStore(uri=done.server.uri)
        t = time.perf_counter()
        finish_import(store, kg, done)
        finish = time.perf_counter() - t
        offline = time.perf_counter() - t0
        jvm_cpu = cpu_seconds(done.server.pid)
        queries = short_queries(store, kg)
        queries_cpu = cpu_seconds(done.server.pid) - jvm_cpu
        check = round_trip(store, kg)
        check_cpu = cpu_seconds(done.server.pid) - jvm_cpu - queries_cpu
        store.close()
    finally:
        runner.stop("bench-bulk")
    rows = done.nodes + done.relationships
    proper = done.write_csv_seconds + done.import_seconds + finish
    print(f"graph: {kg.nodes.height:,} nodes, {kg.edges.height:,} edges, "
          f"{done.files.tree_links:,} tree links = {rows:,} rows")  # fmt: skip
    compiler = " ".join(jit) or "the JVM's default compilation"
    print(
        f"offline{' re-import into the used folder' if replace else ''} ({compiler}):"
        f" read graph {read:.1f} s"
        f" + [CSV {done.write_csv_seconds:.1f} s | JVM ready {done.jvm_ready_seconds:.1f} s]"
        f" + importer {done.import_seconds:.1f} s [beside them: DBMS up at"
        f" {done.dbms_seconds:.1f} s] + switch to the imported store {done.start_seconds:.1f} s"
        f" (bulk_import {done.seconds:.1f} s) + indexes ONLINE, check, meta {finish:.1f} s"
        f" = {offline:.1f} s -> {rows / offline:,.0f} rows/s (round trip ok in {check:.1f} s)"
    )
    print(
        f"  load proper (CSV + importer + finishing) {proper:.1f} s -> {rows / proper:,.0f}"
        f" rows/s; CPU: CSV {done.csv_cpu_seconds:.1f} s, server JVM until it serves"
        f" {done.jvm_cpu_seconds:.1f} s, at the end {jvm_cpu:.1f} s"
    )
    print(
        f"  serving afterwards: short queries {queries:.1f} s (JVM CPU {queries_cpu:.1f} s),"
        f" then the whole-graph round trip {check:.1f} s (JVM CPU {check_cpu:.1f} s)"
    )
    for stage, took in importer_stages(work / "server.log"):
        print(f"  importer stage {stage}: {took}")
    print(f"load average after offline: {load_average()}", flush=True)
    return {"span": offline, "proper": proper, "rows": rows, "jvm_cpu": jvm_cpu,
            "csv_cpu": done.csv_cpu_seconds, "queries": queries, "queries_cpu": queries_cpu,
            "check": check, "check_cpu": check_cpu}  # fmt: skip


def online_run(graph: Path, work: Path, rows: int) -> dict[str, float]:
    """One timed online load (read, empty server start, save) into ``work``."""
    t0 = time.perf_counter()
    kg = EmbeddedStore(graph).load()
    info = runner.start(data_dir=work, port=0, name="bench-online", heap="2g")
    try:
        store = Neo4jStore(uri=info.uri)
        t, cpu = time.perf_counter(), time.process_time()
        store.save(kg)
        save = time.perf_counter() - t
        save_cpu = time.process_time() - cpu
        online = time.perf_counter() - t0
        jvm_cpu = cpu_seconds(info.pid)
        round_trip(store, kg)
        store.close()
    finally:
        runner.stop("bench-online")
    print(
        f"online: read graph + server start {online - save:.1f} s + save {save:.1f} s"
        f" = {online:.1f} s -> {rows / online:,.0f} rows/s (save alone {rows / save:,.0f});"
        f" CPU: server JVM {jvm_cpu:.1f} s, this process in the save {save_cpu:.1f} s"
    )
    print(f"load average after online: {load_average()}", flush=True)
    return {"span": online, "save": save, "jvm_cpu": jvm_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, required=True, help="an embedded store (`kg build`)")
    ap.add_argument("--skip-online", action="store_true", help="time the offline path only")
    ap.add_argument(
        "--reimport", action="store_true", help="also re-import into the used folder (--replace)"
    )
    ap.add_argument("--runs", type=int, default=1, help="offline + online pairs, then medians")
    ap.add_argument(
        "--compare-jit",
        action="store_true",
        help="in each run, first an offline load with the JVM's default compilation",
    )
    ap.add_argument(
        "--edges",
        type=int,
        nargs="+",
        help="offline path only, on subgraphs of the first M edges (the fixed cost)",
    )
    args = ap.parse_args()
    runtime = runner.ensure_runtime()  # fetched and compiled once; not part of either span
    del runtime
    if args.edges:
        fixed_cost(args.graph, args.edges, args.runs)
        return
    pairs: list[tuple[dict[str, float], dict[str, float] | None]] = []
    tiered: list[dict[str, float]] = []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"--- run {run}; load average before: {load_average()}", flush=True)
            if args.compare_jit:
                tiered.append(offline_run(args.graph, Path(tmp) / "tiered", replace=False, jit=()))
            off = offline_run(args.graph, Path(tmp) / "bulk", replace=False)
            if args.reimport:  # the same folder again: its system database exists now
                offline_run(args.graph, Path(tmp) / "bulk", replace=True)
            if args.skip_online:
                pairs.append((off, None))
                continue
            on = online_run(args.graph, Path(tmp) / "online", int(off["rows"]))
            print(f"offline / online: {on['span'] / off['span']:.1f}x (against the save alone: "
                  f"{on['save'] / off['span']:.1f}x)")  # fmt: skip
            pairs.append((off, on))
    if args.runs > 1:
        rows = pairs[0][0]["rows"]
        med = statistics.median
        span, proper = med(o["span"] for o, _ in pairs), med(o["proper"] for o, _ in pairs)
        print(
            f"median of {args.runs}: offline {span:.1f} s -> {rows / span:,.0f} rows/s; load"
            f" proper {proper:.1f} s -> {rows / proper:,.0f} rows/s; server JVM CPU"
            f" {med(o['jvm_cpu'] for o, _ in pairs):.1f} s"
        )
        for label, runs in (("C1 only", [o for o, _ in pairs]), ("JVM default", tiered)):
            if runs:
                print(
                    f"  {label}: span {med(o['span'] for o in runs):.1f} s, JVM CPU"
                    f" {med(o['jvm_cpu'] for o in runs):.1f} s; short queries"
                    f" {med(o['queries'] for o in runs):.1f} s (JVM"
                    f" {med(o['queries_cpu'] for o in runs):.1f} s), round trip"
                    f" {med(o['check'] for o in runs):.1f} s (JVM {med(o['check_cpu'] for o in runs):.1f} s)"
                )
        if not args.skip_online:
            ratio = med(on["span"] / o["span"] for o, on in pairs if on)
            save_ratio = med(on["save"] / o["span"] for o, on in pairs if on)
            online = med(on["span"] for _, on in pairs if on)
            print(f"  online {online:.1f} s -> {rows / online:,.0f} rows/s; offline / online"
                  f" {ratio:.1f}x (against the save alone {save_ratio:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
