"""`medkg synth inspect`: the quality report a curator runs before training on a dataset.

Per family it states how widely the items spread and how much a model could score
without knowing any medicine:

* **spread** - distinct seeds, effective N (``1 / sum(p^2)`` over the items' seeds), the
  largest seed's share and the share of the top 1% of seeds; distinct answers and the
  largest answer's share;
* **near duplicates** - exact repeats of a stem, and pairs with the same answer whose
  stems' word Jaccard is at least 0.8 (the pipeline's own rule, :mod:`medkg.synthesis.dedup`);
* **template diversity** - distinct templates, their normalised entropy, and distinct
  stem openings (first four words);
* **answer letters** - count per letter, the largest deviation from an even share and a
  chi-square p-value;
* **trivial baselines**, each against chance (the mean of ``1 / options``):

  - ``answer_prior``: how often each option entity was the key among its appearances,
    learned on one half of the items (split by a hash of the item id) and applied to the
    other half (an entity never seen scores the chance rate);
  - ``stem_overlap``: the option sharing most content words with the stem;
  - ``longest``: the longest option;
  - ``most_central``: the option with the highest mean word Jaccard to the other options;
  - ``odd_one_out`` (NOT items only): the option with the lowest mean word-prefix Jaccard
    to the others.

  Ties give fractional credit (1/k when the key is among k tied options), so a heuristic
  that cannot tell the options apart scores exactly chance. ``flag`` is true where a
  baseline is above chance + :data:`BASELINE_MARGIN`.

Only the dataset is read (``items.jsonl`` or the export folder); no graph is needed.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medkg.errors import InputError
from medkg.synthesis.dedup import DedupConfig, deduplicate, normalise_text
from medkg.synthesis.items import LETTERS, QAItem
from medkg.synthesis.sampling.spread import effective_n, top_share

BASELINE_MARGIN = 0.05  # a baseline above chance + this is flagged
NEGATIVE_MARKER = ".negative"  # templates of "Which is NOT ..." items
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "which",
        "with",
        "what",
        "who",
        "this",
        "that",
        "these",
        "those",
        "most",
        "likely",
        "following",
        "patient",
        "presents",
        "other",
        "than",
        "not",
    ]
)
_WORD = re.compile(r"[0-9a-z]+")


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` without stop words and one-letter tokens."""
    return {w for w in _WORD.findall(normalise_text(text)) if len(w) > 1 and w not in STOPWORDS}


def prefixes(text: str, n: int = 5) -> set[str]:
    """First ``n`` letters of each content word (a crude stemmer: cardiac ~ cardiomyopathy)."""
    return {w[:n] for w in content_words(text)}


def jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def credit(scores: Sequence[float], answer: int) -> float:
    """1/k if the answer is among the k options with the top score, else 0."""
    top = max(scores)
    best = [i for i, s in enumerate(scores) if s == top]
    return 1.0 / len(best) if answer in best else 0.0


def in_first_half(item: QAItem) -> bool:
    """The split of ``answer_prior``: a stable hash of the item id (or its stem)."""
    key = item.id or item.question
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0


# ----------------------------------------------------------------------------- baselines
def _score_stem_overlap(item: QAItem) -> list[float]:
    stem = content_words(item.question)
    return [float(len(content_words(o) & stem)) for o in item.options]


def _score_longest(item: QAItem) -> list[float]:
    return [float(len(o)) for o in item.options]


def _centrality(item: QAItem, words: Callable[[str], set[str]]) -> list[float]:
    sets = [words(o) for o in item.options]
    out = []
    for i, s in enumerate(sets):
        others = [jaccard(s, t) for j, t in enumerate(sets) if j != i]
        out.append(round(float(np.mean(others)), 9) if others else 0.0)
    return out


def _score_central(item: QAItem) -> list[float]:
    return _centrality(item, content_words)


def _score_odd(item: QAItem) -> list[float]:
    return [-c for c in _centrality(item, prefixes)]


HEURISTICS: dict[str, Callable[[QAItem], list[float]]] = {
    "stem_overlap": _score_stem_overlap,
    "longest": _score_longest,
    "most_central": _score_central,
}


def answer_prior(items: Sequence[QAItem]) -> tuple[float, float, int]:
    """Accuracy and chance of the key-rate prior learned on one half, tested on the other
    (both directions, averaged over all items); and the number of items scored."""
    halves = ([i for i in items if in_first_half(i)], [i for i in items if not in_first_half(i)])
    total, chance, n = 0.0, 0.0, 0
    for train, test in (halves, halves[::-1]):
        key: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        for it in train:
            seen.update(it.option_ids)
            key[it.answer_id] += 1
        for it in test:
            base = 1.0 / len(it.options)
            rates = [(key[o] + base) / (seen[o] + 1.0) if seen[o] else base for o in it.option_ids]
            total += credit(rates, it.answer_index)
            chance += base
            n += 1
    return (total / n if n else 0.0), (chance / n if n else 0.0), n


def baselines(items: Sequence[QAItem]) -> dict[str, dict[str, Any]]:
    """Every trivial baseline of one family's items, with its chance level and flag."""
    out: dict[str, dict[str, Any]] = {}
    if not items:
        return out
    chance = float(np.mean([1.0 / len(i.options) for i in items]))
    acc, ch, n = answer_prior(items)
    out["answer_prior"] = _entry(acc, ch, n)
    for name, score in HEURISTICS.items():
        acc = float(np.mean([credit(score(i), i.answer_index) for i in items]))
        out[name] = _entry(acc, chance, len(items))
    negative = [i for i in items if NEGATIVE_MARKER in i.template]
    if negative:
        acc = float(np.mean([credit(_score_odd(i), i.answer_index) for i in negative]))
        neg_chance = float(np.mean([1.0 / len(i.options) for i in negative]))
        out["odd_one_out"] = _entry(acc, neg_chance, len(negative))
    return out


