"""Graph-keyed rewards and the pseudo-label gate: a stage's ``labels`` key, checked when the
recipe loads (before anything trains), and the label the reward sees during a real GRPO
step on the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.training.keys import (
    LabelError,
    LabelSpec,
    PseudoLabelGateError,
    apply_labels,
    check_rows,
    measure_pseudo,
    verified_key,
)
from medkg.training.recipe import RecipeError, load_recipe
from medkg.training.rewards import REWARDS
from medkg.training.stages import read_done, run_recipe
from tests.factories.training import FAST_ARGS, write_jsonl

LETTERS5 = list("ABCDE")


def synth_row(i: int, key: str) -> dict[str, Any]:
    """A row as `medkg synth` writes trl_grpo.jsonl (it names its answer entity)."""
    return {
        "id": f"diagnosis-{i:04d}",
        "family": "diagnosis",
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Case {i}?\nA. a\nB. b\nC. c\nD. d\nE. e"},
        ],
        "answer": key,
        "answer_text": key.lower(),
        "answer_id": f"ORPHA:{i}",
        "letters": LETTERS5,
    }


def pseudo_row(i: int, key: str, pseudo: str) -> dict[str, Any]:
    """A row as `medkg train pseudo-label` writes it: pseudo-label in answer, key kept."""
    return {**synth_row(i, pseudo), "graph_answer": key, "confidence": 0.5,
            "options": list("abcde")}  # fmt: skip


def human_row(i: int) -> dict[str, Any]:
    """A human-labelled row (MMLU half of gpu_medssr_prepare.py): no answer entity."""
    row = synth_row(i, "B")
    del row["answer_id"], row["answer_text"]
    return row


def chance_rows(n: int = 50) -> list[dict[str, Any]]:
    """Pseudo-labels right on exactly 1 in 5 rows (chance with 5 options)."""
    return [pseudo_row(i, "ABCDE"[i % 5], "A") for i in range(n)]


def recipe(tmp_path: Path, model: Path, data: Path, labels: str, name: str = "stage") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""\
output_dir: {tmp_path / "runs"}
model: {model}
stages:
  - name: {name}
    trainer: grpo
    dataset: {data}
    labels: {labels}
    rewards: {{accuracy: 1.0}}
    args: {FAST_ARGS}
""",
        encoding="utf-8",
    )
    return path


def test_verified_keys_by_row_shape() -> None:
    assert verified_key(synth_row(1, "C")) == "C"
    assert verified_key(pseudo_row(1, "D", "A")) == "D"  # the graph's, not the pseudo-label
    assert verified_key(human_row(1)) is None  # no answer entity: a human label, not a key
    assert verified_key({**synth_row(1, "C"), "key_verified": False}) is None  # LLM-written
    assert verified_key(synth_row(1, "F")) is None  # not one of the item's 5 letters
    m = measure_pseudo(chance_rows())
    assert m == {"verified_sample": 50, "correct": 10, "accuracy": 0.2, "chance": 0.2}


def test_graph_keyed_stage_on_rows_without_keys_fails_before_training(
    tmp_path: Path, tiny_model: Path
) -> None:
    rows = [synth_row(0, "A"), human_row(1), synth_row(2, "C"), human_row(3)]
    data = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe(tmp_path, tiny_model, data, "graph", name="keyed"))
    text = str(err.value)
    assert "stage 'keyed'" in text and "key 'labels'" in text
    assert "2 of 4 rows have no verified graph key" in text
    assert f"{data}:2 (id diagnosis-0001)" in text and f"{data}:4 (id diagnosis-0003)" in text
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


