"""Hybrid retrieval: reciprocal-rank fusion of a BM25 and a dense retriever.

Each side retrieves its own depth (``bm25_depth``, ``dense_depth``); a chunk at 1-based
rank ``r`` on a side earns ``weight / (rrf_k + r)`` from it (Cormack et al. 2009, k = 60),
and the fused score is the sum over sides. A chunk found by one side only still appears;
a side of weight 0 is not searched. Equal fused scores go to the earlier chunk.

The two sides are built through the registry (``bm25_options`` and ``dense_options`` go to
their constructors unchanged) and saved in the sub-folders ``bm25/`` and ``dense/`` of the
hybrid index, which holds only its own ``meta.json`` besides them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medkg.errors import UsageError
from medkg.retrieval.base import (
    RETRIEVERS,
    Chunk,
    RetrievalError,
    Retriever,
    build_retriever,
    register_retriever,
)
from medkg.retrieval.retrievers import IndexedRetriever, Ranked, check_load_options, top_k

SIDES = ("bm25", "dense")


def _indexed(side: Retriever) -> IndexedRetriever:
    # the fusion reads the sides' chunk positions, which IndexedRetriever defines
    if not isinstance(side, IndexedRetriever):
        raise TypeError(f"hybrid needs IndexedRetriever sides, got {type(side).__name__}")
    return side


@register_retriever("hybrid")
class HybridRetriever(IndexedRetriever):
    """Reciprocal-rank fusion of ``bm25`` and ``dense`` over the same chunks."""

    def __init__(
        self,
        *,
        bm25_options: Mapping[str, Any] | None = None,
        dense_options: Mapping[str, Any] | None = None,
        rrf_k: float = 60.0,
        bm25_weight: float = 1.0,
        dense_weight: float = 1.0,
        bm25_depth: int = 100,
        dense_depth: int = 100,
        corpus: str | None = None,
    ) -> None:
        super().__init__(corpus=corpus)
        if rrf_k < 0:
            raise UsageError(f"rrf_k must be >= 0, got {rrf_k}")
        if min(bm25_weight, dense_weight) < 0 or max(bm25_weight, dense_weight) == 0:
            raise UsageError("fusion weights must be >= 0, at least one of them > 0")
        if min(bm25_depth, dense_depth) < 1:
            raise UsageError("retrieval depths must be >= 1")
        self.rrf_k = rrf_k
        self.weights = {"bm25": bm25_weight, "dense": dense_weight}
        self.depths = {"bm25": bm25_depth, "dense": dense_depth}
        options = {"bm25": dict(bm25_options or {}), "dense": dict(dense_options or {})}
        self.sides: dict[str, IndexedRetriever] = {}
        for side in SIDES:
            self.sides[side] = _indexed(
                build_retriever(side, **{"corpus": corpus, **options[side]})
            )

    def _add(self, chunks: list[Chunk]) -> None:
        # dense first: embedding is the step that can fail (model missing, text too odd);
        # bm25 then only tokenizes strings the base class has checked.
        self.sides["dense"].add(chunks)
        self.sides["bm25"].add(chunks)

    def _search(self, queries: list[str], k: int) -> list[Ranked]:
        live = [side for side in SIDES if self.weights[side] > 0]  # weight 0: side not asked
        ranked = {side: self.sides[side]._search(queries, self.depths[side]) for side in live}
        out: list[Ranked] = []
        for i in range(len(queries)):
            fused: dict[int, float] = {}
            for side in live:
                weight = self.weights[side]
                for rank, pos in enumerate(ranked[side][i][0].tolist(), start=1):
                    fused[pos] = fused.get(pos, 0.0) + weight / (self.rrf_k + rank)
            positions = np.fromiter(fused, dtype=np.int64, count=len(fused))
            scores = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
            out.append(top_k(scores, k, positions))
        return out

    def _meta_extra(self) -> dict[str, Any]:
        dense = self.sides["dense"].meta()
        return {
            "model": dense["model"],
            "dim": dense["dim"],
            "fusion": {"method": "rrf", "k": self.rrf_k, "weights": self.weights},
            "depths": self.depths,
        }

    def _write_files(self, folder: Path) -> None:
        for side in SIDES:
            self.sides[side]._write(folder / side)

    @classmethod
    def _restore(cls, folder: Path, meta: dict[str, Any], **options: Any) -> HybridRetriever:
        embedder = check_load_options(folder, options, {"embedder"}).get("embedder")
        fusion, depths = meta.get("fusion", {}), meta.get("depths", {})
        weights = fusion.get("weights", {})
        self = cls(
            rrf_k=fusion.get("k", 60.0),
            bm25_weight=weights.get("bm25", 1.0),
            dense_weight=weights.get("dense", 1.0),
            bm25_depth=depths.get("bm25", 100),
            dense_depth=depths.get("dense", 100),
            corpus=meta.get("corpus"),
        )
        for side in SIDES:
            kwargs = {"embedder": embedder} if side == "dense" and embedder is not None else {}
            self.sides[side] = _indexed(RETRIEVERS[side].load(folder / side, **kwargs))
        chunks = list(self.sides["bm25"].chunks)
        dense_ids = [c.chunk_id for c in self.sides["dense"].chunks]
        if [c.chunk_id for c in chunks] != dense_ids or len(chunks) != int(meta["n_chunks"]):
            raise RetrievalError(f"{folder}: the bm25 and dense sides hold different chunks")
        self._set_chunks(chunks, meta.get("corpus"))
        return self


__all__ = ["SIDES", "HybridRetriever"]
