"""Position-unbiased evaluation: option orders, raw vs permutation-consistent accuracy, the
answer-letter distribution, full responses in the records, and the benchmark readers
(MedSSR options inside the question, medkg items). Scripted in-process generators make the
expected figures computable by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from medkg.cli.tables import comparison_table, letter_table
from medkg.llm.base import Generator, GenParams, Messages
from medkg.synthesis.items import LETTERS
from medkg.training.answers import option_block
from medkg.training.benchmarks import load_benchmark, permutation_set
from medkg.training.evaluate import (
    evaluate,
    letter_distribution,
    write_results,
)
from tests.factories.training import MEDSSR


class Scripted(Generator):
    """Answers each prompt with ``reply(user text)``."""

    def __init__(self, reply: Any, name: str = "scripted") -> None:
        super().__init__(batch_size=4)
        self.reply = reply
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        return [[self.reply(p[-1]["content"])] * params.n for p in prompts]


def knows(answers: dict[str, str]) -> Any:
    """A model that knows each question's answer text and states its current letter."""

    def reply(text: str) -> str:
        _, options, _ = option_block(text)
        for i, o in enumerate(options):
            if o in answers.values():
                return f"Let me think.\nAnswer: {LETTERS[i]}. {o}"
        return "I am not sure."

    return reply


GOLD_TEXT = {"rare-1": "Marfan syndrome", "rare-2": "Arachnodactyly", "common-1": "Paris"}


@pytest.fixture()
def medssr(tmp_path: Path) -> Path:
    path = tmp_path / "medssr.json"
    path.write_text(json.dumps(MEDSSR), encoding="utf-8")
    return path


def test_permutation_sets() -> None:
    assert permutation_set("cyclic", 4) == [(0, 1, 2, 3), (1, 2, 3, 0), (2, 3, 0, 1), (3, 0, 1, 2)]
    assert permutation_set("cyclic:2", 5) == [(0, 1, 2, 3, 4), (1, 2, 3, 4, 0)]
    assert permutation_set("none", 4) == [(0, 1, 2, 3)]
    assert permutation_set("DCBA,ABCDE", 4) == [(0, 1, 2, 3), (3, 2, 1, 0)]  # 5-letter skipped
    for bad in ("cyclic:x", "cyclic:0", "ABCA", "AB1"):
        with pytest.raises(ValueError, match="permutations"):
            permutation_set(bad, 4)


def test_medssr_options_are_rebuilt_in_each_order(medssr: Path) -> None:
    q = load_benchmark(medssr)[1]  # "(A) Myopia ..." lines inside the question
    assert q.head == "Which finding is typical of Marfan syndrome?"
    prompt, options, gold = q.present((2, 3, 0, 1))
    assert options == ["Arachnodactyly", "Microcephaly", "Myopia", "Polydactyly"] and gold == 0
    assert prompt == (
        "Which finding is typical of Marfan syndrome?\nA. Arachnodactyly\nB. Microcephaly\n"
        "C. Myopia\nD. Polydactyly"
    )
    assert q.present((0, 1, 2, 3))[0] == MEDSSR[1]["question"]  # published text unchanged
    with pytest.raises(ValueError, match="not an order"):
        q.present((0, 0, 1, 2))


def test_always_a_is_right_raw_but_never_consistent(medssr: Path, tmp_path: Path) -> None:
    qs = load_benchmark(medssr)  # gold letters A, C, A
    biased = evaluate(Scripted(lambda text: "Answer: A"), qs, model="always-a")
    overall = biased.breakdown()["overall"]
    assert (overall["correct"], overall["accuracy"]) == (2, round(2 / 3, 4))  # raw
    assert overall["consistent"]["accuracy"] == 0.0
    assert overall["perm_mean"]["accuracy"] == 0.25  # 3 of 12 asks: A is gold once per question
    assert overall["orders"] == 4
    dist = letter_distribution(biased.records)
    assert dist["gold"] == {"A": 3, "B": 3, "C": 3, "D": 3}  # cyclic orders balance the key
    assert dist["predicted"] == {"A": 12, "B": 0, "C": 0, "D": 0, "none": 0}

    knowing = evaluate(Scripted(knows(GOLD_TEXT)), qs, model="knows")
    overall = knowing.breakdown()["overall"]
    assert overall["accuracy"] == overall["consistent"]["accuracy"] == 1.0
    rec = knowing.records[1]
    assert [a["order"] for a in rec["asks"]] == ["ABCD", "BCDA", "CDAB", "DABC"]
    assert [a["gold"] for a in rec["asks"]] == ["C", "B", "A", "D"]
    assert [a["chosen"] for a in rec["asks"]] == ["C"] * 4  # the same option every time
    assert rec["asks"][2]["response"] == "Let me think.\nAnswer: A. Arachnodactyly"
    assert rec["asks"][2]["method"] == "stated" and rec["response"].startswith("Let me think")

    console = Console(record=True, width=250)
    console.print(comparison_table([biased, knowing]))
    console.print(letter_table([biased, knowing]))
    text = console.export_text()
    assert "always-a consistent" in text and "0.000 [0.000, 0.561]" in text
    assert "+1.000" in text  # Δ consistent
    data = json.loads(write_results([biased, knowing], tmp_path / "r.json").read_text())
    assert data["models"][0]["letters"]["predicted"]["A"] == 12
    assert data["comparison"][0]["delta_consistent"] == 1.0
    assert data["models"][1]["records"][1]["asks"][2]["response"].endswith("Arachnodactyly")


