"""Same-process A/B of the template path: a git revision's whole ``medkg`` package against
the working tree's, on the same graph and seeds.

Run: ``python bench/bench_synthesis_ab.py --rev main --n 1500 --rounds 3``. The revision's
``medkg/`` is extracted (``git archive``) into a temporary folder as the package
``medkg_rev`` (its ``medkg`` imports rewritten to ``medkg_rev``), so every module of the
template path - families, cues, distractors, relatedness checks, verification, the graph
view - is the revision's code, with nothing patched. Both variants build their graph view
from the same bundled graph (outside the timing). Per round and variant, alternating: the
view's caches are cleared, each family is warmed on 20 seeds, then ``make`` runs on
``--n`` seeds per family; validated items per CPU-second, median over rounds, the ratio,
and whether both variants made the very same items (ids) from the same seeds.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from medkg.kg.build import build_graph  # noqa: E402

ALIAS = "medkg_rev"
_IMPORT = re.compile(r"\b(from|import)\s+medkg\b")


def extract_rev(rev: str, root: Path) -> None:
    """``medkg/`` as of ``rev`` into ``root/medkg_rev`` with its imports renamed."""
    tar = subprocess.run(["git", "archive", rev, "medkg"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        tf.extractall(root, filter="data")
    (root / "medkg").rename(root / ALIAS)
    for path in (root / ALIAS).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        text = _IMPORT.sub(lambda m: f"{m.group(1)} {ALIAS}", text)
        text = text.replace('"medkg.', f'"{ALIAS}.').replace("'medkg.", f"'{ALIAS}.")
        path.write_text(text, encoding="utf-8")


def variant(package: str) -> dict[str, Any]:
    try:  # the graph view moved to medkg.kg.index (#16); older revisions have the old path
        graphview = importlib.import_module(f"{package}.kg.index")
    except ModuleNotFoundError:
        graphview = importlib.import_module(f"{package}.synthesis.graphview")
    questions = importlib.import_module(f"{package}.synthesis.questions")
    return {
        "graph_from_kg": graphview.SynthesisGraph.from_kg,
        "families": questions.FAMILIES,
        "make_family": questions.make_family,
    }


def run(v: dict[str, Any], g: Any, n: int, seed: int) -> tuple[dict[str, float], list[str]]:
    g._cache.clear()
    rates, ids = {}, []
    total_items, total_cpu = 0, 0.0
    for name in v["families"]:
        fam = v["make_family"](name, g)
        eligible = np.flatnonzero(fam.eligible())
        rng = np.random.default_rng(seed)
        seeds = rng.choice(eligible, size=n)
        for s in seeds[:20]:
            fam.make(int(s), np.random.default_rng(0))
        c = time.process_time()
        made = [fam.make(int(s), rng) for s in seeds]
        dt = time.process_time() - c
        items = [m for m in made if not hasattr(m, "reason")]
        ids += [it.id for it in items]
        rates[name] = len(items) / dt
        total_items += len(items)
        total_cpu += dt
    rates["overall"] = total_items / total_cpu
    return rates, ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", default="main")
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    kg = build_graph()
    with tempfile.TemporaryDirectory() as tmp:
        extract_rev(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        variants = {args.rev: variant(ALIAS), "working tree": variant("medkg")}
        views = {label: v["graph_from_kg"](kg) for label, v in variants.items()}
        results: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
        same = True
        for r in range(args.rounds):
            ids_of = {}
            for label, v in variants.items():
                rates, ids_of[label] = run(v, views[label], args.n, args.seed)
                results[label].append(rates)
                print(f"round {r + 1} {label:<13} overall {rates['overall']:.0f} items/CPU-s")
            same &= len(set(map(tuple, ids_of.values()))) == 1
    print(f"\nmedian of {args.rounds} rounds, validated items per CPU-second:")
    cols = [*variants["working tree"]["families"], "overall"]
    print(f"{'variant':<14}" + "".join(f"{c:>10}" for c in cols))
    med = {}
    for label, runs in results.items():
        med[label] = {c: statistics.median(x[c] for x in runs) for c in cols}
        print(f"{label:<14}" + "".join(f"{med[label][c]:>10.0f}" for c in cols))
    old, new = med[args.rev], med["working tree"]
    print(f"{'ratio':<14}" + "".join(f"{new[c] / old[c]:>10.2f}" for c in cols))
    print(f"same items from the same seeds: {same}")


if __name__ == "__main__":
    main()
