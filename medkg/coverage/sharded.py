"""Linking and embedding as shard tasks, so an engine (local or Ray) can spread them.

* :class:`LinkShard` links one shard of ``(item_id, text)`` pairs; every worker rebuilds
  the linker's automaton once from its surface table (the table travels, not a pickle of
  the automaton).
* :func:`link_sharded` cuts the input into shards, runs them on an engine and puts the
  results together in input order: the same mention table whichever engine ran them.
* :func:`link_corpus` links a corpus too large for memory: the engine *streams* small
  shard descriptors (:meth:`~medkg.engines.Engine.stream`; Ray Data on the ``ray``
  engine), each worker reads its shard itself (``read``, e.g.
  :class:`medkg.retrieval.shards.ShardItems`, passed in because coverage does not import
  retrieval) and links it, and the driver appends each shard's mentions to one Parquet
  file (one row group per shard) as they arrive in shard order: the same file whichever
  engine ran.
* :class:`EmbedShard` / :func:`embed_sharded` live in :mod:`medkg.embed.sharded` (the
  embedding cache uses them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from medkg.coverage.linking import MENTION_SCHEMA, Linker, LinkerConfig
from medkg.coverage.record_ids import IdSpool, first_repeat, id_hashes
from medkg.coverage.rollup import AuditCounts, AuditTree, CountsMerger, count_mentions
from medkg.embed.sharded import shards_of
from medkg.engines import Engine, ShardTask
from medkg.errors import InputError
from medkg.progress import Progress

Pairs = list[tuple[str, str]]


class LinkShard(ShardTask[Pairs, pl.DataFrame]):
    """Mention table of one shard, by a linker rebuilt on the worker."""

    def __init__(self, linker: Linker) -> None:
        self.surfaces = linker.surfaces
        self.config = linker.config.to_dict()
        self.stats = dict(linker.stats)
        self.senses = linker.senses  # plain dicts and frames: travels to the worker
        # the linker's mention filter (a caller's own, not only the packaged one): weights
        self.mention_filter = linker._filter
        self._linker: Linker | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_linker"] = None  # an automaton does not travel; setup() rebuilds it
        return state

    def setup(self) -> None:
        if self._linker is None:
            self._linker = Linker(
                self.surfaces,
                LinkerConfig.from_dict(self.config),
                self.stats,
                self.senses,
                self.mention_filter,
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


#: Reads one shard descriptor of a corpus as ``(item id, text)`` pairs, on the worker.
ShardReader = Callable[[Any], Sequence[tuple[str, str]]]


class ShardLinks(NamedTuple):
    """What one corpus shard gives: its item and character counts, its mention table, its
    audit counts (when asked for) and the 64-bit hashes of its item ids (the duplicate
    check, :mod:`medkg.coverage.record_ids`)."""

    items: int
    characters: int
    mentions: pl.DataFrame
    counts: AuditCounts | None = None
    id_hashes: np.ndarray | None = None


class LinkCorpusShard(ShardTask[Any, ShardLinks]):
    """Reads a corpus shard on the worker (``read``) and links it (a :class:`LinkShard`);
    with a ``tree`` it also reduces the shard's mentions to the audit's counts there
    (:func:`medkg.coverage.rollup.count_mentions`). A repeated item id in the shard raises
    an :class:`~medkg.errors.InputError` naming both records."""

    def __init__(self, linker: Linker, read: ShardReader, tree: AuditTree | None = None) -> None:
        self.link = LinkShard(linker)
        self.read = read
        self.tree = tree

    def setup(self) -> None:
        self.link.setup()

    def run(self, shard: Any) -> ShardLinks:
        pairs = list(self.read(shard))
        ids = [item_id for item_id, _ in pairs]
        repeat = first_repeat(ids)
        if repeat is not None:
            raise repeated_id(ids[repeat[1]], *(where(self.read, shard, p) for p in repeat))
        mentions = self.link.run(pairs) if pairs else pl.DataFrame(schema=MENTION_SCHEMA)
        counts = count_mentions(self.tree, mentions) if self.tree is not None else None
        return ShardLinks(len(pairs), sum(len(t) for _, t in pairs), mentions, counts,
                          id_hashes(ids))  # fmt: skip


def where(read: ShardReader, shard: Any, position: int) -> str:
    """Where record ``position`` of ``shard`` is: the reader's own words (``locations``,
    e.g. ``file:line``) when it has them, else the shard and the record's number."""
    locations = getattr(read, "locations", None)
    if locations is not None:
        return str(locations(shard)[position])
    return f"record {position + 1} of shard {shard!r}"


