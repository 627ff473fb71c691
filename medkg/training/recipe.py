"""Staged-training recipes: the YAML schema, its loading and its whole-file validation.

A recipe lists stages that run in order; each trains one model with one TRL trainer::

    output_dir: runs/medssr          # stage outputs go to <output_dir>/<stage name>
    model: smollm2                   # the first stage's model unless it names its own
    defaults: {max_steps: 50}        # hyper-parameters every stage starts from
    stages:
      - name: self_supervised
        trainer: grpo                # grpo | dpo | sft (see TRAINERS)
        dataset: data/pseudo         # a JSONL/JSON/Parquet file, a datasets folder, or
                                     # a medkg export folder (its trl_<trainer>.jsonl)
        rewards: {accuracy: 1.0, format: {weight: 0.2}}   # grpo only
        gate: {require_answer: true} # safety gate (grpo only)
        labels: graph                # grpo only: reward against the graph's verified keys,
                                     # or {source: pseudo, margin: 0.1} (medkg.training.keys)
        lora: {r: 16}                # peft LoRA (true: defaults); absent/false: full
        args: {learning_rate: 1.0e-5}   # GRPOConfig / DPOConfig / SFTConfig fields
      - name: supervised
        trainer: grpo
        init_from: self_supervised   # the final (merged) weights of an earlier stage
        dataset: data/human.jsonl
        rewards: {accuracy: 1.0}

``model`` is a local model folder (nothing is downloaded) or ``smollm2``: the packaged
SmolLM2-135M-Instruct, exported once to a cached folder. Strings may use ``${NAME}`` or
``${NAME:-default}``, filled from the variables given to :func:`load_recipe` (``--var``
on the command line), then the environment; a value that is only a variable is read as
YAML (``${STEPS}`` with ``STEPS=10`` is the number 10). Relative paths resolve against
``base_dir`` (the current directory by default).

:func:`load_recipe` checks everything it can before any training starts and raises one
:class:`RecipeError` listing every problem by file, stage, line and key: unknown keys,
unknown trainers or rewards, a missing dataset or one without the columns its trainer and
rewards need, an ``init_from`` naming no earlier stage, hyper-parameters the trainer's
config does not take or rejects, a LoRA config peft rejects, a model folder whose config
or tokenizer does not load.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medkg.errors import MedkgError, UsageError
from medkg.training.trainers import (
    TRAINERS,
    TrainerKind,
    build_config,
    device_defaults,
    load_dataset,
)

TOP_KEYS = frozenset({"description", "output_dir", "model", "defaults", "stages"})
STAGE_KEYS = frozenset(
    {"name", "trainer", "dataset", "model", "init_from", "output_dir", "rewards", "gate"}
    | {"lora", "args", "labels"}
)
SMOLLM2_KEY = "smollm2"
# Set by the runner from the stage's own keys; a recipe must not set them in ``args``.
RESERVED_ARGS = frozenset({"output_dir", "resume_from_checkpoint", "logging_dir", "reward_weights"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class RecipeError(MedkgError, ValueError):
    """A recipe that cannot run; ``problems`` lists each one (file, stage, line, key)."""

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class StageSpec:
    """One validated stage. ``model`` is a folder (for stages without ``init_from``)."""

    name: str
    trainer: str
    dataset: Path
    output_dir: Path
    model: Path | None = None
    init_from: str | None = None
    rewards: Mapping[str, Any] = field(default_factory=dict)
    gate: Mapping[str, Any] | None = None
    lora: Mapping[str, Any] | None = None  # None: full fine-tuning
    args: Mapping[str, Any] = field(default_factory=dict)  # merged: defaults, recipe, stage
    line: int = 0
    labels: Mapping[str, Any] | None = None  # LabelSpec.to_dict(); None: rows as they are
    label_check: Mapping[str, Any] | None = None  # what loading measured (keys.check_rows)

    @property
    def kind(self) -> TrainerKind:
        return TRAINERS[self.trainer]

    @property
    def final_dir(self) -> Path:
        """Where the stage's final (merged) model and tokenizer are written."""
        return self.output_dir / "final"

    def label(self) -> str:
        return f"stage {self.name!r} (line {self.line})"


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: stages in run order, and the YAML file it came from."""

    path: Path
    stages: tuple[StageSpec, ...]
    description: str = ""

    def stage(self, name: str) -> StageSpec:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"{self.path}: no stage named {name!r}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-5`` as a float (YAML 1.1 wants ``1.0e-5``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


# ----------------------------------------------------------------------------- variables
def substitute(value: Any, variables: Mapping[str, str], missing: list[str]) -> Any:
    """``value`` with ``${NAME}`` / ``${NAME:-default}`` filled in (recursively); names
    with no value are appended to ``missing``."""
    if isinstance(value, Mapping):
        return {k: substitute(v, variables, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, missing) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def fill(m: re.Match[str]) -> str:
        name = m.group("name")
        got = variables.get(name, os.environ.get(name, m.group("default")))
        if got is None:
            missing.append(name)
            return m.group(0)
        return str(got)

    filled = _VAR.sub(fill, value)
    if _VAR.fullmatch(value) and filled != value:
        return yaml.load(filled, Loader=_Loader)
    return filled


def _key_lines(text: str) -> tuple[dict[str, int], list[tuple[int, dict[str, int]]]]:
    """1-based line numbers of the top-level keys and of each stage and its keys."""
    root = yaml.compose(text, Loader=_Loader)
    top: dict[str, int] = {}
    stages: list[tuple[int, dict[str, int]]] = []
    if not isinstance(root, yaml.MappingNode):
        return top, stages
    for key, value in root.value:
        top[str(key.value)] = key.start_mark.line + 1
        if key.value == "stages" and isinstance(value, yaml.SequenceNode):
            for node in value.value:
                keys = {}
                if isinstance(node, yaml.MappingNode):
                    keys = {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
                stages.append((node.start_mark.line + 1, keys))
    return top, stages


# ----------------------------------------------------------------------------- checks
def resolve_model(value: Any, base_dir: Path) -> Path:
    """A model folder: ``smollm2`` (the packaged model, exported once) or a local path."""
    if value == SMOLLM2_KEY:
        from medkg.llm.local import ensure_smollm2

        return ensure_smollm2()
    return _path(value, base_dir)


def check_model(folder: Path) -> str | None:
    """Why ``folder`` is not a usable model folder (config, tokenizer, chat template)."""
    if not (folder / "config.json").is_file():
        return f"{folder} has no config.json (a local model folder is needed; nothing downloads)"
    from transformers import AutoConfig, AutoTokenizer

    try:
        AutoConfig.from_pretrained(folder, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{folder} does not load: {exc}"
    if not getattr(tok, "chat_template", None):
        return f"the tokenizer in {folder} has no chat template (prompts are conversational)"
    return None


def _path(value: Any, base_dir: Path) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise UsageError(f"expected a path, got {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _options(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be a mapping, got {value!r}")
    return dict(value)


def _lora(value: Any) -> dict[str, Any] | None:
    """A stage's ``lora`` value as LoraConfig options (None: full fine-tuning)."""
    if value is None or value is False:
        return None
    opts = {} if value is True else _options(value, "lora")
    opts.setdefault("target_modules", "all-linear")
    opts.setdefault("task_type", "CAUSAL_LM")
    from peft import LoraConfig

    LoraConfig(**opts)  # raises TypeError / ValueError on bad options
    return opts


