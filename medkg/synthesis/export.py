"""Write a synthesised dataset: JSONL, Parquet, a Hugging Face ``datasets`` folder, TRL
conversational forms and ``manifest.json``.

Same items + same manifest inputs ⇒ byte-identical files: rows are written in item order
with sorted keys, floats are rounded to :data:`FLOAT_DIGITS` decimals, nothing carries a
timestamp or a path of this machine, and the Hugging Face folder is saved with a
fingerprint derived from the content instead of the random one ``datasets`` would draw.

Everything is written through :func:`medkg.outputs.staged_folder`: a staging folder beside
the target swapped in at the end, so a failed or killed export leaves the previous one
intact; only an earlier ``synth`` export is replaced, any other non-empty folder is refused.

Files (see :data:`FORMATS`):

``items.jsonl``      one :meth:`QAItem.to_dict` per line
``items.parquet``    the same rows (``provenance`` as a JSON string: its keys vary by family)
``hf/``              ``datasets.Dataset.save_to_disk`` of the Parquet table
``trl_sft.jsonl``    ``{"prompt": [system, user], "completion": [assistant], ...}``
                     (TRL conversational prompt-completion; the completion walks the
                     rationale and ends with ``Answer: <letter>``)
``trl_grpo.jsonl``   ``{"prompt": [system, user], "answer": "<letter>", ...}`` (TRL GRPO:
                     extra columns reach reward functions as keyword arguments)
``manifest.json``    config, seed, graph hash, source versions, counts, distribution,
                     rejects, dedup/decontam counts, sha256 and size of every file above
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.errors import InputError
from medkg.io import (
    MANIFEST,
    ExportError,
    canonical,
    digests,
    dumps_line,
    write_jsonl,
)
from medkg.outputs import check_folder_target, legacy_manifest, staged_folder
from medkg.synthesis.items import LETTERS, RATIONALE_STEPS, QAItem

FORMATS = ("jsonl", "parquet", "hf", "trl")
MANIFEST_VERSION = 1
# The output kind (see medkg.outputs) and how a synth folder from before the marker looks.
KIND = "synth"
LEGACY = legacy_manifest(format_version=..., n_items=..., files=...)

SYSTEM_PROMPT = (
    "You are a careful medical expert. Answer the multiple-choice question. Think through "
    "the relevant facts step by step, then end with a line 'Answer: <letter>'."
)


@dataclass(frozen=True)
class ExportReport:
    path: Path
    files: dict[str, dict[str, Any]]  # relative path -> {"sha256", "bytes"}
    manifest: dict[str, Any]


def item_row(item: QAItem) -> dict[str, Any]:
    if not item.id:
        item.with_id()
    row: dict[str, Any] = canonical(item.to_dict())
    return row


def sft_completion(item: QAItem) -> str:
    """The assistant turn: the rationale steps in order, then the gold letter and text."""
    steps = [
        f"{step.capitalize()}: {item.rationale[step]}"
        for step in RATIONALE_STEPS
        if item.rationale.get(step)
    ]
    return "\n".join([*steps, f"Answer: {item.answer_letter}. {item.answer}"])


def prompt_messages(item: QAItem) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": item.mc_prompt()},
    ]


def trl_sft_row(item: QAItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "family": item.family,
        "prompt": prompt_messages(item),
        "completion": [{"role": "assistant", "content": sft_completion(item)}],
    }


def trl_grpo_row(item: QAItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "family": item.family,
        "prompt": prompt_messages(item),
        "answer": item.answer_letter,
        "answer_text": item.answer,
        "answer_id": item.answer_id,
        "letters": list(LETTERS[: len(item.options)]),
    }


# ----------------------------------------------------------------------------- writers
def items_table(items: Sequence[QAItem]) -> Any:
    """A pyarrow table of the items (fixed column order; provenance as JSON text)."""
    import pyarrow as pa

    rows = [item_row(i) for i in items]
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("family", pa.string()),
            ("question", pa.string()),
            ("options", pa.list_(pa.string())),
            ("option_ids", pa.list_(pa.string())),
            ("answer_index", pa.int64()),
            ("answer_letter", pa.string()),
            ("answer", pa.string()),
            ("answer_id", pa.string()),
            ("entity_ids", pa.list_(pa.string())),
            ("path_nodes", pa.list_(pa.string())),
            ("path_rels", pa.list_(pa.string())),
            ("distractor_ids", pa.list_(pa.string())),
            ("hops", pa.int64()),
            ("rare", pa.bool_()),
            ("difficulty", pa.float64()),
            ("rationale", pa.struct([(s, pa.string()) for s in RATIONALE_STEPS])),
            ("template", pa.string()),
            ("seed_entity", pa.string()),
            ("provenance", pa.string()),
        ]
    )
    columns: dict[str, list[Any]] = {f.name: [] for f in schema}
    for row in rows:
        for name in columns:
            value = row.get(name)
            if name == "provenance":
                value = dumps_line(value or {})
            elif name == "rationale":
                value = {s: (value or {}).get(s) for s in RATIONALE_STEPS}
            columns[name].append(value)
    return pa.table(columns, schema=schema)


def write_parquet(path: Path, table: Any) -> None:
    import pyarrow.parquet as pq

    # Statistics and the writer's version string are deterministic; no timestamps are written.
    pq.write_table(table, path, compression="zstd", row_group_size=50_000)


def write_hf(path: Path, table: Any, fingerprint: str) -> None:
    """``save_to_disk`` with a content fingerprint (the default is random per process)."""
    import datasets
    from datasets import Dataset
    from datasets.utils import logging as hf_logging

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        Dataset(table, fingerprint=fingerprint).save_to_disk(str(path), num_shards=1)
    finally:
        hf_logging.set_verbosity(verbosity)
        if not was_disabled:
            datasets.enable_progress_bars()


# ----------------------------------------------------------------------------- export
def export_items(
    items: Sequence[QAItem],
    out_dir: str | Path,
    manifest: Mapping[str, Any] | None = None,
    formats: Sequence[str] = FORMATS,
) -> ExportReport:
    """Write ``items`` in ``formats`` plus ``manifest.json`` into ``out_dir`` atomically.

    ``manifest`` is the caller's part (config, seed, graph hash, counts ...); the export
    adds ``format_version``, ``n_items`` and ``files`` (checksums of everything it wrote).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ExportError(f"unknown export format(s) {unknown}; choose from {list(FORMATS)}")
    out = Path(out_dir)
    check_folder_target(out, KIND, LEGACY)
    for item in items:
        if not item.id:
            item.with_id()
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ExportError("items with the same id (identical content): deduplicate first")
    with staged_folder(out, KIND, legacy=LEGACY) as tmp:
        if "jsonl" in formats:
            write_jsonl(tmp / "items.jsonl", [item_row(i) for i in items])
        if "parquet" in formats or "hf" in formats:
            table = items_table(items)
            if "parquet" in formats:
                write_parquet(tmp / "items.parquet", table)
            if "hf" in formats:
                fingerprint = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()[:16]
                write_hf(tmp / "hf", table, fingerprint)
        if "trl" in formats:
            write_jsonl(tmp / "trl_sft.jsonl", [trl_sft_row(i) for i in items])
            write_jsonl(tmp / "trl_grpo.jsonl", [trl_grpo_row(i) for i in items])
        files = digests(tmp)
        full = {
            **dict(manifest or {}),
            "format_version": MANIFEST_VERSION,
            "n_items": len(items),
            "formats": [f for f in FORMATS if f in formats],
            "files": files,
        }
        full = canonical(full)
        (tmp / MANIFEST).write_text(
            json.dumps(full, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return ExportReport(path=out, files=files, manifest=full)


def read_items(path: str | Path, honour_review: bool = True) -> list[QAItem]:
    """Read ``items.jsonl`` (or an export folder) back into items; items a curator
    rejected in the dataset's ``review.jsonl`` are left out unless ``honour_review`` is off."""
    from medkg.synthesis.review import rejected_ids

    p = Path(path)
    if p.is_dir():
        p = p / "items.jsonl"
    if not p.is_file():
        raise FileNotFoundError(f"no dataset at {p} (give an export folder or its items.jsonl)")
    rejected = rejected_ids(p) if honour_review else set()
    fields = set(QAItem.__dataclass_fields__)
    items = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                if row.get("id") in rejected:
                    continue
                items.append(QAItem(**{k: v for k, v in row.items() if k in fields}))
            except (json.JSONDecodeError, TypeError, AttributeError) as exc:
                raise InputError(f"{p}:{lineno}: not a QA item ({exc})") from None
    return items


__all__ = [
    "FORMATS",
    "SYSTEM_PROMPT",
    "ExportReport",
    "export_items",
    "items_table",
    "read_items",
    "sft_completion",
    "trl_grpo_row",
    "trl_sft_row",
]
