"""Sharded corpora: a folder or glob of JSONL / Parquet / PubMed XML files, cut into small
shard descriptors that a worker reads on its own (the corpus never passes through one
process whole).

* :func:`corpus_files` lists the files of a source (a folder, searched recursively, a glob
  pattern, or one file) in path order.
* :func:`plan_shards` cuts them into :class:`CorpusShard` s: a PubMed XML(.gz) file is one
  shard (a baseline file holds ~30,000 citations and XML cannot be entered mid-way); a
  JSONL file is cut every ``shard_size`` lines (byte ranges found by one scan of the file;
  a gzipped JSONL file, ``.jsonl.gz``, is one shard, since a gzip stream cannot be entered
  mid-way either);
  a Parquet file into runs of whole row groups of at least ``shard_size`` rows (from its
  footer; a row group is never split, so no shard reads another's).
* :class:`ShardItems` reads one shard as ``(item id, text)`` pairs, the items
  ``medkg coverage link`` links: JSONL and Parquet records as :func:`medkg.io.iter_items`
  reads them (text fields joined by newlines; the id is ``id_field`` or the record's line /
  row number, prefixed by the file's path in the corpus when there are several files, so
  ids stay unique); a PubMed citation as its PMID and its title, a newline and its abstract
  (the title alone when it has none), through :func:`medkg.retrieval.readers.read_documents`.

Bad input raises the reader's error naming the file and line (a malformed JSON line, a
missing field, malformed XML, a file that is not Parquet).
"""

from __future__ import annotations

import glob
import gzip
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.io import DatasetError, jsonl_records, open_parquet, record_item
from medkg.retrieval.readers import ReadReport, read_documents

#: Corpus file formats by name ending.
CORPUS_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".jsonl.gz": "jsonl",
                   ".ndjson.gz": "jsonl", ".parquet": "parquet", ".xml": "pubmed",
                   ".xml.gz": "pubmed"}  # fmt: skip
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class CorpusShard:
    """One piece of a corpus file. JSONL: bytes ``[start, stop)`` whose first line is line
    ``first_line``; Parquet: rows ``[start, stop)`` (0-based, on row-group boundaries);
    PubMed: the whole file.
    ``name`` is the file's path in the corpus, the prefix of record-number ids (empty for a
    one-file corpus)."""

    path: str
    fmt: str
    start: int = 0
    stop: int | None = None
    first_line: int = 1
    name: str = ""


def corpus_format(path: str | Path) -> str | None:
    """``jsonl``, ``parquet`` or ``pubmed`` from a file name, None for anything else."""
    name = Path(path).name.lower()
    for suffix, fmt in CORPUS_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def _gzipped(path: Path) -> bool:
    """Whether a corpus file is gzipped, by its name as :func:`corpus_format` reads it
    (case-blind: ``A.JSONL.GZ`` too)."""
    return path.name.lower().endswith(".gz")


def is_sharded_source(source: str) -> bool:
    """Whether ``source`` names a sharded corpus: a folder (not a `medkg synth` output,
    which holds ``items.jsonl``), a glob pattern, a PubMed XML file or a gzipped JSONL file."""
    path = Path(source)
    if _GLOB_CHARS & set(source):
        return True
    if path.is_dir():
        return not (path / "items.jsonl").is_file()
    fmt = corpus_format(path)
    return fmt == "pubmed" or (fmt == "jsonl" and _gzipped(path))


def corpus_files(source: str) -> tuple[list[Path], Path]:
    """The corpus files of ``source`` in path order, and the folder their names are
    relative to."""
    path = Path(source)
    if _GLOB_CHARS & set(source):
        files = [Path(p) for p in glob.glob(source, recursive=True)]
        root = Path(os.path.dirname(re.split(r"[*?\[]", source, maxsplit=1)[0]) or ".")
    elif path.is_dir():
        files, root = [p for p in path.rglob("*")], path
    elif path.is_file():
        files, root = [path], path.parent
    else:
        raise DatasetError(source, "corpus not found")
    files = sorted((p for p in files if p.is_file() and corpus_format(p)), key=str)
    if not files:
        raise DatasetError(source, f"no corpus files ({', '.join(CORPUS_SUFFIXES)}) found")
    return files, root


def plan_shards(source: str, shard_size: int) -> list[CorpusShard]:
    """The shards of a corpus in reading order (see the module docstring)."""
    if shard_size < 1:
        raise ValueError(f"shard size must be >= 1, got {shard_size}")
    files, root = corpus_files(source)
    shards: list[CorpusShard] = []
    for file in files:
        name = file.relative_to(root).as_posix() if len(files) > 1 else ""
        fmt = corpus_format(file)
        if fmt == "jsonl" and _gzipped(file):
            shards.append(CorpusShard(str(file), "jsonl", name=name))  # the whole stream
        elif fmt == "jsonl":
            shards += _jsonl_shards(file, name, shard_size)
        elif fmt == "parquet":
            shards += _parquet_shards(file, name, shard_size)
        else:
            shards.append(CorpusShard(str(file), "pubmed", name=name))
    if not shards:  # every file empty: said here, naming the source, not by the linking
        one = len(files) == 1
        raise DatasetError(source, f"no records (its {len(files)} corpus "
                                   f"{'file is' if one else 'files are'} empty)")  # fmt: skip
    return shards