def repeated_id(item_id: str, first: str, second: str) -> InputError:
    """The error for an item id given by two records."""
    return InputError(
        f"item id {item_id!r} appears twice in the corpus: {first} and {second}. Each record "
        "is one item of the audit, so ids must be unique (with --id-field, name a field whose "
        "values are unique, or leave it out: ids are then file:line / file:row numbers)"
    )


@dataclass(frozen=True)
class CorpusSource:
    """A corpus to link shard by shard: its shard descriptors and the reader of one."""

    shards: tuple[Any, ...]
    read: ShardReader


@dataclass(frozen=True)
class CorpusLinks:
    """Counts of a :func:`link_corpus` run (its mention table is the file it wrote)."""

    shards: int
    items: int
    characters: int
    mentions: int
    linked_items: int
    entities: int
    by_method: dict[str, int]  # mentions per linking method, by method name
    counts: AuditCounts | None = None  # the audit's counts, added over shards (with a tree)


def link_corpus(
    linker: Linker,
    shards: Sequence[Any],
    read: ShardReader,
    engine: Engine,
    out: str | Path,
    *,
    progress: Progress | None = None,
    tree: AuditTree | None = None,
) -> CorpusLinks:
    """Link every shard of a corpus on ``engine`` and write the mention table to ``out``
    (Parquet, one row group per shard, in shard order), never holding more than a few
    shards' mentions. ``out`` should be a staged path (:func:`medkg.outputs.staged_file`):
    a failing shard raises (its reader's error names the file and line) and leaves it
    half-written. ``progress("shards", done, total)`` ticks per shard.

    Item ids must be unique across the corpus: a repeated one raises an
    :class:`~medkg.errors.InputError` naming both records (checked per shard on the
    worker and across shards through hashes spooled to disk beside ``out``:
    :mod:`medkg.coverage.record_ids`). With a ``tree`` each worker also reduces its
    shard's mentions to the audit's counts, added up here into ``counts`` (memory bounded
    by the graph, not the corpus: :mod:`medkg.coverage.rollup`)."""
    import pyarrow.parquet as pq

    schema = pl.DataFrame(schema=MENTION_SCHEMA).to_arrow().schema
    items = characters = rows = linked = 0
    entities: set[str] = set()  # bounded by the graph, not by the corpus
    by_method: Counter[str] = Counter()
    merger: CountsMerger | None = None
    task = LinkCorpusShard(linker, read, tree)
    with IdSpool(near=Path(out).absolute().parent) as ids, \
            pq.ParquetWriter(str(out), schema, compression="zstd") as writer:  # fmt: skip
        for index, result in enumerate(engine.stream(task, shards, progress=progress)):
            items += result.items
            characters += result.characters
            if result.id_hashes is not None:
                ids.add(index, result.id_hashes)
            if result.counts is not None:
                merger = merger or CountsMerger(result.counts.follow)
                merger.add(result.counts)
            m = result.mentions
            if m.height:
                writer.write_table(m.to_arrow().cast(schema))
                rows += m.height
                # an item lies in one shard (ids are checked unique), so per-shard counts add up
                linked += m.get_column("item_id").n_unique()
                entities.update(m.get_column("entity_id").unique().to_list())
                by_method.update(dict(m.group_by("method").len().iter_rows()))
        _check_repeats(ids, shards, read)
    if items == 0:
        raise InputError(f"the corpus has no items ({len(shards)} shards read)")
    return CorpusLinks(len(shards), items, characters, rows, linked, len(entities),
                       dict(sorted(by_method.items())),
                       merger.result() if merger is not None else None)  # fmt: skip


def _check_repeats(ids: IdSpool, shards: Sequence[Any], read: ShardReader) -> None:
    """Raise for the first id two shards share (by the later record's place); a repeated
    hash is confirmed on the ids themselves, read again from the two shards."""
    candidates = ids.repeats()
    read_ids: dict[int, list[str]] = {}
    for n, ((sa, pa), (sb, pb)) in enumerate(candidates):
        for s in (sa, sb):
            if s not in read_ids:
                read_ids[s] = [item_id for item_id, _ in read(shards[s])]
        if read_ids[sa][pa] == read_ids[sb][pb]:
            error = repeated_id(read_ids[sa][pa], where(read, shards[sa], pa),
                                where(read, shards[sb], pb))  # fmt: skip
            more = len(candidates) - n - 1
            if more:
                error.args = (f"{error.args[0]} ({more} more records repeat an earlier id)",)
            raise error


__all__ = [
    "CorpusLinks",
    "CorpusSource",
    "LinkCorpusShard",
    "LinkShard",
    "ShardLinks",
    "ShardReader",
    "link_corpus",
    "link_sharded",
    "repeated_id",
    "where",
]
