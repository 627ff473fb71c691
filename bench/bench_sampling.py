"""Sampler draws per second against ``numpy.random.Generator.choice`` over the same weights.

For each strategy, in the same process and on the same graph:
* medkg: ``sampler.sample(n, rng)`` with its draw table cached (the steady state), and the
  cold cost of a fresh sampler's first call (probabilities + table + draws);
* baseline: ``rng.choice(rows, size=n, p=p)`` with ``p = sampler.probabilities()``, i.e.
  the same distribution drawn the way numpy does it (cumulative sum + binary search, per call).

    python bench/bench_sampling.py [--n 1000000] [--runs 7] [--path STORE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.synthesis.sampling import build_sampler


def median_time(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_nodes(path: Path | None) -> pl.DataFrame:
    if path is not None:
        from medkg.kg.stores.embedded import EmbeddedStore

        with EmbeddedStore(path) as store:
            return store.load().nodes
    from medkg.kg.build import build_graph

    return build_graph().nodes


def strategies(nodes: pl.DataFrame, tmp: Path) -> dict[str, dict[str, Any]]:
    # A gaps file shaped like a coverage audit: every live disease and phenotype with a count.
    rng = np.random.default_rng(0)
    live = nodes.filter(
        pl.col("kind").is_in(["Disease", "Phenotype"]) & ~pl.col("id").str.starts_with("MET:")
    )
    gaps = tmp / "gaps.json"
    counts = rng.poisson(3.0, live.height).tolist()
    gaps.write_text(
        "["
        + ",".join(
            f'{{"id":"{i}","count":{c}}}'
            for i, c in zip(live.get_column("id").to_list(), counts, strict=True)
        )
        + "]"
    )
    return {
        "uniform": {},
        "tree_balanced": {},
        "inverse_frequency": {"temperature": 1.0},
        "rare_mixture": {"alpha": 0.3, "base": "tree_balanced"},
        "target": {"shares": {"Disease": 0.4, "Phenotype": 0.3, "Drug": 0.2, "Gene": 0.1}},
        "coverage_gap": {"gaps": gaps},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000, help="draws per call")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--path", type=Path, default=None, help="embedded store (default: build)")
    args = ap.parse_args()

    nodes = load_nodes(args.path)
    tmp = Path(tempfile.mkdtemp(prefix="medkg-bench-sampling-"))
    n = args.n
    print(f"graph: {nodes.height:,} nodes; {n:,} draws per call, median of {args.runs} runs\n")
    header = (
        f"{'strategy':<18} {'drawable':>9} {'medkg warm':>11} {'draws/s':>9} "
        f"{'medkg cold':>11} {'choice':>9} {'draws/s':>9} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, params in strategies(nodes, tmp).items():
        sampler = build_sampler(name, nodes, **params)

        def cold(name: str = name, params: dict[str, Any] = params) -> None:
            build_sampler(name, nodes, **params).sample(n, np.random.default_rng(1))

        t_cold = median_time(cold, max(3, args.runs // 2))
        rng = np.random.default_rng(2)
        sampler.sample(1, rng)  # warm the draw table
        t_warm = median_time(lambda s=sampler, r=rng: s.sample(n, r), args.runs)
        p = sampler.probabilities()
        support = np.flatnonzero(p > 0)
        q = p[support] / p[support].sum()
        t_choice = median_time(lambda r=rng, s=support, q=q: r.choice(s, size=n, p=q), args.runs)
        print(
            f"{name:<18} {support.size:>9,} {t_warm * 1e3:>9.1f}ms {n / t_warm / 1e6:>7.1f}M/s "
            f"{t_cold * 1e3:>9.1f}ms {t_choice * 1e3:>7.1f}ms {n / t_choice / 1e6:>7.1f}M/s "
            f"{t_choice / t_warm:>6.1f}×"
        )
    print(
        "\nratio = choice time / medkg warm time (>1: medkg faster). medkg cold = a fresh "
        "sampler's first call: probabilities, draw table and the draws."
    )


if __name__ == "__main__":
    main()