def test_unread_answers_count_as_wrong_and_none(medssr: Path) -> None:
    qs = load_benchmark(medssr)
    result = evaluate(Scripted(lambda text: "It depends.", "vague"), qs, permutations="cyclic:2")
    overall = result.breakdown()["overall"]
    assert overall["answered"] == 0.0 and overall["consistent"]["accuracy"] == 0.0
    assert letter_distribution(result.records)["predicted"]["none"] == 6
    assert all(a["method"] is None and a["predicted"] is None for r in result.records
               for a in r["asks"])  # fmt: skip


def test_medkg_items_are_a_benchmark_with_their_own_rarity(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"diagnosis-{i}", "family": "diagnosis", "rare": i % 2 == 0,
            "question": f"Which disease presents with cue {i}?",
            "options": ["Marfan syndrome", "Cystic fibrosis", "Down syndrome", "Myopia"],
            "option_ids": ["ORPHA:558", "ORPHA:586", "ORPHA:870", "HP:0000545"],
            "answer_index": i % 4, "answer": "ignored when answer_index is there",
        }
        for i in range(4)
    ]  # fmt: skip
    folder = tmp_path / "synth"
    folder.mkdir()
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    qs = load_benchmark(folder)  # a `medkg synth` folder
    assert [q.gold for q in qs] == [0, 1, 2, 3] and qs[0].subset == "synth:diagnosis"
    assert [q.rarity for q in qs] == ["rare", "common", "rare", "common"]
    result = evaluate(Scripted(lambda text: "Answer: B"), qs, permutations="none")
    by = result.breakdown()["by_rarity"]
    assert by["common"]["correct"] == 1 and by["rare"]["correct"] == 0
    rows[1]["answer_index"] = 7
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ValueError, match=r"items.jsonl:2: .*answer_index 7"):
        load_benchmark(folder)


@pytest.mark.slow
def test_smollm2_raw_and_consistent_accuracy_differ() -> None:
    """The packaged SmolLM2-135M on 12 MMLU medical questions, letter logits, every
    rotation: its letter preference makes raw and permutation-consistent accuracy differ."""
    import torch

    from medkg.llm.local import LocalGenerator
    from medkg.training.answerers import LetterLogitAnswerer
    from medkg.training.evaluate import mmlu_questions

    torch.manual_seed(0)
    qs = mmlu_questions(limit=12)
    answerer = LetterLogitAnswerer(LocalGenerator(threads=1, batch_size=8))
    result = evaluate(answerer, qs)
    overall = result.breakdown()["overall"]
    assert overall["accuracy"] != overall["consistent"]["accuracy"]
    assert overall["consistent"]["accuracy"] < overall["accuracy"]
    dist = letter_distribution(result.records)
    assert sum(dist["predicted"].values()) == 48 and dist["predicted"]["none"] == 0
    assert max(dist["predicted"].values()) > 12  # a preferred letter, against 12 golds each
    rec = result.records[0]
    assert rec["asks"][0]["method"] == "logits" and rec["asks"][0]["response"].startswith("Answer:")


def test_cli_eval_prints_raw_consistent_and_letters(medssr: Path, tmp_path: Path) -> None:
    """`medkg train eval --scoring letters` on the tiny random-init model: every question
    in every cyclic order, both accuracies, the letter table, and full records."""
    from medkg.training.tiny import build_tiny_model
    from tests.factories.training import invoke

    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "eval.json"
    spec = f"tiny=local:model={model},threads=1"
    result = invoke("eval", "-m", spec, "-b", str(medssr), "--scoring", "letters",
                    "--no-link", "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in ("tiny raw", "tiny consistent", "answer letters over every order asked"):
        assert text in result.stdout
    data = json.loads(out.read_text())
    rec = data["models"][0]["records"][0]
    assert len(rec["asks"]) == 4 and {a["method"] for a in rec["asks"]} == {"logits"}
    assert all(a["response"].startswith("Answer: ") for a in rec["asks"])
    assert sum(data["models"][0]["letters"]["predicted"].values()) == 12
    bad = invoke("eval", "-m", spec, "-b", str(medssr), "-p", "cyclic:0")
    assert bad.exit_code == 2 and "cyclic:0" in bad.output


def test_options_that_point_at_other_options_keep_the_published_order(tmp_path: Path) -> None:
    # "Both A and B" names options by letter and "All of the above" by position: shown in
    # another order they mean something else (after a rotation "Both A and B" names two
    # other options, so the gold is no longer right). Such questions are asked as published.
    path = tmp_path / "bench.jsonl"
    rows = [
        {"id": "both", "question": "Which cause tall stature?",
         "options": ["Marfan syndrome", "Homocystinuria", "Turner syndrome", "Both A and B"],
         "answer_idx": "D"},
        {"id": "above", "question": "Which are features of Marfan syndrome?",
         "options": ["Ectopia lentis", "Aortic root dilatation", "Arachnodactyly",
                     "All of the above"],
         "answer_idx": "D"},
        {"id": "plain", "question": "Which gene is mutated in Marfan syndrome?",
         "options": ["FBN1", "CFTR", "HTT", "DMD"], "answer_idx": "A"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    questions = load_benchmark(path)
    seen: list[str] = []

    def reply(text: str) -> str:
        seen.append(text)
        return "Answer: D"

    result = evaluate(Scripted(reply), questions)
    orders = {r["id"]: [a["order"] for a in r["asks"]] for r in result.records}
    assert orders["both"] == ["ABCD"]
    assert orders["above"] == ["ABCD"]
    assert orders["plain"] == ["ABCD", "BCDA", "CDAB", "DABC"]
    for text in seen:
        _, options, _ = option_block(text)
        for pointer in ("Both A and B", "All of the above"):
            assert pointer not in options or options.index(pointer) == 3
