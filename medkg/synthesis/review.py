"""Curator decisions on a dataset's items: ``review.jsonl`` beside the dataset.

One JSON object per line, the latest line about an item wins::

    {"item_id": "...", "decision": "reject", "reason": "distractor also fits", "at": "..."}

``decision`` is one of :data:`DECISIONS`. The file is written by the curator workbench
(``medkg ui``) and read by everything that consumes a dataset: :func:`rejected_ids` is the
one question they ask, so ``read_items`` (synthesis, pseudo-labelling) and the training
loaders drop rejected items. A malformed file is a :class:`ReviewError` naming the line;
it is never half-applied. Writes replace the file atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError
from medkg.outputs import write_text

REVIEW_FILE = "review.jsonl"
DECISIONS = ("accept", "reject", "flag")
MAX_REASON = 2000


class ReviewError(MedkgError, ValueError):
    """A review file or decision is malformed; the message names the file and line."""


def review_path(dataset: str | Path) -> Path:
    """``review.jsonl`` in a dataset folder (or beside a dataset file such as items.jsonl)."""
    p = Path(dataset)
    return (p if p.is_dir() else p.parent) / REVIEW_FILE


def _check(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ReviewError(f"{where}: a review line must be a JSON object")
    item_id, decision = entry.get("item_id"), entry.get("decision")
    if not isinstance(item_id, str) or not item_id:
        raise ReviewError(f"{where}: item_id must be a non-empty string")
    if decision not in DECISIONS:
        raise ReviewError(f"{where}: decision {decision!r} is not one of {list(DECISIONS)}")
    reason = entry.get("reason", "")
    if not isinstance(reason, str):
        raise ReviewError(f"{where}: reason must be a string")
    return entry


def read_review(dataset: str | Path) -> dict[str, dict[str, Any]]:
    """Latest decision per item id (empty when there is no review file)."""
    path = review_path(dataset)
    if not path.is_file():
        return {}
    decisions: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReviewError(f"{path}: not UTF-8 text ({exc.reason})") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
        entry = _check(entry, f"{path} line {number}")
        decisions[entry["item_id"]] = entry
    return decisions


def rejected_ids(dataset: str | Path) -> set[str]:
    """Ids of the items whose latest decision is ``reject``."""
    return {i for i, e in read_review(dataset).items() if e["decision"] == "reject"}


def record_decisions(dataset: str | Path, entries: Iterable[dict[str, Any]]) -> Path:
    """Append decisions (item_id, decision, reason) to the review file, atomically.

    The existing file is validated first (a malformed one is never extended), the new
    lines are checked, then the whole file is written to a temporary name and renamed.
    """
    path = review_path(dataset)
    read_review(dataset)  # refuses a malformed file before anything is written
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for entry in entries:
        entry = _check(dict(entry), "decision")
        reason = entry.get("reason", "").strip()
        if len(reason) > MAX_REASON:
            raise ReviewError(f"decision: reason longer than {MAX_REASON} characters")
        row = {"item_id": entry["item_id"], "decision": entry["decision"], "reason": reason}
        lines.append(json.dumps({**row, "at": stamp}, ensure_ascii=False, sort_keys=True))
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    write_text(path, old + "".join(line + "\n" for line in lines))
    return path


class ReviewsWouldBeLost(ReviewError):
    """Writing a dataset folder would replace it together with its review file."""

    http_status = 409  # the workbench shows it as a conflict


def keep_reviews(folder: str | Path) -> None:
    """Refuse to replace ``folder`` while it holds a curator's review decisions: dataset
    outputs are swapped in whole (``staged_folder``), so they would be deleted with it.
    Call it before the work that writes the folder."""
    path = Path(folder) / REVIEW_FILE
    if path.is_file() and path.stat().st_size > 0:
        raise ReviewsWouldBeLost(
            f"{folder} holds review decisions ({REVIEW_FILE}) that writing it again would "
            "delete: move or rename that folder first, or write to another one"
        )


def export_reviewed(
    dataset: str | Path, out_dir: str | Path, formats: Sequence[str] | None = None
) -> Any:
    """Re-export a `medkg synth` folder without its rejected items, into ``out_dir``.

    The manifest keeps the original's fields and gains ``review`` (decision counts, rejected
    ids left out, the source folder); the files are written atomically by ``export_items``.
    """
    from medkg.io import MANIFEST
    from medkg.synthesis.export import FORMATS, export_items, read_items

    src = Path(dataset)
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise ReviewError(f"{src} is not a medkg dataset: it has no {MANIFEST}")
    if Path(out_dir).resolve() == src.resolve():
        raise ReviewError(f"{out_dir}: write the reviewed export to another folder")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    decisions = read_review(src)
    items = read_items(src)  # rejected items are left out here
    counts = {d: sum(1 for e in decisions.values() if e["decision"] == d) for d in DECISIONS}
    kept = {k: v for k, v in manifest.items() if k not in ("files", "n_items", "formats")}
    kept["review"] = {"source": src.name, "decisions": counts,
                      "left_out": manifest.get("n_items", 0) - len(items)}  # fmt: skip
    chosen = list(formats or manifest.get("formats") or FORMATS)
    return export_items(items, out_dir, kept, chosen)


__all__ = [
    "DECISIONS",
    "REVIEW_FILE",
    "ReviewError",
    "ReviewsWouldBeLost",
    "export_reviewed",
    "keep_reviews",
    "read_review",
    "record_decisions",
    "rejected_ids",
    "review_path",
]
