"""Same-process A/B of the template path: a git revision's relatedness checks and
distractor picking against the working tree's, on the same graph view and seeds.

Run: ``python bench/bench_synthesis_ab.py --rev main --n 1500 --rounds 3``. The old
``medkg/synthesis/clinical.py`` and ``distractors.py`` are read with ``git show REV:...``
and patched in (every family module's ``pick``, ``clinical.related_to`` and
``names_related``); everything else is shared. Per round and variant: the graph view's
caches are cleared, each family is warmed on 20 seeds, then ``make`` runs on ``--n`` seeds
per family; validated items per CPU-second, median over rounds, and whether both variants
made the very same items (ids) from the same seeds.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402

import numpy as np  # noqa: E402

import medkg.synthesis.clinical as clinical  # noqa: E402
import medkg.synthesis.distractors as distractors  # noqa: E402
from medkg.kg.build import build_graph  # noqa: E402
from medkg.kg.index import SynthesisGraph  # noqa: E402
from medkg.synthesis.questions import FAMILIES, make_family  # noqa: E402

PICK_USERS = ["category", "chain", "diagnosis", "drug", "gene", "phenotype"]


def load_old(rev: str, rel: str, name: str, tmp: Path) -> ModuleType:
    """Module ``rel`` as of git revision ``rev``, imported under ``name``."""
    src = subprocess.run(["git", "show", f"{rev}:{rel}"], capture_output=True, check=True)
    path = tmp / f"{name}.py"
    path.write_bytes(src.stdout)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def use(variant: dict[str, object]) -> None:
    clinical.related_to = variant["related_to"]  # type: ignore[assignment]
    clinical.names_related = variant["names_related"]  # type: ignore[assignment]
    for fam in PICK_USERS:
        mod = sys.modules[f"medkg.synthesis.questions.{fam}"]
        mod.pick = variant["pick"]  # type: ignore[attr-defined]


def run(g: SynthesisGraph, n: int, seed: int) -> tuple[dict[str, float], list[str]]:
    g._cache.clear()
    rates, ids = {}, []
    total_items, total_cpu = 0, 0.0
    for name in FAMILIES:
        fam = make_family(name, g)
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
    g = SynthesisGraph.from_kg(build_graph())
    with tempfile.TemporaryDirectory() as tmp:
        old_c = load_old(args.rev, "medkg/synthesis/clinical.py", "old_clinical", Path(tmp))
        old_d = load_old(args.rev, "medkg/synthesis/distractors.py", "old_distractors", Path(tmp))
    variants = {
        args.rev: {
            "related_to": old_c.related_to,
            "names_related": old_c.names_related,
            "pick": old_d.pick,
        },
        "working tree": {
            "related_to": clinical.related_to,
            "names_related": clinical.names_related,
            "pick": distractors.pick,
        },
    }
    results: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    same = True
    for r in range(args.rounds):
        ids_of = {}
        for label, variant in variants.items():
            use(variant)
            rates, ids_of[label] = run(g, args.n, args.seed)
            results[label].append(rates)
            print(f"round {r + 1} {label:<13} overall {rates['overall']:.0f} items/CPU-s")
        same &= len(set(map(tuple, ids_of.values()))) == 1
    print(f"\nmedian of {args.rounds} rounds, validated items per CPU-second:")
    cols = [*FAMILIES, "overall"]
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
