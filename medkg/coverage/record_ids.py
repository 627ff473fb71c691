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
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: A spooled record: its id's hash and its place (shard index << 32 | position in shard).
RECORD = np.dtype([("hash", "<u8"), ("place", "<u8")])


def id_hashes(ids: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b hashes of ``ids`` (a uint64 array in the same order)."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8")


def first_repeat(ids: Sequence[str]) -> tuple[int, int] | None:
    """Positions ``(first, second)`` of the first id (by its second position) that occurs
    twice in ``ids``; None when all differ."""
    seen: dict[str, int] = {}
    for n, i in enumerate(ids):
        if i in seen:
            return seen[i], n
        seen[i] = n
    return None


class IdSpool:
    """Hashes of every record id, bucketed on disk, checked for repeats at the end (see
    the module doc). Use as a context manager: the folder is removed on exit."""

    def __init__(self, near: str | Path | None = None, buckets: int = 64) -> None:
        if buckets < 1 or buckets & (buckets - 1):
            raise ValueError(f"buckets must be a power of two, got {buckets}")
        self.buckets = buckets
        self.shift = np.uint64(64 - buckets.bit_length() + 1)
        self._dir = tempfile.TemporaryDirectory(prefix=".medkg-ids-", dir=near)
        self.folder = Path(self._dir.name)
        # plain strings, made once: this runs per shard and bucket
        self._files = [str(self.folder / f"{b:04d}.bin") for b in range(buckets)]
        self.records = 0

    def __enter__(self) -> IdSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()

    def add(self, shard: int, hashes: np.ndarray) -> None:
        """Spool one shard's id hashes (in record order)."""
        if not len(hashes):
            return
        rows = np.empty(len(hashes), dtype=RECORD)
        rows["hash"] = hashes
        rows["place"] = (np.uint64(shard) << np.uint64(32)) | np.arange(len(hashes), dtype="<u8")
        bucket = (hashes >> self.shift) if self.buckets > 1 else np.zeros(len(hashes), "<u8")
        order = np.argsort(bucket, kind="stable")
        rows, bucket = rows[order], bucket[order]
        cuts = np.searchsorted(bucket, np.arange(self.buckets + 1, dtype="<u8"))
        for b in range(self.buckets):
            if cuts[b + 1] > cuts[b]:
                with open(self._files[b], "ab") as fh:
                    rows[cuts[b] : cuts[b + 1]].tofile(fh)
        self.records += len(hashes)

    def repeats(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Pairs of places ``((shard, position), (shard, position))`` whose ids hash alike,
        the earlier place first, sorted by the later place (a hash seen k times gives k - 1
        pairs, each against its first place). Reads one bucket at a time."""
        pairs = []
        for file in sorted(self.folder.glob("*.bin")):
            rows = np.fromfile(file, dtype=RECORD)
            rows.sort(order=("hash", "place"))
            same = np.flatnonzero(rows["hash"][1:] == rows["hash"][:-1]) + 1
            for n in same:
                first = n - 1
                while first > 0 and rows["hash"][first - 1] == rows["hash"][n]:
                    first -= 1
                pairs.append((_place(rows["place"][first]), _place(rows["place"][n])))
        return sorted(pairs, key=lambda p: (p[1], p[0]))


def _place(value: np.uint64) -> tuple[int, int]:
    v = int(value)
    return v >> 32, v & 0xFFFFFFFF


__all__ = ["RECORD", "IdSpool", "first_repeat", "id_hashes"]
