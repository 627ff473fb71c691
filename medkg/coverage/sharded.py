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
  engine ran. With the audit's tree each worker also reduces its shard to the audit's
  per-node counts (:mod:`medkg.coverage.rollup`), which the driver adds up; item ids are
  checked unique across the corpus (:mod:`medkg.coverage.record_ids`), or, with a
  corpus's ``repeated_ids="last"``, a pre-pass over the ids (:class:`CorpusIdsShard`)
  finds the records a later one supersedes or a later file deletes, and the link pass
  leaves them out (a PubMed baseline with its update files).
  :func:`link_corpora` does the same for several corpora in one stream (one pool).
* :class:`EmbedShard` / :func:`embed_sharded` live in :mod:`medkg.embed.sharded` (the
  embedding cache uses them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from medkg.coverage.linking import MENTION_SCHEMA, Linker, LinkerConfig
from medkg.coverage.record_ids import (
    DELETED,
    Dropped,
    IdSpool,
    LatestSpool,
    check_policy,
    first_repeat,
    id_hashes,
    wide_id_hashes,
)
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
    deleted_hashes: np.ndarray | None = None  # of the ids it deletes (PubMed, policy error)


class LinkCorpusShard(ShardTask[tuple[Any, ...], ShardLinks]):
    """Reads a corpus shard on the worker and links it (a :class:`LinkShard`). A shard is
    ``(corpus, descriptor)`` or ``(corpus, descriptor, drops)``: the descriptor is read by
    ``reads[corpus]``, so the shards of several corpora go through one pool with the linker
    built once per worker; ``drops`` (the ``last`` policy's, an array, possibly empty) are
    positions of records left out, and then no id hashes go back. With a
    ``tree`` it also reduces the shard's mentions to the audit's counts there
    (:func:`medkg.coverage.rollup.count_mentions`). A repeated item id in the shard raises
    an :class:`~medkg.errors.InputError` naming both records."""

    def __init__(
        self, linker: Linker, reads: Sequence[ShardReader], tree: AuditTree | None = None
    ) -> None:
        self.link = LinkShard(linker)
        self.reads = tuple(reads)
        self.tree = tree

    def setup(self) -> None:
        self.link.setup()

    def run(self, shard: tuple[Any, ...]) -> ShardLinks:
        read, descriptor = self.reads[shard[0]], shard[1]
        # the "last" policy's records to leave out (positions in the shard, sorted); the
        # pre-pass made the rest unique across the corpus, so no hashes go back
        drops = shard[2] if len(shard) > 2 else None
        # the "error" policy: the ids the shard deletes too (PubMed's DeleteCitation), from
        # the same reading, so that a deleted record is refused instead of audited
        deleting = getattr(read, "read_deleting", None) if drops is None else None
        deleted: Sequence[str] = ()
        if deleting is not None:
            found, deleted = deleting(descriptor)
        else:
            found = read(descriptor)
        pairs = list(found)
        if drops is not None and len(drops):
            gone = set(drops.tolist())
            pairs = [p for n, p in enumerate(pairs) if n not in gone]
        ids = [item_id for item_id, _ in pairs]
        repeat = first_repeat(ids)
        if repeat is not None:
            raise repeated_id(
                ids[repeat[1]], *(record_location(read, descriptor, p) for p in repeat)
            )
        if deleted:  # a file deleting a record it holds itself
            held = {i: n for n, i in enumerate(ids)}
            hit = next((i for i in deleted if i in held), None)
            if hit is not None:
                raise deleted_record(hit, record_location(read, descriptor, held[hit]),
                                     descriptor)  # fmt: skip
        mentions = self.link.run(pairs) if pairs else pl.DataFrame(schema=MENTION_SCHEMA)
        counts = count_mentions(self.tree, mentions) if self.tree is not None else None
        return ShardLinks(len(pairs), sum(len(t) for _, t in pairs), mentions, counts,
                          id_hashes(ids) if drops is None else None,
                          id_hashes(deleted) if deleted else None)  # fmt: skip


class CorpusIdsShard(ShardTask[tuple[int, Any], tuple[np.ndarray, np.ndarray]]):
    """The ``last`` policy's pre-pass over one shard ``(corpus, descriptor)``: the 128-bit
    hashes of its item ids (in the order the reader gives its records) and of the ids it
    deletes (a PubMed update file's ``DeleteCitation``), through the reader's ``ids``
    method when it has one (:meth:`medkg.retrieval.shards.ShardItems.ids`)."""

    def __init__(self, reads: Sequence[ShardReader]) -> None:
        self.reads = tuple(reads)

    def run(self, shard: tuple[int, Any]) -> tuple[np.ndarray, np.ndarray]:
        ids, deleted = shard_ids(self.reads[shard[0]], shard[1])
        return wide_id_hashes(ids), wide_id_hashes(deleted)


def shard_ids(read: ShardReader, shard: Any) -> tuple[Sequence[str], Sequence[str]]:
    """The item ids of ``shard`` in the order ``read`` gives its records, and the ids it
    deletes: through the reader's ``ids`` method when it has one
    (:meth:`medkg.retrieval.shards.ShardItems.ids`), else from the records it reads."""
    ids_of = getattr(read, "ids", None)
    if ids_of is not None:
        ids, deleted = ids_of(shard)
        return ids, deleted
    return [item_id for item_id, _ in read(shard)], []


def record_location(read: ShardReader, shard: Any, position: int) -> str:
    """Where record ``position`` of ``shard`` is: the reader's own words (``locations``,
    e.g. ``file:line``) when it has them, else the shard and the record's number."""
    locations = getattr(read, "locations", None)
    if locations is not None:
        return str(locations(shard)[position])
    return f"record {position + 1} of shard {shard!r}"


def repeated_id(item_id: str, first: str, second: str, where: str = "the corpus") -> InputError:
    """The error for an item id given by two records (of a corpus, or of ``where``)."""
    return InputError(
        f"item id {item_id!r} appears twice in {where}: {first} and {second}. Each record "
        "is one item of the audit, so ids must be unique (with --id-field, name a field whose "
        "values are unique, or leave it out: ids are then file:line / file:row numbers)"
    )


def deleted_record(item_id: str, where: str, deleting: Any) -> InputError:
    """The error for a record whose id a PubMed file's ``DeleteCitation`` lists, under the
    ``error`` policy (which keeps every record, so it cannot leave one out)."""
    path = getattr(deleting, "path", deleting)
    return InputError(
        f"citation {item_id!r} ({where}) is deleted by {path}'s DeleteCitation list, and "
        "--repeated-ids error keeps every record: audit a baseline with its update files "
        "with --repeated-ids last (the latest versions, deleted citations left out)"
    )


@dataclass(frozen=True)
class CorpusSource:
    """A corpus to link shard by shard: its shard descriptors and the reader of one."""

    shards: tuple[Any, ...]
    read: ShardReader
    #: records sharing an id: ``error`` (refused) or ``last`` (the last one in shard order
    #: is kept, deletions honoured): :mod:`medkg.coverage.record_ids`
    repeated_ids: str = "error"

    def __post_init__(self) -> None:
        check_policy(self.repeated_ids)


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
    superseded: int = 0  # records left out for a later one with their id (policy "last")
    deleted: int = 0  # records left out for a later deletion of their id (policy "last")


def link_corpus(
    linker: Linker,
    shards: Sequence[Any],
    read: ShardReader,
    engine: Engine,
    out: str | Path,
    *,
    progress: Progress | None = None,
    tree: AuditTree | None = None,
    repeated_ids: str = "error",
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
    by the graph, not the corpus: :mod:`medkg.coverage.rollup`). ``repeated_ids="last"``
    keeps the last record of each id instead and honours deletions (``CorpusSource``)."""
    source = CorpusSource(tuple(shards), read, repeated_ids)
    return link_corpora(linker, [(source, Path(out))], engine, progress=progress, tree=tree)[0]


def link_corpora(
    linker: Linker,
    corpora: Sequence[tuple[CorpusSource, Path]],
    engine: Engine,
    *,
    progress: Progress | None = None,
    tree: AuditTree | None = None,
) -> list[CorpusLinks]:
    """:func:`link_corpus` of several ``(corpus, out)`` in one :meth:`Engine.stream`: one
    pool of workers (on Ray, one actor pool building the linker once per actor) for all
    of them, not one per corpus. Each corpus gets its own file, id check and counts."""
    import pyarrow.parquet as pq

    schema = pl.DataFrame(schema=MENTION_SCHEMA).to_arrow().schema
    dropped = _latest_records(corpora, engine, progress)
    tagged: list[tuple[Any, ...]] = [(k, s, None if d is None else d.positions.get(n, _NONE))
              for k, ((source, _), d) in enumerate(zip(corpora, dropped, strict=True))
              for n, s in enumerate(source.shards)]  # fmt: skip
    task = LinkCorpusShard(linker, [source.read for source, _ in corpora], tree)
    with ExitStack() as stack:
        sinks = []
        for (source, out), drop in zip(corpora, dropped, strict=True):
            spool = (stack.enter_context(IdSpool(near=Path(out).absolute().parent))
                     if drop is None else None)  # fmt: skip
            writer = stack.enter_context(pq.ParquetWriter(str(out), schema, compression="zstd"))
            sinks.append(_CorpusSink(source, writer, spool, drop))
        for (k, _, _), result in zip(tagged, engine.stream(task, tagged, progress=progress),
                                  strict=True):  # fmt: skip
            sinks[k].add(result)
        return [sink.finish() for sink in sinks]


_NONE = np.zeros(0, dtype="<u4")  # a shard of a "last" corpus that keeps every record


def _latest_records(
    corpora: Sequence[tuple[CorpusSource, Path]], engine: Engine, progress: Progress | None
) -> list[Dropped | None]:
    """The ``last`` policy's pre-pass: for each corpus with that policy the records to leave
    out (None for an ``error`` corpus), from one stream of :class:`CorpusIdsShard` over
    their shards and a :class:`~medkg.coverage.record_ids.LatestSpool` per corpus."""
    latest = [k for k, (source, _) in enumerate(corpora) if source.repeated_ids == "last"]
    out: list[Dropped | None] = [None] * len(corpora)
    if not latest:
        return out
    tagged = [(k, n, s) for k in latest for n, s in enumerate(corpora[k][0].shards)]
    task = CorpusIdsShard([source.read for source, _ in corpora])

    def tick(_stage: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress("ids", done, total)

    with ExitStack() as stack:
        spools = {k: stack.enter_context(LatestSpool(near=Path(corpora[k][1]).absolute().parent))
                  for k in latest}  # fmt: skip
        results = engine.stream(task, [(k, s) for k, _, s in tagged], progress=tick)
        for (k, n, _), (hashes, deleted) in zip(tagged, results, strict=True):
            spools[k].add(n, hashes, deleted)
        for k in latest:
            out[k] = spools[k].resolve()
    return out


class _CorpusSink:
    """One corpus's side of :func:`link_corpora`: its shards' results appended to its
    Parquet file and id spool, its counts added up (all bounded by the graph)."""

    def __init__(self, source: CorpusSource, writer: Any, spool: IdSpool | None,
                 dropped: Dropped | None) -> None:  # fmt: skip
        self.source, self.writer, self.spool, self.dropped = source, writer, spool, dropped
        self.shards = self.items = self.characters = self.rows = self.linked = 0
        self.entities: set[str] = set()  # bounded by the graph, not by the corpus
        self.by_method: Counter[str] = Counter()
        self.merger: CountsMerger | None = None

    def add(self, result: ShardLinks) -> None:
        self.items += result.items
        self.characters += result.characters
        if result.id_hashes is not None and self.spool is not None:
            self.spool.add(self.shards, result.id_hashes, result.deleted_hashes)
        self.shards += 1
        if result.counts is not None:
            self.merger = self.merger or CountsMerger(result.counts.follow)
            self.merger.add(result.counts)
        m = result.mentions
        if m.height:
            self.writer.write_table(m.to_arrow().cast(self.writer.schema))
            self.rows += m.height
            # an item lies in one shard (ids are checked unique), so per-shard counts add up
            self.linked += m.get_column("item_id").n_unique()
            self.entities.update(m.get_column("entity_id").unique().to_list())
            self.by_method.update(dict(m.group_by("method").len().iter_rows()))

    def finish(self) -> CorpusLinks:
        if self.spool is not None:
            _check_repeats(self.spool, self.source.shards, self.source.read)
        if self.items == 0:  # name its files: an audit may link several corpora
            shards = self.source.shards
            files = sorted({str(getattr(s, "path", s)) for s in shards})
            listed = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if files[3:] else "")
            raise InputError(f"the corpus has no items ({len(shards)} "
                             f"shard{'s' if len(shards) != 1 else ''} read: {listed})")  # fmt: skip
        drop = self.dropped
        return CorpusLinks(self.shards, self.items, self.characters, self.rows, self.linked,
                           len(self.entities), dict(sorted(self.by_method.items())),
                           self.merger.result() if self.merger is not None else None,
                           drop.superseded if drop else 0, drop.deleted if drop else 0)  # fmt: skip


def _check_repeats(
    ids: IdSpool, shards: Sequence[Any], read: ShardReader, window: int = 1024
) -> None:
    """Raise for the first id two shards share (by the later record's place); a repeated
    hash is confirmed on the ids themselves, read again from the two shards. Candidates
    come ``window`` at a time (the first one is a real repeat but for a 64-bit collision),
    so the driver never holds every repeat of a corpus that repeats millions."""
    after = None
    while True:
        candidates, total = ids.first_repeats(window, after)
        read_ids: dict[int, tuple[Sequence[str], Sequence[str]]] = {}
        for n, ((sa, pa), (sb, pb)) in enumerate(candidates):
            for s in (sa, sb):
                if s not in read_ids:
                    read_ids[s] = shard_ids(read, shards[s])
            item_id = _id_at(read_ids[sa], pa)
            if item_id == _id_at(read_ids[sb], pb):
                if (pa | pb) & DELETED:  # one is a deletion (two deletions are no pair)
                    (rs, rp), ds = ((sa, pa), sb) if pb & DELETED else ((sb, pb), sa)
                    raise deleted_record(item_id, record_location(read, shards[rs], rp),
                                         shards[ds])  # fmt: skip
                error = repeated_id(item_id, record_location(read, shards[sa], pa),
                                    record_location(read, shards[sb], pb))  # fmt: skip
                more = total - n - 1
                if more:
                    error.args = (f"{error.args[0]} ({more} more records repeat an earlier id)",)
                raise error
        if len(candidates) == total:
            return
        (shard, position) = candidates[-1][1]
        after = shard << 32 | position


def _id_at(ids: tuple[Sequence[str], Sequence[str]], position: int) -> str:
    """The id at a spooled ``position`` of a shard whose ids and deleted ids are ``ids``."""
    return ids[1][position & ~DELETED] if position & DELETED else ids[0][position]


__all__ = [
    "CorpusIdsShard",
    "CorpusLinks",
    "CorpusSource",
    "LinkCorpusShard",
    "LinkShard",
    "ShardLinks",
    "ShardReader",
    "deleted_record",
    "link_corpora",
    "link_corpus",
    "link_sharded",
    "record_location",
    "repeated_id",
    "shard_ids",
]
