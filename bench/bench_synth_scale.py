"""End-to-end synthesis at scale, local vs Ray, side by side in one run: time, CPU time
and peak memory of `synthesize` for growing ``n`` with the default settings (a shortfall
is reported, not raised: ``allow_partial``), each (size, engine) in its own process on
the graph saved by ``medkg kg build``.

Run: ``python bench/bench_synth_scale.py --sizes 10000 100000 --engines local ray1 ray2``
or, with seed-range shards, ``--engines local ray2 ray2:k4 local:k4``.

Engines: ``local`` is the plain one-process run (``medkg synth``'s default); ``rayW`` is
``--engine ray --workers W`` on a private local Ray instance (its start-up is included in
the wall time and also printed apart). A suffix ``:kK`` sets ``--shards-per-family K``
(default ``--shards-per-family``, 1): K > 1 is another dataset, so hashes are compared
between the runs of one size and one K, and speed-ups against ``local`` (K = 1, the
default dataset) and against ``local:kK`` where it ran. Per run: wall seconds, CPU seconds of the whole
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
import os
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

n, engine_name, out_dir, k = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
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
config = SynthConfig(n=n, seed=0, allow_partial=True, shards_per_family=k)
result = synthesize(kg, config, engine=engine)
wall = time.perf_counter() - t0
sample()
stop.set()
result.export(out_dir, ["jsonl"])
funnel = result.counts["funnel"]
print(json.dumps({
    "n": n, "engine": engine_name, "k": k, "items": len(result.items), "wall_s": round(wall, 1),
    "startup_s": round(startup, 1), "cpu_s": round(sum(cpu_of.values()), 1),
    "peak_rss_mib": round(peak[0] / 2**20),
    "draws": sum(f["draws"] for f in funnel.values()),
    "duplicates": sum(f["duplicate"] for f in funnel.values()),
    "partial": result.partial, "shortfall": result.shortfall,
    "by_family": result.counts["by_family"], "rebalanced": result.counts["rebalanced"],
    "sharding": result.sharding, "load_avg_1m_end": round(os.getloadavg()[0], 2),
}))
"""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_run(token: str, default_k: int) -> tuple[str, str, int]:
    """``ray2:k4`` -> (label, engine, K)."""
    engine, _, suffix = token.partition(":")
    if engine != "local" and not (engine.startswith("ray") and engine[3:].isdigit()):
        sys.exit(f"unknown engine {engine!r}: local or rayW (W workers)")
    if suffix and not (suffix.startswith("k") and suffix[1:].isdigit()):
        sys.exit(f"bad suffix {suffix!r} in {token!r}: :kK with K shards per family")
    k = int(suffix[1:]) if suffix else default_k
    return (engine if k == 1 else f"{engine}:k{k}"), engine, k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--engines", nargs="+", default=["local", "ray1", "ray2"])
    ap.add_argument("--shards-per-family", type=int, default=1,
                    help="K for the engines given without a :kK suffix")  # fmt: skip
    args = ap.parse_args()
    runs = [parse_run(t, args.shards_per_family) for t in args.engines]
    labels = [label for label, _, _ in runs]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (label, engine, k) in itertools.product(args.sizes, runs):
            out = Path(tmp) / f"{n}-{label.replace(':', '-')}"
            load = os.getloadavg()[0]
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), engine, str(out), str(k)],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                sys.exit(f"n={n} {label} failed:\n{proc.stderr[-3000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["engine"], row["load_avg_1m_start"] = label, round(load, 2)
            row["items_sha256"] = sha256_file(out / "items.jsonl")
            rows.append(row)
            print(json.dumps(row), flush=True)
    by = {(r["n"], r["engine"]): r for r in rows}
    for n in args.sizes:
        for k in sorted({k for _, _, k in runs}):
            same_k = [label for label, _, kk in runs if kk == k]
            hashes = {by[n, e]["items_sha256"] for e in same_k}
            print(f"n={n:,} K={k}: items.jsonl identical on {same_k}: {len(hashes) == 1}")
        for label, engine, k in runs:
            workers = 1 if engine == "local" else int(engine[3:])
            for base_label in dict.fromkeys(["local", "local" if k == 1 else f"local:k{k}"]):
                base = by.get((n, base_label))
                if base is None or base_label == label:
                    continue
                speed = base["wall_s"] / by[n, label]["wall_s"]
                print(
                    f"n={n:,} {label}: speed-up x{speed:.2f} vs {base_label} "
                    f"(efficiency {speed / workers:.2f}), "
                    f"peak RSS x{by[n, label]['peak_rss_mib'] / base['peak_rss_mib']:.2f}"
                )
    for e in labels:
        for a, b in itertools.pairwise(args.sizes):
            ra, rb = by[a, e], by[b, e]
            print(
                f"{e} {a:,} -> {b:,}: size x{b / a:.1f}, wall x{rb['wall_s'] / ra['wall_s']:.2f}, "
                f"CPU x{rb['cpu_s'] / ra['cpu_s']:.2f}, peak RSS "
                f"x{rb['peak_rss_mib'] / ra['peak_rss_mib']:.2f}"
            )


if __name__ == "__main__":
    main()
