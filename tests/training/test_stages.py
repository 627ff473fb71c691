"""Staged training: whole-recipe validation, a 2-stage GRPO run on a tiny model with
init_from and LoRA, DONE markers, resume after an interrupted stage, JSONL metrics, and a
smoke stage on the packaged SmolLM2."""

from __future__ import annotations

import json
import os
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.training.recipe import RecipeError, load_recipe
from medkg.training.rewards import REWARDS, completion_text
from medkg.training.stages import (
    DONE,
    METRICS,
    last_checkpoint,
    read_done,
    run_recipe,
    trim_metrics,
)
from medkg.training.trainers import load_dataset
from tests.factories.training import FAST_ARGS, RECIPES, write_jsonl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
QUESTIONS = [
    ("A patient presents with arachnodactyly and ectopia lentis.", "Marfan syndrome", "FBN1"),
    ("A child has chronic cough and pancreatic insufficiency.", "cystic fibrosis", "CFTR"),
    ("An adult has chorea and cognitive decline.", "Huntington disease", "HTT"),
    ("A boy has calf pseudohypertrophy and a Gowers sign.", "Duchenne muscular dystrophy", "DMD"),
]
OPTIONS = [disease for _, disease, _ in QUESTIONS]


def length_reward_fn(scale: float = 40.0) -> Any:
    """A reward that varies between completions of a random model (unlike accuracy, which
    is 0 for all of them, so GRPO's advantages and gradients would be 0)."""

    def length(prompts: Any, completions: Any, **kwargs: Any) -> list[float]:
        return [min(len(completion_text(c)) / scale, 1.0) for c in completions]

    length.columns = ()  # type: ignore[attr-defined]
    return length


@pytest.fixture(autouse=True)
def length_reward(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REWARDS, "length", length_reward_fn)


def grpo_rows() -> list[dict[str, Any]]:
    """Rows in the shape ``medkg synth`` writes to trl_grpo.jsonl."""
    rows = []
    for i, (stem, answer, _) in enumerate(QUESTIONS):
        opts = "\n".join(f"{'ABCD'[k]}. {o}" for k, o in enumerate(OPTIONS))
        rows.append(
            {
                "id": f"q{i}",
                "family": "phenotype_to_disease",
                "prompt": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": f"{stem} Which is the diagnosis?\n{opts}"},
                ],
                "answer": "ABCD"[OPTIONS.index(answer)],
                "letters": list("ABCD"),
            }
        )
    return rows


