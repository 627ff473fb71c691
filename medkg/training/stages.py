"""Run a staged-training recipe with TRL's trainers (see :mod:`medkg.training.recipe`).

Every stage writes into its own folder::

    <output_dir>/
      checkpoint-<step>/   TRL/transformers checkpoints (model, optimizer, scheduler, RNG)
      metrics.jsonl        one line per trainer log: {"stage", "step", "epoch", ...logs}
      final/               the stage's final model and tokenizer (LoRA merged into it)
      DONE                 JSON written last, atomically: the stage is finished

A stage starts from its ``model`` folder or from the ``final/`` folder of the stage named
by ``init_from``, with a fresh optimizer and learning-rate schedule (a new trainer). If the
stage was interrupted, it resumes from its last checkpoint (``resume_from_checkpoint``),
and the metric lines logged after that checkpoint are dropped so none is counted twice. A
folder without ``DONE`` is never taken for a finished stage: ``final/`` is written to a
temporary sibling and renamed, and only then is ``DONE`` written; a rerun skips finished
stages, with a warning when a stage's configuration changed or when the stage it starts
from finished again since (its ``DONE`` records a hash of that stage's ``DONE``). No training loop is written here: the trainers are TRL's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError
from medkg.outputs import staged_folder, write_text
from medkg.training.recipe import Recipe, StageSpec
from medkg.training.trainers import build_config, load_dataset

DONE = "DONE"
METRICS = "metrics.jsonl"
STATUSES = ("trained", "resumed", "skipped")


class StageError(MedkgError, RuntimeError):
    """A stage could not run (names the stage)."""


@dataclass(frozen=True)
class StageResult:
    """What happened to one stage in a run."""

    name: str
    status: str  # trained | resumed | skipped
    output_dir: Path
    final_dir: Path
    global_step: int
    seconds: float
    resumed_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_dir"], d["final_dir"] = str(self.output_dir), str(self.final_dir)
        return d


def read_done(output_dir: str | Path) -> dict[str, Any] | None:
    """The ``DONE`` record of a finished stage folder, or None."""
    marker = Path(output_dir) / DONE
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` atomically (see :mod:`medkg.outputs`)."""
    write_text(path, text)


def last_checkpoint(output_dir: Path) -> Path | None:
    """The highest-numbered ``checkpoint-<step>`` folder with a trainer state, or None."""
    best: tuple[int, Path] | None = None
    if not output_dir.is_dir():
        return None
    for p in output_dir.iterdir():
        step = p.name.removeprefix("checkpoint-")
        finished = p.is_dir() and step.isdigit() and (p / "trainer_state.json").is_file()
        if finished and (best is None or int(step) > best[0]):
            best = (int(step), p)
    return best[1] if best else None


def trim_metrics(path: Path, max_step: int) -> int:
    """Drop metric lines logged after step ``max_step`` (kept atomically); lines dropped."""
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for ln in lines:
        try:
            step = json.loads(ln).get("step", 0) if ln.strip() else None
        except ValueError:
            # a line cut off by a kill mid-append: it came after the last checkpoint
            continue
        if step is not None and step <= max_step:
            kept.append(ln)
    write_atomic(path, "".join(f"{ln}\n" for ln in kept))
    return len(lines) - len(kept)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def metrics_callback(stage: str, path: Path) -> Any:
    """A TrainerCallback appending every ``on_log`` to ``path`` as one JSON line."""
    from transformers import TrainerCallback

    class JsonlMetrics(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            row = {"stage": stage, "step": state.global_step, "epoch": state.epoch}
            row.update({k: _jsonable(v) for k, v in logs.items()})
            with path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, sort_keys=True) + "\n")

    return JsonlMetrics()


def stage_fingerprint(stage: StageSpec) -> str:
    """A hash of what the stage trains (trainer, data, start, rewards, LoRA, arguments)."""
    spec = {
        "trainer": stage.trainer,
        "dataset": str(stage.dataset),
        "model": str(stage.model) if stage.model else None,
        "init_from": stage.init_from,
        "rewards": stage.rewards,
        "gate": stage.gate,
        "lora": stage.lora,
        "args": stage.args,
    }
    if stage.labels is not None:  # absent from older fingerprints, so they stay the same
        spec["labels"] = stage.labels
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def done_digest(output_dir: Path) -> str | None:
    """A short hash of a finished stage's ``DONE`` record (None when unfinished): a later
    stage keeps the one of the stage it started from, to notice that it was retrained."""
    marker = output_dir / DONE
    if not marker.is_file():
        return None
    return hashlib.sha256(marker.read_bytes()).hexdigest()[:16]


def _stale_start(recipe: Recipe, stage: StageSpec, done: dict[str, Any]) -> str | None:
    """Why a finished stage's start is stale: its ``init_from`` stage finished again (or not
    at all) since it trained. None when unknown (an older DONE) or unchanged."""
    recorded = done.get("init_done")
    if stage.init_from is None or recorded is None:
        return None
    source = recipe.stage(stage.init_from)
    if done_digest(source.output_dir) == recorded:
        return None
    return f"the stage it starts from, {source.name!r}, was retrained (or reset) since"


def stage_model(recipe: Recipe, stage: StageSpec) -> Path:
    """The folder a stage starts from: its ``model``, or its ``init_from`` stage's final."""
    if stage.init_from is None:
        assert stage.model is not None  # load_recipe guarantees model or init_from
        return stage.model
    source = recipe.stage(stage.init_from)
    if read_done(source.output_dir) is None:
        raise StageError(
            f"stage {stage.name!r}: init_from stage {source.name!r} is not finished "
            f"(no {DONE} in {source.output_dir})"
        )
    return source.final_dir