def test_chance_level_pseudo_labels_stop_the_recipe_with_the_measurement(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = write_jsonl(tmp_path / "pseudo" / "trl_grpo.jsonl", chance_rows())
    path = recipe(tmp_path, tiny_model, data.parent, "{source: pseudo, margin: 0.1}")
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    text = str(err.value)
    assert "pseudo-labels are right on 0.200 of 50 items with a verified graph key" in text
    assert "chance 0.200" in text and "margin 0.1 = 0.300" in text
    assert "stopping before any training" in text
    assert not (tmp_path / "runs").exists()
    with pytest.raises(PseudoLabelGateError) as gate:
        check_rows(chance_rows(), LabelSpec.parse({"source": "pseudo", "margin": 0.1}))
    assert gate.value.measured["threshold"] == 0.3
    # a gate that cannot measure is a stop too, not a pass
    few = chance_rows(10)
    with pytest.raises(PseudoLabelGateError, match="only 10 rows carry both"):
        check_rows(few, LabelSpec.parse({"source": "pseudo", "min_verified": 30}))


def test_pseudo_labels_above_the_margin_pass_and_keys_win_where_present() -> None:
    good = [pseudo_row(i, "ABCDE"[i % 5], "ABCDE"[i % 5] if i % 10 else "E") for i in range(40)]
    keyless = [{**human_row(100), "pseudo_label": "C"}]  # an item without a verified key
    spec = LabelSpec.parse({"source": "pseudo", "margin": 0.1})
    measured = check_rows(good + keyless, spec)
    assert measured["accuracy"] == 0.9 and measured["verified_sample"] == 40
    labelled = apply_labels(good + keyless, spec)
    assert labelled[0]["answer"] == "A" and labelled[0]["pseudo_answer"] == "E"  # key used
    assert labelled[0]["label_source"] == "graph"
    assert labelled[-1]["answer"] == "C" and labelled[-1]["label_source"] == "pseudo"
    medssr = apply_labels(good, LabelSpec.parse({"source": "pseudo", "use_keys": False}))
    assert medssr[0]["answer"] == "E" and medssr[0]["label_source"] == "pseudo"


def test_label_spec_errors() -> None:
    for bad, match in (
        ("graf", "source must be one of"),
        ({"source": "graph", "margin": 0.1}, "takes no options"),
        ({"source": "pseudo", "margin": 1.5}, r"margin must be in \[0, 1\)"),
        ({"source": "pseudo", "min_verified": 0}, "min_verified must be >= 1"),
        ({"source": "pseudo", "colour": 1}, "does not take"),
    ):
        with pytest.raises(LabelError, match=match):
            LabelSpec.parse(bad)


@pytest.mark.slow
def test_graph_keyed_grpo_rewards_against_the_key(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real GRPO step: the reward sees the graph's key in ``answer`` although the rows'
    own ``answer`` is a (wrong) pseudo-label."""
    seen: list[tuple[str, str]] = []

    def spy_fn() -> Any:
        def spy(prompts: Any, completions: Any, **kwargs: Any) -> list[float]:
            seen.extend(zip(kwargs["answer"], kwargs["label_source"], strict=True))
            return [float(i % 2) for i in range(len(completions))]

        spy.columns = ("answer",)  # type: ignore[attr-defined]
        return spy

    monkeypatch.setitem(REWARDS, "spy", spy_fn)
    rows = [pseudo_row(i, "ABCD"[i % 4], "E") for i in range(8)]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    path = recipe(tmp_path, tiny_model, data, "graph").read_text().replace("accuracy", "spy")
    (tmp_path / "spy.yaml").write_text(path)
    loaded = load_recipe(tmp_path / "spy.yaml")
    run_recipe(loaded, log=lambda s: None)
    assert seen and {src for _, src in seen} == {"graph"}
    assert {a for a, _ in seen} <= set("ABCD")  # never the pseudo-label "E"
    done = read_done(loaded.stages[0].output_dir)
    assert done is not None and done["labels"] == {"source": "graph"}
    assert done["label_check"]["keyed"] == 8


def test_shipped_graph_keyed_recipe(tmp_path: Path, tiny_model: Path) -> None:
    from tests.factories.training import RECIPES

    synth = write_jsonl(
        tmp_path / "synth" / "trl_grpo.jsonl", [synth_row(i, "B") for i in range(4)]
    )
    variables = {"MODEL": str(tiny_model), "DATA": str(synth.parent)}
    stage = load_recipe(RECIPES / "graph_keyed.yaml", variables, base_dir=tmp_path).stages[0]
    assert stage.labels == {"source": "graph"} and stage.label_check == {
        "source": "graph", "rows": 4, "keyed": 4}  # fmt: skip
    assert stage.args["use_vllm"] is False
    human = write_jsonl(tmp_path / "human.jsonl", [human_row(0)])
    with pytest.raises(RecipeError, match=r"1 of 1 rows have no verified graph key"):
        load_recipe(RECIPES / "graph_keyed.yaml", {**variables, "DATA": str(human)})