def write_recipe(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_stage_recipe(
    path: Path, output_dir: object, model: object, data: Path, args: str, rewards: str
) -> Path:
    """A recipe of one GRPO stage called ``only``."""
    return write_recipe(
        path,
        f"""\
output_dir: {output_dir}
model: {model}
stages:
  - name: only
    trainer: grpo
    dataset: {data}
    rewards: {rewards}
    args: {args}
""",
    )


def two_stage_recipe(tmp_path: Path, model: Path, data: Path) -> Path:
    return write_recipe(
        tmp_path / "stages.yaml",
        f"""\
description: two GRPO stages on the tiny model
output_dir: {tmp_path / "runs"}
model: {model}
stages:
  - name: self_supervised
    trainer: grpo
    dataset: {data}
    rewards: {{accuracy: 1.0, format: {{weight: 0.2}}, length: 0.5}}
    gate: {{max_chars: 2000}}
    lora: {{r: 4, lora_alpha: 8}}
    args: {FAST_ARGS}
  - name: supervised
    trainer: grpo
    init_from: self_supervised
    dataset: {data}
    rewards: {{accuracy: 1.0, length: 1.0}}
    args: {FAST_ARGS}
""",
    )


def metric_steps(folder: Path) -> list[int]:
    lines = (folder / METRICS).read_text(encoding="utf-8").splitlines()
    return [json.loads(ln)["step"] for ln in lines if "reward" in json.loads(ln)]


# -- validation -------------------------------------------------------------------------


def test_whole_recipe_is_validated_and_every_problem_named(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    no_prompt = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "A"}])
    bad_model = tmp_path / "not-a-model"
    bad_model.mkdir()
    (bad_model / "config.json").write_text("{not json", encoding="utf-8")
    path = write_recipe(
        tmp_path / "bad.yaml",
        f"""\
output_dir: {tmp_path / "runs"}
model: {tiny_model}
stages:
  - name: one
    trainer: ppo
    dataset: {data}
  - name: two
    trainer: grpo
    dataset: {tmp_path / "missing.jsonl"}
    rewards: {{accuracy: 1.0}}
  - name: three
    trainer: grpo
    init_from: four
    dataset: {data}
    rewards: {{graph: 1.0}}
    args: {{learning_rat: 0.1}}
  - name: four
    trainer: dpo
    model: {bad_model}
    dataset: {no_prompt}
    rewards: {{accuracy: 1.0}}
    colour: blue
  - name: five
    trainer: sft
    dataset: {data}
    lora: {{r: 4, rank_pattern_typo: 3}}
""",
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    problems = err.value.problems
    text = str(err.value)
    assert str(path) in text

    def one(*parts: str) -> str:
        hits = [p for p in problems if all(x in p for x in parts)]
        assert hits, f"no problem with {parts} in:\n{text}"
        return hits[0]

    assert "line 4" in one("stage 'one'", "key 'trainer'", "unknown trainer 'ppo'")
    one("stage 'two' (line 7)", "key 'dataset'", "missing.jsonl does not exist")
    one("stage 'three' (line 11)", "key 'init_from'", "'four' names no earlier stage")
    one("stage 'three'", "key 'dataset'", "reward 'graph' needs column 'path_names'")
    one("stage 'three'", "key 'args'", "['learning_rat']")
    one("stage 'four'", "key 'model'", "not-a-model does not load")
    one("stage 'four'", "key 'dataset'", "needs columns ['prompt', 'chosen', 'rejected']")
    one("stage 'four'", "key 'rewards'", "takes no rewards")
    one("stage 'four'", "key 'colour'", "unknown (line 22)")
    one("stage 'five'", "key 'lora'", "rank_pattern_typo")
    one("stage 'five'", "key 'dataset'", "trainer 'sft' needs columns")
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


def test_config_values_the_trainer_refuses_and_variables(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    args = '{per_device_train_batch_size: "${BATCH:-4}", num_generations: 3}'
    path = one_stage_recipe(
        tmp_path / "vars.yaml", "${OUT}", tiny_model, data, args, "{accuracy: 1}"
    )
    with pytest.raises(RecipeError, match=r"no value for variable\(s\) \['OUT'\]"):
        load_recipe(path)
    with pytest.raises(
        RecipeError, match=r"stage 'only' \(line 4\) key 'args': trl.GRPOConfig refuses"
    ):
        load_recipe(path, {"OUT": str(tmp_path / "runs")})
    recipe = load_recipe(path, {"OUT": str(tmp_path / "runs"), "BATCH": "3"})
    stage = recipe.stages[0]
    assert stage.args["per_device_train_batch_size"] == 3  # "${BATCH}" read as a number
    assert stage.output_dir == tmp_path / "runs" / "only" and stage.args["use_cpu"] is True


def test_dataset_formats_and_export_folders(tmp_path: Path) -> None:
    rows = grpo_rows()
    export = tmp_path / "export"
    write_jsonl(export / "trl_grpo.jsonl", rows)
    from_folder = load_dataset(export, "grpo")
    assert from_folder["id"] == [r["id"] for r in rows]
    (tmp_path / "rows.json").write_text(json.dumps(rows), encoding="utf-8")
    assert len(load_dataset(tmp_path / "rows.json", "grpo")) == len(rows)
    from_folder.save_to_disk(str(tmp_path / "hf"))
    assert load_dataset(tmp_path / "hf", "grpo")["answer"] == from_folder["answer"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: malformed JSON"):
        load_dataset(bad, "grpo")
    with pytest.raises(FileNotFoundError, match=r"nor trl_sft\.jsonl"):
        load_dataset(export, "sft")


def test_shipped_medssr_recipe_runs_on_the_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    pseudo = tmp_path / "pseudo"
    # pseudo-label rows keep the graph's key; these labels agree with it (gate passes)
    write_jsonl(
        pseudo / "trl_grpo.jsonl", [{**r, "graph_answer": r["answer"]} for r in grpo_rows()]
    )
    human = write_jsonl(tmp_path / "human.jsonl", grpo_rows())
    variables = {"MODEL": str(tiny_model), "PSEUDO_DATA": str(pseudo), "HUMAN_DATA": str(human),
                 "PSEUDO_MIN_VERIFIED": "4"}  # fmt: skip
    recipe = load_recipe(RECIPES / "medssr.yaml", variables, base_dir=tmp_path)
    first, second = recipe.stages
    assert (first.trainer, second.trainer) == ("grpo", "grpo")
    assert second.init_from == first.name and first.model == tiny_model
    assert first.output_dir.parent == tmp_path / "runs" / "medssr"
    assert (first.args["max_steps"], first.args["learning_rate"]) == (20, 1e-5)
    assert first.labels == {"source": "pseudo", "margin": 0.1, "min_verified": 4, "use_keys": False}
    assert first.label_check is not None and first.label_check["accuracy"] == 1.0
    sizes = {"STEPS": "2", "LR": "1e-4", "COMPLETION_TOKENS": "6"}
    recipe = load_recipe(RECIPES / "medssr.yaml", {**variables, **sizes}, base_dir=tmp_path)
    assert recipe.stages[1].args["max_completion_length"] == 6
    results = run_recipe(recipe, log=lambda _: None)
    assert [(r.status, r.global_step) for r in results] == [("trained", 2), ("trained", 2)]
    assert read_done(recipe.stages[1].output_dir)["model"] == str(first.final_dir)  # type: ignore[index]


# -- running ----------------------------------------------------------------------------


def test_two_stage_grpo_with_init_from_done_and_skip(tmp_path: Path, tiny_model: Path) -> None:
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    recipe = load_recipe(two_stage_recipe(tmp_path, tiny_model, data))
    t0 = time.perf_counter()
    results = run_recipe(recipe, log=lambda _: None)
    assert time.perf_counter() - t0 < 60
    assert [(r.name, r.status, r.global_step) for r in results] == [
        ("self_supervised", "trained", 2),
        ("supervised", "trained", 2),
    ]
    first, second = recipe.stages
    done1, done2 = read_done(first.output_dir), read_done(second.output_dir)
    assert done1 is not None and done2 is not None
    assert done1["lora"] is True and done2["model"] == str(first.final_dir)
    for stage in recipe.stages:
        assert metric_steps(stage.output_dir) == [1, 2]
        assert (stage.final_dir / "config.json").is_file()
        assert (stage.final_dir / "tokenizer.json").is_file()
    # LoRA was merged before handing on: plain weight names, and weights that moved
    base = load_file(tiny_model / "model.safetensors")
    merged = load_file(first.final_dir / "model.safetensors")
    assert set(merged) == set(base)
    assert any(not (merged[k] == base[k]).all() for k in base)
    line = json.loads((first.output_dir / METRICS).read_text().splitlines()[0])
    assert line["stage"] == "self_supervised"
    assert {"rewards/accuracy/mean", "rewards/format/mean", "rewards/length/mean"} <= set(line)
    # a rerun skips finished stages and logs nothing new
    size = (second.output_dir / METRICS).stat().st_size
    again = run_recipe(load_recipe(recipe.path), log=lambda _: None)
    assert [r.status for r in again] == ["skipped", "skipped"]
    assert (second.output_dir / METRICS).stat().st_size == size
    # a finished stage whose recipe changed is still skipped, with a warning
    changed = recipe.path.read_text().replace("learning_rate: 1e-3", "learning_rate: 2e-3")
    messages: list[str] = []
    run_recipe(load_recipe(write_recipe(recipe.path, changed)), log=messages.append)
    assert sum("finished with another configuration" in m for m in messages) == 2


def test_sft_stage_reads_a_synth_export_folder(tmp_path: Path, tiny_model: Path) -> None:
    export = tmp_path / "synth"
    rows = [
        {
            "id": r["id"],
            "prompt": r["prompt"],
            "completion": [{"role": "assistant", "content": f"Answer: {r['answer']}"}],
        }
        for r in grpo_rows()
    ]
    write_jsonl(export / "trl_sft.jsonl", rows)
    recipe = write_recipe(
        tmp_path / "sft.yaml",
        f"""\
output_dir: {tmp_path / "runs"}
stages:
  - name: warmup
    trainer: sft
    model: {tiny_model}
    dataset: {export}
    args: {{max_steps: 2, max_length: 256, learning_rate: 1e-3, save_strategy: "no"}}
""",
    )
    [result] = run_recipe(load_recipe(recipe), log=lambda _: None)
    assert (result.status, result.global_step) == ("trained", 2)
    assert [
        r["step"] for r in map(json.loads, (result.output_dir / METRICS).open()) if "loss" in r
    ] == [1, 2]


class Interrupt(Exception):
    pass


def interrupt_at(step: int) -> Any:
    """A callback that raises after the metrics of ``step`` are logged, before its save."""
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == step and "reward" in (kw.get("logs") or {}):
                raise Interrupt(f"stopped at step {step}")

    return Stop()


def test_interrupted_stage_resumes_from_its_last_checkpoint(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    args = FAST_ARGS.replace("max_steps: 2", "max_steps: 4")
    path = one_stage_recipe(
        tmp_path / "one.yaml", tmp_path / "runs", tiny_model, data, args, "{accuracy: 1.0}"
    )
    recipe = load_recipe(path)
    stage = recipe.stages[0]
    with pytest.raises(Interrupt):
        run_recipe(recipe, callbacks=[interrupt_at(3)], log=lambda _: None)
    assert read_done(stage.output_dir) is None and not stage.final_dir.exists()
    assert metric_steps(stage.output_dir) == [1, 2, 3]
    checkpoint = last_checkpoint(stage.output_dir)
    assert checkpoint is not None and checkpoint.name == "checkpoint-2"
    # an interrupted stage is not finished: a later stage may not start from it
    messages: list[str] = []
    [result] = run_recipe(load_recipe(path), log=messages.append)
    assert result.status == "resumed" and result.resumed_from == "checkpoint-2"
    assert result.global_step == 4 and "1 metric lines redone" in messages[0]
    assert metric_steps(stage.output_dir) == [1, 2, 3, 4]  # step 3 once, not twice
    done = read_done(stage.output_dir)
    assert done is not None and done["resumed_from"] == "checkpoint-2"


def test_done_marker_is_the_only_sign_of_a_finished_stage(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    (folder / "final").mkdir(parents=True)
    (folder / "final" / "config.json").write_text("{}", encoding="utf-8")
    assert read_done(folder) is None  # a final/ folder alone is not a finished stage
    (folder / DONE).write_text("{trunc", encoding="utf-8")
    assert read_done(folder) is None


# -- the command line ---------------------------------------------------------------------


def test_cli_check_run_and_bad_recipe(tmp_path: Path, tiny_model: Path) -> None:
    from typer.testing import CliRunner

    from medkg.cli.train import app

    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    path = one_stage_recipe(
        tmp_path / "cli.yaml", "${OUT}", tiny_model, data, FAST_ARGS, "{accuracy: 1, length: 1}"
    )
    runner = CliRunner()
    out = str(tmp_path / "runs")
    checked = runner.invoke(app, ["run", str(path), "--var", f"OUT={out}", "--check", "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["stages"][0]["done"] is False
    assert not Path(out).exists()  # --check trains nothing
    ran = runner.invoke(app, ["run", str(path), "--var", f"OUT={out}", "--json"])
    assert ran.exit_code == 0, ran.output
    [stage] = json.loads(ran.stdout)["stages"]
    assert (stage["status"], stage["global_step"]) == ("trained", 2)
    bad = runner.invoke(app, ["run", str(path)])  # ${OUT} has no value
    assert bad.exit_code == 2 and "no value for variable(s) ['OUT']" in bad.output


# -- the packaged SmolLM2 ----------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_grpo_stage_smoke(tmp_path: Path) -> None:
    """One GRPO stage of 2 steps on SmolLM2-135M (LoRA) on CPU, ~35 s with the export
    cached (imports ~15 s, training ~10 s, saving the merged model ~5 s); the first export
    of the packaged GGUF adds ~55 s once per machine."""
    from medkg.llm.local import ensure_smollm2

    ensure_smollm2()
    short = [  # short prompts: a step's cost on CPU grows with the tokens it trains on
        {"prompt": [{"role": "user", "content": f"{q} A. {d}\nB. {other}"}], "answer": "A"}
        for (q, d, _), (_, other, _) in pairwise(QUESTIONS[:3])
    ]
    data = write_jsonl(tmp_path / "grpo.jsonl", short)
    args = (
        "{max_steps: 2, per_device_train_batch_size: 2, num_generations: 2, "
        'max_completion_length: 8, save_strategy: "no", learning_rate: 1e-4, '
        "gradient_checkpointing: false}"
    )
    rewards = "{accuracy: 1.0, format: 0.2}"
    path = one_stage_recipe(
        tmp_path / "smol.yaml", tmp_path / "runs", "smollm2", data, args, rewards
    )
    t0 = time.perf_counter()
    [result] = run_recipe(load_recipe(path), log=lambda _: None)
    assert result.global_step == 2 and time.perf_counter() - t0 < 90
    assert metric_steps(result.output_dir) == [1, 2]
    assert (result.final_dir / "model.safetensors").is_file()


def test_trim_metrics_drops_a_line_cut_off_by_a_kill(tmp_path: Path) -> None:
    # A stage killed while the metrics callback appended a line leaves it half-written;
    # resuming must drop it (it came after the last checkpoint), not fail to parse it.
    path = tmp_path / METRICS
    rows = [{"stage": "s", "step": s, "loss": 1.0 / s} for s in (1, 2, 3)]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_text(text + '{"stage": "s", "step": 4, "lo', encoding="utf-8")
    assert trim_metrics(path, 2) == 2
    assert [json.loads(ln)["step"] for ln in path.read_text().splitlines()] == [1, 2]


def test_a_stage_built_on_a_retrained_stage_warns(tmp_path: Path, tiny_model: Path) -> None:
    # stage 2 trains from stage 1's final model; when stage 1 is later retrained (a new DONE),
    # the skipped stage 2 still holds weights built on the old stage 1: say so
    import shutil

    data = write_jsonl(tmp_path / "grpo.jsonl", grpo_rows())
    recipe = load_recipe(two_stage_recipe(tmp_path, tiny_model, data))
    first = recipe.stages[0]
    shutil.copytree(tiny_model, first.final_dir)  # stage 1 as finished, without training it
    (first.output_dir / DONE).write_text('{"stage": "self_supervised", "seconds": 1.0}\n')
    run_recipe(recipe, log=lambda _: None)
    messages: list[str] = []
    run_recipe(load_recipe(recipe.path), log=messages.append)
    assert not any("retrained" in m for m in messages)
    (first.output_dir / DONE).write_text('{"stage": "self_supervised", "seconds": 2.0}\n')
    run_recipe(load_recipe(recipe.path), log=messages.append)
    assert sum("'self_supervised', was retrained" in m for m in messages) == 1
