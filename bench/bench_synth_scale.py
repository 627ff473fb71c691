"""End-to-end synthesis at scale: time, CPU time and peak memory of `synthesize` for
growing ``n`` with the default settings (a shortfall is reported, not raised:
``allow_partial``), each size in its own process (peak RSS is per process), on the graph
saved by ``medkg kg build``.

Run: ``python bench/bench_synth_scale.py --sizes 10000 100000``. Prints one line per size
(wall seconds, CPU seconds, items per CPU-second, peak RSS) and the CPU-time growth
factor between consecutive sizes next to the size factor (linear growth: equal factors).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys, time
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(v, "1")
from medkg.kg.stores.base import open_store
from medkg.synthesis.pipeline import SynthConfig, synthesize
n = int(sys.argv[1])
kg = open_store().load()
t0, c0 = time.perf_counter(), time.process_time()
result = synthesize(kg, SynthConfig(n=n, seed=0, allow_partial=True))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
funnel = result.counts["funnel"]
print(json.dumps({
    "n": n, "items": len(result.items), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
    "items_per_cpu_s": round(len(result.items) / cpu, 1), "peak_rss_mib": round(peak),
    "draws": sum(f["draws"] for f in funnel.values()),
    "duplicates": sum(f["duplicate"] for f in funnel.values()),
    "partial": result.partial, "shortfall": result.shortfall,
    "by_family": result.counts["by_family"], "rebalanced": result.counts["rebalanced"],
    "near_dup_share_of_draws": round(
        sum(f["duplicate"] for f in funnel.values())
        / max(1, sum(f["draws"] for f in funnel.values())), 4),
    "stalled": result.counts["stalled"],
}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"n={n} failed:\n{proc.stderr[-3000:]}")
        out = proc.stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    for a, b in itertools.pairwise(rows):
        print(
            f"{a['n']:,} -> {b['n']:,}: size x{b['n'] / a['n']:.1f}, "
            f"CPU time x{b['cpu_s'] / a['cpu_s']:.2f}, peak RSS x{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}"
        )


if __name__ == "__main__":
    main()