def stage_dataset(stage: StageSpec) -> Any:
    """The stage's training rows; with ``labels``, each row's ``answer`` is the label the
    reward compares with (the graph's verified key or the pseudo-label, see
    :mod:`medkg.training.keys`)."""
    ds = load_dataset(stage.dataset, stage.kind)
    if stage.labels is None:
        return ds
    from datasets import Dataset

    from medkg.training.keys import LabelSpec, apply_labels

    return Dataset.from_list(apply_labels(ds.to_list(), LabelSpec.parse(stage.labels)))


def build_trainer(
    stage: StageSpec, model: Path, callbacks: Sequence[Any] = (), dataset: Any = None
) -> Any:
    """TRL's trainer for ``stage``, starting from ``model`` (a new optimizer and schedule)."""
    kind = stage.kind
    args = dict(stage.args)
    kwargs: dict[str, Any] = {"callbacks": list(callbacks)}
    if kind.takes_rewards:
        from medkg.training.rewards import build_reward_funcs

        # separate functions and weights: TRL logs each reward under its own name
        kwargs["reward_funcs"], args["reward_weights"] = build_reward_funcs(
            stage.rewards, gate=stage.gate
        )
    kwargs.update(
        model=str(model),
        args=build_config(kind, args, stage.output_dir),
        train_dataset=dataset if dataset is not None else stage_dataset(stage),
    )
    if stage.lora is not None:
        from peft import LoraConfig

        kwargs["peft_config"] = LoraConfig(**stage.lora)
    return kind.trainer_type()(**kwargs)


def save_final(trainer: Any, stage: StageSpec) -> None:
    """Write the final model (LoRA merged in) and tokenizer to ``final/`` atomically."""
    final = stage.final_dir
    model = trainer.model
    if stage.lora is not None:
        model = model.merge_and_unload()
    # A final/ without DONE (an earlier run died after writing it) is replaced.
    with staged_folder(final, "train-final", legacy=_saved_model) as tmp:
        model.save_pretrained(tmp)
        trainer.processing_class.save_pretrained(tmp)


def _saved_model(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def run_stage(
    recipe: Recipe,
    stage: StageSpec,
    callbacks: Sequence[Any] = (),
    log: Callable[[str], None] = print,
) -> StageResult:
    """Train one stage (or skip it when finished); see the module docstring."""
    done = read_done(stage.output_dir)
    if done is not None:
        log(f"stage {stage.name}: finished earlier ({DONE} present), skipped")
        if done.get("fingerprint") != stage_fingerprint(stage):
            log(
                f"stage {stage.name}: warning: it finished with another configuration; "
                f"delete {stage.output_dir} to train it again"
            )
        stale = _stale_start(recipe, stage, done)
        if stale is not None:
            log(
                f"stage {stage.name}: warning: {stale}; its final model is built on the old "
                f"one: delete {stage.output_dir} to train it again"
            )
        return StageResult(
            stage.name,
            "skipped",
            stage.output_dir,
            stage.final_dir,
            int(done.get("global_step", 0)),
            0.0,
        )
    t0 = time.perf_counter()
    model = stage_model(recipe, stage)
    stage.output_dir.mkdir(parents=True, exist_ok=True)
    metrics = stage.output_dir / METRICS
    checkpoint = last_checkpoint(stage.output_dir)
    if checkpoint is not None:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        dropped = trim_metrics(metrics, int(state.get("global_step", 0)))
        log(f"stage {stage.name}: resuming from {checkpoint.name} ({dropped} metric lines redone)")
    else:
        metrics.unlink(missing_ok=True)  # a run that died before its first checkpoint
        log(f"stage {stage.name}: {stage.trainer} from {model}")
    trainer = build_trainer(stage, model, [metrics_callback(stage.name, metrics), *callbacks])
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    save_final(trainer, stage)
    seconds = time.perf_counter() - t0
    record = {
        "stage": stage.name,
        "trainer": stage.trainer,
        "model": str(model),
        "init_from": stage.init_from,
        "lora": stage.lora is not None,
        "dataset": str(stage.dataset),
        "labels": stage.labels,
        "label_check": stage.label_check,
        "global_step": int(trainer.state.global_step),
        "train_loss": _jsonable(getattr(output, "training_loss", None)),
        "resumed_from": checkpoint.name if checkpoint else None,
        "seconds": round(seconds, 2),
        "final": stage.final_dir.name,
        "fingerprint": stage_fingerprint(stage),
        "metrics": METRICS,
    }
    if stage.init_from is not None:
        record["init_done"] = done_digest(recipe.stage(stage.init_from).output_dir)
    write_atomic(stage.output_dir / DONE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    log(f"stage {stage.name}: done at step {record['global_step']} in {seconds:.1f} s")
    return StageResult(
        stage.name,
        "resumed" if checkpoint else "trained",
        stage.output_dir,
        stage.final_dir,
        record["global_step"],
        seconds,
        record["resumed_from"],
    )


def run_recipe(
    recipe: Recipe,
    *,
    callbacks: Sequence[Any] = (),
    log: Callable[[str], None] = print,
) -> list[StageResult]:
    """Run every stage in order; finished stages are skipped, an interrupted one resumes.

    ``callbacks``: extra ``TrainerCallback`` s given to every stage's trainer.
    """
    return [run_stage(recipe, stage, callbacks, log) for stage in recipe.stages]


__all__ = [
    "DONE",
    "METRICS",
    "STATUSES",
    "StageError",
    "StageResult",
    "build_trainer",
    "done_digest",
    "last_checkpoint",
    "metrics_callback",
    "read_done",
    "run_recipe",
    "run_stage",
    "save_final",
    "stage_dataset",
    "stage_fingerprint",
    "trim_metrics",
    "write_atomic",
]
