"""Fresh Neo4j load of the whole bundled graph: the offline importer vs the online batched
MERGE path, in one process, each into a new database of its own private server.

* bulk: :func:`medkg.kg.stores.neo4j_bulk.bulk_import` (CSV files + ``neo4j-admin database
  import full``, the content hash computed meanwhile) on a stopped server, then start it and
  :func:`medkg.kg.stores.neo4j_bulk.finish_import` (constraints and indexes, count check, meta);
* online: :meth:`Neo4jStore.save` (batched UNWIND MERGE transactions) into an empty database.

Both are checked by a round trip: the loaded graph's content hash must equal the built
graph's. Rows = nodes + relationships (edges and MET_PARENT links). Server start-up is
reported apart and not counted in either rate.

    python bench/bench_neo4j_bulk.py [--graph .medkg/graph]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medkg.kg import neo4j_server as runner
from medkg.kg.build import build_graph
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.kg.stores.neo4j_bulk import bulk_import, finish_import


def round_trip(store: Neo4jStore, kg: KnowledgeGraph) -> float:
    t = time.perf_counter()
    got = store.load()
    assert got.content_hash() == kg.content_hash(), "round trip changed the graph"
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, default=None, help="an embedded store (else build)")
    args = ap.parse_args()
    kg = EmbeddedStore(args.graph).load() if args.graph else build_graph()
    tree = kg.nodes.filter(kg.nodes["met_parent"].is_not_null()).height
    rows = kg.nodes.height + kg.edges.height + tree
    print(f"graph: {kg.nodes.height:,} nodes, {kg.edges.height:,} edges, {tree:,} tree links")
    runtime = runner.ensure_runtime()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "bulk"
        t = time.perf_counter()
        got = bulk_import(kg, runtime, work, heap="2g")
        offline = time.perf_counter() - t
        info = runner.start(data_dir=work, port=0, name="bench-bulk", heap="2g")
        try:
            store = Neo4jStore(uri=info.uri)
            t = time.perf_counter()
            finish_import(store, kg, got)
            adopt = time.perf_counter() - t
            check = round_trip(store, kg)
            store.close()
        finally:
            runner.stop("bench-bulk")
        bulk = offline + adopt
        print(
            f"bulk:   CSV {got.write_csv_seconds:.1f} s + importer {got.import_seconds:.1f} s"
            f" + indexes, constraints, check and meta {adopt:.1f} s"
            f" = {bulk:.1f} s -> {rows / bulk:,.0f} rows/s"
            f" (start-up {info.startup_seconds:.1f} s apart; round trip ok in {check:.1f} s)"
        )
        info = runner.start(data_dir=Path(tmp) / "online", port=0, name="bench-online", heap="2g")
        try:
            store = Neo4jStore(uri=info.uri)
            t = time.perf_counter()
            store.save(kg)
            online = time.perf_counter() - t
            round_trip(store, kg)
            store.close()
        finally:
            runner.stop("bench-online")
        print(f"online: {online:.1f} s -> {rows / online:,.0f} rows/s")
        print(f"bulk / online: {online / bulk:.1f}x")


if __name__ == "__main__":
    main()
