"""Linking and embedding as shard tasks, so an engine (local or Ray) can spread them.

* :class:`LinkShard` links one shard of ``(item_id, text)`` pairs; every worker rebuilds
  the linker's automaton once from its surface table (the table travels, not a pickle of
  the automaton).
* :class:`EmbedShard` embeds one shard of texts with an embedder built by registry key on
  each worker.
* :func:`link_sharded` / :func:`embed_sharded` cut the input into shards, run them on an
  engine and put the results together in input order: the same mention table or the same
  matrix whichever engine ran them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np
import polars as pl

from medkg.coverage.linking import MENTION_SCHEMA, Linker, LinkerConfig
from medkg.embed import Embedder, FloatArray, build_embedder
from medkg.engines import Engine, ShardTask
from medkg.engines.base import ShardProgress

Pairs = list[tuple[str, str]]


class LinkShard(ShardTask[Pairs, pl.DataFrame]):
    """Mention table of one shard, by a linker rebuilt on the worker."""

    def __init__(self, linker: Linker) -> None:
        self.surfaces = linker.surfaces
        self.config = linker.config.to_dict()
        self.stats = dict(linker.stats)
        self.senses = linker.senses  # plain dicts and frames: travels to the worker
        self._linker: Linker | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_linker"] = None  # an automaton does not travel; setup() rebuilds it
        return state

    def setup(self) -> None:
        if self._linker is None:
            self._linker = Linker(
                self.surfaces, LinkerConfig.from_dict(self.config), self.stats, self.senses
            )

    def run(self, shard: Pairs) -> pl.DataFrame:
        self.setup()
        assert self._linker is not None
        return self._linker.link_texts(shard)


class EmbedShard(ShardTask[list[str], FloatArray]):
    """Vectors of one shard of texts, by an embedder built from its registry key."""

    def __init__(self, key: str, **options: Any) -> None:
        self.key = key
        self.options = options
        self._embedder: Embedder | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_embedder"] = None
        return state

    def setup(self) -> None:
        if self._embedder is None:
            self._embedder = build_embedder(self.key, **self.options)

    def run(self, shard: list[str]) -> FloatArray:
        self.setup()
        assert self._embedder is not None
        return self._embedder.embed(shard)


def shards_of(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive shards of ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"shard size must be >= 1, got {size}")
    it = iter(items)
    while shard := list(islice(it, size)):
        yield shard


def link_sharded(
    linker: Linker,
    pairs: Iterable[tuple[str, str]],
    engine: Engine,
    *,
    shard_size: int = 2000,
    progress: ShardProgress | None = None,
) -> pl.DataFrame:
    """The mention table of ``(item_id, text)`` pairs, linked shard by shard on ``engine``;
    rows in input order (within an item by start offset), whichever engine ran."""
    frames = engine.map(LinkShard(linker), list(shards_of(pairs, shard_size)), progress=progress)
    return pl.concat(frames) if frames else pl.DataFrame(schema=MENTION_SCHEMA)


def embed_sharded(
    texts: Sequence[str],
    engine: Engine,
    key: str,
    *,
    shard_size: int = 4096,
    progress: ShardProgress | None = None,
    **options: Any,
) -> FloatArray:
    """Vectors of ``texts`` (row ``i`` for text ``i``), embedded shard by shard on ``engine``
    by the embedder registered as ``key`` with ``options``."""
    parts = engine.map(
        EmbedShard(key, **options), list(shards_of(texts, shard_size)), progress=progress
    )
    if not parts:
        return np.empty((0, build_embedder(key, **options).dim), dtype=np.float32)
    return np.concatenate(parts)


__all__ = ["EmbedShard", "LinkShard", "embed_sharded", "link_sharded", "shards_of"]
