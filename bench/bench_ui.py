"""`medkg ui` response times on the full bundled graph, against the store look-ups `kg show` makes.

In one process, on the same graph and the same seeded sample of entities:
* medkg ui: the whole HTTP round trip (Starlette test client → route → GraphIndex → Jinja2
  HTML) of ``/entity/<id>`` and of ``/tree/children/<id>`` (a tree expansion);
* baseline: the embedded store's own look-ups for the same ids (``get_node`` + ``met_path``
  + ``met_children`` + ``neighbours``, what `medkg kg show` calls; no HTML);
* dataset paging: one page (offset 99,950) of a 100,000-item ``items.parquet`` through
  ``Dataset.page`` (lazy scan) against reading the whole table and slicing it.

    python bench/bench_ui.py [--ids 60] [--runs 3] [--path STORE]   (default: build the graph)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"


def graph_store(path: Path | None, tmp: Path) -> Any:
    from medkg.kg.stores.base import open_store

    if path is None:
        from medkg.kg.build import build_graph

        path = tmp / "graph"
        with open_store("embedded", path=path) as store:
            store.save(build_graph())
    return open_store("embedded", path=path)


def big_dataset(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "id": [f"item{i:06d}" for i in range(n)],
            "family": [("gene", "diagnosis", "chain")[i % 3] for i in range(n)],
            "question": [
                f"A patient presents with finding number {i}; which disease?" * 3 for i in range(n)
            ],
            "options": [["A", "B", "C", "D", "E"]] * n,
            "answer": ["A"] * n,
            "answer_id": ["ORPHA:558"] * n,
            "rare": [i % 2 == 0 for i in range(n)],
            "difficulty": [(i % 10) / 10 for i in range(n)],
            "template": ["t1"] * n,
            "seed_entity": ["ORPHA:558"] * n,
            "provenance": ['{"graph_hash": "x"}'] * n,
        }
    ).write_parquet(folder / "items.parquet", compression="zstd", row_group_size=50_000)
    (folder / "manifest.json").write_text(json.dumps({"n_items": n}), encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=60, help="random entities and tree nodes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--path", type=Path, default=None, help="an embedded store folder")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

    from medkg.ui.app import UIState, create_app
    from medkg.ui.datasets import Dataset, ItemFilter

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = graph_store(args.path, tmp)
        state = UIState(store=store)
        start_up = timed(lambda: state.index)
        index = state.index
        client = TestClient(create_app(state))
        rng = random.Random(0)
        hubs = ["ORPHA:558", "OMIM:219700", "HP:0000118", "NCBIGene:2200", "MET:Disease"]
        ids = hubs + rng.sample(index.ids, args.ids)
        parents = [p for p in index.children if p in index.row]
        tree_ids = [
            "MET:root",
            "MET:Disease",
            "MET:Drug",
            "HP:0000118",
            *rng.sample(parents, args.ids),
        ]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"graph: {len(index.ids):,} nodes; index built in {start_up:.1f}s (once, at "
            f"start-up); peak RSS of the process {rss:,.0f} MiB"
        )

        def page(node_id: str) -> None:
            r = client.get(f"/entity/{node_id}")
            assert r.status_code == 200, (node_id, r.status_code)

        def expand(node_id: str) -> None:
            r = client.get(f"/tree/children/{node_id}")
            assert r.status_code == 200, (node_id, r.status_code)

        def store_show(node_id: str) -> None:
            store.get_node(node_id)
            store.met_path(node_id)
            store.met_children(node_id)
            store.neighbours(node_id)

        for fn in (page, expand, store_show):  # warm caches and imports
            fn("ORPHA:558")
        queries = ["marfan", "cystic fibrosis", "arachnodactyly", "fbn1", "seizure", "HP:0001166"]
        results: dict[str, list[float]] = {
            "entity": [],
            "tree": [],
            "store": [],
            "search": [],
            "store_search": [],
        }
        for _ in range(args.runs):
            results["entity"] += [timed(lambda i=i: page(i)) for i in ids]
            results["tree"] += [timed(lambda i=i: expand(i)) for i in tree_ids]
            results["store"] += [timed(lambda i=i: store_show(i)) for i in ids]
            results["search"] += [timed(lambda q=q: client.get(f"/search?q={q}")) for q in queries]
            results["store_search"] += [
                timed(lambda q=q: store.search(q, limit=50)) for q in queries
            ]
        print(
            f"entity page  /entity/<id>        ({len(ids)} ids x {args.runs}): {summary(results['entity'])}"
        )
        print(
            f"tree expand  /tree/children/<id> ({len(tree_ids)} ids x {args.runs}): {summary(results['tree'])}"
        )
        print(
            f"baseline: store look-ups of kg show ({len(ids)} ids x {args.runs}): {summary(results['store'])}"
        )
        print(
            f"search page  /search?q=<text>    ({len(queries)} queries x {args.runs}): {summary(results['search'])}"
        )
        print(
            f"baseline: store.search, top 50       ({len(queries)} queries x {args.runs}): {summary(results['store_search'])}"
        )
        ratio = statistics.median(results["store"]) / statistics.median(results["entity"])
        print(f"entity page vs store look-ups (medians): {ratio:.1f}x faster, HTML included")
        worst = max(zip(results["entity"], ids * args.runs, strict=True))
        print(f"slowest entity page: {worst[1]} {worst[0] * 1000:.0f} ms")

        ds = Dataset.open(big_dataset(tmp / "big", 100_000))
        lazy = [timed(lambda: ds.page(ItemFilter(), offset=99_950)) for _ in range(args.runs + 2)]
        filtered = [
            timed(lambda: ds.page(ItemFilter(family="gene", rare="yes"), offset=10_000))
            for _ in range(args.runs + 2)
        ]
        whole = [
            timed(lambda: pl.read_parquet(ds.path / "items.parquet").slice(99_950, 50).to_dicts())
            for _ in range(args.runs + 2)
        ]
        print(f"dataset page (100,000 items, offset 99,950): {summary(lazy)}")
        print(f"dataset page, family+rare filter:            {summary(filtered)}")
        print(f"baseline: read the whole table, then slice:   {summary(whole)}")
        print(
            f"lazy page vs whole read (medians): {statistics.median(whole) / statistics.median(lazy):.1f}x"
        )


if __name__ == "__main__":
    main()
