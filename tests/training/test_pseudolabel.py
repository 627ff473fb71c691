"""Pseudo-labels: exact votes from scripted models (a real HTTP endpoint stand-in and a
Generator subclass), the per-group accuracy report, reject sampling, the written folder,
and one run of the real local generator on a tiny random-init model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medkg.kg.model import KnowledgeGraph
from medkg.llm import (
    Generator,
    GenParams,
    LocalGenerator,
    Messages,
    build_generator,
)
from medkg.synthesis.export import read_items
from medkg.training.pseudolabel import (
    PseudoLabelConfig,
    RejectConfig,
    majority,
    names_from_graph,
    reject_sample,
    self_consistency,
    write_labelled,
)
from medkg.training.rewards import build_reward
from tests.factories.chat import ChatServer
from tests.factories.training import items, scripted

CONFIG = PseudoLabelConfig(k=4, tau=0.6, temperature=0.8, max_new_tokens=32)


def test_majority_counts_votes_and_ties() -> None:
    assert majority(["A", "B", "A", None]) == (0, 2, False)
    assert majority(["B", "A"]) == (0, 1, True)
    assert majority([None, None]) == (None, 0, False)


def test_self_consistency_over_a_real_endpoint() -> None:
    with ChatServer(reply=scripted) as server:
        gen = build_generator("openai", base_url=server.base_url, model="policy", batch_size=4)
        result = self_consistency(items(), gen, CONFIG)
    assert len(server.requests) == 6 and all(r["n"] == 4 for r in server.requests)
    assert server.requests[0]["temperature"] == 0.8
    got = {lab.item.question.split(":")[0]: lab for lab in result.labelled}
    assert got["Question 1"].votes == ["A", "A", "A", "B"]
    assert (got["Question 1"].label, got["Question 1"].confidence) == (0, 0.75)
    assert [got[f"Question {n}"].reason for n in range(1, 7)] == [
        "", "tie", "no_answer", "below_tau", "", "",
    ]  # fmt: skip
    assert got["Question 4"].label == 2 and got["Question 4"].confidence == 0.5
    report = result.report
    assert (report["items"], report["kept"]) == (6, 3)
    assert report["dropped"] == {"no_answer": 1, "tie": 1, "below_tau": 1}
    overall = report["accuracy"]["overall"]
    # labelled: 1 (A right), 2 (tie: A, right), 4 (C wrong), 5 (B wrong), 6 (A right)
    assert overall["labelled"] == 5 and overall["label_accuracy"] == 0.6
    assert overall["kept_accuracy"] == round(2 / 3, 4)
    assert overall["abstain_share"] == round(5 / 24, 4)  # 4 in question 3, 1 in 4
    by_family = report["accuracy"]["by_family"]
    assert list(by_family) == ["chain", "diagnosis", "gene"]
    assert by_family["chain"]["kept"] == 2 and by_family["chain"]["kept_accuracy"] == 0.5
    assert by_family["gene"]["kept"] == 0 and by_family["gene"]["kept_accuracy"] is None
    assert report["accuracy"]["by_hops"]["2"]["items"] == 3
    assert report["accuracy"]["by_rare"]["true"]["kept_accuracy"] == 0.5
    assert report["generator"]["model"] == "policy"


class FixedExpert(Generator):
    """Answers question n with ``answers[n]`` (a letter) or nothing; records its calls."""

    def __init__(self, *, answers: dict[int, str], batch_size: int = 8) -> None:
        super().__init__(batch_size=batch_size)
        self.answers = answers
        self.batches: list[int] = []

    @property
    def model_name(self) -> str:
        return "fixed"

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        self.batches.append(len(prompts))
        out = []
        for p in prompts:
            n = int(p[-1]["content"].split(":")[0].removeprefix("Question "))
            out.append([f"Answer: {self.answers.get(n, '?')}"] * params.n)
        return out


def test_reject_sampling_keeps_agreement() -> None:
    experts = [
        FixedExpert(answers={1: "A", 2: "A", 3: "B", 4: "C", 5: "B", 6: "A"}),
        FixedExpert(answers={1: "A", 2: "B", 3: "B", 4: "D", 5: "B"}),
        FixedExpert(answers={1: "A", 2: "C", 3: "C", 4: "C", 5: "B", 6: "A"}, batch_size=4),
    ]
    result = reject_sample(items(), experts, RejectConfig(min_agree=2))
    assert [lab.votes for lab in result.labelled][:2] == [["A", "A", "A"], ["A", "B", "C"]]
    assert [lab.kept for lab in result.labelled] == [True, False, True, True, True, True]
    assert result.labelled[0].confidence == 1.0
    assert result.report["dropped"] == {"no_agreement": 1}
    assert result.report["experts"][f"1:{experts[1].name}"] == {
        "answered": 5,
        "accuracy": round(1 / 6, 4),
    }
    assert experts[2].batches == [4, 2]  # the Generator API batches the questions
    strict = reject_sample(items(), experts, RejectConfig(min_agree=2, agree_with_graph=True))
    assert strict.report["dropped"] == {"no_agreement": 1, "disagrees_with_graph": 3}
    assert [lab.item.question[:10] for lab in strict.kept] == ["Question 1", "Question 6"]
    with pytest.raises(ValueError, match=r"min_agree must be in 1\.\.3"):
        reject_sample(items(), experts, RejectConfig(min_agree=4))


def test_written_folder_round_trips_and_feeds_the_rewards(
    tmp_path: Path, small_kg: KnowledgeGraph
) -> None:
    with ChatServer(reply=scripted) as server:
        gen = build_generator("openai", base_url=server.base_url, model="policy")
        result = self_consistency(items(), gen, CONFIG)
    out = write_labelled(
        result, tmp_path / "pl", {"input": "items.jsonl"}, names_from_graph(small_kg)
    )
    assert sorted(p.name for p in out.iterdir()) == [
        ".medkg-output.json", "items.jsonl", "report.json", "trl_grpo.jsonl", "votes.jsonl",
    ]  # fmt: skip
    back = read_items(out)
    assert [i.question[:10] for i in back] == ["Question 1", "Question 5", "Question 6"]
    rows = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    assert rows[1]["pseudo_label"] == "B" and rows[1]["answer_letter"] == "A"
    grpo = [json.loads(x) for x in (out / "trl_grpo.jsonl").read_text().splitlines()]
    assert [g["answer"] for g in grpo] == ["A", "B", "A"]
    assert [g["graph_answer"] for g in grpo] == ["A", "A", "A"]
    assert grpo[1]["path_names"][2] == ["FBN1", "fibrillin 1"]  # from the graph
    assert grpo[0]["path_names"][0][0] == "Arachnodactyly"
    votes = [json.loads(x) for x in (out / "votes.jsonl").read_text().splitlines()]
    assert len(votes) == 6 and votes[1]["reason"] == "tie"
    report = json.loads((out / "report.json").read_text())
    assert report["input"] == "items.jsonl" and report["kept"] == 3
    assert set(report["files"]) == {"items.jsonl", "trl_grpo.jsonl", "votes.jsonl"}
    # the GRPO file is what the accuracy and graph rewards read
    reward = build_reward({"accuracy": 1.0, "graph": 1.0})
    cols = {k: [g[k] for g in grpo] for k in ("answer", "options", "path_names")}
    scores = reward([g["prompt"] for g in grpo], ["Answer: A. Marfan syndrome"] * 3, **cols)
    assert scores == [1.5, 1 / 3, 1.5]
    # a folder that is not ours is refused; our own is replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_labelled(result, tmp_path / "other")
    write_labelled(result, out)
    assert not list(tmp_path.glob(".pl.*"))


def test_self_consistency_with_the_local_generator(tiny_model: Path, tmp_path: Path) -> None:
    gen = LocalGenerator(model=tiny_model, threads=1, batch_size=4)
    config = PseudoLabelConfig(k=3, tau=0.5, max_new_tokens=6, seed=3)
    first = self_consistency(items(), gen, config)
    again = self_consistency(items(), gen, config)
    assert [lab.votes for lab in first.labelled] == [lab.votes for lab in again.labelled]
    assert all(len(lab.votes) == 3 for lab in first.labelled)
    report = first.report
    assert report["kept"] + sum(report["dropped"].values()) == 6
    assert report["questions_per_s"] > 0 and gen.stats.completions == 2 * 6 * 3
    assert report["generator"]["generator"] == "local"
    write_labelled(first, tmp_path / "local")
    assert (tmp_path / "local" / "report.json").is_file()
