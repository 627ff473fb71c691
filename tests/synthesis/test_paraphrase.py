"""Knowledge-injected paraphrase: prompts, seed questions and the re-check.

Completions come from a real local HTTP server (tests.factories.chat.ChatServer, standing in for a
vLLM endpoint) that answers each prompt with a fixed text chosen by the question it carries,
so every re-check outcome is deterministic.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medkg.llm import GenParams, build_generator
from medkg.synthesis.items import QAItem
from medkg.synthesis.paraphrase import (
    PROMPT_VERSION,
    ParaphraseConfig,
    SeedQuestion,
    build_prompt,
    check_rewrite,
    clean_completion,
    entity_names,
    load_seed_questions,
    paraphrase_items,
)
from tests.factories.chat import ChatServer

NAMES: dict[str, list[str]] = {
    "ORPHA:558": ["Marfan syndrome", "MFS", "Marfan's syndrome"],
    "ORPHA:60030": ["Loeys-Dietz syndrome"],
    "ORPHA:98249": ["Ehlers-Danlos syndrome"],
    "ORPHA:394": ["Classic homocystinuria", "Homocystinuria"],
    "ORPHA:586": ["Cystic fibrosis", "Mucoviscidosis"],
    "ORPHA:32": ["Primary ciliary dyskinesia"],
    "ORPHA:1331": ["Shwachman-Diamond syndrome"],
    "ORPHA:79": ["Alpha-1-antitrypsin deficiency"],
    "HP:0001166": ["Arachnodactyly", "Long slender fingers", "Spider fingers"],
    "HP:0001083": ["Ectopia lentis", "Dislocated lens"],
    "HP:0002616": ["Aortic root aneurysm", "Dilatation of the aortic root"],
    "HP:0002110": ["Bronchiectasis"],
    "HP:0001738": ["Exocrine pancreatic insufficiency"],
    "HP:0004401": ["Meconium ileus"],
    "HP:0001433": ["Hepatosplenomegaly"],
    "HP:0001519": ["Disproportionate tall stature"],
    "HP:0000545": ["Myopia", "Near-sightedness"],
    "NCBIGene:2200": ["FBN1", "fibrillin 1"],
    "NCBIGene:7046": ["TGFBR1"],
    "NCBIGene:1277": ["COL1A1"],
    "NCBIGene:875": ["CBS"],
}
RATIONALE = {k: "." for k in ("understanding", "recall", "reasoning", "conclusion")}
SHOTS = [
    SeedQuestion("s:0", "Which vitamin deficiency causes scurvy?", ("A", "B", "C", "D"), "C"),
    SeedQuestion("s:1", "A 5-year-old has a barking cough. Most likely cause?", ("x", "y"), "A"),
    SeedQuestion("s:2", "Which nerve innervates the deltoid?", ("Axillary", "Radial"), "A"),
]


def item(
    family: str,
    question: str,
    option_ids: list[str],
    answer_index: int,
    cues: list[str],
    hidden: list[str] = (),  # type: ignore[assignment]
    rels: str = "HAS_PHENOTYPE",
) -> QAItem:
    answer = option_ids[answer_index]
    centre = hidden[0] if hidden else answer
    path: list[str] = []
    for c in cues:
        path += [c, centre]
    if hidden:
        path.append(answer)
    it = QAItem(
        family=family,
        question=question,
        options=[NAMES[o][0] for o in option_ids],
        option_ids=option_ids,
        answer_index=answer_index,
        answer_id=answer,
        entity_ids=[*cues, *hidden, answer],
        path_nodes=path,
        path_rels=[rels] * (len(path) - 1),
        distractor_ids=[o for o in option_ids if o != answer],
        hops=1 + len(hidden),
        rare=True,
        difficulty=0.5,
        rationale=RATIONALE,
        template=f"{family}.v1",
        seed_entity=centre,
        provenance={"graph_hash": "abc", "seed": 7},
    )
    it.check_shape()
    return it.with_id()


MARFAN = item(
    "diagnosis",
    "A patient presents with arachnodactyly, ectopia lentis and aortic root aneurysm. "
    "Which is the most likely diagnosis?",
    ["ORPHA:60030", "ORPHA:558", "ORPHA:98249", "ORPHA:394"],
    1,
    ["HP:0001166", "HP:0001083", "HP:0002616"],
)
FBN1 = item(
    "gene",
    "A patient presents with arachnodactyly and ectopia lentis. Which gene is most likely implicated?",
    ["NCBIGene:7046", "NCBIGene:1277", "NCBIGene:2200", "NCBIGene:875"],
    2,
    ["HP:0001166", "HP:0001083"],
    hidden=["ORPHA:558"],
)
NOT_MARFAN = item(
    "phenotype",
    "Which is NOT a feature of Marfan syndrome?",
    ["HP:0001166", "HP:0001433", "HP:0001083", "HP:0000545"],
    1,
    ["ORPHA:558"],
)
CF = item(
    "diagnosis",
    "A patient presents with bronchiectasis, exocrine pancreatic insufficiency and meconium "
    "ileus. Which is the most likely diagnosis?",
    ["ORPHA:32", "ORPHA:1331", "ORPHA:79", "ORPHA:586"],
    3,
    ["HP:0002110", "HP:0001738", "HP:0004401"],
)

FAITHFUL_MARFAN = (
    "Rewritten question: A 19-year-old man is referred with long slender fingers, a dislocated "
    "lens and an aortic root aneurysm on echocardiography. What is the most likely diagnosis?\n"
    "A. Loeys-Dietz syndrome\nB. Marfan syndrome\nC. Ehlers-Danlos syndrome\nD. Homocystinuria\n"
    "Answer: B"
)
LEAKY_MARFAN = (
    "A tall 19-year-old with arachnodactyly, ectopia lentis and aortic root aneurysm, typical of "
    "MFS. Which is the most likely diagnosis?"
)
REPLIES: dict[str, list[str]] = {
    MARFAN.question: [FAITHFUL_MARFAN],
    FBN1.question: [
        "A girl with spider fingers and ectopia lentis has Marfan syndrome. Which gene is most "
        "likely implicated?"
    ],
    NOT_MARFAN.question: ["A teenager has Marfan syndrome. Which is a feature of his disease?"],
    CF.question: [
        "An infant with bronchiectasis and exocrine pancreatic insufficiency has a positive "
        "sweat test. What is the most likely diagnosis?"
    ],
}


def replies_by_question(table: dict[str, list[str]]) -> Any:
    def reply(body: dict[str, Any]) -> list[str]:
        prompt = body["messages"][-1]["content"]
        hits = [texts for question, texts in table.items() if question in prompt]
        assert len(hits) == 1, prompt
        return hits[0][: body["n"]]

    return reply


def run(items: list[QAItem], table: dict[str, list[str]], **kw: Any) -> Any:
    with ChatServer(replies_by_question(table)) as server:
        gen = build_generator("openai", base_url=server.base_url, model="smollm2", timeout_s=5)
        out = paraphrase_items(items, gen, NAMES, kw.pop("params", None), 3, seeds=SHOTS, **kw)
    return out, server


def test_faithful_paraphrase_is_accepted_leaks_and_lost_cues_rejected() -> None:
    (accepted, rejects), server = run([MARFAN, FBN1, NOT_MARFAN, CF], REPLIES)
    assert rejects == Counter({"hidden_entity_leak": 1, "negation_changed": 1, "lost_cue": 1})
    assert len(server.requests) == 4
    [new] = accepted
    assert new.question == (
        "A 19-year-old man is referred with long slender fingers, a dislocated lens and an "
        "aortic root aneurysm on echocardiography. What is the most likely diagnosis?"
    )
    # everything but the stem comes from the graph item unchanged
    keep = ("options", "option_ids", "answer_index", "answer_id", "entity_ids", "path_nodes")
    assert all(getattr(new, k) == getattr(MARFAN, k) for k in keep)
    assert new.template == "openai:smollm2" and new.id != MARFAN.id
    assert new.id == new.with_id().id
    para = new.provenance["paraphrase"]
    assert para["prompt_version"] == PROMPT_VERSION and len(para["prompt_sha256"]) == 64
    assert para["source_question"] == MARFAN.question and para["source_id"] == MARFAN.id
    assert para["source_template"] == "diagnosis.v1" and para["seed"] == 3
    assert len(para["seed_question_ids"]) == 2 and new.provenance["graph_hash"] == "abc"
    assert new.provenance["generator"]["model"] == "smollm2"


def test_answer_leak_by_synonym_is_rejected() -> None:
    (accepted, rejects), _ = run([MARFAN], {MARFAN.question: [LEAKY_MARFAN]})
    assert accepted == [] and rejects == Counter({"answer_leak": 1})


def test_first_passing_candidate_is_kept() -> None:
    table = {MARFAN.question: [LEAKY_MARFAN, FAITHFUL_MARFAN]}
    params = GenParams(n=2, temperature=0.8, max_new_tokens=64)
    (accepted, rejects), server = run([MARFAN], table, params=params)
    assert not rejects and accepted[0].provenance["paraphrase"]["candidate"] == 1
    assert server.requests[0]["n"] == 2 and server.requests[0]["temperature"] == 0.8


def test_same_seed_same_items_and_prompts() -> None:
    with ChatServer(replies_by_question(REPLIES)) as server:
        gen = build_generator("openai", base_url=server.base_url, model="smollm2")
        a, _ = paraphrase_items([MARFAN, CF], gen, NAMES, None, 3, seeds=SHOTS)
        b, _ = paraphrase_items([MARFAN, CF], gen, NAMES, None, 3, seeds=SHOTS)
        c, _ = paraphrase_items([MARFAN, CF], gen, NAMES, None, 4, seeds=SHOTS)
    dump = [json.dumps(x.to_dict(), sort_keys=True) for x in a]
    assert dump == [json.dumps(x.to_dict(), sort_keys=True) for x in b]
    bodies = [json.dumps(r, sort_keys=True) for r in server.requests]  # arrival order varies
    assert sorted(bodies[:2]) == sorted(bodies[2:4])
    assert not set(bodies[4:]) & set(bodies[:2])  # another seed, other shots and seeds
    shot_ids = [x.provenance["paraphrase"]["seed_question_ids"] for x in (a[0], c[0])]
    assert shot_ids[0] != shot_ids[1]  # the seed also picks the few-shot examples


def test_missing_names_fail_before_any_request() -> None:
    names = {k: v for k, v in NAMES.items() if k != "HP:0001083"}
    with ChatServer() as server:
        gen = build_generator("openai", base_url=server.base_url, model="m")
        with pytest.raises(ValueError, match=r"no names for 1 entity ids.*HP:0001083"):
            paraphrase_items([MARFAN], gen, names, None, 0, seeds=SHOTS)
    assert server.requests == []


def test_prompt_injects_shots_facts_options_and_cues() -> None:
    msgs = build_prompt(MARFAN, NAMES, SHOTS[:2])
    assert [m["role"] for m in msgs] == ["system", "user"]
    text = msgs[1]["content"]
    for needle in (
        "Which vitamin deficiency causes scurvy?",  # seed question
        "Marfan syndrome (ORPHA:558), a rare disease; also called MFS, Marfan's syndrome.",
        "Arachnodactyly — has phenotype — Marfan syndrome.",
        MARFAN.question,
        "B. Marfan syndrome\nC. Ehlers-Danlos syndrome",
        "Keep every finding it gives (Arachnodactyly; Ectopia lentis; Aortic root aneurysm)",
        "Do not name the correct answer (Marfan syndrome)",
    ):
        assert needle in text, needle
    assert text.count("has phenotype") == 3  # the star walk's repeated edges appear once


def test_entity_roles_cues_hidden_and_answer() -> None:
    names = entity_names(FBN1, NAMES)
    assert set(names.cues) == {"HP:0001166", "HP:0001083"}
    assert set(names.hidden) == {"ORPHA:558"}
    assert names.answer == ("FBN1", "FBN1", "fibrillin 1")
    neg = entity_names(NOT_MARFAN, NAMES)
    assert set(neg.cues) == {"ORPHA:558"} and not neg.hidden


@pytest.mark.parametrize(
    ("stem", "reason"),
    [
        ("", "empty"),
        ("Diagnosis?", "too_short"),
        (
            "A patient with arachnodactyly, ectopia lentis and aortic root aneurysm. " * 20 + "?",
            "too_long",
        ),
        (
            "A man has arachnodactyly, ectopia lentis and aortic root aneurysm. Give the diagnosis.",
            "no_question",
        ),
        (MARFAN.question.upper(), "unchanged"),
        (
            "A man has arachnodactyly, ectopia lentis and aortic root aneurysm. Diagnosis? Gene?",
            "several_questions",
        ),
        (
            "Question to rewrite: A man has arachnodactyly, ectopia lentis and aortic root aneurysm?",
            "prompt_echo",
        ),
        (
            "A man has arachnodactyly, ectopia lentis and aortic root aneurysm. A man has "
            "arachnodactyly, ectopia lentis and aortic root aneurysm. What is it?",
            "repetitive",
        ),
        (
            "Spider fingers, a dislocated lens and aortic root aneurysm: Marfan's syndrome or not?",
            "answer_leak",
        ),
        (
            "A man has arachnodactyly and aortic root aneurysm. What is the most likely diagnosis?",
            "lost_cue",
        ),
        (
            "A man has spider fingers, dislocated lens and dilatation of the aortic root. Diagnosis?",
            None,
        ),
    ],
)
def test_check_rewrite_reasons(stem: str, reason: str | None) -> None:
    names = entity_names(MARFAN, NAMES)
    assert check_rewrite(MARFAN, stem, names, ParaphraseConfig(max_chars=400)) == reason


def test_negation_must_survive() -> None:
    names = entity_names(NOT_MARFAN, NAMES)
    kept = "A teenager is diagnosed with Marfan syndrome. Which finding is NOT expected in him?"
    assert check_rewrite(NOT_MARFAN, kept, names) is None
    lost = "A teenager is diagnosed with Marfan syndrome. Which finding is expected in him?"
    assert check_rewrite(NOT_MARFAN, lost, names) == "negation_changed"


@pytest.mark.parametrize(
    ("text", "stem"),
    [
        ('Question: "A boy has myopia. Why?"', "A boy has myopia. Why?"),
        ("**Rewritten question:** A boy\nhas myopia. Why?\n\nA) x\nB) y", "A boy has myopia. Why?"),
        ("A boy has myopia. Why?\nOptions: A. x B. y\nAnswer: A", "A boy has myopia. Why?"),
        ("A. Marfan syndrome\nB. x", ""),
    ],
)
def test_clean_completion(text: str, stem: str) -> None:
    assert clean_completion(text) == stem


def test_seed_questions_from_mmlu_medical_subjects() -> None:
    seeds = load_seed_questions()
    assert len(seeds) == 1089  # anatomy, clinical knowledge, college medicine/biology, ...
    assert all(len(s.options) == 4 and s.answer in "ABCD" for s in seeds)
    assert seeds[0].id == "mmlu:0" and seeds[0].render().endswith(f"Answer: {seeds[0].answer}")
    assert len(load_seed_questions(subjects=["medical genetics"])) == 100


def test_seed_questions_from_user_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(
        json.dumps({"question": "Q1?", "options": ["a", "b"], "answer": "B"})
        + "\n"
        + json.dumps({"id": "x7", "question": "Q2?", "options": {"B": "b", "A": "a"}})
        + "\n"
    )
    s = load_seed_questions(jsonl)
    assert [(q.id, q.options, q.answer) for q in s] == [
        ("mine:0", ("a", "b"), "B"),
        ("x7", ("a", "b"), ""),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"question": "not a list"}))
    with pytest.raises(ValueError, match="JSON list"):
        load_seed_questions(bad)
    with pytest.raises(FileNotFoundError):
        load_seed_questions(tmp_path / "missing.json")


def test_a_bad_seed_question_file_is_named_with_its_line(tmp_path: Path) -> None:
    """Errors name the file and the line: a malformed line, a record that is not an
    object, a record without question text (before: a bare JSONDecodeError, an
    AttributeError, or 'mine:1: no question text' without the file)."""
    ok = json.dumps({"question": "Q1?"})
    cases = {
        "broken.jsonl": (ok + "\n\n{not json\n", 3),
        "listed.jsonl": (ok + "\n[1, 2]\n", 2),
        "blank.jsonl": (ok + "\n" + json.dumps({"question": "  "}) + "\n", 2),
    }
    for name, (text, line) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError) as err:
            load_seed_questions(path)
        assert f"{path}:{line}:" in str(err.value), str(err.value)
