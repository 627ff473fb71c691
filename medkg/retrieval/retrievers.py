"""Retriever plumbing shared by the backends: chunk checks, deterministic top-k, persistence.

* :class:`IndexedRetriever` is the template the backends fill in: the public
  :meth:`~IndexedRetriever.add`, :meth:`~IndexedRetriever.search`,
  :meth:`~IndexedRetriever.save` and :meth:`~IndexedRetriever.load` live here (validation,
  hits, atomic writes, ``meta.json``); a backend implements ``_add``, ``_search``,
  ``_write_files`` and ``_restore``.
* Backends, registered under their key with :func:`~medkg.retrieval.base.register_retriever`:
  ``bm25`` (:mod:`medkg.retrieval.bm25`, the bm25s library), ``dense``
  (:mod:`medkg.retrieval.dense`, an embedder of :mod:`medkg.embed`, exact or HNSW)
  and ``hybrid`` (:mod:`medkg.retrieval.hybrid`, reciprocal-rank fusion of the two).
  Importing this module registers all three.
* A saved index is a folder: ``meta.json`` (backend key, format version, medkg version,
  model and dim where there is one, number of chunks, corpus name) plus the backend's files;
  :func:`load_retriever` reads ``meta.json`` and dispatches on its backend key.

Ties are broken by chunk order (the order of :meth:`~IndexedRetriever.add`), so the same
index answers the same query with the same ids and scores every time.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

import medkg
from medkg.errors import UsageError
from medkg.outputs import staged_folder
from medkg.retrieval.base import RETRIEVERS, Chunk, Hit, RetrievalError, Retriever
from medkg.text.batch import text_batch

FORMAT_VERSION = 1
META_FILE = "meta.json"
CHUNKS_FILE = "chunks.parquet"
CHUNK_SCHEMA = {
    "chunk_id": pl.String,
    "corpus": pl.String,
    "doc_id": pl.String,
    "title": pl.String,
    "text": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "metadata": pl.String,  # JSON object, keys sorted
}
# (chunk positions, scores) per query, best first, as the backends' hooks return them
Ranked = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def chunk_text(chunk: Chunk) -> str:
    """What a backend indexes for a chunk: its document title, then its text."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def top_k(scores: npt.ArrayLike, k: int, ids: npt.ArrayLike | None = None) -> Ranked:
    """The ``k`` best ``(ids, scores)``, best first; equal scores in ascending id order.

    ``ids`` default to the positions of ``scores``. Every candidate tied with the k-th best
    score is considered before cutting, so the tie-break is exact, not an accident of
    ``argpartition``.
    """
    s = np.asarray(scores, dtype=np.float32)
    i = np.arange(s.size, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if s.size > k:
        kth = np.partition(s, s.size - k)[s.size - k]
        keep = np.flatnonzero(s >= kth)
        s, i = s[keep], i[keep]
    order = np.lexsort((i, -s))[:k]
    return i[order], s[order]


# ----------------------------------------------------------------- chunks on disk
def write_chunks(folder: Path, chunks: Sequence[Chunk]) -> None:
    """Chunks as ``chunks.parquet`` (metadata as a JSON string per row)."""
    metadata = []
    for c in chunks:
        try:
            metadata.append(json.dumps(c.metadata, sort_keys=True, ensure_ascii=False))
        except TypeError as exc:
            raise RetrievalError(
                f"chunk {c.chunk_id}: metadata is not JSON-serialisable ({exc})"
            ) from exc
    columns: dict[str, list[Any]] = {
        "chunk_id": [c.chunk_id for c in chunks],
        "corpus": [c.corpus for c in chunks],
        "doc_id": [c.doc_id for c in chunks],
        "title": [c.title for c in chunks],
        "text": [c.text for c in chunks],
        "start": [c.start for c in chunks],
        "end": [c.end for c in chunks],
        "metadata": metadata,
    }
    pl.DataFrame(columns, schema=CHUNK_SCHEMA).write_parquet(folder / CHUNKS_FILE)


def read_chunks(folder: Path, expected: int) -> list[Chunk]:
    """The chunks of a saved index; a missing file or a count unlike ``meta.json``'s is an error."""
    path = folder / CHUNKS_FILE
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise RetrievalError(f"cannot read {path}: {exc}") from exc
    missing = sorted(set(CHUNK_SCHEMA) - set(df.columns))
    if missing:
        raise RetrievalError(f"{path} lacks columns {missing}")
    if df.height != expected:
        raise RetrievalError(f"{path} has {df.height} chunks; {folder / META_FILE} says {expected}")
    chunks = []
    rows = df.select(list(CHUNK_SCHEMA)).iter_rows()
    for row, (cid, corpus, doc, title, text, start, end, meta) in enumerate(rows, start=1):
        try:
            metadata = json.loads(meta)
        except (TypeError, ValueError) as exc:
            raise RetrievalError(
                f"{path}: row {row} (chunk {cid}): metadata is not a JSON object ({exc})"
            ) from None
        if not isinstance(metadata, dict):
            raise RetrievalError(f"{path}: row {row} (chunk {cid}): metadata is not a JSON object")
        chunks.append(Chunk(cid, corpus, doc, title, text, start, end, metadata))
    return chunks


def read_meta(folder: str | Path, backend: str | None = None) -> dict[str, Any]:
    """``meta.json`` of a saved index; names ``folder`` when it is missing, not an index,
    of a newer format or (when ``backend`` is given) of another backend."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RetrievalError(f"no retrieval index at {folder}: the folder does not exist")
    path = folder / META_FILE
    if not path.is_file():
        raise RetrievalError(f"{folder} is not a retrieval index: it has no {META_FILE}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RetrievalError(f"cannot read {path}: {exc}") from exc
    if not isinstance(meta, dict) or "backend" not in meta:
        raise RetrievalError(f"{path} names no backend")
    _check_count(path, meta, "format_version", 0)
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise RetrievalError(
            f"{folder}: index format {meta['format_version']} is newer than this medkg "
            f"reads ({FORMAT_VERSION})"
        )
    if backend is not None and meta["backend"] != backend:
        raise RetrievalError(f"{folder} holds a {meta['backend']!r} index, not {backend!r}")
    return meta


def _check_count(path: Path, meta: dict[str, Any], key: str, default: Any = None) -> None:
    value = meta.get(key, default)
    if type(value) is not int or value < 0:
        raise RetrievalError(f"{path}: {key} must be a whole number >= 0, got {value!r}")


def check_load_options(folder: Path, options: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """``options`` of a backend's load, when all of them are in ``allowed``."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise RetrievalError(
            f"loading {folder} takes {sorted(allowed) or 'no options'}, not {unknown}"
        )
    return options


