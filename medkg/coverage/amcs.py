"""AMCS, the average maximum cosine similarity between two embedded sets (MedXIAOHE).

``AMCS(A→B) = (1/|A|) Σ_{a∈A} max_{b∈B} cos(e_a, e_b)``: how well every item of ``A`` is
matched by something in ``B``. It is asymmetric: the MET's diseases against a dataset's
linked entities (forward) asks what the dataset covers of the tree; the reverse asks how
much of the dataset the tree explains.

:func:`amcs` computes both directions exactly in one pass over ``block_a × block_b``
tiles of the similarity matrix (float32 matmul per tile, running max for both
directions), so memory is bounded by one tile and never the full ``|A|×|B|`` matrix.
Best-match indices for ``A→B`` come from each tile's row argmax; for ``B→A`` a column
argmax over every tile would cost some 20 % of the matmul, so the pass records only the
best A-tile of each column and the argmax is taken afterwards on one recomputed
``block_a``-row strip per B item (``block_a/|A|`` extra matmul work).

:func:`amcs_approx` answers from an HNSW index (faiss) for sets too large for the exact
pass, and reports its error against exact on a random sample of each side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from medkg.errors import MedkgError

DEFAULT_BLOCK = (2048, 4096)
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class AmcsError(MedkgError, ValueError):
    """Inputs AMCS cannot be computed on (empty sets, mismatched dimensions, bad shapes)."""


@dataclass
class AmcsResult:
    """Both directions of AMCS, with each item's best match for drill-down.

    ``best_index_a_to_b[i]`` is the row of ``B`` most similar to ``A[i]`` and
    ``best_score_a_to_b[i]`` that cosine; ``forward`` is the mean of the latter.
    ``error`` is filled by the approximate mode only (see :func:`amcs_approx`).
    """

    forward: float
    backward: float
    n_a: int
    n_b: int
    best_index_a_to_b: IntArray
    best_score_a_to_b: FloatArray
    best_index_b_to_a: IntArray
    best_score_b_to_a: FloatArray
    mode: str = "exact"
    seconds: float = 0.0
    error: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The summary a CLI prints as JSON (no per-item arrays)."""
        out: dict[str, Any] = {
            "forward": self.forward,
            "backward": self.backward,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "mode": self.mode,
        }
        if self.error:
            out["error"] = self.error
        return out


