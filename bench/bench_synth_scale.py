"""End-to-end synthesis at scale, local vs Ray, side by side in one run: time, CPU time
and peak memory of `synthesize` for growing ``n`` with the default settings (a shortfall
is reported, not raised: ``allow_partial``), each (size, engine) in its own process on
the graph saved by ``medkg kg build``.

Run: ``python bench/bench_synth_scale.py --sizes 10000 100000 --engines local ray1 ray2``.

Engines: ``local`` is the plain one-process run (``medkg synth``'s default); ``rayK`` is
``--engine ray --workers K`` on a private local Ray instance (its start-up is included in
the wall time and also printed apart). Per run: wall seconds, CPU seconds of the whole
process tree (driver, Ray's own processes and workers), peak RSS of the process tree
(sampled every 0.2 s: Ray's workers are separate processes), and the sha256 of the written
``items.jsonl`` computed here with hashlib (not by medkg) - every engine of one size must
print the same hash. Then the growth between sizes and each engine's speed-up against
``local`` of the same size.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, threading, time
for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(v, "1")
import psutil
from medkg.kg.stores.base import open_store
from medkg.synthesis.pipeline import SynthConfig, synthesize

n, engine_name, out_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
me = psutil.Process()
peak = [0]
cpu_of: dict = {}  # pid -> last seen CPU seconds (a worker's CPU is kept after it exits)

def tree():
    procs = [me]
    try:
        procs += me.children(recursive=True)
    except psutil.Error:
        pass
    return procs

def sample():
    rss = 0
    for p in tree():
        try:
            rss += p.memory_info().rss
            t = p.cpu_times()
            cpu_of[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    peak[0] = max(peak[0], rss)

stop = threading.Event()
def sampler():
    while not stop.wait(0.2):
        sample()
threading.Thread(target=sampler, daemon=True).start()

kg = open_store().load()
engine, startup = None, 0.0
t0 = time.perf_counter()
if engine_name != "local":
    from medkg.engines import RayEngine
    import ray
    engine = RayEngine(workers=int(engine_name[3:]))
    engine.connect(ray)  # start-up timed apart (the run below reuses the instance)
    startup = time.perf_counter() - t0
result = synthesize(kg, SynthConfig(n=n, seed=0, allow_partial=True), engine=engine)
wall = time.perf_counter() - t0
sample()
stop.set()
result.export(out_dir, ["jsonl"])
funnel = result.counts["funnel"]
print(json.dumps({
    "n": n, "engine": engine_name, "items": len(result.items), "wall_s": round(wall, 1),
    "startup_s": round(startup, 1), "cpu_s": round(sum(cpu_of.values()), 1),
    "peak_rss_mib": round(peak[0] / 2**20),
    "draws": sum(f["draws"] for f in funnel.values()),
    "duplicates": sum(f["duplicate"] for f in funnel.values()),
    "partial": result.partial, "shortfall": result.shortfall,
    "by_family": result.counts["by_family"], "rebalanced": result.counts["rebalanced"],
    "sharding": result.sharding,
}))
"""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--engines", nargs="+", default=["local", "ray1", "ray2"])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, engine in itertools.product(args.sizes, args.engines):
            out = Path(tmp) / f"{n}-{engine}"
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), engine, str(out)],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                sys.exit(f"n={n} {engine} failed:\n{proc.stderr[-3000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["items_sha256"] = sha256_file(out / "items.jsonl")
            rows.append(row)
            print(json.dumps(row), flush=True)
    by = {(r["n"], r["engine"]): r for r in rows}
    for n in args.sizes:
        hashes = {by[n, e]["items_sha256"] for e in args.engines}
        print(f"n={n:,}: items.jsonl identical on every engine: {len(hashes) == 1}")
        base = by.get((n, "local"))
        for e in args.engines:
            if base is None or e == "local":
                continue
            speed = base["wall_s"] / by[n, e]["wall_s"]
            workers = int(e[3:])
            print(
                f"n={n:,} {e}: speed-up x{speed:.2f} vs local (efficiency {speed / workers:.2f}), "
                f"peak RSS x{by[n, e]['peak_rss_mib'] / base['peak_rss_mib']:.2f}"
            )
    for e in args.engines:
        for a, b in itertools.pairwise(args.sizes):
            ra, rb = by[a, e], by[b, e]
            print(
                f"{e} {a:,} -> {b:,}: size x{b / a:.1f}, wall x{rb['wall_s'] / ra['wall_s']:.2f}, "
                f"CPU x{rb['cpu_s'] / ra['cpu_s']:.2f}, peak RSS "
                f"x{rb['peak_rss_mib'] / ra['peak_rss_mib']:.2f}"
            )


if __name__ == "__main__":
    main()
