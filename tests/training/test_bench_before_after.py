"""The before/after bench's training rows, split and answer-prior report (bench/ scripts)."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


ba = _load("bench_before_after")
prior = _load("before_after_prior")


def _item(
    i: int, disease: str, answer: str, distractors: list[str], gold: int = 0
) -> dict[str, Any]:
    ids = list(distractors)
    ids.insert(gold, answer)
    return {
        "id": f"gene-{i:04d}",
        "question": f"A patient with finding {i} of {disease}. Which gene is most likely implicated?",
        "options": [f"name of {x}" for x in ids],
        "option_ids": ids,
        "answer_index": gold,
        "answer_id": answer,
        "seed_entity": disease,
        "entity_ids": [f"HP:{i:07d}", disease, answer],
        "family": "gene",
        "rare": True,
    }


ITEM = _item(1, "OMIM:209900", "NCBIGene:79140", ["G:1", "G:2", "G:3", "G:4"], gold=2)


def test_cloze_rows_hold_the_stem_and_the_key_text_only() -> None:
    (row,) = ba.sft_rows(ITEM, "Answer the medical question.", "cloze", 5)
    user = row["prompt"][1]["content"]
    assert user == ITEM["question"] and "name of G:1" not in user
    assert row["completion"][0]["content"] == "Answer: name of NCBIGene:79140"


def test_mc_rows_in_every_rotation_make_each_letter_the_key_once() -> None:
    rows = ba.sft_rows(ITEM, "sys", "mc", 5)
    assert len(rows) == 5 and len({r["id"] for r in rows}) == 5
    letters = []
    for r in rows:
        answer = r["completion"][0]["content"]
        letter = answer.split(" ")[1].rstrip(".")
        letters.append(letter)
        # the completion's letter is the key's line in that prompt
        assert f"{letter}. name of NCBIGene:79140" in r["prompt"][1]["content"].splitlines()
    assert sorted(letters) == ["A", "B", "C", "D", "E"]
    assert len(ba.sft_rows(ITEM, "sys", "mc", 1)) == 1
    assert ba.sft_rows(ITEM, "sys", "mc", 1)[0]["completion"][0]["content"] == (
        "Answer: C. name of NCBIGene:79140"
    )


def _corpus() -> list[dict[str, Any]]:
    rows = []
    for d in range(12):
        for k in range(6):
            i = d * 10 + k
            rows.append(
                _item(i, f"OMIM:{d:06d}", f"G:{d}", [f"G:{d + 20}", "G:90", "G:91", "G:92"], k % 5)
            )
    return rows


def test_split_keeps_diseases_and_cue_sets_apart() -> None:
    sets = ba.split(_corpus(), 40)
    train_d = {r["seed_entity"] for r in sets["train"]}
    assert train_d and not train_d & {r["seed_entity"] for r in sets["b"]}
    for r in sets["a"]:
        assert r["seed_entity"] in train_d
        same = [t for t in sets["train"] if t["seed_entity"] == r["seed_entity"]]
        assert all(ba.cues(t) != ba.cues(r) for t in same)


def test_prior_report_counts_keys_and_same_disease_answers() -> None:
    rows = _corpus()
    sets = ba.split(rows, 40)
    keys = Counter(r["answer_id"] for r in sets["train"])
    r = sets["a"][0]
    # every (a) key G:d was a training key of its disease; the distractors never were
    assert prior.prior_pick(r, keys) == r["answer_index"]
    records = [{"id": f"a:{x['id']}", "correct": True} for x in sets["a"]]
    records += [{"id": f"b:{x['id']}", "correct": False} for x in sets["b"]]
    out = prior.report(rows, 40, [{"model": "m", "records": records}])
    n_a = len(sets["a"])
    assert out["a"]["prior_accuracy"] == 1.0 and out["a"]["gold_seen"]["m"] == f"{n_a}/{n_a}"
    assert out["b"]["prior_accuracy"] == 0.0  # unseen diseases: their keys were never trained
    assert out["b"]["gold_seen"]["m"] == "0/0"
    assert out["a"]["prior_right"]["m"] == f"{n_a}/{n_a}" and out["a"]["prior_wrong"]["m"] == "0/0"