def _entry(accuracy: float, chance: float, n: int) -> dict[str, Any]:
    return {
        "accuracy": round(accuracy, 4),
        "chance": round(chance, 4),
        "excess": round(accuracy - chance, 4),
        "items": n,
        "flag": bool(accuracy > chance + BASELINE_MARGIN),
    }


# ----------------------------------------------------------------------------- structure
def spread(items: Sequence[QAItem]) -> dict[str, Any]:
    seeds = Counter(i.seed_entity or i.answer_id for i in items)
    answers = Counter(i.answer_id for i in items)
    c = np.fromiter(seeds.values(), dtype=np.float64, count=len(seeds))
    a = np.fromiter(answers.values(), dtype=np.float64, count=len(answers))
    n = len(items)
    return {
        "distinct_seeds": len(seeds),
        "effective_n": round(effective_n(c), 1),
        "max_seed_share": round(float(c.max()) / n, 5),
        "top1pct_seed_share": round(top_share(c), 4),
        "distinct_answers": len(answers),
        "answer_effective_n": round(effective_n(a), 1),
        "max_answer_share": round(float(a.max()) / n, 5),
    }


def near_duplicates(items: Sequence[QAItem]) -> dict[str, Any]:
    stems = Counter(normalise_text(i.question) for i in items)
    repeated = sum(c - 1 for c in stems.values() if c > 1)
    result = deduplicate(items, DedupConfig(enabled=True, threshold=0.8))
    groups: Counter[str] = Counter(d.kept_id for d in result.duplicates)
    return {
        "exact_stem_repeats": repeated,
        "exact": result.counts.get("exact", 0),
        "near": result.counts.get("near", 0),
        "near_share": round(
            (result.counts.get("near", 0) + result.counts.get("exact", 0)) / len(items), 4
        ),
        "largest_group": 1 + max(groups.values(), default=0),
    }


def templates(items: Sequence[QAItem]) -> dict[str, Any]:
    counts = Counter(i.template for i in items)
    p = np.fromiter(counts.values(), dtype=np.float64) / len(items)
    entropy = float(-(p * np.log(p)).sum())
    openings = {" ".join(normalise_text(i.question).split()[:4]) for i in items}
    return {
        "distinct": len(counts),
        "entropy_norm": round(entropy / math.log(len(counts)), 4) if len(counts) > 1 else 0.0,
        "by_template": dict(sorted(counts.items())),
        "distinct_openings": len(openings),
    }


def letters(items: Sequence[QAItem]) -> dict[str, Any]:
    from scipy.stats import chisquare

    k = max(len(i.options) for i in items)
    counts = np.bincount([i.answer_index for i in items], minlength=k)[:k]
    share = counts / counts.sum()
    # Items with fewer options cannot put the key at the last letters: compare with that.
    expected = np.zeros(k)
    for i in items:
        expected[: len(i.options)] += 1.0 / len(i.options)
    p = float(chisquare(counts, expected * counts.sum() / expected.sum()).pvalue) if k > 1 else 1.0
    return {
        "counts": {LETTERS[j]: int(counts[j]) for j in range(k)},
        "max_deviation": round(float(np.max(np.abs(share - expected / expected.sum()))), 4),
        "chi2_p": round(p, 4),
    }


def inspect_items(items: Sequence[QAItem]) -> dict[str, Any]:
    """The report over ``items``: per family and overall (see the module docstring)."""
    if not items:
        raise InputError("the dataset holds no items")
    by_family: dict[str, list[QAItem]] = defaultdict(list)
    for item in items:
        by_family[item.family].append(item)
    families: dict[str, dict[str, Any]] = {}
    for name in sorted(by_family):
        fam = by_family[name]
        families[name] = {
            "items": len(fam),
            "spread": spread(fam),
            "near_duplicates": near_duplicates(fam),
            "templates": templates(fam),
            "letters": letters(fam),
            "baselines": baselines(fam),
        }
    flagged = sorted(
        f"{fam}:{b}"
        for fam, rep in families.items()
        for b, entry in rep["baselines"].items()
        if entry["flag"]
    )
    return {
        "items": len(items),
        "families": families,
        "overall": {"letters": letters(items), "baselines": baselines(items)},
        "baseline_margin": BASELINE_MARGIN,
        "flagged": flagged,
    }


def synth_folder(path: str | Path) -> Path | None:
    """The `medkg synth` folder ``path`` is (or whose ``items.jsonl`` it is): one holding
    ``manifest.json`` and ``items.jsonl``; ``None`` for any other dataset."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent if p.name == "items.jsonl" else None
    if folder is None or not (folder / "manifest.json").is_file():
        return None
    return folder if (folder / "items.jsonl").is_file() else None


def inspect_dataset(path: str | Path) -> dict[str, Any]:
    """Read a dataset (``items.jsonl`` or an export folder) and report on it."""
    from medkg.synthesis.export import read_items

    return {"dataset": str(path), **inspect_items(read_items(path))}


def inspect_if_synth(path: str | Path) -> dict[str, Any]:
    """:func:`inspect_dataset` of a `medkg synth` folder (or its ``items.jsonl``); ``{}`` for
    any other dataset (``"mmlu"`` included). The coverage audit's quality section."""
    folder = None if str(path) == "mmlu" else synth_folder(path)
    return inspect_dataset(folder) if folder is not None else {}


__all__ = [
    "BASELINE_MARGIN",
    "baselines",
    "inspect_dataset",
    "inspect_if_synth",
    "inspect_items",
    "synth_folder",
]
