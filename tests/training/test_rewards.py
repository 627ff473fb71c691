"""Rewards on real completion strings, in the shapes TRL hands them over (strings and
conversational message lists, columns as keyword arguments)."""

from __future__ import annotations

from typing import Any

import pytest

from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.training.rewards import (
    REWARDS,
    RewardConfigError,
    SafetyGate,
    build_reward,
    build_reward_funcs,
    format_score,
    get_reward,
    graph_consistency,
    required_columns,
    validate_columns,
)

QUESTION = (
    "A patient presents with arachnodactyly and ectopia lentis. Which is the most likely "
    "diagnosis?\nA. Cystic fibrosis\nB. Marfan syndrome\nC. Myopia\nD. Homocystinuria"
)
PROMPT = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}]
# The shape medkg's SFT export writes (synthesis/export.py: sft_completion).
STRUCTURED = (
    "Understanding: The vignette gives 2 findings (arachnodactyly, ectopia lentis); the task "
    "is the one disease that shows all of them.\n"
    "Recall: Marfan syndrome (ORPHA:558) is annotated with Arachnodactyly (very frequent) and "
    "Ectopia lentis (frequent).\n"
    "Reasoning: Every other option lacks at least one finding.\n"
    "Conclusion: The most likely diagnosis is Marfan syndrome.\n"
    "Answer: B. Marfan syndrome"
)
TERSE_WRONG = "The answer is D. Homocystinuria also causes lens dislocation."
MARKDOWN = (
    "**Understanding:** two findings.\n**Recall:** spider fingers occur in Marfan syndrome.\n"
    "**Conclusion:** Marfan.\n**Answer: B**"
)
REFUSAL = "I cannot answer medical questions. Please consult a doctor."
PATH = [["Ectopia lentis"], ["Marfan syndrome", "MFS"], ["Arachnodactyly", "Spider fingers"]]


def call(reward: Any, completions: list[Any], **columns: Any) -> list[float]:
    n = len(completions)
    cols = {k: [v] * n for k, v in columns.items()}
    return list(reward([PROMPT] * n, completions, trainer_state=None, **cols))


def test_accuracy_on_strings_and_conversations() -> None:
    acc = get_reward("accuracy")
    completions = [STRUCTURED, TERSE_WRONG, [{"role": "assistant", "content": "**B.** Marfan"}]]
    assert call(acc, completions, answer="B") == [1.0, 0.0, 1.0]
    assert call(acc, ["no answer given"], answer="B") == [0.0]
    # letters constrained by the prompt's options: E does not exist here
    assert call(acc, ["The answer is E"], answer="E") == [0.0]


def test_accuracy_gives_no_credit_for_hedging_between_letters() -> None:
    acc = get_reward("accuracy")
    hedges = ["Answer: B, D", "The answer is B or C.", "Answer: B/D"]
    assert call(acc, hedges, answer="B") == [0.0, 0.0, 0.0]


def test_accuracy_label_column_can_be_an_index_or_text() -> None:
    acc = get_reward("accuracy", label_column="label")
    assert call(acc, [STRUCTURED, TERSE_WRONG], label=1) == [1.0, 0.0]
    assert call(acc, [STRUCTURED], label="Marfan syndrome") == [1.0]
    # an ``options`` column wins over the prompt; text answers are matched against it
    assert call(acc, ["Marfan syndrome"], label="B", options=["CF", "Marfan syndrome"]) == [1.0]


def test_format_reward_scores_the_rationale_sections_in_order() -> None:
    assert format_score(STRUCTURED) == 1.0
    assert format_score(MARKDOWN) == pytest.approx(4 / 5)  # reasoning missing
    assert format_score(TERSE_WRONG) == 0.0
    shuffled = "Conclusion: x\nReasoning: y\nRecall: z\nUnderstanding: w\nAnswer: B"
    assert format_score(shuffled) == pytest.approx(2 / 5)  # one section in order + answer
    assert format_score(STRUCTURED + "\nSome trailing chatter.") == pytest.approx(4 / 5)
    assert call(get_reward("format"), [STRUCTURED, TERSE_WRONG]) == [1.0, 0.0]


