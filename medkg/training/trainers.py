"""What a stage's ``trainer:`` key builds and reads: TRL's config and trainer classes, the
dataset columns they need, medkg's CPU-friendly defaults, and dataset loading.

``TRAINERS`` is the registry (``grpo``, ``dpo``, ``sft``); TRL is imported only when a config
or trainer class is asked for. Datasets are JSONL/JSON/Parquet files, ``datasets`` folders
(``save_to_disk``), or medkg export folders - ``medkg synth``, ``medkg train pseudo-label``
and :func:`medkg.training.dpo.write_pairs` write ``trl_<trainer>.jsonl`` into theirs.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.io import DatasetError, _json, _jsonl


@dataclass(frozen=True)
class TrainerKind:
    """What a ``trainer:`` key builds: TRL's config and trainer classes (imported lazily),
    the dataset columns it needs (any one of ``columns`` sets), the file it reads from a
    medkg export folder, and medkg's CPU-friendly defaults under the recipe's arguments."""

    key: str
    config_class: str
    trainer_class: str
    columns: tuple[tuple[str, ...], ...]
    export_file: str
    defaults: Mapping[str, Any]
    takes_rewards: bool = False

    def config_type(self) -> type:
        module, _, name = self.config_class.rpartition(".")
        return getattr(importlib.import_module(module), name)

    def trainer_type(self) -> type:
        module, _, name = self.trainer_class.rpartition(".")
        return getattr(importlib.import_module(module), name)


_COMMON = {"logging_steps": 1, "save_steps": 50, "save_total_limit": 2, "report_to": "none"}
TRAINERS: dict[str, TrainerKind] = {
    kind.key: kind
    for kind in (
        TrainerKind(
            "grpo",
            "trl.GRPOConfig",
            "trl.GRPOTrainer",
            (("prompt",),),
            "trl_grpo.jsonl",
            {
                **_COMMON,
                "per_device_train_batch_size": 4,
                "num_generations": 4,
                "max_completion_length": 64,
            },
            takes_rewards=True,
        ),
        TrainerKind(
            "dpo",
            "trl.DPOConfig",
            "trl.DPOTrainer",
            (("prompt", "chosen", "rejected"),),
            "trl_dpo.jsonl",
            {**_COMMON, "per_device_train_batch_size": 2, "max_length": 512},
        ),
        TrainerKind(
            "sft",
            "trl.SFTConfig",
            "trl.SFTTrainer",
            (("prompt", "completion"), ("messages",), ("text",)),
            "trl_sft.jsonl",
            {**_COMMON, "per_device_train_batch_size": 2, "max_length": 512},
        ),
    )
}


def dataset_file(path: Path, kind: TrainerKind) -> Path:
    """The file or ``datasets`` folder a stage reads: ``path`` itself, or the trainer's
    ``trl_<trainer>.jsonl`` inside a medkg export / pseudo-label folder."""
    if path.is_dir() and not (path / "dataset_info.json").is_file():
        candidate = path / kind.export_file
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(
            f"{path} is a folder with neither a saved `datasets` dataset nor {kind.export_file}"
        )
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL or JSON-list file (the coverage readers, which name the file and line
    of bad input); a row that is not an object is an error naming its line."""
    records = _jsonl(path) if path.suffix == ".jsonl" else _json(path)
    rows = []
    for number, row in records:
        if not isinstance(row, dict):
            raise DatasetError(path, "a row must be a JSON object", line=number)
        rows.append(row)
    return rows


def load_dataset(path: str | Path, kind: TrainerKind | str) -> Any:
    """A ``datasets.Dataset`` from a JSONL/JSON/Parquet file or a folder (see
    :func:`dataset_file`). An empty dataset is an error."""
    import datasets

    from medkg.synthesis.review import rejected_ids

    kind = TRAINERS[kind] if isinstance(kind, str) else kind
    source = dataset_file(Path(path), kind)
    if source.is_dir():
        ds = datasets.load_from_disk(str(source))
        if isinstance(ds, datasets.DatasetDict):
            if "train" not in ds:
                raise UsageError(f"{source}: a DatasetDict without a 'train' split")
            ds = ds["train"]
    elif source.suffix in (".jsonl", ".json"):
        ds = datasets.Dataset.from_list(read_rows(source))
    elif source.suffix == ".parquet":
        import pyarrow.parquet as pq

        ds = datasets.Dataset(pq.read_table(source))
    else:
        raise UsageError(f"{source}: unsupported dataset format (use .jsonl, .json, .parquet)")
    rejected = rejected_ids(source)  # a curator's review.jsonl beside the data
    if rejected and "id" in ds.column_names:
        ds = ds.filter(lambda row: row["id"] not in rejected)
    if len(ds) == 0:
        raise UsageError(f"{source}: the dataset is empty")
    return ds


def build_config(kind: TrainerKind, args: Mapping[str, Any], output_dir: Path) -> Any:
    """The trainer's TRL config from merged ``args`` (raises ValueError / TypeError)."""
    return kind.config_type()(output_dir=str(output_dir), **args)


def device_defaults() -> dict[str, Any]:
    """CPU unless a CUDA device is present; bf16 only on a GPU that supports it."""
    import torch

    if torch.cuda.is_available():
        return {"use_cpu": False, "bf16": bool(torch.cuda.is_bf16_supported())}
    return {"use_cpu": True, "bf16": False}


__all__ = [
    "TRAINERS",
    "TrainerKind",
    "build_config",
    "dataset_file",
    "device_defaults",
    "load_dataset",
    "read_rows",
]
