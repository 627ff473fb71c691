"""Synthesis bench: graph-view build time and validated items per second per family.

Run: ``python bench/bench_synthesis.py [--n 2000] [--seed 0]``. One process, one core
(numeric libraries pinned to one thread). Builds the real bundled graph, then:

* ``SynthesisGraph.from_kg`` build time (views, and the content hash separately);
* per family: items/s of ``make`` (verification included, rejects counted by reason),
  and the items/s of an independent re-check with ``verify_item``;
* baseline, same process: the naive diagnosis path that filters the polars edge table
  per item (the cues, the similar diseases and the check done with ``DataFrame.filter``
  and joins), on a small sample, and the ratio to the array path.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from medkg.kg.build import build_graph  # noqa: E402
from medkg.kg.index import SynthesisGraph  # noqa: E402
from medkg.kg.model import KnowledgeGraph  # noqa: E402
from medkg.synthesis.questions import FAMILIES, make_family  # noqa: E402
from medkg.synthesis.verify import verify_item  # noqa: E402


def naive_diagnosis(kg: KnowledgeGraph, disease: str, rng: np.random.Generator) -> bool:
    """The per-item polars approach: filter the edge table for every step."""
    hp = kg.edges.filter(pl.col("rel") == "HAS_PHENOTYPE")
    mine = hp.filter((pl.col("src") == disease) & ~pl.col("negated").fill_null(False))
    phen = mine.get_column("dst").unique().sort().to_list()
    if len(phen) < 3:
        return False
    cues = list(rng.choice(phen, size=min(4, len(phen)), replace=False))
    shared = (
        hp.filter(pl.col("dst").is_in(phen) & (pl.col("src") != disease))
        .group_by("src")
        .agg(pl.col("dst").n_unique().alias("inter"))
        .join(hp.group_by("src").agg(pl.col("dst").n_unique().alias("size")), on="src")
        .with_columns((pl.col("inter") / (pl.col("size") + len(phen) - pl.col("inter"))).alias("j"))
        .sort(["j", "src"], descending=[True, False])
        .head(20)
    )
    distractors = []
    for d in shared.get_column("src").to_list():
        has = hp.filter((pl.col("src") == d) & pl.col("dst").is_in(cues)).height
        if has < len(cues):
            distractors.append(d)
        if len(distractors) == 4:
            break
    return len(distractors) == 4


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="seeds per family")
    ap.add_argument("--baseline-n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t = time.perf_counter()
    kg = build_graph()
    print(f"graph build: {time.perf_counter() - t:.1f} s ({kg.nodes.height} nodes)")
    t = time.perf_counter()
    g = SynthesisGraph.from_kg(kg)
    total = time.perf_counter() - t
    views = g.timings["total_views"]
    print(
        f"SynthesisGraph.from_kg: {total:.2f} s (views {views:.2f} s, "
        f"content hash {g.timings['content_hash']:.2f} s)"
    )

    print("\nitems/s = validated items per CPU-second of this process (one core; the wall-clock")
    print("rate on a shared machine is shown beside it); verify/s = independent re-check rate")
    print(
        f"\n{'family':<10} {'eligible':>8} {'items':>6} {'items/s':>8} {'wall/s':>7} "
        f"{'verify/s':>9}  rejects"
    )
    all_items = 0
    all_time = 0.0
    diag_rate = 0.0
    for name in FAMILIES:
        fam = make_family(name, g)
        eligible = np.flatnonzero(fam.eligible())
        rng = np.random.default_rng(args.seed)
        seeds = rng.choice(eligible, size=args.n)
        for s in seeds[:20]:  # warm the lazily built look-ups
            fam.make(int(s), np.random.default_rng(0))
        rejects: collections.Counter[str] = collections.Counter()
        items = []
        t, c = time.perf_counter(), time.process_time()
        for s in seeds:
            out = fam.make(int(s), rng)
            if hasattr(out, "reason"):
                rejects[out.reason] += 1
            else:
                items.append(out)
        wall, dt = time.perf_counter() - t, time.process_time() - c
        c = time.process_time()
        bad = sum(1 for it in items if verify_item(it, g))
        vdt = time.process_time() - c
        rate = len(items) / dt
        if name == "diagnosis":
            diag_rate = rate
        all_items += len(items)
        all_time += dt
        print(
            f"{name:<10} {eligible.size:>8} {len(items):>6} {rate:>8.0f} "
            f"{len(items) / wall:>7.0f} {len(items) / vdt:>9.0f}  {dict(rejects)}"
            + (f"  INVALID {bad}" if bad else "")
        )
    print(f"{'overall':<10} {'':>8} {all_items:>6} {all_items / all_time:>8.0f}")

    diseases = np.flatnonzero(make_family("diagnosis", g).eligible())
    rng = np.random.default_rng(args.seed)
    sample = [g.ids[int(r)] for r in rng.choice(diseases, size=args.baseline_n)]
    c = time.process_time()
    ok = sum(naive_diagnosis(kg, d, rng) for d in sample)
    naive_rate = ok / (time.process_time() - c)
    print(
        f"\nbaseline naive polars-filter diagnosis: {naive_rate:.1f} items/s "
        f"({ok}/{len(sample)} items); array path {diag_rate:.0f} items/s "
        f"= {diag_rate / max(naive_rate, 1e-9):.0f}x"
    )


if __name__ == "__main__":
    main()
