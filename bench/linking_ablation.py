"""Linking evaluation with each linker feature switched off in turn (one process, one graph).

    MEDKG_HOME=... python bench/linking_ablation.py CORPUS   # e.g. the NCBI disease dev set

Prints span F1 and mention-level strict / via-MAPS_TO precision, recall and F1 per
configuration (`medkg coverage eval-linking` gives the full table of one configuration).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from medkg.coverage.annotated import read_corpus
from medkg.coverage.linkeval import evaluate_linker
from medkg.coverage.linking import LinkerConfig
from medkg.kg.stores import open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    args = ap.parse_args()
    with open_store() as store:
        kg = store.load()
    docs = read_corpus(args.corpus)
    base = LinkerConfig()
    configs = [
        ("defaults", base),
        ("no variants", replace(base, variants=False)),
        ("no context sense choice", replace(base, context=False)),
        ("no qualifiers / composites", replace(base, qualifiers=False)),
        ("no curated abbreviations", replace(base, clinical_abbreviations=False)),
        ("no abbreviation handling", replace(base, abbreviations=None)),
        ("+ TF-IDF fallback (0.85)", replace(base, tfidf=True)),
    ]
    print("| configuration | span F1 | strict P / R / F1 | via MAPS_TO P / R / F1 |")
    print("|---|---|---|---|")
    for name, cfg in configs:
        o = evaluate_linker(kg, docs, cfg)[0].overall
        cells = [
            " / ".join(f"{o[lv][k]:.3f}" for k in ("precision", "recall", "f1"))
            for lv in ("mention strict", "mention via MAPS_TO")
        ]
        print(f"| {name} | {o['span']['f1']:.3f} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
