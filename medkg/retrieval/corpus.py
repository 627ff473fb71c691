"""Corpora: what a corpus is (:class:`CorpusSpec`), how its documents are cut into chunks
(:func:`chunk_document`), where the known corpora are recorded (:class:`CorpusRegistry`)
and how a corpus is streamed as chunks (:func:`iter_chunks`).

Chunking follows HeteroRAG's policy by default: windows of at most 1,000 characters with
200 characters of overlap. A window is cut after the last sentence end in its second half
when there is one, else at the last whitespace, else hard at the window's end; the next
window starts ``overlap`` characters before the cut, moved forward to a word start. Chunk
``start``/``end`` are offsets in the document text and ``text == doc.text[start:end]``.
The same document and policy always give the same chunks and ids
(``"<corpus>:<doc_id>:<ordinal>"``, ordinals from 0).

The registry is one JSON file (``<folder>/corpora.json``; by default under
``medkg_home()/retrieval``), rewritten atomically (temporary file, then rename) on every
change, so a crash leaves the previous registry whole.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.config import medkg_home
from medkg.outputs import write_text
from medkg.progress import Progress
from medkg.retrieval import graph_corpus  # noqa: F401 - registers the "graph" reader
from medkg.retrieval.base import CORPUS_KINDS, Chunk, Document, RetrievalError
from medkg.retrieval.readers import READERS, ReadReport, Skip, read_documents

__all__ = [
    "CORPUS_KINDS",
    "CorpusRegistry",
    "CorpusSpec",
    "ReadReport",
    "Skip",
    "chunk_document",
    "iter_chunks",
    "read_corpus",
]

DEFAULT_CHUNK_SIZE = 1000
DEFAULT_OVERLAP = 200
REGISTRY_FILE = "corpora.json"
REGISTRY_VERSION = 1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# a sentence end: . ! ? (closing quotes or brackets allowed) then whitespace, or a line break
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+|\n\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus: its name, kind, source and chunking policy.

    ``kind`` is one of :data:`~medkg.retrieval.base.CORPUS_KINDS` or a user-defined word;
    ``format`` names a reader (``jsonl``, ``parquet``, ``text``, ``pubmed``, ``graph``)
    or is ``None`` to tell it from the source; ``options`` go to the reader (e.g.
    ``{"text_field": "abstract"}``). The name may not contain ``:`` (chunk ids use it).
    A ``graph`` corpus (entity cards of an embedded store folder) wants ``chunk_size``
    at least the card budget (``graph_corpus.CARD_MAX_CHARS``) and ``overlap=0``, so that
    each card is one chunk.
    """

    name: str
    kind: str
    source: str
    format: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    overlap: int = DEFAULT_OVERLAP
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name or ""):
            raise RetrievalError(
                f"corpus name {self.name!r}: use letters, digits, '_', '.', '-' (no ':')"
            )
        if not self.kind or not self.kind.strip():
            raise RetrievalError(f"corpus {self.name!r}: kind is empty; e.g. {CORPUS_KINDS}")
        if self.format is not None and self.format not in READERS:
            raise RetrievalError(
                f"corpus {self.name!r}: unknown format {self.format!r}; known: {sorted(READERS)}"
            )
        check_policy(self.chunk_size, self.overlap, f"corpus {self.name!r}")

    @property
    def is_builtin_kind(self) -> bool:
        return self.kind in CORPUS_KINDS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> CorpusSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RetrievalError(f"{where}: corpus {data.get('name')!r}: unknown fields {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise RetrievalError(f"{where}: corpus {data.get('name')!r}: {exc}") from None
        except RetrievalError as exc:  # a field __post_init__ refuses: say which file
            raise RetrievalError(f"{where}: {exc}") from None


def check_policy(size: int, overlap: int, what: str = "chunking") -> None:
    """A chunk size must be positive and the overlap in ``[0, size)``."""
    if not isinstance(size, int) or size <= 0:
        raise RetrievalError(f"{what}: chunk_size must be a positive integer, got {size!r}")
    if not isinstance(overlap, int) or not 0 <= overlap < size:
        raise RetrievalError(f"{what}: overlap must be in [0, {size}), got {overlap!r}")


# ----------------------------------------------------------------------------- chunking
def chunk_document(
    doc: Document, corpus: str, size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """Cut a document's text into overlapping chunks of at most ``size`` characters.

    Each chunk keeps the document's title and a copy of its metadata; a text of only
    whitespace gives no chunk. See the module docstring for where windows are cut.
    """
    check_policy(size, overlap, f"chunking {corpus}:{doc.doc_id}")
    text = doc.text
    n = len(text)
    chunks: list[Chunk] = []
    start = _skip_space(text, 0)
    while start < n:
        cut = _cut(text, start, size, overlap)
        end = cut
        while end > start and text[end - 1].isspace():
            end -= 1
        chunks.append(
            Chunk(
                chunk_id=f"{corpus}:{doc.doc_id}:{len(chunks)}",
                corpus=corpus,
                doc_id=doc.doc_id,
                title=doc.title,
                text=text[start:end],
                start=start,
                end=end,
                metadata=dict(doc.metadata),
            )
        )
        if cut >= n:
            break
        start = _skip_space(text, _next_start(text, start, cut, overlap))
    return chunks


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _cut(text: str, start: int, size: int, overlap: int) -> int:
    """Where the window starting at ``start`` ends (exclusive)."""
    end = start + size
    if end >= len(text):
        return len(text)
    # never cut before lo: keeps chunks from being tiny and guarantees progress past overlap
    lo = start + max(size // 2, overlap + 1)
    last = None
    for m in _SENTENCE_END.finditer(text, lo, end + 1):
        last = m
    if last is not None:
        return min(last.end(), end)  # trailing whitespace is trimmed from the chunk
    for i in range(end, lo, -1):  # text[end] may be the space right after a word
        if text[i].isspace():
            return i
    return end


def _next_start(text: str, start: int, cut: int, overlap: int) -> int:
    s = max(cut - overlap, start + 1)
    if s > 0 and not text[s - 1].isspace() and not text[s].isspace():
        m = _SPACE.search(text, s, cut)  # move to the next word start (within the chunk)
        if m is not None:
            s = m.end()
        elif text[cut - 1].isspace() or text[cut].isspace():
            s = cut  # no word starts in the overlap: no overlap rather than half a word
    return s


# ----------------------------------------------------------------------------- reading
def iter_chunks(
    spec: CorpusSpec,
    on_error: str = "fail",
    report: ReadReport | None = None,
    progress: Progress | None = None,
) -> Iterator[Chunk]:
    """Stream the chunks of a corpus; counts (docs, chunks, skips with their lines) go to
    ``report``. ``progress(f"reading {name}", bytes read, source bytes)`` after each document.
    """
    report = report if report is not None else ReadReport()
    report.source = report.source or spec.source
    docs = read_documents(
        spec.source, spec.format, on_error=on_error, report=report, **spec.options
    )
    total = _source_bytes(Path(spec.source)) if progress is not None else 0
    stage = f"reading {spec.name}"
    for doc in docs:
        chunks = chunk_document(doc, spec.name, spec.chunk_size, spec.overlap)
        if not chunks:
            report.empty += 1  # e.g. a JSONL record whose text is ""
        report.chunks += len(chunks)
        yield from chunks
        if progress is not None:
            progress(stage, report.bytes_read, total or None)


def read_corpus(spec: CorpusSpec, on_error: str = "fail") -> tuple[list[Chunk], ReadReport]:
    """All chunks of a corpus and the report of reading it."""
    report = ReadReport()
    chunks = list(iter_chunks(spec, on_error=on_error, report=report))
    return chunks, report


def _source_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


# ----------------------------------------------------------------------------- registry
def default_registry_dir() -> Path:
    return medkg_home() / "retrieval"


class CorpusRegistry:
    """The known corpora, persisted as JSON in ``folder`` (read on every call, no I/O here)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_registry_dir()

    @property
    def path(self) -> Path:
        return self.folder / REGISTRY_FILE

    def get(self, name: str) -> CorpusSpec:
        specs = self._read()
        if name not in specs:
            raise RetrievalError(f"{self.path}: no corpus {name!r}; known: {sorted(specs)}")
        return specs[name]

    def add(self, spec: CorpusSpec, replace: bool = False) -> CorpusSpec:
        """Record a corpus (a relative source path is made absolute); a taken name is an
        error unless ``replace``."""
        specs = self._read()
        if spec.name in specs and not replace:
            raise RetrievalError(
                f"{self.path}: corpus {spec.name!r} already exists (pass replace=True)"
            )
        if spec.source:
            spec = dataclasses.replace(spec, source=str(Path(spec.source).expanduser().absolute()))
        specs[spec.name] = spec
        self._write(specs)
        return spec

    def remove(self, name: str) -> CorpusSpec:
        specs = self._read()
        if name not in specs:
            raise RetrievalError(f"{self.path}: no corpus {name!r}; known: {sorted(specs)}")
        spec = specs.pop(name)
        self._write(specs)
        return spec

    def list(self) -> builtins.list[CorpusSpec]:
        """All corpora, by name."""
        return [spec for _, spec in sorted(self._read().items())]

    def __contains__(self, name: object) -> bool:
        return name in self._read()

    def __len__(self) -> int:
        return len(self._read())

    def _read(self) -> dict[str, CorpusSpec]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RetrievalError(f"{self.path}: unreadable corpus registry ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("corpora"), builtins.list):
            raise RetrievalError(f"{self.path}: not a corpus registry (no 'corpora' list)")
        for i, d in enumerate(data["corpora"], start=1):
            if not isinstance(d, dict):
                raise RetrievalError(f"{self.path}: corpus entry {i} is not an object: {d!r}")
        specs = [CorpusSpec.from_dict(d, str(self.path)) for d in data["corpora"]]
        return {s.name: s for s in specs}

    def _write(self, specs: dict[str, CorpusSpec]) -> None:
        payload = {
            "version": REGISTRY_VERSION,
            "corpora": [specs[name].to_dict() for name in sorted(specs)],
        }
        write_text_atomic(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` atomically (see :mod:`medkg.outputs`)."""
    write_text(path, text)