def as_unit_rows(x: npt.ArrayLike, name: str) -> FloatArray:
    """``x`` as a C-contiguous float32 matrix with L2-normalised rows.

    Rows that are all zero stay zero (their cosine with anything is taken as 0). Already
    normalised float32 input is returned without a copy.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise AmcsError(f"{name} must be a 2-D (n, d) array of embeddings, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise AmcsError(f"{name} is empty: AMCS needs at least one item on each side")
    if arr.shape[1] == 0:
        raise AmcsError(f"{name} has zero-dimensional embeddings")
    if not np.issubdtype(arr.dtype, np.number):
        raise AmcsError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise AmcsError(f"{name} contains NaN or infinite values")
    norms = np.sqrt(np.einsum("ij,ij->i", arr, arr, dtype=np.float32))
    if np.allclose(norms, 1.0, atol=1e-4):
        return arr
    norms[norms == 0] = 1.0
    return arr / norms[:, None]


def _check_pair(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ea, eb = as_unit_rows(a, "A"), as_unit_rows(b, "B")
    if ea.shape[1] != eb.shape[1]:
        raise AmcsError(
            f"dimension mismatch: A has {ea.shape[1]}-d embeddings, B has {eb.shape[1]}-d "
            "(were both sides embedded with the same model?)"
        )
    return ea, eb


def _blocks(block: int | tuple[int, int]) -> tuple[int, int]:
    ba, bb = (block, block) if isinstance(block, int) else block
    if ba < 1 or bb < 1:
        raise AmcsError(f"block sizes must be >= 1, got {block}")
    return int(ba), int(bb)


def amcs(
    a: npt.ArrayLike, b: npt.ArrayLike, *, block: int | tuple[int, int] = DEFAULT_BLOCK
) -> AmcsResult:
    """Exact AMCS in both directions between embedding matrices ``a`` (n_a, d) and ``b``.

    Rows are L2-normalised here (a no-op for embedder output). ``block`` is the tile
    shape ``(rows of A, rows of B)`` or one int for both; peak extra memory is one
    float32 tile plus O(n_a + n_b) bookkeeping. Ties go to the lowest index, as
    ``np.argmax`` on the full matrix would.
    """
    t0 = time.perf_counter()
    ea, eb = _check_pair(a, b)
    ba, bb = _blocks(block)
    n_a, n_b = ea.shape[0], eb.shape[0]
    ba, bb = min(ba, n_a), min(bb, n_b)

    best_a = np.empty(n_a, dtype=np.float32)
    arg_a = np.empty(n_a, dtype=np.int64)
    best_b = np.full(n_b, -np.inf, dtype=np.float32)
    tile_of_b = np.zeros(n_b, dtype=np.int64)  # start row of the A tile holding b's best
    tile = np.empty((ba, bb), dtype=np.float32)
    row_best = np.empty(ba, dtype=np.float32)
    row_arg = np.empty(ba, dtype=np.int64)

    for i0 in range(0, n_a, ba):
        a_blk = ea[i0 : i0 + ba]
        m = a_blk.shape[0]
        rb, ra = row_best[:m], row_arg[:m]
        rb.fill(-np.inf)
        for j0 in range(0, n_b, bb):
            b_blk = eb[j0 : j0 + bb]
            n = b_blk.shape[0]
            s = tile[:m, :n]
            np.matmul(a_blk, b_blk.T, out=s)
            # A→B: running max over B tiles; strict ">" keeps the earliest tile on ties.
            arg = s.argmax(axis=1)
            val = s[np.arange(m), arg]
            better = val > rb
            rb[better] = val[better]
            ra[better] = arg[better] + j0
            # B→A: running max only; the argmax is resolved after the pass.
            col = s.max(axis=0)
            col_better = col > best_b[j0 : j0 + n]
            best_b[j0 : j0 + n][col_better] = col[col_better]
            tile_of_b[j0 : j0 + n][col_better] = i0
        best_a[i0 : i0 + m] = rb
        arg_a[i0 : i0 + m] = ra

    arg_b = _resolve_column_argmax(ea, eb, tile_of_b, ba)
    return AmcsResult(
        forward=float(best_a.mean(dtype=np.float64)),
        backward=float(best_b.mean(dtype=np.float64)),
        n_a=n_a,
        n_b=n_b,
        best_index_a_to_b=arg_a,
        best_score_a_to_b=best_a,
        best_index_b_to_a=arg_b,
        best_score_b_to_a=best_b,
        mode="exact",
        seconds=time.perf_counter() - t0,
    )


def _resolve_column_argmax(
    ea: FloatArray, eb: FloatArray, tile_of_b: IntArray, ba: int
) -> IntArray:
    """The row of ``ea`` best matching each row of ``eb``, given the A tile holding it."""
    arg_b = np.empty(eb.shape[0], dtype=np.int64)
    order = np.argsort(tile_of_b, kind="stable")
    starts, first = np.unique(tile_of_b[order], return_index=True)
    bounds = [*first.tolist(), order.size]
    # Columns per strip are chunked so a recomputed strip stays near one tile (32 MB).
    chunk = max(1, (2048 * 4096) // ba)
    for k, i0 in enumerate(starts.tolist()):
        cols = order[bounds[k] : bounds[k + 1]]
        a_blk = ea[i0 : i0 + ba]
        for c0 in range(0, cols.size, chunk):
            c = cols[c0 : c0 + chunk]
            strip = eb[c] @ a_blk.T  # (len(c), rows of the tile): argmax along the fast axis
            arg_b[c] = strip.argmax(axis=1) + i0
    return arg_b


# ----------------------------------------------------------------- approximate mode
@dataclass(frozen=True)
class HnswParams:
    """faiss HNSW settings: graph degree ``m``, build and search beam widths."""

    m: int = 32
    ef_construction: int = 80
    ef_search: int = 128


def _faiss() -> Any:
    try:
        import faiss  # lazy: only the approximate mode needs it
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "approximate AMCS needs faiss: pip install faiss-cpu==1.15.1 "
            "(or use the exact mode, which needs only numpy)"
        ) from exc
    return faiss


def _nearest(index_side: FloatArray, queries: FloatArray, params: HnswParams) -> tuple[Any, Any]:
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(index_side.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(index_side)
    index.hnsw.efSearch = params.ef_search
    scores, ids = index.search(queries, 1)
    return scores[:, 0].astype(np.float32), ids[:, 0].astype(np.int64)


def amcs_approx(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    params: HnswParams | None = None,
    error_sample: int = 1000,
    seed: int = 0,
    block: int | tuple[int, int] = DEFAULT_BLOCK,
) -> AmcsResult:
    """AMCS from nearest-neighbour search in HNSW indexes (faiss, inner product on unit rows).

    An ANN hit is a real item, so its cosine can only be at or below the true maximum:
    approximate AMCS is biased low. ``error`` reports, on ``error_sample`` random items of
    each side checked exactly against the whole other side: the mean and largest score
    shortfall, recall@1 (share whose approximate best is the exact best) and the
    sample-based estimate of each direction's error. ``error_sample=0`` skips the check.
    """
    t0 = time.perf_counter()
    ea, eb = _check_pair(a, b)
    params = params or HnswParams()
    score_ab, arg_ab = _nearest(eb, ea, params)
    score_ba, arg_ba = _nearest(ea, eb, params)
    error: dict[str, Any] = {"method": "faiss.IndexHNSWFlat", **params.__dict__}
    if error_sample > 0:
        rng = np.random.default_rng(seed)
        for name, q, other, score, arg in (
            ("forward", ea, eb, score_ab, arg_ab),
            ("backward", eb, ea, score_ba, arg_ba),
        ):
            k = min(error_sample, q.shape[0])
            rows = np.sort(rng.choice(q.shape[0], size=k, replace=False))
            exact = amcs(q[rows], other, block=block)
            gap = exact.best_score_a_to_b - score[rows]
            error[name] = {
                "sample": int(k),
                "mean_shortfall": float(gap.mean(dtype=np.float64)),
                "max_shortfall": float(gap.max()),
                "recall_at_1": float(np.mean(exact.best_index_a_to_b == arg[rows])),
            }
    return AmcsResult(
        forward=float(score_ab.mean(dtype=np.float64)),
        backward=float(score_ba.mean(dtype=np.float64)),
        n_a=ea.shape[0],
        n_b=eb.shape[0],
        best_index_a_to_b=arg_ab,
        best_score_a_to_b=score_ab,
        best_index_b_to_a=arg_ba,
        best_score_b_to_a=score_ba,
        mode="approx",
        seconds=time.perf_counter() - t0,
        error=error,
    )


AMCS_MODES: dict[str, Callable[..., AmcsResult]] = {"exact": amcs, "approx": amcs_approx}


def compute_amcs(
    a: npt.ArrayLike, b: npt.ArrayLike, mode: str = "exact", **options: Any
) -> AmcsResult:
    """AMCS by mode name (``exact`` or ``approx``), for callers that take the mode from config."""
    fn = AMCS_MODES.get(mode)
    if fn is None:
        raise AmcsError(f"unknown AMCS mode {mode!r}; choose from {sorted(AMCS_MODES)}")
    return fn(a, b, **options)


__all__ = [
    "AMCS_MODES",
    "DEFAULT_BLOCK",
    "AmcsError",
    "AmcsResult",
    "HnswParams",
    "amcs",
    "amcs_approx",
    "as_unit_rows",
    "compute_amcs",
]
