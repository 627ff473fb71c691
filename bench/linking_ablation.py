"""Linking evaluation with each linker feature switched off in turn (one process, one graph).

    MEDKG_HOME=... python bench/linking_ablation.py CORPUS   # e.g. the NCBI disease dev set

Prints span F1 and mention-level strict / via-MAPS_TO F1 per configuration, on the whole
corpus and on its two halves (:func:`~medkg.coverage.linkeval.split_halves`: the *look*
half, where errors were inspected while writing rules, and the *check* half, only ever
scored). `medkg coverage eval-linking` gives the full table of one configuration.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from medkg.coverage.annotated import read_corpus
from medkg.coverage.equivalence import Equivalence
from medkg.coverage.linkeval import corpus_kinds, score_linking, split_halves
from medkg.coverage.linking import Linker, LinkerConfig
from medkg.kg.stores import open_store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    args = ap.parse_args()
    with open_store() as store:
        kg = store.load()
    docs = read_corpus(args.corpus)
    look, check = split_halves(docs)
    kinds = corpus_kinds(docs)
    kind_of = dict(kg.nodes.select("id", "kind").iter_rows())
    equiv = Equivalence.from_graph(kg)
    base = LinkerConfig(kinds=kinds)
    configs = [
        ("defaults", base),
        ("no MONDO/DOID synonyms", replace(base, synonym_evidence=False)),
        ("no composed forms (rules)", replace(base, composed=False)),
        ("no variants", replace(base, variants=False)),
        ("no context sense choice", replace(base, context=False)),
        ("no MeSH SCR deferral", replace(base, mesh_scr_defer_from=None)),
        ("no qualifiers / composites", replace(base, qualifiers=False)),
        ("no curated abbreviations", replace(base, clinical_abbreviations=False)),
        ("no abbreviation handling", replace(base, abbreviations=None)),
        ("+ TF-IDF fallback (0.85)", replace(base, tfidf=True)),
        ("+ learned mention filter", replace(base, mention_filter=True)),
    ]
    print(f"documents: all {len(docs)}, look {len(look)}, check {len(check)}")
    print("| configuration | span F1 all | strict F1 all / look / check "
          "| via MAPS_TO P / R / F1 all | via MAPS_TO F1 look / check |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, cfg in configs:
        linker = Linker.from_graph(kg, cfg)
        mentions = linker.link([(d.id, d.text) for d in docs])
        res = {}
        for label, part in (("all", docs), ("look", look), ("check", check)):
            ids = {d.id for d in part}
            sub = mentions.filter(mentions.get_column("item_id").is_in(list(ids)))
            res[label] = score_linking(part, sub, kind_of, equiv, kinds).overall
        a = res["all"]
        strict = " / ".join(f"{res[h]['mention strict']['f1']:.3f}" for h in res)
        via = " / ".join(
            f"{a['mention via MAPS_TO'][k]:.3f}" for k in ("precision", "recall", "f1")
        )
        halves = " / ".join(f"{res[h]['mention via MAPS_TO']['f1']:.3f}" for h in ("look", "check"))
        print(f"| {name} | {a['span']['f1']:.3f} | {strict} | {via} | {halves} |", flush=True)


if __name__ == "__main__":
    main()
