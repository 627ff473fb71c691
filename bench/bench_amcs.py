"""AMCS time and peak memory: medkg's blocked exact pass against a full-matrix baseline.

On random unit-norm float32 data (default 50,000 × 20,000, 384-d), in one process:

* floor: a plain ``A @ B.T`` of the same sizes (the matmul any exact method must do);
* medkg: :func:`medkg.coverage.amcs.amcs`, both directions + best-match indices, in tiles;
* baseline: scikit-learn ``cosine_similarity(A, B)`` (the full matrix), then max and
  argmax along both axes, i.e. the same outputs;
* ``--approx``: :func:`medkg.coverage.amcs.amcs_approx` (faiss HNSW) with its error.

Peak memory is tracemalloc's peak (numpy reports its buffers to it) above the inputs.
Runs are interleaved; the table shows medians.

    python bench/bench_amcs.py [--na 50000] [--nb 20000] [--dim 384] [--runs 3] [--approx]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from medkg.coverage.amcs import DEFAULT_BLOCK, amcs, amcs_approx


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def measure(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak, value


def floor(a: np.ndarray, b: np.ndarray) -> float:
    s = a @ b.T
    return float(s[0, 0])


def tiled_floor(a: np.ndarray, b: np.ndarray, block: tuple[int, int]) -> float:
    """The same matmuls as the blocked pass, into one reused tile, with no reductions."""
    ba, bb = min(block[0], a.shape[0]), min(block[1], b.shape[0])
    tile = np.empty((ba, bb), dtype=np.float32)
    for i0 in range(0, a.shape[0], ba):
        ab = a[i0 : i0 + ba]
        for j0 in range(0, b.shape[0], bb):
            bt = b[j0 : j0 + bb]
            np.matmul(ab, bt.T, out=tile[: ab.shape[0], : bt.shape[0]])
    return float(tile[0, 0])


def full_matrix(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics.pairwise import cosine_similarity

    s = cosine_similarity(a, b)
    fwd = s.max(axis=1).mean(dtype=np.float64)
    bwd = s.max(axis=0).mean(dtype=np.float64)
    s.argmax(axis=1)
    s.argmax(axis=0)
    return float(fwd), float(bwd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--na", type=int, default=50_000)
    ap.add_argument("--nb", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--block-a", type=int, default=DEFAULT_BLOCK[0])
    ap.add_argument("--block-b", type=int, default=DEFAULT_BLOCK[1])
    ap.add_argument("--skip-full", action="store_true", help="skip the full-matrix baseline")
    ap.add_argument("--approx", action="store_true", help="also time the faiss HNSW mode")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    a, b = unit_rows(rng, args.na, args.dim), unit_rows(rng, args.nb, args.dim)
    full_gb = args.na * args.nb * 4 / 1e9
    print(
        f"A {args.na:,} × B {args.nb:,}, {args.dim}-d float32; full matrix {full_gb:.1f} GB; "
        f"tiles {args.block_a}×{args.block_b}; {args.runs} runs"
    )
    methods: dict[str, Callable[[], Any]] = {
        "matmul floor (A @ B.T)": lambda: floor(a, b),
        "matmul floor, tiled (no reductions)": lambda: tiled_floor(
            a, b, (args.block_a, args.block_b)
        ),
        "medkg amcs (blocked, exact)": lambda: amcs(a, b, block=(args.block_a, args.block_b)),
    }
    if not args.skip_full:
        methods["sklearn cosine_similarity + max/argmax"] = lambda: full_matrix(a, b)
    if args.approx:
        methods["medkg amcs_approx (faiss HNSW)"] = lambda: amcs_approx(a, b)

    times: dict[str, list[float]] = {k: [] for k in methods}
    peaks: dict[str, list[int]] = {k: [] for k in methods}
    values: dict[str, Any] = {}
    for _ in range(args.runs):
        for name, fn in methods.items():
            t, p, v = measure(fn)
            times[name].append(t)
            peaks[name].append(p)
            values[name] = v

    base = statistics.median(times["matmul floor (A @ B.T)"])
    tiled = statistics.median(times["matmul floor, tiled (no reductions)"])
    print(f"{'method':<42} {'median s':>9} {'× full mm':>9} {'× tiled mm':>10} {'peak MB':>9}")
    for name in methods:
        t = statistics.median(times[name])
        print(
            f"{name:<42} {t:9.2f} {t / base:9.2f} {t / tiled:10.2f} {max(peaks[name]) / 1e6:9.1f}"
        )
    exact = values["medkg amcs (blocked, exact)"]
    print(f"exact AMCS forward {exact.forward:.6f}, backward {exact.backward:.6f}")
    if "sklearn cosine_similarity + max/argmax" in values:
        fwd, bwd = values["sklearn cosine_similarity + max/argmax"]
        print(
            f"baseline |Δ| forward {abs(fwd - exact.forward):.2e}, backward {abs(bwd - exact.backward):.2e}"
        )
    if args.approx:
        approx = values["medkg amcs_approx (faiss HNSW)"]
        print(
            f"approx forward {approx.forward:.6f} (Δ {approx.forward - exact.forward:+.2e}), "
            f"backward {approx.backward:.6f} (Δ {approx.backward - exact.backward:+.2e}); "
            f"sampled error {approx.error}"
        )


if __name__ == "__main__":
    main()
