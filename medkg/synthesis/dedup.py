"""Exact and near-duplicate removal for synthetic QA items.

Two kinds of duplicate, both counted and both resolved keep-first in item order:

* **exact**: the same normalised question and the same set of normalised options
  (option order does not matter: a reshuffled copy is the same item);
* **near**: the same question asked in other words: the same normalised answer, the same
  seed entity (when both items name one) and a word-shingle Jaccard similarity of the
  normalised questions at or above a threshold (0.8 by default). Shingles are single
  words by default, so a vignette whose findings come in another order, or whose stem
  says "What is" for "Which is", is caught. The guards keep templated questions apart:
  "In the MeSH tree, Secretin is listed under which class?" and the same about Insulin
  share 13 of 15 words and their answer, but not their seed; two vignettes that differ
  only in which option is right differ in their answer. Candidates come from MinHash LSH
  (datasketch) so the pass stays linear; the decision is taken on the exact Jaccard of
  the two shingle sets, so it does not depend on MinHash estimation noise.

:class:`Deduplicator` is streaming (the pipeline feeds it one item at a time);
:func:`deduplicate` runs it over a list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from medkg.errors import UsageError
from medkg.synthesis.items import QAItem
from medkg.text import words

EXACT = "exact"
NEAR = "near"


def normalise_text(text: str) -> str:
    """:func:`medkg.text.fold`-ed (lower case, no accents, punctuation dropped), single-spaced."""
    return " ".join(words(text))


def exact_key(item: QAItem) -> str:
    """Digest of the normalised question and the sorted normalised options."""
    options = sorted(normalise_text(o) for o in item.options)
    body = normalise_text(item.question) + "\x1f" + "\x1e".join(options)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def shingles(text: str, size: int = 1) -> set[str]:
    """Word ``size``-grams of the normalised ``text`` (the whole text if it is shorter)."""
    tokens = words(text)
    if len(tokens) < size:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@dataclass(frozen=True)
class DedupConfig:
    """How duplicates are found."""

    enabled: bool = True
    near: bool = True  # also remove near duplicates (else exact only)
    threshold: float = (
        0.8  # question-shingle Jaccard at or above which (same answer) items are near duplicates
    )
    shingle_size: int = 1  # words per shingle
    num_perm: int = 128  # MinHash permutations (candidate recall, not the decision)

    def validate(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise UsageError(f"dedup threshold must be in (0, 1], got {self.threshold}")
        if self.shingle_size < 1:
            raise UsageError(f"dedup shingle size must be >= 1, got {self.shingle_size}")
        if self.num_perm < 16:
            raise UsageError(f"dedup num_perm must be >= 16, got {self.num_perm}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "near": self.near,
            "threshold": self.threshold,
            "shingle_size": self.shingle_size,
            "num_perm": self.num_perm,
        }


@dataclass(frozen=True)
class Duplicate:
    """An item dropped as a duplicate of an earlier, kept one."""

    item_id: str
    kind: str  # EXACT or NEAR
    kept_id: str
    similarity: float  # 1.0 for exact duplicates

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "kind": self.kind,
            "kept_id": self.kept_id,
            "similarity": round(self.similarity, 6),
        }


@dataclass
class DedupResult:
    kept: list[QAItem]
    duplicates: list[Duplicate] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        exact = sum(1 for d in self.duplicates if d.kind == EXACT)
        near = len(self.duplicates) - exact
        return {
            "input": len(self.kept) + len(self.duplicates),
            "exact": exact,
            "near": near,
            "kept": len(self.kept),
        }


SCAN_LIMIT = 64  # candidate lists longer than this go through MinHash LSH instead of a scan


@dataclass
class _Block:
    """Kept items with one normalised answer: by seed entity, and an LSH once it is big."""

    by_seed: dict[str, list[str]] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    lsh: Any = None


class Deduplicator:
    """Streaming keep-first deduplication: :meth:`check` an item, then it is remembered.

    Near-duplicate candidates are blocked by answer (and seed), which the decision needs
    anyway; inside a block that has grown past :data:`SCAN_LIMIT` (e.g. many items without
    a seed entity sharing an answer) MinHash LSH proposes the candidates.
    """

    def __init__(self, config: DedupConfig | None = None) -> None:
        self.config = config or DedupConfig()
        self.config.validate()
        self._exact: dict[str, str] = {}
        self._shingles: dict[str, set[str]] = {}
        self._minhashes: dict[str, Any] = {}
        self._seed: dict[str, str] = {}
        self._order: dict[str, int] = {}
        self._blocks: dict[str, _Block] = {}
        self._template: Any = None
        self.duplicates: list[Duplicate] = []
        self.counts = {"input": 0, "exact": 0, "near": 0, "kept": 0}

    def check(self, item: QAItem) -> Duplicate | None:
        """None if ``item`` is new (it is then kept and remembered), else why it is not."""
        if not item.id:
            item.with_id()
        self.counts["input"] += 1
        if not self.config.enabled:
            self.counts["kept"] += 1
            return None
        key = exact_key(item)
        first = self._exact.get(key)
        if first is not None:
            return self._drop(Duplicate(item.id, EXACT, first, 1.0))
        if self.config.near and item.id not in self._shingles:
            grams = shingles(item.question, self.config.shingle_size)
            block = self._blocks.setdefault(normalise_text(item.answer), _Block())
            best: tuple[int, str, float] | None = None
            for other in self._candidates(block, item.seed_entity, grams):
                sim = _jaccard(grams, self._shingles[other])
                if sim >= self.config.threshold:
                    rank = self._order[other]
                    if best is None or rank < best[0]:
                        best = (rank, other, sim)
            if best is not None:
                return self._drop(Duplicate(item.id, NEAR, best[1], best[2]))
            self._remember(block, item, grams)
        self._exact[key] = item.id
        self._order.setdefault(item.id, len(self._order))
        self.counts["kept"] += 1
        return None

    def _candidates(self, block: _Block, seed: str, grams: set[str]) -> list[str]:
        """Kept items of the block whose seed is compatible (same seed, or one has none)."""
        if seed:
            own = block.by_seed.get(seed, [])
            seedless = block.by_seed.get("", [])
            if len(seedless) > SCAN_LIMIT:
                seedless = [o for o in self._lsh_query(block, grams) if not self._seed[o]]
            return [*own, *seedless]
        if len(block.members) > SCAN_LIMIT:
            return self._lsh_query(block, grams)
        return block.members

    def _remember(self, block: _Block, item: QAItem, grams: set[str]) -> None:
        self._shingles[item.id] = grams
        self._seed[item.id] = item.seed_entity
        block.by_seed.setdefault(item.seed_entity, []).append(item.id)
        block.members.append(item.id)
        if block.lsh is not None:
            block.lsh.insert(item.id, self._minhash(item.id))

    def _lsh_query(self, block: _Block, grams: set[str]) -> list[str]:
        if block.lsh is None:
            from datasketch import MinHashLSH  # lazy: only big blocks need it

            # LSH only proposes candidates; a lower LSH threshold raises recall near the
            # decision threshold (and datasketch cannot band thresholds close to 1).
            threshold = max(0.05, min(0.9, self.config.threshold - 0.1))
            block.lsh = MinHashLSH(threshold=threshold, num_perm=self.config.num_perm)
            for member in block.members:
                block.lsh.insert(member, self._minhash(member))
        query = self._make_minhash(grams)
        return sorted(block.lsh.query(query), key=self._order.__getitem__)

    def _minhash(self, item_id: str) -> Any:
        minhash = self._minhashes.get(item_id)
        if minhash is None:
            minhash = self._minhashes[item_id] = self._make_minhash(self._shingles[item_id])
        return minhash

    def _drop(self, dup: Duplicate) -> Duplicate:
        self.duplicates.append(dup)
        self.counts[dup.kind] += 1
        return dup

    def _make_minhash(self, grams: Iterable[str]) -> Any:
        from datasketch import MinHash

        if self._template is None:  # drawing permutations is most of a MinHash's cost: once
            self._template = MinHash(num_perm=self.config.num_perm, seed=1)
        t = self._template
        minhash = MinHash(
            num_perm=self.config.num_perm, seed=1, permutations=t.permutations, scheme=t.scheme
        )
        minhash.update_batch([g.encode("utf-8") for g in sorted(grams)])
        return minhash


def _jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def deduplicate(items: Sequence[QAItem], config: DedupConfig | None = None) -> DedupResult:
    """Drop exact and near duplicates, keeping the first of each group in item order."""
    dedup = Deduplicator(config)
    kept = [item for item in items if dedup.check(item) is None]
    return DedupResult(kept=kept, duplicates=list(dedup.duplicates))


__all__ = [
    "EXACT",
    "NEAR",
    "DedupConfig",
    "DedupResult",
    "Deduplicator",
    "Duplicate",
    "deduplicate",
    "exact_key",
    "normalise_text",
    "shingles",
]
