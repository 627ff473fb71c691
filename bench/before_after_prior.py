"""How much of a before/after gain an answer-frequency prior could explain.

Reads a finished ``bench_before_after.py --out`` folder (its ``results.json``; the items
and split are rebuilt from the same ``--data`` and ``--train``) and prints, for eval sets
(a) and (b):

* **prior**: the accuracy of a rule that knows nothing of the question - pick the option
  that was most often the key of a training item (ties and zero counts: wrong). A model
  that only learnt "these strings are answers" scores about this;
* accuracy before/after split by whether the gold option was the key of a training item
  **of the same disease** (learnt association) or not, and by whether the prior rule gets
  the question right (a gain only where it does is what the prior alone would give).

Usage: python bench/before_after_prior.py --out OUT
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_before_after import split


def prior_pick(row: dict[str, Any], key_counts: Counter[str]) -> int | None:
    """The option most often a training key (None: no unique maximum above zero)."""
    counts = [key_counts[i] for i in row["option_ids"]]
    top = max(counts)
    if top == 0 or counts.count(top) > 1:
        return None
    return counts.index(top)


def report(rows: list[dict[str, Any]], n_train: int, models: list[dict[str, Any]]) -> dict:
    """Prior accuracy and before/after accuracy by 'gold seen as a same-disease key'."""
    sets = split(rows, n_train)
    keys = Counter(r["answer_id"] for r in sets["train"])
    same: dict[str, set[str]] = {}
    for r in sets["train"]:
        same.setdefault(r["seed_entity"], set()).add(r["answer_id"])
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        by_id = {f"{name}:{r['id']}": r for r in sets[name]}
        recs = [m for m in models[0]["records"] if m["id"] in by_id]
        asked = [by_id[m["id"]] for m in recs]
        prior_right = sum(prior_pick(r, keys) == r["answer_index"] for r in asked)
        seen_ids = {
            f"{name}:{r['id']}" for r in asked if r["answer_id"] in same.get(r["seed_entity"], ())
        }
        groups: dict[str, Any] = {"n": len(asked), "prior_accuracy": prior_right / len(asked)}
        prior_ids = {f"{name}:{r['id']}" for r in asked if prior_pick(r, keys) == r["answer_index"]}
        for label, ids in (
            ("gold_seen", seen_ids),
            ("gold_not_seen", set(by_id) - seen_ids),
            ("prior_right", prior_ids),
            ("prior_wrong", set(by_id) - prior_ids),
        ):
            row: dict[str, Any] = {}
            for m in models:
                hits = [x["correct"] for x in m["records"] if x["id"] in ids]
                row[m["model"]] = f"{sum(hits)}/{len(hits)}"
            groups[label] = row
        out[name] = groups
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    res = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
    data = Path(res["args"]["data"])
    rows = [json.loads(x) for x in (data / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    print(json.dumps(report(rows, int(res["args"]["train"]), res["models"]), indent=2))


if __name__ == "__main__":
    main()
