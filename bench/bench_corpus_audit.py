"""The audit of a sharded corpus: the whole mention table on the driver (before) vs per-shard
counts added on the driver (after, :mod:`medkg.coverage.rollup`), on real PubMed citations.

Every configuration runs in a fresh child process; its peak RSS is read from the kernel
(``VmHWM``, reset with ``/proc/self/clear_refs`` once the graph and linker are loaded, so
the figure is the step's own peak above them). The bundled graph's linker (the default).

``e2e``: the MEDLINE file split into ``--split`` PubMed XML.gz shard files (as
    bench/bench_scale.py does), linked and audited on the local engine. Before: link the
    shards (mentions streamed to a Parquet file), read the audit's columns back, ``audit()``
    (what ``medkg coverage audit`` did). After: link with the per-shard counting and the
    id check (``link_corpus(tree=)``), ``audit_counts()``. The two audits' files must be
    byte-identical (asserted).
``scaled``: the audit step alone over the same mention table replicated ``k`` times with
    distinct item ids (a corpus ``k`` times as large; the same entities), for each ``--scale``.
    Before: read the table, ``audit()``. After: row group by row group (one per shard)
    ``count_mentions`` + ``CountsMerger``, then ``audit_counts()`` (on a cluster the
    counting runs on the workers; here on the driver, so "after" is overstated).
``--pools``: what a worker pool costs on the ray engine (2 workers, a private Ray
    instance), to judge sharing one pool between an audit's linking and its embedding:
    a Ray Data stream of a trivial task (actor start + teardown), the same with the
    linking task (the bundled linker and the audit tree shipped, the linker rebuilt per
    actor) and with the embedding task (MiniLM loaded per actor); each on 2 tiny shards.
``ids``: the duplicate-id check alone on ``--ids`` synthetic PMIDs in shards of 30,000
    (hash, spool to disk, check): seconds and peak RSS, to scale to PubMed's 36 M.

    python bench/bench_corpus_audit.py --pubmed pubmed21n1298.xml.gz --split 8 \\
        --scale 1 4 16 --ids 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_scale import load, split_pubmed  # bench/ is on the path of a script run from it

from medkg.engines import ShardTask

AUDIT_COLUMNS = ["item_id", "entity_id", "method", "equivalents"]  # what the audit read back


def _peak_reset() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # VmHWM := VmRSS


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _load(store: str) -> Any:
    from medkg.kg.stores import open_store

    with open_store("embedded", path=store) as s:
        return s.load()


def _audit_files(a: Any, folder: Path) -> dict[str, str]:
    import hashlib

    from medkg.coverage.audit import write_audit

    files = write_audit([a], folder)
    return {k: hashlib.sha256(v.read_bytes()).hexdigest() for k, v in sorted(files.items())}


def child_e2e(mode: str, store: str, folder: str, work: str) -> dict[str, Any]:
    import polars as pl

    from medkg.coverage.audit import audit, audit_counts, audit_tree
    from medkg.coverage.linking import Linker
    from medkg.coverage.sharded import link_corpus
    from medkg.engines import LocalEngine
    from medkg.retrieval.shards import ShardItems, plan_shards

    kg = _load(store)
    linker = Linker.from_graph(kg)
    shards = plan_shards(folder, 1)
    out = Path(work) / f"{mode}.parquet"
    _peak_reset()
    base = _rss_mib("VmRSS")
    t = time.perf_counter()
    if mode == "before":
        links = link_corpus(linker, shards, ShardItems(), LocalEngine(), out)
        m = pl.read_parquet(out, columns=AUDIT_COLUMNS)
        a = audit(kg.nodes, m, name="pubmed", n_items=links.items)
    else:
        links = link_corpus(linker, shards, ShardItems(), LocalEngine(), out,
                            tree=audit_tree(kg.nodes))  # fmt: skip
        assert links.counts is not None
        a = audit_counts(kg.nodes, links.counts, name="pubmed", n_items=links.items)
    seconds = time.perf_counter() - t
    peak = _rss_mib("VmHWM") - base
    digests = _audit_files(a, Path(work) / f"audit-{mode}")
    return {"seconds": seconds, "peak_mib": peak, "items": links.items,
            "mentions": links.mentions, "digests": digests}  # fmt: skip


def child_scaled(mode: str, nodes_path: str, table: str) -> dict[str, Any]:
    import polars as pl
    import pyarrow.parquet as pq

    from medkg.coverage.audit import audit, audit_counts, audit_tree
    from medkg.coverage.rollup import CountsMerger, count_mentions

    nodes = pl.read_parquet(nodes_path)
    meta = pq.ParquetFile(table).metadata
    n_items = int(meta.metadata[b"n_items"])
    _peak_reset()
    base = _rss_mib("VmRSS")
    t = time.perf_counter()
    if mode == "before":
        a = audit(nodes, pl.read_parquet(table, columns=AUDIT_COLUMNS), name="pubmed",
                  n_items=n_items)  # fmt: skip
    else:
        tree = audit_tree(nodes)
        merger = None
        pf = pq.ParquetFile(table)
        for group in range(pf.metadata.num_row_groups):
            shard = pl.from_arrow(pf.read_row_group(group, columns=AUDIT_COLUMNS))
            counts = count_mentions(tree, shard)  # type: ignore[arg-type]
            merger = merger or CountsMerger(counts.follow)
            merger.add(counts)
        assert merger is not None
        a = audit_counts(nodes, merger.result(), name="pubmed", n_items=n_items)
    seconds = time.perf_counter() - t
    peak = _rss_mib("VmHWM") - base
    with tempfile.TemporaryDirectory() as tmp:
        digests = _audit_files(a, Path(tmp))
    return {"seconds": seconds, "peak_mib": peak, "digests": digests}


def child_ids(n: int, folder: str) -> dict[str, Any]:
    from medkg.coverage.record_ids import IdSpool, id_hashes

    ids = [str(30_000_000 + i) for i in range(n)]  # PMID-like
    _peak_reset()
    base = _rss_mib("VmRSS")
    t = time.perf_counter()
    hash_s = 0.0
    with IdSpool(folder) as spool:
        for shard, start in enumerate(range(0, n, 30_000)):
            h = time.perf_counter()
            hashes = id_hashes(ids[start : start + 30_000])
            hash_s += time.perf_counter() - h
            spool.add(shard, hashes)
        c = time.perf_counter()
        assert spool.repeats() == []
        check_s = time.perf_counter() - c
    return {"seconds": time.perf_counter() - t, "hash_s": hash_s, "check_s": check_s,
            "peak_mib": _rss_mib("VmHWM") - base}  # fmt: skip


class Nothing(ShardTask[int, int]):
    """A trivial shard task (what a pool costs with no state to build)."""

    def run(self, shard: int) -> int:
        return shard


def bench_pools(store: Path, folder: Path, runs: int) -> None:
    import ray

    from medkg.coverage.audit import audit_tree
    from medkg.coverage.linking import Linker
    from medkg.coverage.sharded import LinkCorpusShard
    from medkg.embed import DEFAULT_EMBEDDER, build_embedder
    from medkg.embed.sharded import EmbedShard
    from medkg.engines import RayEngine
    from medkg.retrieval.shards import ShardItems, plan_shards

    kg = _load(str(store))
    linker = Linker.from_graph(kg)
    tiny = folder.parent / "tiny.jsonl"  # one short record: the pool's fixed cost only
    tiny.write_text('{"text": "cystic fibrosis"}\n')
    one = plan_shards(str(tiny), 1)
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"pools (ray, 2 workers; Ray start-up {time.perf_counter() - t:.1f} s)  [{load()}]")
    tasks = {
        "trivial task": (Nothing(), [1, 2]),
        "linking task (bundled linker + tree)": (
            LinkCorpusShard(linker, [ShardItems()], audit_tree(kg.nodes)),  # ships both
            [(0, one[0]), (0, one[0])],
        ),
        "embedding task (MiniLM)": (EmbedShard(build_embedder(DEFAULT_EMBEDDER)), [["a"], ["b"]]),
    }
    for name, (task, shards) in tasks.items():
        secs = []
        for _ in range(runs):
            t = time.perf_counter()
            list(RayEngine(workers=2).stream(task, shards))  # type: ignore[arg-type]
            secs.append(time.perf_counter() - t)
        print(f"  {name:<38} {statistics.median(secs):6.1f} s  (runs "
              f"{' / '.join(f'{x:.1f}' for x in secs)})")  # fmt: skip
    ray.shutdown()
    t = time.perf_counter()
    LinkCorpusShard(linker, [ShardItems()], audit_tree(kg.nodes)).setup()
    print(f"  in-process: linker rebuilt from its surface table {time.perf_counter() - t:.1f} s")


def run_child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "2")}
    res = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, env=env, check=False)  # fmt: skip
    if res.returncode:
        raise SystemExit(f"child {args} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def replicate(src: Path, k: int, out: Path, n_items: int) -> int:
    """``src``'s mentions ``k`` times, item ids suffixed ``#r`` (distinct items), one row
    group per original row group and copy; returns the row count."""
    import polars as pl
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(src)
    writer = None
    rows = 0
    for r in range(k):
        for group in range(pf.metadata.num_row_groups):
            t = pl.from_arrow(pf.read_row_group(group, columns=AUDIT_COLUMNS))
            t = t.with_columns(pl.col("item_id") + f"#{r}")  # type: ignore[union-attr]
            arrow = t.to_arrow()  # type: ignore[union-attr]
            if writer is None:
                schema = arrow.schema.with_metadata({"n_items": str(n_items * k)})
                writer = pq.ParquetWriter(out, schema, compression="zstd")
            writer.write_table(arrow.cast(schema))
            rows += arrow.num_rows
    assert writer is not None
    writer.close()
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        fn = {"e2e": child_e2e, "scaled": child_scaled, "ids": child_ids}[kind]
        print(json.dumps(fn(*([int(rest[0]), rest[1]] if kind == "ids" else rest))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pubmed", type=Path, required=True)
    ap.add_argument("--split", type=int, default=8)
    ap.add_argument("--scale", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--ids", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--pools", action="store_true", help="only the pool costs on ray")
    args = ap.parse_args()
    from medkg.kg.build import build_graph
    from medkg.kg.stores import open_store

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        kg = build_graph()
        store = work / "graph"
        with open_store("embedded", path=store) as s:
            s.save(kg)
        nodes = work / "nodes.parquet"
        kg.nodes.write_parquet(nodes)
        folder = work / "shards"
        folder.mkdir()
        split_pubmed(args.pubmed, args.split, folder)
        print(f"graph {kg.nodes.height:,} nodes, {args.split} shard files; "
              f"set-up {time.perf_counter() - t:.1f} s")  # fmt: skip
        if args.pools:
            bench_pools(store, folder, args.runs)
            return
        print(f"e2e: link + audit of {args.pubmed.name} in {args.split} shards (local engine)")
        e2e: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for _ in range(args.runs):
            for mode in ("before", "after"):
                print(f"  {load()}")
                e2e[mode].append(run_child("e2e", mode, str(store), str(folder), tmp))
        assert e2e["before"][0]["digests"] == e2e["after"][0]["digests"], "audits differ"
        for mode, runs in e2e.items():
            secs = sorted(r["seconds"] for r in runs)
            peaks = sorted(r["peak_mib"] for r in runs)
            print(f"  {mode:<7} {secs[len(secs) // 2]:7.1f} s  peak +{peaks[len(peaks) // 2]:7.1f}"
                  f" MiB  ({runs[0]['items']:,} citations, {runs[0]['mentions']:,} mentions;"
                  f" runs {' / '.join(f'{s:.1f}' for s in secs)} s)")  # fmt: skip
        print("  audit files byte-identical (sha256 of each file)")
        full = work / "before.parquet"
        n_items = e2e["before"][0]["items"]
        print(f"scaled: the audit step alone over k copies of the mention table  [{load()}]")
        print(f"  {'k':>3} {'mentions':>11} {'before s':>9} {'before MiB':>11} "
              f"{'after s':>8} {'after MiB':>10}")  # fmt: skip
        for k in args.scale:
            table = work / f"x{k}.parquet"
            rows = replicate(full, k, table, n_items)
            got = {m: run_child("scaled", m, str(nodes), str(table)) for m in ("before", "after")}
            assert got["before"]["digests"] == got["after"]["digests"], f"k={k}: audits differ"
            print(f"  {k:>3} {rows:>11,} {got['before']['seconds']:9.1f} "
                  f"{got['before']['peak_mib']:11.1f} {got['after']['seconds']:8.1f} "
                  f"{got['after']['peak_mib']:10.1f}")  # fmt: skip
            table.unlink()
        print(f"ids: duplicate-id check of {args.ids:,} ids in shards of 30,000  [{load()}]")
        r = run_child("ids", str(args.ids), tmp)
        print(f"  {r['seconds']:.2f} s ({r['hash_s']:.2f} s hashing, {r['check_s']:.2f} s "
              f"final check), peak +{r['peak_mib']:.1f} MiB; "
              f"{r['seconds'] / args.ids * 1e6:.2f} µs per id")  # fmt: skip


if __name__ == "__main__":
    main()