def test_graph_consistency_counts_path_entities_named() -> None:
    assert graph_consistency(STRUCTURED, PATH) == 1.0
    assert graph_consistency(MARKDOWN, PATH) == pytest.approx(2 / 3)  # synonym counts
    assert graph_consistency(TERSE_WRONG, PATH) == 0.0
    assert graph_consistency("MARFAN'S? no: marfan syndrome.", ["Marfan syndrome"]) == 1.0
    assert graph_consistency("Marfan syndromes", ["Marfan syndrome"]) == 0.0  # word-bounded
    assert graph_consistency(STRUCTURED, []) == 0.0
    assert call(get_reward("graph"), [STRUCTURED, TERSE_WRONG], path_names=PATH) == [1.0, 0.0]


def test_safety_gate_checks() -> None:
    gate = SafetyGate(blocklist=(r"\bkill\b",), max_chars=300, require_answer=True)
    assert gate.failure(STRUCTURED) == "too_long"
    assert gate.failure("Answer: B. It may kill you.") == r"blocklist:\bkill\b"
    assert gate.failure(REFUSAL) == "refusal"
    assert gate.failure("Marfan is likely.", 4) == "no_answer"
    assert gate.failure(TERSE_WRONG, 4) is None
    assert SafetyGate(refusals=()).failure(REFUSAL) is None
    with pytest.raises(RewardConfigError, match="bad blocklist regex"):
        SafetyGate(blocklist=("(",))
    with pytest.raises(RewardConfigError, match=r"does not take \['max_len'\]"):
        SafetyGate.from_config({"max_len": 3})


def test_weighted_reward_with_gate() -> None:
    reward = build_reward(
        {"accuracy": 1.0, "format": 0.2, "graph": {"weight": 0.5}},
        gate={"require_answer": True, "max_chars": 2000},
    )
    got = call(reward, [STRUCTURED, TERSE_WRONG, MARKDOWN, REFUSAL], answer="B", path_names=PATH)
    assert got == pytest.approx([1.7, 0.0, 1.0 + 0.2 * 0.8 + 0.5 * 2 / 3, 0.0])
    assert reward.last_components["gate"] == [1.0, 1.0, 1.0, 0.0]
    assert reward.last_components["accuracy"] == [1.0, 0.0, 1.0, 0.0]
    assert reward.columns == ("answer", "path_names") and reward.__name__ == "medkg_reward"


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(
        RewardConfigError, match="reward 'graph' needs the dataset column 'path_names'"
    ):
        call(get_reward("graph"), [STRUCTURED], answer="B")
    with pytest.raises(RewardConfigError) as err:
        validate_columns({"accuracy": 1, "graph": 0.5}, ["prompt", "answer"], "stage1/train.jsonl")
    assert "stage1/train.jsonl" in str(err.value)
    assert "reward 'graph' needs column 'path_names'" in str(err.value)
    validate_columns(["accuracy", "format"], ["prompt", "answer"])
    with pytest.raises(RewardConfigError, match="needs column 'label'"):
        validate_columns({"accuracy": {"label_column": "label"}}, ["prompt", "answer"])


def test_registry_and_bad_configs() -> None:
    assert {"accuracy", "format", "graph"} <= set(REWARDS)
    assert required_columns(["accuracy", "format"]) == {"accuracy": ("answer",), "format": ()}
    with pytest.raises(RewardConfigError, match="unknown reward 'lenght'"):
        build_reward({"lenght": 1.0})
    with pytest.raises(RewardConfigError, match="bad options"):
        get_reward("format", label_column="x")
    with pytest.raises(RewardConfigError, match="weight must be a number"):
        build_reward({"accuracy": {"weight": "high"}})
    with pytest.raises(RewardConfigError, match="at least one reward"):
        build_reward({})


def test_separate_gated_functions_sum_to_the_weighted_reward() -> None:
    config = {"accuracy": 1.0, "format": 0.2, "graph": 0.5}
    gate = {"require_answer": True}
    funcs, weights = build_reward_funcs(config, gate)
    assert [f.__name__ for f in funcs] == ["accuracy", "format", "graph"] and weights == [
        1.0,
        0.2,
        0.5,
    ]
    completions = [STRUCTURED, TERSE_WRONG, MARKDOWN, REFUSAL]
    parts = [call(f, completions, answer="B", path_names=PATH) for f in funcs]
    summed = [sum(w * p[i] for w, p in zip(weights, parts, strict=True)) for i in range(4)]
    combined = call(build_reward(config, gate), completions, answer="B", path_names=PATH)
    assert summed == pytest.approx(combined)
    assert parts[1][3] == 0.0 and format_score(REFUSAL) == 0.0
    assert call(funcs[2], [REFUSAL + " Marfan syndrome, MFS"], path_names=PATH) == [0.0]
