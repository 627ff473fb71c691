"""`kg stats` on Neo4j against the embedded store, same process.

Loads the embedded graph at ``--graph`` (build it first with ``medkg kg build``), saves it
into a private Neo4j server started here (or the one in NEO4J_URI: its database is
REPLACED unless it already holds this graph with a stats summary), then alternates,
``--runs`` times each: ``stats(embedded.load())`` (what `medkg kg stats` does on the
embedded store), ``stats(neo4j.stats_view())`` (Neo4j: the save-time summary checked
against the count store), ``stats(stats_view(neo4j, use_summary=False))`` (Neo4j:
aggregations in Cypher, the path for graphs changed outside medkg) and, once,
``stats(neo4j.load())`` (Neo4j before: the whole graph over Bolt). Checks the figures
agree and prints medians and the ratios Neo4j / embedded (target <= 3x).

    MEDKG_HOME=/tmp/kgb/home python bench/bench_neo4j_stats.py --graph /tmp/kgb/home/graph
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from medkg.kg.build import stats
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.kg.stores.neo4j_stats import stats_view


def timed(fn: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, required=True, help="embedded store to read")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-full-load", action="store_true", help="skip the old Bolt load")
    args = ap.parse_args()
    embedded = EmbeddedStore(args.graph)
    kg = embedded.load()
    print(f"graph: {kg.nodes.height:,} nodes, {kg.edges.height:,} edges ({args.graph})")
    server = None
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        from medkg.kg import neo4j_server

        data = Path(tempfile.mkdtemp(prefix="medkg-bench-stats-"))
        server = neo4j_server.start(data_dir=data, name="bench-stats", heap="2g")
        uri = server.uri
    try:
        with Neo4jStore(uri=uri) as neo:
            held = neo.exists() and neo.manifest()["content_hash"] == kg.content_hash()
            if held and "stats_summary" in neo._complete_meta():
                print("Neo4j already holds this graph: not saved again")
            else:
                seconds, _saved = timed(lambda: neo.save(kg))
                print(f"saved to Neo4j in {seconds:.1f} s")
            times: dict[str, list[float]] = {"embedded": [], "summary": [], "aggregated": []}
            for _ in range(args.runs):
                t, expected = timed(lambda: stats(embedded.load()))
                times["embedded"].append(t)
                t, got = timed(lambda: stats(neo.stats_view()))
                times["summary"].append(t)
                assert got == expected, "Neo4j stats (summary) differ from the embedded figures"
                t, got = timed(lambda: stats(stats_view(neo, use_summary=False)))
                times["aggregated"].append(t)
                assert got == expected, "Neo4j stats (Cypher) differ from the embedded figures"
            med = {k: statistics.median(v) for k, v in times.items()}
            for what, label in (
                ("embedded", "embedded stats(load())"),
                ("summary", "neo4j stats_view() summary"),
                ("aggregated", "neo4j stats_view() Cypher aggregations"),
            ):
                runs = ", ".join(f"{t:.3f}" for t in times[what])
                print(f"{label:40s} median {med[what]:.3f} s  runs [{runs}]")  # fmt: skip
            for what in ("summary", "aggregated"):
                print(f"ratio neo4j ({what}) / embedded: {med[what] / med['embedded']:.2f}x"
                      " (target <= 3x)")  # fmt: skip
            neo_med = med["summary"]
            if not args.skip_full_load:
                t, full = timed(lambda: stats(neo.load()))
                assert full == expected
                print(f"neo4j     stats(load()) (before) one run {t:.1f} s: "
                      f"{t / neo_med:.0f}x slower than the summary path")  # fmt: skip
    finally:
        if server is not None:
            from medkg.kg import neo4j_server

            neo4j_server.stop("bench-stats")


if __name__ == "__main__":
    main()