class _Checker:
    """Collects problems while reading one recipe; builds the stages that pass."""

    def __init__(self, path: Path, text: str, base_dir: Path) -> None:
        self.path, self.base_dir = path, base_dir
        self.problems: list[str] = []
        self.top_lines, self.stage_lines = _key_lines(text)
        self.model_checks: dict[Path, str | None] = {}

    def add(self, where: str, key: str | None, message: str) -> None:
        self.problems.append(f"{where}{'' if key is None else f' key {key!r}'}: {message}")

    def stage_where(self, i: int, name: str | None) -> tuple[str, dict[str, int]]:
        line, keys = self.stage_lines[i] if i < len(self.stage_lines) else (0, {})
        label = f"stage {name!r}" if name else f"stage #{i + 1}"
        return f"{label} (line {line})", keys

    def model(self, where: str, value: Any) -> Path | None:
        try:
            folder = resolve_model(value, self.base_dir)
        except (ValueError, FileNotFoundError) as exc:
            self.add(where, "model", str(exc))
            return None
        if folder not in self.model_checks:
            self.model_checks[folder] = check_model(folder)
        problem = self.model_checks[folder]
        if problem:
            self.add(where, "model", problem)
            return None
        return folder


def load_recipe(
    path: str | Path,
    variables: Mapping[str, str] | None = None,
    base_dir: str | Path | None = None,
) -> Recipe:
    """Read and validate a recipe; raise :class:`RecipeError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.load(text, Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RecipeError(path, [f"cannot read the recipe: {exc}"]) from None
    if not isinstance(raw, Mapping):
        raise RecipeError(path, ["the recipe must be a YAML mapping with a 'stages' list"])
    missing: list[str] = []
    raw = substitute(raw, dict(variables or {}), missing)
    c = _Checker(path, text, Path(base_dir) if base_dir is not None else Path.cwd())
    if missing:
        c.add("recipe", None, f"no value for variable(s) {sorted(set(missing))} (use --var)")
    for key in sorted(set(raw) - TOP_KEYS):
        c.add(f"recipe (line {c.top_lines.get(key, 0)})", key, f"unknown; use {sorted(TOP_KEYS)}")
    defaults = {}
    try:
        defaults = _options(raw.get("defaults"), "defaults")
    except ValueError as exc:
        c.add("recipe", "defaults", str(exc))
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        c.add("recipe", "stages", "needs a non-empty list of stages")
        raise RecipeError(path, c.problems)
    stages: list[StageSpec] = []
    seen: dict[str, int] = {}
    outputs: dict[Path, str] = {}
    for i, entry in enumerate(stages_raw):
        spec = _check_stage(c, i, entry, raw, defaults, seen, outputs)
        if spec is not None:
            stages.append(spec)
    if c.problems or missing:
        raise RecipeError(path, c.problems)
    return Recipe(path=path, stages=tuple(stages), description=str(raw.get("description", "")))


def _check_stage(
    c: _Checker,
    i: int,
    entry: Any,
    raw: Mapping[str, Any],
    defaults: Mapping[str, Any],
    seen: dict[str, int],
    outputs: dict[Path, str],
) -> StageSpec | None:
    """Check one stage, recording problems on ``c``; the spec when it has none."""
    name = entry.get("name") if isinstance(entry, Mapping) else None
    where, lines = c.stage_where(i, name if isinstance(name, str) else None)
    before = len(c.problems)
    if not isinstance(entry, Mapping):
        c.add(where, None, "a stage must be a mapping")
        return None
    for key in sorted(set(entry) - STAGE_KEYS):
        c.add(where, key, f"unknown (line {lines.get(key, 0)}); use {sorted(STAGE_KEYS)}")
    if not isinstance(name, str) or not _NAME.match(name):
        c.add(where, "name", "needs a name of letters, digits, '_', '-' or '.'")
        name = f"#{i + 1}"
    elif name in seen:
        c.add(where, "name", f"already used by stage #{seen[name] + 1}")
    seen.setdefault(name, i)
    trainer = entry.get("trainer")
    kind = TRAINERS.get(trainer) if isinstance(trainer, str) else None
    if kind is None:
        c.add(where, "trainer", f"unknown trainer {trainer!r}; use one of {sorted(TRAINERS)}")

    # model / init_from
    model: Path | None = None
    init_from = entry.get("init_from")
    if init_from is not None and "model" in entry:
        c.add(where, "init_from", "give either 'model' or 'init_from', not both")
    elif init_from is not None:
        if init_from not in seen or seen[init_from] >= i:
            c.add(where, "init_from", f"{init_from!r} names no earlier stage")
    elif entry.get("model", raw.get("model")) is None:
        c.add(where, "model", "needs 'model' (here or at the top) or 'init_from'")
    else:
        model = c.model(where, entry.get("model", raw.get("model")))

    # output folder
    output_dir = None
    try:
        if "output_dir" in entry:
            output_dir = _path(entry["output_dir"], c.base_dir)
        elif raw.get("output_dir") is not None:
            output_dir = _path(raw["output_dir"], c.base_dir) / name
        else:
            c.add(where, "output_dir", "needs 'output_dir' (here or at the top of the recipe)")
    except ValueError as exc:
        c.add(where, "output_dir", str(exc))
    if output_dir is not None:
        if output_dir in outputs:
            c.add(where, "output_dir", f"{output_dir} is also stage {outputs[output_dir]!r}'s")
        outputs.setdefault(output_dir, name)

    # rewards and gate
    rewards: dict[str, Any] = {}
    gate = None
    try:
        rewards = _options(entry.get("rewards"), "rewards")
        gate = _options(entry.get("gate"), "gate") or None
    except ValueError as exc:
        c.add(where, "rewards", str(exc))
    if kind is not None and not kind.takes_rewards and (rewards or gate):
        c.add(where, "rewards", f"trainer {kind.key!r} takes no rewards or gate")
    if kind is not None and kind.takes_rewards:
        if not rewards:
            c.add(where, "rewards", f"trainer {kind.key!r} needs at least one reward")
        else:
            _check_rewards(c, where, rewards, gate)

    # label source (grpo only)
    labels = None
    if entry.get("labels") is not None:
        from medkg.training.keys import LabelError, LabelSpec

        try:
            labels = LabelSpec.parse(entry["labels"])
        except LabelError as exc:
            c.add(where, "labels", str(exc))
        if kind is not None and not kind.takes_rewards:
            c.add(where, "labels", f"trainer {kind.key!r} takes no reward labels")
            labels = None

    # dataset
    dataset = None
    label_check = None
    if "dataset" not in entry:
        c.add(where, "dataset", "missing")
    else:
        try:
            dataset = _path(entry["dataset"], c.base_dir)
            if kind is not None:
                _check_columns(kind, dataset, rewards)
        except Exception as exc:
            c.add(where, "dataset", str(exc))
            dataset = None
        if dataset is not None and labels is not None and kind is not None:
            label_check = _check_labels(c, where, kind, dataset, labels)

    # lora and hyper-parameters
    lora = None
    try:
        lora = _lora(entry.get("lora"))
    except (TypeError, ValueError) as exc:
        c.add(where, "lora", f"peft's LoraConfig refuses it: {exc}")
    args: dict[str, Any] = {}
    try:
        args = {**defaults, **_options(entry.get("args"), "args")}
    except ValueError as exc:
        c.add(where, "args", str(exc))
    if kind is not None:
        args = _check_args(c, where, kind, args, output_dir)

    if len(c.problems) > before or kind is None or dataset is None or output_dir is None:
        return None
    return StageSpec(
        name=name,
        trainer=kind.key,
        dataset=dataset,
        output_dir=output_dir,
        model=model,
        init_from=init_from,
        rewards=rewards,
        gate=gate,
        lora=lora,
        args=args,
        line=c.stage_lines[i][0] if i < len(c.stage_lines) else 0,
        labels=labels.to_dict() if labels is not None else None,
        label_check=label_check,
    )


def _check_rewards(
    c: _Checker, where: str, rewards: Mapping[str, Any], gate: Mapping[str, Any] | None
) -> None:
    from medkg.training.rewards import RewardConfigError, build_reward

    try:
        build_reward(rewards, gate=gate)
    except RewardConfigError as exc:
        c.add(where, "gate" if "gate" in str(exc) else "rewards", str(exc))


def _check_labels(
    c: _Checker, where: str, kind: TrainerKind, dataset: Path, labels: Any
) -> dict[str, Any] | None:
    """Every row gives the label the stage asks for; the pseudo-label gate passes."""
    from medkg.training.keys import LabelError, check_rows
    from medkg.training.trainers import dataset_file

    try:
        rows = load_dataset(dataset, kind).to_list()
        return check_rows(rows, labels, dataset_file(dataset, kind))
    except LabelError as exc:
        c.add(where, "labels", str(exc))
    return None


def _check_columns(kind: TrainerKind, dataset: Path, rewards: Mapping[str, Any]) -> None:
    """Raise ValueError when the dataset lacks the trainer's or a reward's columns."""
    ds = load_dataset(dataset, kind)
    columns = list(ds.column_names)
    if not any(all(col in columns for col in needed) for needed in kind.columns):
        wanted = " or ".join(str(list(n)) for n in kind.columns)
        raise UsageError(f"{dataset}: trainer {kind.key!r} needs columns {wanted}; has {columns}")
    if kind.takes_rewards and rewards:
        from medkg.training.rewards import RewardConfigError, validate_columns

        try:
            validate_columns(rewards, columns, dataset=str(dataset))
        except RewardConfigError as exc:
            raise UsageError(str(exc)) from None


def _check_args(
    c: _Checker, where: str, kind: TrainerKind, args: Mapping[str, Any], output_dir: Path | None
) -> dict[str, Any]:
    """Merged hyper-parameters (medkg defaults, device, recipe defaults, stage), checked
    against the trainer's config dataclass and by building it."""
    merged = {**kind.defaults, **device_defaults(), **args}
    known = {f.name for f in dataclasses.fields(kind.config_type())}
    unknown = sorted(set(args) - known)
    reserved = sorted(set(args) & RESERVED_ARGS)
    if unknown:
        c.add(where, "args", f"{kind.config_class} does not take {unknown}")
    if reserved:
        c.add(where, "args", f"{reserved} are set by medkg (from output_dir and rewards)")
    if unknown or reserved:
        return merged
    try:
        build_config(kind, merged, output_dir or Path("unused"))
    except (TypeError, ValueError) as exc:
        c.add(where, "args", f"{kind.config_class} refuses them: {exc}")
    return merged


__all__ = [
    "RESERVED_ARGS",
    "SMOLLM2_KEY",
    "STAGE_KEYS",
    "TOP_KEYS",
    "Recipe",
    "RecipeError",
    "StageSpec",
    "check_model",
    "load_recipe",
    "resolve_model",
    "substitute",
]
