"""Trivial-answer baselines written independently of medkg's inspect module (its own
split, its own tokeniser), shared by the real-dataset and chain-balance tests."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from medkg.synthesis.items import QAItem

WORDS = re.compile(r"[a-z0-9]+")


def credit(scores: Sequence[float], answer: int) -> float:
    """1 when the answer alone scores highest, 1/t when it ties t ways for the top, else 0."""
    top = max(scores)
    best = [i for i, s in enumerate(scores) if s == top]
    return 1 / len(best) if answer in best else 0.0


def by_family(items: Iterable[QAItem]) -> dict[str, list[QAItem]]:
    out: defaultdict[str, list[QAItem]] = defaultdict(list)
    for it in items:
        out[it.family].append(it)
    return dict(out)


def chance(items: Sequence[QAItem]) -> float:
    return sum(1 / len(i.options) for i in items) / len(items)


def answer_prior(items: Sequence[QAItem]) -> float:
    """Accuracy of "the option that is the answer elsewhere in the dataset": each option's
    key rate (keys / appearances) learned on the even items and tested on the odd ones,
    and back."""
    hits = 0.0
    halves = (items[0::2], items[1::2])
    for train, test in (halves, halves[::-1]):
        key: defaultdict[str, int] = defaultdict(int)
        seen: defaultdict[str, int] = defaultdict(int)
        for i in train:
            key[i.answer_id] += 1
            for o in i.option_ids:
                seen[o] += 1
        for i in test:
            rates = [key[o] / seen[o] if seen[o] else 0.0 for o in i.option_ids]
            hits += credit(rates, i.answer_index)
    return hits / len(items)


def longest_option(items: Sequence[QAItem]) -> float:
    """Accuracy of picking the longest option."""
    return sum(credit([len(o) for o in i.options], i.answer_index) for i in items) / len(items)


def stem_overlap(items: Sequence[QAItem]) -> float:
    """Accuracy of picking the option sharing most words with the stem."""
    hits = 0.0
    for i in items:
        stem = set(WORDS.findall(i.question.lower()))
        shared = [len(set(WORDS.findall(o.lower())) & stem) for o in i.options]
        hits += credit(shared, i.answer_index)
    return hits / len(items)
