"""Linking and embedding as shard tasks, so an engine (local or Ray) can spread them.

* :class:`LinkShard` links one shard of ``(item_id, text)`` pairs; every worker rebuilds
  the linker's automaton once from its surface table (the table travels, not a pickle of
  the automaton).
* :func:`link_sharded` cuts the input into shards, runs them on an engine and puts the
  results together in input order: the same mention table whichever engine ran them.
* :class:`EmbedShard` / :func:`embed_sharded` live in :mod:`medkg.embed.sharded` (the
  embedding cache uses them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from medkg.coverage.linking import MENTION_SCHEMA, Linker, LinkerConfig
from medkg.embed.sharded import shards_of
from medkg.engines import Engine, ShardTask
from medkg.progress import Progress

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


def link_sharded(
    linker: Linker,
    pairs: Iterable[tuple[str, str]],
    engine: Engine,
    *,
    shard_size: int = 2000,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """The mention table of ``(item_id, text)`` pairs, linked shard by shard on ``engine``;
    rows in input order (within an item by start offset), whichever engine ran."""
    frames = engine.map(LinkShard(linker), list(shards_of(pairs, shard_size)), progress=progress)
    return pl.concat(frames) if frames else pl.DataFrame(schema=MENTION_SCHEMA)


__all__ = ["LinkShard", "link_sharded"]
