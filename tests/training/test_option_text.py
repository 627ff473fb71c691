"""Option-text scoring (`OptionTextAnswerer`, `--scoring text`) on the tiny random-init model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from medkg.training.answerers import OptionTextAnswerer, strip_options
from medkg.training.benchmarks import MCQuestion, question_messages
from medkg.training.evaluate import evaluate

STEM = (
    "A patient presents with broad foot and postaxial hand polydactyly. Which gene is implicated?"
)
OPTIONS = ["CCDC28B", "BBS9", "SCLT1 and a much longer option text", "CFAP418", "BBS5"]


def _question(gold: int = 2) -> MCQuestion:
    lines = "\n".join(f"{'ABCDE'[i]}. {o}" for i, o in enumerate(OPTIONS))
    return MCQuestion("q1", f"{STEM}\n{lines}", list(OPTIONS), gold, "t", STEM, "", "rare")


def test_strip_options_keeps_stem_and_tail_only() -> None:
    text = f"{STEM}\nA. CCDC28B\n(B) BBS9\nC) SCLT1\nD. not an option\nAnswer briefly."
    assert strip_options(text, ["CCDC28B", "BBS9", "SCLT1"]) == (
        f"{STEM}\nD. not an option\nAnswer briefly."
    )


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> OptionTextAnswerer:
    from medkg.llm.local import LocalGenerator
    from medkg.training.tiny import build_tiny_model

    model = build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny")
    return OptionTextAnswerer(LocalGenerator(model=Path(model), threads=1, batch_size=3))


def _reference(answerer: OptionTextAnswerer, context: str, option: str) -> float:
    """Mean log-prob of the option's tokens, one unpadded sequence at a time."""
    import torch

    tok, model = answerer.generator._tokenizer, answerer.generator._model
    c = tok.encode(context, add_special_tokens=False)
    o = tok.encode(" " + option, add_special_tokens=False)
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([c + o])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return sum(logp[len(c) - 1 + t, tok_id].item() for t, tok_id in enumerate(o)) / len(o)


def test_scores_match_an_unbatched_reference(answerer: OptionTextAnswerer) -> None:
    """Batched, right-padded scores equal per-sequence log-probs computed by hand, and the
    answer is the best-scored option."""
    msgs = question_messages(_question().prompt)
    scores = answerer.option_scores([msgs, msgs], [OPTIONS, OPTIONS])
    (ctx,) = answerer.contexts([msgs], [OPTIONS])
    assert "BBS9" not in ctx and STEM in ctx and ctx.endswith("Answer:")
    ref = [_reference(answerer, ctx, o) for o in OPTIONS]
    for got in scores:
        assert got == pytest.approx(ref, abs=1e-4)
    (ans,) = answerer.answer([msgs], [OPTIONS])
    assert ans.index == ref.index(max(ref)) and ans.method == "option_text"
    assert ans.response.startswith(f"Answer: {OPTIONS[ans.index]}")
    assert all(math.isfinite(s) for s in ref)


def test_stem_only_scores_ignore_option_order(answerer: OptionTextAnswerer) -> None:
    """Under every cyclic order the same option text is chosen, so raw accuracy equals
    permutation-consistent accuracy; with the options listed, the score sees them."""
    result = evaluate(answerer, [_question(g) for g in range(1)], permutations="cyclic")
    rec = result.records[0]
    assert len({a["chosen"] for a in rec["asks"]}) == 1
    overall = result.breakdown()["overall"]
    assert overall["accuracy"] == overall["consistent"]["accuracy"]
    listed = OptionTextAnswerer(answerer.generator, stem_only=False)
    msgs = question_messages(_question().prompt)
    (ctx,) = listed.contexts([msgs], [OPTIONS])
    assert "B. BBS9" in ctx
    assert (
        listed.option_scores([msgs], [OPTIONS])[0] != answerer.option_scores([msgs], [OPTIONS])[0]
    )


def test_cli_eval_scoring_text(tmp_path: Path) -> None:
    """`medkg train eval --scoring text` on MedSSR JSON (options inside the question): every
    order asked, the option lines taken out, the same option chosen in each order, so raw
    and permutation-consistent accuracy agree; records keep the scored response."""
    import json

    from medkg.training.tiny import build_tiny_model
    from tests.factories.training import MEDSSR, invoke

    bench = tmp_path / "medssr.json"
    bench.write_text(json.dumps(MEDSSR), encoding="utf-8")
    model = build_tiny_model(tmp_path / "tiny")
    out = tmp_path / "eval.json"
    spec = f"tiny=local:model={model},threads=1"
    result = invoke("eval", "-m", spec, "-b", str(bench), "--scoring", "text", "--no-link",
                    "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tiny raw" in result.stdout and "tiny consistent" in result.stdout
    data = json.loads(out.read_text())
    model_result = data["models"][0]
    assert model_result["generator"]["scoring"] == "option_text_stem"
    for rec in model_result["records"]:
        assert len(rec["asks"]) == 4 and {a["method"] for a in rec["asks"]} == {"option_text"}
        assert len({a["chosen"] for a in rec["asks"]}) == 1
        assert rec["consistent"] == rec["correct"]
    bad = invoke("eval", "-m", spec, "-b", str(bench), "--scoring", "logprob", "--no-link")
    assert bad.exit_code == 2 and "logprob" in bad.output  # a usage error, not a traceback
