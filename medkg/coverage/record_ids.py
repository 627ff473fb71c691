"""Record ids of a sharded corpus must be unique: the check, cheap at PubMed scale.

A corpus audit adds its shards' distinct-item counts (:mod:`medkg.coverage.rollup`), which
is exact only when no item id appears in two shards; two records with one id would also
be one item to the audit's item counts and two to its ``n_items``. So
:func:`medkg.coverage.sharded.link_corpus` checks every id:

* within a shard, on its worker (:func:`first_repeat` over the shard's ids);
* across shards, on the driver, without holding the ids: each shard sends back the 64-bit
  hashes of its ids (:func:`id_hashes`, BLAKE2b, 8 bytes an id), which
  :class:`IdSpool` appends, with their shard and position, to one of ``buckets`` files on
  disk by the hash's top bits. At the end each bucket is sorted alone, so the driver holds
  one bucket (16 bytes a record / ``buckets``), not the corpus. A repeated hash is a
  candidate; the driver re-reads the (two) shards it names to compare the ids themselves
  (64-bit hashes of 36 M ids collide with probability ~4e-5) and to name both records.

That is the ``error`` policy for repeated ids (:data:`REPEATED_ID_POLICIES`). It keeps
every record, so a record whose id a PubMed file deletes (``DeleteCitation``) is refused
too: each shard also sends the hashes of the ids it deletes, spooled with a flagged
position (:data:`DELETED`) and confirmed the same way. The ``last``
policy keeps, of the records sharing an id, the one that comes last in the corpus's order
(files in sorted path order, records in file order) and drops the others as *superseded*;
an id that a file *deletes* (a PubMed update file's ``DeleteCitation`` list, which the DTD
puts after the file's citations) drops the record kept for it when that record comes
before the deleting file's end. PubMed names its files ``pubmedYYnNNNN.xml.gz``, updates
numbered after the baseline, so path order is release order: the latest version of each
citation wins and deleted citations are gone. :class:`LatestSpool` finds the dropped
records in a pre-pass over the ids only, bounded like :class:`IdSpool`: each shard sends
128-bit hashes of its ids and of the ids it deletes, spooled to bucket files on disk and
resolved one bucket at a time. 128 bits (not 64) because a collision would here drop a
record silently instead of raising for a re-read: 40 M ids collide with probability
~2e-24. The driver keeps only the places of dropped records (8 bytes each).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Self

import numpy as np

#: A spooled record: its id's hash and its place (shard index << 32 | position in shard).
RECORD = np.dtype([("hash", "<u8"), ("place", "<u8")])
#: A record of :class:`LatestSpool`: its id's 128-bit hash and its place (a deletion's
#: place is its shard's with position :data:`DELETION`, after every record of the shard).
WIDE_RECORD = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("place", "<u8")])
DELETION = 0xFFFFFFFF
#: In :class:`IdSpool` the position bit of an id a shard deletes (its k-th deletion is
#: position ``DELETED | k``, after the shard's records).
DELETED = 0x80000000
#: What to do with records that share an id: refuse the corpus (``error``, naming both
#: records) or keep the last one in corpus order and honour deletions (``last``).
REPEATED_ID_POLICIES = ("error", "last")


def id_hashes(ids: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b hashes of ``ids`` (a uint64 array in the same order)."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8")


def wide_id_hashes(ids: Sequence[str]) -> np.ndarray:
    """128-bit BLAKE2b hashes of ``ids``: a ``(len(ids), 2)`` uint64 array, same order."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=16).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8").reshape(-1, 2)


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`REPEATED_ID_POLICIES`, else a ValueError naming them."""
    if policy not in REPEATED_ID_POLICIES:
        raise ValueError(
            f"unknown policy for repeated ids {policy!r}; choose one of "
            f"{', '.join(REPEATED_ID_POLICIES)}"
        )
    return policy


def first_repeat(ids: Sequence[str]) -> tuple[int, int] | None:
    """Positions ``(first, second)`` of the first id (by its second position) that occurs
    twice in ``ids``; None when all differ."""
    seen: dict[str, int] = {}
    for n, i in enumerate(ids):
        if i in seen:
            return seen[i], n
        seen[i] = n
    return None


class _BucketSpool:
    """Rows keyed by a 64-bit hash, appended to one of ``buckets`` files on disk by the
    hash's top bits (so one bucket at a time fits in memory). A context manager: the
    folder is removed on exit."""

    def __init__(self, near: str | Path | None = None, buckets: int = 64) -> None:
        if buckets < 1 or buckets & (buckets - 1):
            raise ValueError(f"buckets must be a power of two, got {buckets}")
        self.buckets = buckets
        self.shift = np.uint64(64 - buckets.bit_length() + 1)
        self._dir = tempfile.TemporaryDirectory(prefix=".medkg-ids-", dir=near)
        self.folder = Path(self._dir.name)
        # plain strings, made once: this runs per shard and bucket
        self._files = [str(self.folder / f"{b:04d}.bin") for b in range(buckets)]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()

    def _append(self, rows: np.ndarray, hashes: np.ndarray) -> None:
        """Append ``rows`` to the buckets of their ``hashes``."""
        bucket = (hashes >> self.shift) if self.buckets > 1 else np.zeros(len(hashes), "<u8")
        order = np.argsort(bucket, kind="stable")
        rows, bucket = rows[order], bucket[order]
        cuts = np.searchsorted(bucket, np.arange(self.buckets + 1, dtype="<u8"))
        for b in range(self.buckets):
            if cuts[b + 1] > cuts[b]:
                with open(self._files[b], "ab") as fh:
                    rows[cuts[b] : cuts[b + 1]].tofile(fh)


class IdSpool(_BucketSpool):
    """Hashes of every record id, bucketed on disk, checked for repeats at the end (see
    the module doc). Use as a context manager: the folder is removed on exit."""

    def __init__(self, near: str | Path | None = None, buckets: int = 64) -> None:
        super().__init__(near, buckets)
        self.records = 0

    def add(self, shard: int, hashes: np.ndarray, deleted: np.ndarray | None = None) -> None:
        """Spool one shard's id hashes (in record order) and the hashes of the ids it
        deletes (a PubMed update file's ``DeleteCitation``: a record of a deleted id is
        refused like a repeat, :func:`medkg.coverage.sharded.deleted_record`)."""
        deleted = np.zeros(0, dtype="<u8") if deleted is None else deleted
        n, m = len(hashes), len(deleted)
        if max(n, m) >= DELETED:
            raise ValueError(f"shard {shard} has {max(n, m)} ids; at most {DELETED - 1}")
        if not n + m:
            return
        rows = np.empty(n + m, dtype=RECORD)
        rows["hash"][:n], rows["hash"][n:] = hashes, deleted
        base = np.uint64(shard) << np.uint64(32)
        rows["place"][:n] = base | np.arange(n, dtype="<u8")
        rows["place"][n:] = base | np.uint64(DELETED) | np.arange(m, dtype="<u8")
        self._append(rows, rows["hash"])
        self.records += n

    def repeats(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Pairs of places ``((shard, position), (shard, position))`` whose ids hash alike,
        the earlier place first, sorted by the later place (a hash seen k times gives k - 1
        pairs, each against its first place; two deletions of one id are no pair). Every
        pair at once: :meth:`first_repeats` holds a window of them."""
        return self.first_repeats(None)[0]

    def first_repeats(
        self, limit: int | None, after: int | None = None
    ) -> tuple[list[tuple[tuple[int, int], tuple[int, int]]], int]:
        """The first ``limit`` pairs of :meth:`repeats` (all when None) whose later place
        (``shard << 32 | position``) comes after ``after``, and how many such pairs there
        are in all. Reads one bucket at a time and keeps ``limit`` pairs (16 bytes each),
        however many ids repeat (a corpus given twice repeats every one)."""
        firsts: list[np.ndarray] = []
        laters: list[np.ndarray] = []
        total = 0
        for file in sorted(self.folder.glob("*.bin")):
            first, later = _bucket_pairs(np.fromfile(file, dtype=RECORD))
            if after is not None:
                keep = later > np.uint64(after)
                first, later = first[keep], later[keep]
            total += len(later)
            firsts.append(first)
            laters.append(later)
            if limit is not None:  # keep the window only: the first `limit` by later place
                first, later = np.concatenate(firsts), np.concatenate(laters)
                order = np.lexsort((first, later))[:limit]
                firsts, laters = [first[order]], [later[order]]
        if not firsts:
            return [], 0
        first, later = np.concatenate(firsts), np.concatenate(laters)
        order = np.lexsort((first, later))[:limit]
        return [(_place(first[n]), _place(later[n])) for n in order], total


