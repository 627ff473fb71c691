"""Fit the linker's mention filter (``medkg/coverage/data/mention_filter.json``).

    MEDKG_HOME=... medkg kg build
    MEDKG_HOME=... python scripts/fit_mention_filter.py \\
        ../shared/benchmarks/ncbi-disease/NCBIdevelopset_corpus.txt

Supervised learning on an annotated split, stated plainly: the linker (filter off) links
the **look half** of the corpus (:func:`~medkg.coverage.linkeval.split_halves`; the check
half is never read here), every proposed mention is labelled right when a gold mention
has its span and, directly or through the graph's exact mappings, its concept; a
scikit-learn logistic regression over :data:`~medkg.coverage.linking_filter.FEATURES`
learns which proposals annotators keep. The regularisation strength and the keep
threshold are chosen by 5-fold cross-validation grouped by document within the look half
(the mention-level F1 via MAPS_TO of the out-of-fold predictions); the model is then refit
on the whole look half. Deterministic (lbfgs, unshuffled folds, rounded weights, sorted
JSON), so the same graph and corpus give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from medkg.coverage.annotated import read_corpus
from medkg.coverage.equivalence import Equivalence
from medkg.coverage.linkeval import corpus_kinds, split_halves
from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.linking_filter import FEATURES, MentionFilter
from medkg.kg.stores import open_store

OUT = Path(__file__).resolve().parents[1] / "medkg/coverage/data/mention_filter.json"
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 15))


def f1(keep: np.ndarray, right: np.ndarray, gold_key: list[tuple[str, int, int] | None],
       n_gold: int) -> float:  # fmt: skip
    """Mention-level F1 of the kept proposals (a gold mention counts once)."""
    kept = int(keep.sum())
    tp_pred = int((keep & right).sum())
    tp_gold = len({gold_key[i] for i in np.flatnonzero(keep & right)})
    p = tp_pred / kept if kept else 0.0
    r = tp_gold / n_gold if n_gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    with open_store() as store:
        kg = store.load()
    docs = read_corpus(args.corpus)
    look, _check = split_halves(docs)
    kinds = corpus_kinds(docs)
    linker = Linker.from_graph(kg, LinkerConfig(kinds=kinds, mention_filter=False))
    equiv = Equivalence.from_graph(kg)
    rows = linker.candidate_features([(d.id, d.text) for d in look])
    gold: dict[tuple[str, int, int], list[tuple[str, ...]]] = defaultdict(list)
    for d in look:
        for m in d.mentions:
            if m.ids:
                gold[(d.id, m.start, m.end)].append(m.ids)
    n_gold = sum(len(v) for v in gold.values())
    X = np.array([[f.get(k, 0.0) for k in FEATURES] for *_, f in rows])
    right = np.zeros(len(rows), dtype=bool)
    gold_key: list[tuple[str, int, int] | None] = []
    for i, (doc, s, e, ent, _method, _f) in enumerate(rows):
        ids = gold.get((doc, s, e), [])
        right[i] = any(ent in g or any(equiv.same(ent, x) for x in g) for g in ids)
        gold_key.append((doc, s, e) if right[i] else None)
    groups = np.array([r[0] for r in rows])
    folds = list(GroupKFold(n_splits=5).split(X, right, groups))
    base = f1(np.ones(len(rows), dtype=bool), right, gold_key, n_gold)
    best: tuple[float, float | None, float] = (base, None, 0.0)
    for c in C_GRID:
        prob = np.zeros(len(rows))
        for train, test in folds:
            model = LogisticRegression(C=c, max_iter=2000).fit(X[train], right[train])
            prob[test] = model.predict_proba(X[test])[:, 1]
        for t in THRESHOLDS:
            score = f1(prob >= t, right, gold_key, n_gold)
            print(f"C={c:<5} threshold={t:.2f} out-of-fold F1 {score:.4f}")
            if score > best[0] + 1e-9:
                best = (score, c, t)
    score, best_c, t = best
    print(f"look half: {len(rows)} proposals, {int(right.sum())} right, {n_gold} gold; "
          f"unfiltered F1 {base:.4f}, best out-of-fold F1 {score:.4f} (C={best_c}, threshold={t})")  # fmt: skip
    if best_c is None:
        raise SystemExit("no filter beats keeping every proposal; nothing written")
    # per-fold gain of the chosen model over keeping every proposal: is it above noise?
    c = best_c
    gains = []
    for train, test in folds:
        model = LogisticRegression(C=c, max_iter=2000).fit(X[train], right[train])
        keep = model.predict_proba(X[test])[:, 1] >= t
        sub_keys = [gold_key[i] for i in test]
        n_sub = sum(len(gold[k]) for k in gold if k[0] in set(groups[test]))
        gains.append(
            f1(keep, right[test], sub_keys, n_sub)
            - f1(np.ones(len(test), dtype=bool), right[test], sub_keys, n_sub)
        )
    gain, se = float(np.mean(gains)), float(np.std(gains, ddof=1) / np.sqrt(len(gains)))
    print(f"per-fold F1 gain over no filter: {gain:+.4f} +/- {se:.4f} (standard error)")
    model = LogisticRegression(C=c, max_iter=2000).fit(X, right)
    flt = MentionFilter(
        weights={k: round(float(w), 4) for k, w in zip(FEATURES, model.coef_[0], strict=True)},
        intercept=round(float(model.intercept_[0]), 4),
        threshold=t,
        kinds=tuple(kinds),
    )
    data = flt.to_dict()
    data["fitted_on"] = {
        "corpus": Path(args.corpus).name, "half": "look", "documents": len(look),
        "proposals": len(rows), "C": c, "out_of_fold_f1": round(score, 4),
        "unfiltered_f1": round(base, 4), "fold_gain": round(gain, 4),
        "fold_gain_se": round(se, 4),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