def _jsonl_shards(file: Path, name: str, shard_size: int) -> list[CorpusShard]:
    shards = []
    start, line, first = 0, 0, 1
    with file.open("rb") as fh:
        for _ in fh:
            line += 1
            if line - first + 1 == shard_size:
                end = fh.tell()
                shards.append(CorpusShard(str(file), "jsonl", start, end, first, name))
                start, first = end, line + 1
        end = fh.tell()
    if end > start:
        shards.append(CorpusShard(str(file), "jsonl", start, end, first, name))
    return shards


def _parquet_shards(file: Path, name: str, shard_size: int) -> list[CorpusShard]:
    """Whole row groups, gathered until a shard has ``shard_size`` rows: a row group is
    read by one shard only (a writer's row group may hold more rows than a shard)."""
    meta = open_parquet(file).metadata
    shards, start, end = [], 0, 0
    for group in range(meta.num_row_groups):
        end += meta.row_group(group).num_rows
        if end - start >= shard_size:
            shards.append(CorpusShard(str(file), "parquet", start, end, name=name))
            start = end
    if end > start:
        shards.append(CorpusShard(str(file), "parquet", start, end, name=name))
    return shards


@dataclass(frozen=True)
class ShardItems:
    """Reads a :class:`CorpusShard` as ``(item id, text)`` pairs (small and picklable: it
    travels to the workers that read the shards)."""

    fields: tuple[str, ...] = ("text",)
    id_field: str | None = None

    def __call__(self, shard: CorpusShard) -> list[tuple[str, str]]:
        return [(item_id, text) for item_id, text, _ in self.located(shard)]

    def ids(self, shard: CorpusShard) -> tuple[list[str], list[str]]:
        """The item ids of ``shard`` in the order :meth:`__call__` gives them, and the ids
        it deletes: a PubMed update file's ``DeleteCitation`` PMIDs (none for JSONL and
        Parquet). What the ``last`` policy for repeated ids reads
        (:mod:`medkg.coverage.record_ids`)."""
        if shard.fmt != "pubmed":
            return [item_id for item_id, _ in self(shard)], []
        report = ReadReport()
        ids = [d.doc_id for d in read_documents(Path(shard.path), "pubmed", report=report)]
        return ids, report.deleted

    def read_deleting(self, shard: CorpusShard) -> tuple[list[tuple[str, str]], list[str]]:
        """:meth:`__call__`'s pairs and the ids ``shard`` deletes (as :meth:`ids` gives
        them), from one reading: what the ``error`` policy for repeated ids checks
        deletions with (:mod:`medkg.coverage.record_ids`)."""
        report = ReadReport()
        return [(i, text) for i, text, _ in self.located(shard, report)], report.deleted

    def locations(self, shard: CorpusShard) -> list[str]:
        """Where each record of ``shard`` is, in the order :meth:`__call__` gives them
        (``file:line`` for JSONL, ``file: row N`` for Parquet, ``file: citation N`` for
        PubMed): what an error about one record names."""
        return [where for _, _, where in self.located(shard)]

    def located(
        self, shard: CorpusShard, report: ReadReport | None = None
    ) -> list[tuple[str, str, str]]:
        """``(item id, text, where)`` of each record of ``shard`` (a PubMed file's counts
        and deleted ids go to ``report``)."""
        path = Path(shard.path)
        if shard.fmt == "pubmed":
            return [
                (d.doc_id, f"{d.title}\n{d.text}" if d.metadata.get("has_abstract") and d.title
                 else d.text, f"{path}: citation {n}")
                for n, d in enumerate(read_documents(path, "pubmed", report=report), 1)
            ]  # fmt: skip
        if shard.fmt == "jsonl":
            records, sep = _jsonl_records(shard), ":"
        else:
            records = _parquet_records(shard, (*self.fields, *filter(None, [self.id_field])))
            sep = ": row "
        prefix = f"{shard.name}:" if shard.name and self.id_field is None else ""
        out = []
        for number, rec in records:
            item = record_item(path, number, rec, self.fields, self.id_field)
            out.append((prefix + item.id, item.text, f"{path}{sep}{number}"))
        return out


def _jsonl_records(shard: CorpusShard) -> list[tuple[int, Any]]:
    path = Path(shard.path)
    if _gzipped(path):
        try:
            with gzip.open(path, "rb") as gz:
                data = gz.read()
        except (OSError, EOFError) as exc:  # not gzip, or a cut stream
            raise DatasetError(path, f"unreadable gzip stream ({exc})") from None
    else:
        with path.open("rb") as fh:
            fh.seek(shard.start)
            data = fh.read((shard.stop or path.stat().st_size) - shard.start)
    return list(jsonl_records(path, data.split(b"\n"), shard.first_line))


def _parquet_records(shard: CorpusShard, wanted: Sequence[str]) -> list[tuple[int, Any]]:
    pf = open_parquet(Path(shard.path))
    # only the columns linking reads (a missing one is reported by record_item, by name)
    columns = [c for c in pf.schema_arrow.names if c in wanted]
    stop = shard.stop if shard.stop is not None else pf.metadata.num_rows
    out: list[tuple[int, Any]] = []
    first = 0  # first row of the current row group
    for group in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(group).num_rows
        if first + n > shard.start and first < stop:
            rows = pf.read_row_group(group, columns=columns).to_pylist()
            lo, hi = max(shard.start - first, 0), min(stop - first, n)
            out += [(first + i + 1, rows[i]) for i in range(lo, hi)]  # 1-based row numbers
        first += n
    return out


__all__ = [
    "CORPUS_SUFFIXES",
    "CorpusShard",
    "ShardItems",
    "corpus_files",
    "corpus_format",
    "is_sharded_source",
    "plan_shards",
]
