"""Embedding as a shard task, so an engine (local or Ray) can spread it.

* :class:`EmbedShard` embeds one shard of texts with an embedder that travels to the
  worker unloaded (its configuration, not its weights) and loads its model once there, in
  :meth:`~medkg.engines.ShardTask.setup`.
* :func:`embed_sharded` sorts the texts by length (longest first, as
  :meth:`Embedder.embed` does within a call), cuts the sorted list into shards, streams them
  through an engine (:meth:`~medkg.engines.Engine.stream`: on Ray, Ray Data batches on an
  actor pool that loads the model once per actor) and puts the rows back in the caller's
  order. Each shard holds texts of
  similar length, so no batch pads far; and the shards, hence the vectors, are the same
  whichever engine ran them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np

from medkg.embed.embedders import Embedder, FloatArray, build_embedder, check_texts
from medkg.engines import Engine, ShardTask
from medkg.progress import Progress

#: Texts per shard: large enough that a shard's scheduling cost (a Ray round trip, ~ms) is
#: noise next to embedding it (MiniLM: ~10 s per 2,048 names on one core), small enough
#: that two workers share a graph's 30,000 disease names evenly.
EMBED_SHARD_SIZE = 2048


class EmbedShard(ShardTask[list[str], FloatArray]):
    """Vectors of one shard of texts (rows in shard order), by ``embedder``.

    The embedder is pickled without its loaded model (see ``__getstate__`` of the
    backends); :meth:`setup` loads the model once per worker."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def setup(self) -> None:
        self.embedder.load()

    def run(self, shard: list[str]) -> FloatArray:
        return self.embedder.embed(shard)


def shards_of(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive shards of ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"shard size must be >= 1, got {size}")
    it = iter(items)
    while shard := list(islice(it, size)):
        yield shard


def embed_sharded(
    texts: Sequence[str],
    engine: Engine,
    embedder: Embedder | str,
    *,
    shard_size: int = EMBED_SHARD_SIZE,
    progress: Progress | None = None,
    **options: Any,
) -> FloatArray:
    """Vectors of ``texts`` (row ``i`` for text ``i``), embedded shard by shard on
    ``engine`` by ``embedder`` (an instance, or a registry key built with ``options``).

    Texts are sorted longest first before sharding, so the shards (and so the vectors) do
    not depend on the engine. ``progress("embed", done, total)`` ticks per shard."""
    items = check_texts(texts)  # errors name the caller's index, not a shard's
    emb = build_embedder(embedder, **options) if isinstance(embedder, str) else embedder
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    shards = list(shards_of((items[i] for i in order), shard_size))

    def shard_done(_stage: str, done: int, _total: int | None) -> None:
        if progress is not None:
            progress("embed", min(done * shard_size, len(items)), len(items))

    # streamed: on the ray engine that is Ray Data's map_batches on an actor pool, each
    # actor loading the model once (medkg.engines.raydata)
    parts = list(engine.stream(EmbedShard(emb), shards, progress=shard_done))
    if not parts:
        return np.empty((0, emb.dim), dtype=np.float32)
    out = np.empty((len(items), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return out


__all__ = ["EMBED_SHARD_SIZE", "EmbedShard", "embed_sharded", "shards_of"]
