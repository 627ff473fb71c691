"""Reading generic tables (CSV, TSV, Parquet) with the line of every data row kept.

Used by :mod:`medkg.kg.sources.tables`: polars reads the values; a light scan of the
raw text keeps each row's 1-based file line (header = line 1) so every error names the
file and line. Parquet errors name the 1-based row instead.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.sources.base import SourceError, check_readable

FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# --------------------------------------------------------------------------- frames
NODE_LIST_COLUMNS = ("synonyms", "synonym_scopes", "xrefs")


# --------------------------------------------------------------------------- reading
@dataclass
class Table:
    """One table read into Python columns, with the file line of every data row."""

    path: Path
    header: list[str]
    columns: dict[str, list[Any]]  # keyed by the header name as written (stripped)
    lines: list[int] | None  # 1-based file line per row (CSV/TSV); None for Parquet

    @property
    def height(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def column(self, name: str) -> list[Any] | None:
        """A column by case-insensitive name, or None."""
        for h in self.header:
            if h.lower() == name:
                return self.columns[h]
        return None

    def error(self, row: int, message: str) -> SourceError:
        if self.lines is not None:
            return SourceError(self.path, message, self.lines[row])
        return SourceError(self.path, f"row {row + 1}: {message}")

    def where(self, row: int) -> str:
        return f"line {self.lines[row]}" if self.lines is not None else f"row {row + 1}"


def table_format(path: Path, given: str | None = None) -> str:
    """``csv``, ``tsv`` or ``parquet``: the given one, else from the extension."""
    if given:
        fmt = given.lower()
        if fmt not in ("csv", "tsv", "parquet"):
            raise SourceError(path, f"unknown table format {given!r} (csv, tsv or parquet)")
        return fmt
    try:
        return FORMAT_BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise SourceError(
            path,
            f"cannot tell the table format from the extension {path.suffix!r}; use .csv, .tsv or .parquet",
        ) from None


def read_table(path: Path, fmt: str) -> Table:
    """Read a CSV/TSV/Parquet table; structural problems raise SourceError with the line."""
    check_readable(path)
    if fmt == "parquet":
        return _read_parquet(path)
    return _read_delimited(path, "," if fmt == "csv" else "\t", quoted=fmt == "csv")


def _read_parquet(path: Path) -> Table:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several error types for a corrupt file
        raise SourceError(path, f"cannot read Parquet: {exc}") from exc
    header = [c.strip() for c in frame.columns]
    _check_header(path, header, None)
    columns = {
        h: [v.strip() if isinstance(v, str) else v for v in frame.get_column(c).to_list()]
        for h, c in zip(header, frame.columns, strict=True)
    }
    return Table(path=path, header=header, columns=columns, lines=None)


def _check_header(path: Path, header: list[str], line: int | None) -> None:
    seen: set[str] = set()
    for h in header:
        if not h:
            raise SourceError(path, "empty column name in the header", line)
        if h.lower() in seen:
            raise SourceError(path, f"duplicate column {h!r} in the header", line)
        seen.add(h.lower())


def _read_delimited(path: Path, sep: str, quoted: bool) -> Table:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            path, f"not UTF-8 (byte {data[exc.start]:#x} at offset {exc.start})", line
        ) from exc
    if not text.strip():
        raise SourceError(path, "file is empty")
    header, records = _scan_records(path, text, sep, quoted and '"' in text)
    _check_header(path, header, 1)
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator=sep,
            quote_char='"' if quoted else None,
            infer_schema=False,
            empty_string_is_null=False,
        )
    except Exception as exc:  # the scan above catches ragged rows; this is a last resort
        raise SourceError(path, f"cannot parse as {'CSV' if quoted else 'TSV'}: {exc}") from exc
    raw_columns = [frame.get_column(c).to_list() for c in frame.columns]
    lines = [line for line, _blank in records]
    if frame.height != len(records):
        # polars and the line scan disagree on record boundaries: keep going without lines.
        return Table(
            path=path,
            header=header,
            columns=dict(zip(header, raw_columns, strict=True)),
            lines=None,
        )
    keep = [i for i, (_line, blank) in enumerate(records) if not blank]
    if len(keep) != len(records):
        raw_columns = [[col[i] for i in keep] for col in raw_columns]
        lines = [lines[i] for i in keep]
    columns = {
        h: [v.strip() if isinstance(v, str) else v for v in col]
        for h, col in zip(header, raw_columns, strict=True)
    }
    return Table(path=path, header=header, columns=columns, lines=lines)


def _scan_records(
    path: Path, text: str, sep: str, quoted: bool
) -> tuple[list[str], list[tuple[int, bool]]]:
    """Header names and, per data record, (first line, is blank); checks field counts."""
    out: list[tuple[int, bool]] = []
    if not quoted:  # no quote characters: one record per line
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        header = [h.strip() for h in lines[0].rstrip("\r").split(sep)]
        width = len(header)
        for number, raw in enumerate(lines[1:], start=2):
            raw = raw.rstrip("\r")
            if not raw.strip(sep + " "):
                out.append((number, True))
                continue
            found = raw.count(sep) + 1
            if found != width:
                raise SourceError(
                    path, f"expected {width} fields (as in the header), found {found}", number
                )
            out.append((number, False))
        return header, out
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"', strict=False)
    try:
        header = [h.strip() for h in next(reader)]
        width = len(header)
        last = reader.line_num
        for record in reader:
            start = last + 1
            last = reader.line_num
            if not any(field.strip() for field in record):
                out.append((start, True))
                continue
            if len(record) != width:
                raise SourceError(
                    path, f"expected {width} fields (as in the header), found {len(record)}", start
                )
            out.append((start, False))
    except csv.Error as exc:
        raise SourceError(path, f"CSV syntax error: {exc}", reader.line_num) from exc
    return header, out


# --------------------------------------------------------------------------- cell parsing
def cell(value: Any) -> Any:
    """None for an empty cell (strings were stripped on reading); NaN is empty too."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def as_list(value: Any, sep: str) -> list[str]:
    value = cell(value)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [str(v).strip() for v in value if v is not None]
    else:
        items = [part.strip() for part in str(value).split(sep)]
    return [item for item in items if item]


def as_bool(table: Table, row: int, column: str, value: Any) -> bool | None:
    value = cell(value)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise table.error(row, f"column {column!r}: {value!r} is not a boolean (true/false)")


def as_float(table: Table, row: int, column: str, value: Any) -> float | None:
    value = cell(value)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise table.error(row, f"column {column!r}: {value!r} is not a number") from None


def jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
