"""Training-test helpers: a small MedSSR-style benchmark, scripted chat replies, QA items,
recipe paths and the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from medkg.cli.train import app
from medkg.synthesis.items import QAItem

MEDSSR = [
    {
        "id": "rare-1",
        "question": "A boy has long thin fingers and lens dislocation. Which is the diagnosis?\n"
        "A. Marfan syndrome\nB. Myopia\nC. Cystic fibrosis\nD. Down syndrome",
        "gold": "A",
    },
    {
        "id": "rare-2",
        "question": "Which finding is typical of Marfan syndrome?\n(A) Myopia\n(B) Polydactyly"
        "\n(C) Arachnodactyly\n(D) Microcephaly",
        "gold": "C",
    },
    {
        "id": "common-1",
        "question": "What is the capital of France?\nA. Paris\nB. Rome\nC. Madrid\nD. Berlin",
        "gold": "A",
    },
]

ANSWERS = {
    "rare-1": "Understanding: ...\nAnswer: A. Marfan syndrome",  # right
    "rare-2": "The answer is E.",  # E is not an option: no answer
    "common-1": "**A.** Paris",  # right
}


def by_question(body: dict[str, Any]) -> list[str]:
    text = body["messages"][-1]["content"]
    qid = next(q["id"] for q in MEDSSR if q["question"] == text)
    return [ANSWERS[qid]]


def make_item(n: int, family: str, hops: int, rare: bool, answer: int = 0) -> QAItem:
    path = (
        ["HP:0001166", "ORPHA:558"] if hops == 1 else ["HP:0001166", "ORPHA:558", "NCBIGene:2200"]
    )
    return QAItem(
        family=family,
        question=f"Question {n}: a patient has arachnodactyly. Which is the diagnosis?",
        options=list(OPTIONS),
        option_ids=list(IDS),
        answer_index=answer,
        answer_id=IDS[answer],
        entity_ids=[*IDS, "HP:0001166"],
        path_nodes=path,
        path_rels=["HAS_PHENOTYPE"] * (len(path) - 1),
        distractor_ids=[i for k, i in enumerate(IDS) if k != answer],
        hops=hops,
        rare=rare,
        difficulty=0.5,
        rationale=RATIONALE,
        template="test",
    ).with_id()


# Per question number: what the model answers in its k=4 samples.
SCRIPT = {
    1: ["The answer is A", "Answer: (A)", "**A.** Marfan syndrome", "B"],  # A, 0.75, right
    2: ["Answer: A", "Answer: A", "Answer: B", "Answer: B"],  # tie
    3: ["hmm", "I am not sure.", "", "no idea"],  # no answer
    4: ["C", "C) Cystic fibrosis", "D", "nothing"],  # C at 0.5 < tau 0.6
    5: ["Answer: B"] * 4,  # B at 1.0, but the graph says A: kept, wrong
    6: ["Marfan syndrome", "The answer is A", "A", "Answer: C"],  # A, 0.75, right
}


def items() -> list[QAItem]:
    return [
        make_item(1, "diagnosis", 1, True),
        make_item(2, "diagnosis", 1, False),
        make_item(3, "gene", 2, True),
        make_item(4, "gene", 2, False),
        make_item(5, "chain", 2, True),
        make_item(6, "chain", 1, False),
    ]


def scripted(body: dict[str, Any]) -> list[str]:
    question = body["messages"][-1]["content"]
    number = int(question.split(":")[0].removeprefix("Question "))
    return SCRIPT[number][: body["n"]]


runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


RECIPES = Path(__file__).resolve().parents[2] / "medkg" / "training" / "recipes"


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


FAST_ARGS = (
    "{max_steps: 2, per_device_train_batch_size: 4, num_generations: 4, "
    "max_completion_length: 6, save_steps: 1, learning_rate: 1e-3, seed: 0}"
)


RATIONALE = {
    "understanding": "Findings of a connective-tissue disorder.",
    "recall": "Marfan syndrome is annotated with arachnodactyly.",
    "reasoning": "Only one option has the finding.",
    "conclusion": "Marfan syndrome.",
}

OPTIONS = ["Marfan syndrome", "Myopia", "Cystic fibrosis", "Homocystinuria"]

IDS = ["ORPHA:558", "HP:0000545", "ORPHA:586", "ORPHA:394"]