def _bucket_pairs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of one bucket's rows, the places ``(first, later)`` of every record whose hash an
    earlier record has (``later``), each against the first record of its hash; a pair of
    two deletions is left out (two update files may delete one PMID)."""
    rows.sort(order=("hash", "place"))
    hashes = rows["hash"]
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = hashes[1:] != hashes[:-1]
    head = np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0))
    later = np.flatnonzero(~starts)
    first, later = rows["place"][head[later]], rows["place"][later]
    deleted = np.uint64(DELETED)
    keep = ((first & deleted) == 0) | ((later & deleted) == 0)  # not two deletions
    return first[keep], later[keep]


class Dropped(NamedTuple):
    """What :meth:`LatestSpool.resolve` found: per shard the positions of the records it
    drops (sorted), how many were superseded by a later record with their id and how many
    a later deletion removed."""

    positions: dict[int, np.ndarray]
    superseded: int
    deleted: int


class LatestSpool(_BucketSpool):
    """The ``last`` policy's pre-pass (module doc): 128-bit id hashes and deletions of
    every shard, bucketed on disk, resolved to the records to drop. A context manager:
    the folder is removed on exit."""

    def add(self, shard: int, hashes: np.ndarray, deleted: np.ndarray) -> None:
        """Spool one shard's record id hashes (in record order) and the hashes of the ids
        it deletes (both from :func:`wide_id_hashes`)."""
        n, m = len(hashes), len(deleted)
        if n >= DELETION:
            raise ValueError(f"shard {shard} has {n} records; at most {DELETION - 1}")
        if not n + m:
            return
        rows = np.empty(n + m, dtype=WIDE_RECORD)
        both = np.concatenate([hashes.reshape(-1, 2), deleted.reshape(-1, 2)])
        rows["hi"], rows["lo"] = both[:, 0], both[:, 1]
        base = np.uint64(shard) << np.uint64(32)
        rows["place"][:n] = base | np.arange(n, dtype="<u8")
        rows["place"][n:] = base | np.uint64(DELETION)
        self._append(rows, rows["hi"])

    def resolve(self) -> Dropped:
        """The records to drop: of each id's records all but the last (superseded), and
        the last too when a deletion of the id comes after it (deleted). One bucket in
        memory at a time."""
        drops, superseded, deleted = [], 0, 0
        for file in sorted(self.folder.glob("*.bin")):
            rows = np.fromfile(file, dtype=WIDE_RECORD)
            rows = rows[np.lexsort((rows["place"], rows["lo"], rows["hi"]))]
            new = np.ones(len(rows), dtype=bool)
            new[1:] = (rows["hi"][1:] != rows["hi"][:-1]) | (rows["lo"][1:] != rows["lo"][:-1])
            group = np.cumsum(new) - 1
            place = rows["place"]
            is_del = (place & np.uint64(DELETION)) == np.uint64(DELETION)
            last = np.zeros(int(group[-1]) + 1, dtype="<u8")
            np.maximum.at(last, group[~is_del], place[~is_del])
            last_del = np.zeros_like(last)  # 0: no deletion (a deletion's place is never 0)
            np.maximum.at(last_del, group[is_del], place[is_del])
            kept = ~is_del & (place == last[group])
            gone = ~is_del & ~kept
            removed = kept & (last_del[group] > place)
            superseded += int(gone.sum())
            deleted += int(removed.sum())
            drops.append(place[gone | removed])
        every = np.sort(np.concatenate(drops)) if drops else np.zeros(0, "<u8")
        shards = (every >> np.uint64(32)).astype(np.int64)
        positions = (every & np.uint64(DELETION)).astype("<u4")
        cuts = np.flatnonzero(np.diff(shards)) + 1
        return Dropped({int(s[0]): p for s, p in zip(np.split(shards, cuts),
                                                     np.split(positions, cuts), strict=True)
                        if len(s)}, superseded, deleted)  # fmt: skip


def _place(value: np.uint64) -> tuple[int, int]:
    v = int(value)
    return v >> 32, v & 0xFFFFFFFF


__all__ = [
    "DELETED",
    "DELETION",
    "RECORD",
    "REPEATED_ID_POLICIES",
    "WIDE_RECORD",
    "Dropped",
    "IdSpool",
    "LatestSpool",
    "check_policy",
    "first_repeat",
    "id_hashes",
    "wide_id_hashes",
]
