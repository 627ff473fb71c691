"""The LLM path inside the pipeline: rewrites that pass the re-check replace the stem, the
rest keep their template stem, and the dataset keeps its size. Completions come from
tests.factories.chat.ChatServer, a real local HTTP server standing in for a vLLM endpoint."""

from __future__ import annotations

import re
from typing import Any

from medkg.llm import build_generator
from medkg.synthesis.paraphrase import apply_paraphrase
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.chat import ChatServer
from tests.factories.graphs import synthetic_kg


def _stem(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    found = re.search(r"Question to rewrite:\n(.*)\n", prompt)
    assert found is not None, prompt
    return found.group(1)


def rewrite_half(body: dict[str, Any]) -> list[str]:
    """Faithful rewrite for diagnosis stems; an empty reply (rejected) for the others."""
    stem = _stem(body)
    if stem.startswith("A patient presents with"):
        return ["In the clinic, a child is seen: " + stem[0].lower() + stem[1:]] * body["n"]
    return [""] * body["n"]


def test_paraphrase_keeps_size_replaces_accepted_and_counts_rejects():
    kg = synthetic_kg()
    result = synthesize(
        kg, SynthConfig(n=40, seed=3, families=["diagnosis", "category"], rare_share=None)
    )
    before = {it.id: it for it in result.items}
    with ChatServer(rewrite_half) as server:
        gen = build_generator("openai", base_url=server.base_url, model="stand-in", timeout_s=5)
        summary = apply_paraphrase(result, kg, gen, share=1.0)
    assert len(result.items) == 40
    assert summary["attempted"] == 40
    assert summary["accepted"] + summary["kept_template_after_reject"] == 40
    assert summary["rejects"].get("empty", 0) == summary["kept_template_after_reject"]
    rewritten = [it for it in result.items if it.id not in before]
    assert len(rewritten) == summary["accepted"] > 0
    for it in rewritten:
        src = before[it.provenance["paraphrase"]["source_id"]]
        assert it.question.startswith("In the clinic")
        assert it.options == src.options and it.answer_id == src.answer_id  # never from the model
        assert it.template == gen.name
    assert all(it.template.startswith("category") for it in result.items if it.family == "category")
    assert result.counts["paraphrase"] == summary


BENCHMARK_QUESTION = (
    "A 45 year old man with a long history of heavy alcohol use comes to the emergency "
    "department with severe epigastric pain radiating to the back"
)


def copy_benchmark(body: dict[str, Any]) -> list[str]:
    """A rewrite that passes every name check but copies a benchmark question (a small
    model shown MMLU questions as style examples may well do this)."""
    stem = _stem(body)
    if stem.startswith("A patient presents with"):
        return [BENCHMARK_QUESTION + ". " + stem] * body["n"]
    return [""] * body["n"]


def test_a_rewrite_that_copies_a_benchmark_question_never_enters_the_dataset(tmp_path):
    """The paraphrased stems are new text: they are checked against the benchmarks the run
    decontaminates against, and a copying rewrite is dropped (the item keeps its template
    stem, which the pipeline checked), whatever the mode."""
    import json

    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": BENCHMARK_QUESTION + "?"}) + "\n", encoding="utf-8")
    kg = synthetic_kg()
    for mode in ("flag", "drop"):
        cfg = SynthConfig(n=20, seed=3, families=["diagnosis"], rare_share=None,
                          decontam_files=[str(bench)], decontam_mode=mode)  # fmt: skip
        result = synthesize(kg, cfg)
        assert result.counts["decontam"]["matched"] == 0
        with ChatServer(copy_benchmark) as server:
            gen = build_generator("openai", base_url=server.base_url, model="stand-in", timeout_s=5)
            summary = apply_paraphrase(result, kg, gen, share=1.0)
        # independent check: the benchmark's words, lower-cased, in no item's stem
        copied = [it for it in result.items if "heavy alcohol use" in it.question.lower()]
        assert copied == [], [it.question for it in copied]
        assert summary["accepted"] == 0
        assert summary["rejects"] == {"contaminated": 20}
        assert len(result.items) == 20
