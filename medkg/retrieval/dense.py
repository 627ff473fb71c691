"""Dense retrieval: chunk embeddings from a coverage embedder, inner-product search.

The embedder is one of :mod:`medkg.embed` (default: the offline
sentence-transformers all-MiniLM-L6-v2; ``hashing`` for fast deterministic tests). Rows are
unit vectors, so inner product is cosine similarity. ``index="exact"`` scores every chunk in
blocks of ``block`` rows with numpy (bounded memory, exact, deterministic);
``index="hnsw"`` answers from a faiss ``IndexHNSWFlat`` built incrementally (built on one
thread so the graph, and hence the answers, do not depend on thread timing).

The index records the embedder's ``model_id`` and ``dim``; loading it with another
embedder, or searching it with vectors of another model, is a :class:`RetrievalError`
naming both models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medkg.embed import DEFAULT_EMBEDDER, Embedder, EmbeddingError, build_embedder
from medkg.errors import UsageError
from medkg.retrieval.base import Chunk, Hit, RetrievalError, register_retriever
from medkg.retrieval.retrievers import (
    IndexedRetriever,
    Ranked,
    check_load_options,
    chunk_text,
    read_chunks,
    top_k,
    write_chunks,
)

VECTORS_FILE = "vectors.npy"
HNSW_FILE = "hnsw.faiss"
INDEX_KINDS = ("exact", "hnsw")


def _faiss() -> Any:
    try:
        import faiss  # lazy: only the HNSW mode needs it
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RetrievalError(
            "the dense retriever's hnsw mode needs faiss: pip install faiss-cpu==1.15.1 "
            "(or use index='exact', which needs only numpy)"
        ) from exc
    return faiss


@contextmanager
def _one_thread(faiss: Any) -> Iterator[None]:
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@register_retriever("dense")
class DenseRetriever(IndexedRetriever):
    """Inner-product search over embedded chunks (title + text).

    ``embedder`` is a registry key of :mod:`medkg.embed` built with
    ``embedder_options`` (both recorded, so :meth:`load` rebuilds it), or an
    :class:`~medkg.embed.Embedder` instance (then pass it again to :meth:`load`
    unless its key and default options rebuild the same model).
    """

    def __init__(
        self,
        *,
        embedder: str | Embedder = DEFAULT_EMBEDDER,
        embedder_options: Mapping[str, Any] | None = None,
        index: str = "exact",
        block: int = 65_536,
        hnsw_m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        corpus: str | None = None,
    ) -> None:
        super().__init__(corpus=corpus)
        if index not in INDEX_KINDS:
            raise RetrievalError(f"dense index must be one of {INDEX_KINDS}, not {index!r}")
        if block < 1:
            raise UsageError(f"block must be >= 1, got {block}")
        if isinstance(embedder, Embedder):
            if embedder_options:
                raise RetrievalError("embedder_options go with an embedder key, not an instance")
            self.embedder, self.embedder_options = embedder, {}
        else:
            self.embedder_options = {
                k: str(v) if isinstance(v, Path) else v for k, v in (embedder_options or {}).items()
            }
            try:
                self.embedder = build_embedder(embedder, **self.embedder_options)
            except TypeError as exc:  # an option the embedder does not take
                raise RetrievalError(f"dense retriever: {exc}") from None
        self.index_kind = index
        self.block = block
        self.hnsw = {"m": hnsw_m, "ef_construction": ef_construction, "ef_search": ef_search}
        self.model_id: str | None = None  # fixed by the first add (or load)
        self.dim: int | None = None
        self._parts: list[npt.NDArray[np.float32]] = []  # vectors of each add, joined lazily
        self._hnsw: Any = None

    # --------------------------------------------------------- vectors
    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        """The ``(size, dim)`` unit rows, row ``i`` for chunk position ``i``."""
        if not self._parts:
            return np.empty((0, self.dim or 0), dtype=np.float32)
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0]

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self.model_id is not None and self.embedder.model_id != self.model_id:
            raise RetrievalError(
                f"this index was built with {self.model_id}; "
                f"the embedder is {self.embedder.model_id}"
            )
        try:
            vectors = self.embedder.embed(texts)
        except (EmbeddingError, ValueError) as exc:
            raise RetrievalError(f"{self.embedder.model_id}: {exc}") from exc
        if self.dim is not None and vectors.shape[1] != self.dim:
            raise RetrievalError(
                f"{self.embedder.model_id} gives {vectors.shape[1]}-d vectors; "
                f"the index holds {self.dim}-d"
            )
        return vectors

    def _add(self, chunks: list[Chunk]) -> None:
        vectors = self._embed([chunk_text(c) for c in chunks])
        if self.index_kind == "hnsw":
            self._hnsw_index(vectors.shape[1], extra=vectors)
        self.model_id, self.dim = self.embedder.model_id, int(vectors.shape[1])
        self._parts.append(vectors)

    def set_index(self, index: str) -> None:
        """Switch between ``exact`` and ``hnsw`` search without embedding again (the HNSW
        graph is built from the stored vectors on the next search)."""
        if index not in INDEX_KINDS:
            raise RetrievalError(f"dense index must be one of {INDEX_KINDS}, not {index!r}")
        if index != self.index_kind:
            self.index_kind, self._hnsw = index, None

    def _hnsw_index(self, dim: int, extra: npt.NDArray[np.float32] | None = None) -> Any:
        faiss = _faiss()
        if self._hnsw is None:
            index = faiss.IndexHNSWFlat(dim, self.hnsw["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.hnsw["ef_construction"]
            if self.size:
                with _one_thread(faiss):
                    index.add(self.vectors)
            self._hnsw = index
        if extra is not None:
            with _one_thread(faiss):
                self._hnsw.add(extra)
        return self._hnsw

    # --------------------------------------------------------- search
    def _search(self, queries: list[str], k: int) -> list[Ranked]:
        return self._search_vectors(self._embed(queries), k, self.embedder.model_id)

    def search_vectors(
        self, vectors: npt.ArrayLike, k: int = 10, *, model_id: str | None = None
    ) -> list[list[Hit]]:
        """The top ``k`` hits for each row of ``vectors`` (unit query embeddings made by
        ``model_id``; vectors of another model than the index's are an error)."""
        if k < 1:
            raise UsageError(f"k must be >= 1, got {k}")
        return [self._hits(r) for r in self._search_vectors(vectors, k, model_id)]

    def _search_vectors(
        self, queries: npt.ArrayLike, k: int, model_id: str | None = None
    ) -> list[Ranked]:
        if model_id is not None and self.model_id is not None and model_id != self.model_id:
            raise RetrievalError(
                f"query vectors come from {model_id}; this index was built with {self.model_id}"
            )
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim != 2 or (self.dim is not None and q.shape[1] != self.dim):
            raise RetrievalError(f"query vectors have shape {q.shape}; the index is {self.dim}-d")
        if not self.size:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in q]
        if self.index_kind == "hnsw":
            return self._search_hnsw(q, k)
        return self._search_exact(q, k)

    def _search_exact(self, q: npt.NDArray[np.float32], k: int) -> list[Ranked]:
        vectors = self.vectors
        best: list[Ranked] = [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in q]
        for start in range(0, len(vectors), self.block):
            sims = q @ vectors[start : start + self.block].T
            positions = np.arange(start, start + sims.shape[1], dtype=np.int64)
            for row in range(len(q)):
                top_p, top_s = top_k(sims[row], k, positions)
                best[row] = top_k(
                    np.concatenate([best[row][1], top_s]), k, np.concatenate([best[row][0], top_p])
                )
        return best

    def _search_hnsw(self, q: npt.NDArray[np.float32], k: int) -> list[Ranked]:
        index = self._hnsw_index(q.shape[1])
        index.hnsw.efSearch = max(self.hnsw["ef_search"], k)
        scores, labels = index.search(q, min(k, self.size))
        out = []
        for s, lab in zip(scores, labels, strict=True):
            found = lab >= 0
            out.append(top_k(s[found], k, lab[found]))
        return out

    # --------------------------------------------------------- persistence
    def _meta_extra(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "dim": self.dim,
            "embedder": self.embedder.key,
            "embedder_options": self.embedder_options,
            "index": self.index_kind,
            "hnsw": self.hnsw,
        }

    def _write_files(self, folder: Path) -> None:
        write_chunks(folder, self._chunks)
        np.save(folder / VECTORS_FILE, self.vectors, allow_pickle=False)
        if self.index_kind == "hnsw" and self.size:
            _faiss().write_index(self._hnsw_index(self.vectors.shape[1]), str(folder / HNSW_FILE))

    @classmethod
    def _restore(cls, folder: Path, meta: dict[str, Any], **options: Any) -> DenseRetriever:
        embedder = check_load_options(folder, options, {"embedder"}).get("embedder")
        hnsw = meta.get("hnsw", {})
        try:
            self = cls(
                embedder=embedder if embedder is not None else meta["embedder"],
                embedder_options=None if embedder is not None else meta.get("embedder_options"),
                index=meta.get("index", "exact"),
                hnsw_m=hnsw.get("m", 32),
                ef_construction=hnsw.get("ef_construction", 80),
                ef_search=hnsw.get("ef_search", 128),
                corpus=meta.get("corpus"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RetrievalError(f"{folder}: cannot rebuild the embedder: {exc}") from exc
        if meta.get("model") is not None and self.embedder.model_id != meta["model"]:
            raise RetrievalError(
                f"{folder} was built with {meta['model']}; the embedder given is "
                f"{self.embedder.model_id}"
            )
        n = int(meta["n_chunks"])
        self._set_chunks(read_chunks(folder, n), meta.get("corpus"))
        try:
            vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RetrievalError(f"cannot read {folder / VECTORS_FILE}: {exc}") from exc
        if n and vectors.shape != (n, meta.get("dim")):
            raise RetrievalError(
                f"{folder / VECTORS_FILE} has shape {vectors.shape}, not ({n}, {meta.get('dim')})"
            )
        self.model_id, self.dim = meta.get("model"), meta.get("dim")
        self._parts = [vectors.astype(np.float32, copy=False)] if n else []
        if self.index_kind == "hnsw" and n:
            path = folder / HNSW_FILE
            if not path.is_file():
                raise RetrievalError(f"{path} is missing")
            self._hnsw = _faiss().read_index(str(path))
            if self._hnsw.ntotal != n:
                raise RetrievalError(f"{path} holds {self._hnsw.ntotal} vectors, not {n}")
        return self


__all__ = ["HNSW_FILE", "INDEX_KINDS", "VECTORS_FILE", "DenseRetriever"]