def _is_index(folder: Path) -> bool:
    """An index folder from before the output marker: it has the index meta file."""
    return (folder / META_FILE).is_file()


# ----------------------------------------------------------------- template
class IndexedRetriever(Retriever):
    """Chunk bookkeeping, checks, hits and persistence for every backend.

    A retriever indexes chunks of one corpus: ``corpus`` names it, or the first chunk
    added does. Chunk ids must be unique within the index.
    """

    version: str = "1"  # the backend's own index layout; recorded in meta.json

    def __init__(self, *, corpus: str | None = None) -> None:
        self.corpus = corpus
        self._chunks: list[Chunk] = []
        self._ids: set[str] = set()

    # --------------------------------------------------------- public API
    @property
    def size(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> Sequence[Chunk]:
        """The indexed chunks, in the order they were added (position = tie-break order)."""
        return tuple(self._chunks)

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index ``chunks`` after the ones already there. A chunk of another corpus or an id
        already indexed (or repeated in ``chunks``) is an error and nothing is added."""
        new = list(chunks)
        seen: set[str] = set()
        corpus = self.corpus
        for c in new:
            if not isinstance(c, Chunk):
                raise TypeError(f"add() takes Chunk objects, got {type(c).__name__}")
            if corpus is None:
                corpus = c.corpus
            elif c.corpus != corpus:
                raise RetrievalError(
                    f"chunk {c.chunk_id} is from corpus {c.corpus!r}; this index holds {corpus!r}"
                )
            if c.chunk_id in self._ids or c.chunk_id in seen:
                raise RetrievalError(f"chunk id {c.chunk_id!r} is already in the index")
            seen.add(c.chunk_id)
        if not new:
            return
        self._add(new)  # first: a backend failure leaves the index as it was
        self.corpus = corpus
        self._chunks.extend(new)
        self._ids |= seen

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The top ``k`` hits for each query, best first (fewer when fewer chunks match)."""
        items = text_batch(
            queries, call="search", noun="query", plural="queries", empty=RetrievalError
        )
        if k < 1:
            raise UsageError(f"k must be >= 1, got {k}")
        if not items or not self._chunks:
            return [[] for _ in items]
        return [self._hits(ranked) for ranked in self._search(items, k)]

    def save(self, folder: str | Path) -> Path:
        """Write the index to ``folder`` atomically: everything goes to a temporary sibling
        folder that replaces ``folder`` only when complete, so a failed save leaves the
        previous index intact. A non-empty folder that is not an index is never replaced."""
        folder = Path(folder)
        with staged_folder(folder, "retrieval-index", legacy=_is_index) as tmp:
            self._write(tmp)
        return folder

    @classmethod
    def load(cls, folder: str | Path, **options: Any) -> IndexedRetriever:
        """Load an index saved by this backend; ``options`` go to the backend (e.g. the dense
        retriever's ``embedder``). A missing folder, one without ``meta.json`` or one of
        another backend raises :class:`RetrievalError` naming the folder."""
        folder = Path(folder)
        meta = read_meta(folder, cls.key)
        _check_count(folder / META_FILE, meta, "n_chunks")  # the backends' _restore read it
        return cls._restore(folder, meta, **options)

    def meta(self) -> dict[str, Any]:
        """What ``meta.json`` records for this index."""
        return {
            "backend": self.key,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "medkg_version": medkg.__version__,
            "corpus": self.corpus,
            "n_chunks": self.size,
            "model": None,
            "dim": None,
            **self._meta_extra(),
        }

    # --------------------------------------------------------- hooks and helpers
    def _hits(self, ranked: Ranked) -> list[Hit]:
        positions, scores = ranked
        return [
            Hit(self._chunks[int(p)], float(s), rank)
            for rank, (p, s) in enumerate(zip(positions, scores, strict=True), start=1)
        ]

    def _write(self, folder: Path) -> None:
        """Write the backend's files, then ``meta.json`` (last: it marks a complete index)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._write_files(folder)
        (folder / META_FILE).write_text(
            json.dumps(self.meta(), sort_keys=True, indent=1), encoding="utf-8"
        )

    def _set_chunks(self, chunks: list[Chunk], corpus: str | None) -> None:
        self._chunks = chunks
        self._ids = {c.chunk_id for c in chunks}
        self.corpus = corpus

    def _meta_extra(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _add(self, chunks: list[Chunk]) -> None:
        """Index new, checked chunks (they become positions ``size ..`` once this returns)."""

    @abstractmethod
    def _search(self, queries: list[str], k: int) -> list[Ranked]:
        """Up to ``k`` (positions, scores) per non-empty query, best first, ties by position."""

    @abstractmethod
    def _write_files(self, folder: Path) -> None:
        """Write everything but ``meta.json`` into the (new, empty) ``folder``."""

    @classmethod
    @abstractmethod
    def _restore(cls, folder: Path, meta: dict[str, Any], **options: Any) -> IndexedRetriever:
        """Rebuild a retriever from a folder whose ``meta.json`` names this backend."""


def load_retriever(folder: str | Path, **options: Any) -> Retriever:
    """Load a saved index of any backend: ``meta.json``'s ``backend`` picks the class."""
    meta = read_meta(folder)
    cls = RETRIEVERS.get(meta["backend"])
    if cls is None:
        raise RetrievalError(
            f"{folder} holds a {meta['backend']!r} index; known backends: {sorted(RETRIEVERS)}"
        )
    return cls.load(folder, **options)


__all__ = [
    "CHUNKS_FILE",
    "FORMAT_VERSION",
    "META_FILE",
    "IndexedRetriever",
    "Ranked",
    "check_load_options",
    "chunk_text",
    "load_retriever",
    "read_chunks",
    "read_meta",
    "top_k",
    "write_chunks",
]
