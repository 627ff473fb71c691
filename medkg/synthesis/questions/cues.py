"""Choosing the phenotypes a vignette presents (shared by diagnosis, gene and chain).

A cue is a phenotype annotated to the disease (never NOT/Excluded, nor under such a
term), scored ``weight(frequency) * idf``: obligate and frequent findings first, and
findings few diseases share (``idf = log(N / diseases having it)``, HPO closure applied)
before common ones. Cues are drawn from the best-scored with seeded noise (so repeated
seeds vary), and never include a term together with its own ancestor. If a close
competitor (a top Jaccard neighbour) still has every cue, a cue it lacks is added: the
vignette discriminates.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet

import numpy as np

from medkg.kg.index import SynthesisGraph
from medkg.synthesis.distractors import similar_diseases
from medkg.synthesis.verify import negated_cue

MIN_FREQUENCY = 0.1  # findings known to occur in fewer patients are not presented
UNKNOWN_FREQUENCY_WEIGHT = 0.5


def cue_scores(g: SynthesisGraph, disease: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable cue rows of ``disease``, their scores and frequencies (NaN = unknown).
    Memoised per graph view (read-only arrays): every draw of a seed asks again."""
    memo = g._cache.setdefault("cues.scores", {})
    hit = memo.get(disease)
    if hit is None:
        hit = _cue_scores(g, disease)
        for a in hit:
            a.setflags(write=False)
        memo[disease] = hit
    return hit


def _cue_scores(g: SynthesisGraph, disease: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from medkg.synthesis.clinical import clinical_terms

    rows = g.dis_pheno.row(disease).astype(np.int64)
    freq = g.dis_pheno.values("freq", disease)
    ok = ~(freq < MIN_FREQUENCY) & clinical_terms(g)[rows]
    if g.dis_not.row(disease).size:
        ok &= np.array([not negated_cue(g, disease, int(p)) for p in rows], dtype=bool)
    rows, freq = rows[ok], freq[ok]
    n_dis = max(g.annotated_diseases, 2)
    df = np.maximum(g.closed_dis.degree()[rows], 1)
    idf = np.log(n_dis / df) / math.log(n_dis)
    weight = np.where(np.isnan(freq), UNKNOWN_FREQUENCY_WEIGHT, freq)
    return rows, weight * idf + 1e-9, freq


def _related(g: SynthesisGraph, a: int, chosen: list[int]) -> bool:
    return any(g.anc.has(a, c) or g.anc.has(c, a) for c in chosen)


def select_cues(
    g: SynthesisGraph,
    disease: int,
    k: int,
    rng: np.random.Generator,
    noise: float = 0.3,
    competitors: int = 8,
    max_extra: int = 2,
    near: np.ndarray | None = None,
    avoid: AbstractSet[str] | None = None,
) -> list[int]:
    """Up to ``k`` discriminative cues (plus at most ``max_extra`` to rule out close
    competitors); fewer when the disease has fewer usable phenotypes. Cues sharing a
    content word with ``avoid`` (the key's name and synonyms) are not used: they would
    name the answer in the stem."""
    rows, score, _ = cue_scores(g, disease)
    if avoid:
        keep = np.array([avoid.isdisjoint(name_words(g, r)) for r in rows.tolist()], bool)
        rows, score = rows[keep], score[keep]
    if rows.size == 0:
        return []
    key = np.log(score) + noise * rng.gumbel(size=score.size)
    order = rows[np.argsort(-key, kind="stable")]
    chosen: list[int] = []
    ordered = order.tolist()
    for p in ordered:
        if len(chosen) >= k:
            break
        if not _related(g, p, chosen):
            chosen.append(p)
    if len(chosen) < k or competitors <= 0:
        return chosen
    if near is None:
        near, _ = similar_diseases(g, disease, competitors)
    extra = 0
    closed, maybe = g.dis_closed, g.dis_maybe_closed
    for c in near[:competitors].tolist():
        if extra >= max_extra:
            break
        if not all(closed.has(c, p) for p in chosen):  # c lacks a cue already
            continue
        for p in ordered:  # the best-scored finding c lacks that is not related to a cue
            if p not in chosen and not maybe.has(c, p) and not _related(g, p, chosen):
                chosen.append(p)
                extra += 1
                break
    return chosen


def frequency_note(g: SynthesisGraph, disease: int, phenotype: int) -> str:
    """The annotation's frequency in HPO's own terms: the frequency term's name ("HPO:
    Frequent"), a cohort count ("in 3 of 4 reported patients") or a stated percentage;
    "frequency not annotated in HPO" when the source gives none."""
    text = g.freq_text.get(disease * g.n + phenotype)
    if not text:
        return "frequency not annotated in HPO"
    parts = []
    for t in text.split("; "):
        if t.startswith("HP:") and t in g.row_of:
            parts.append(f"HPO frequency {g.names[g.row_of[t]]}")
        elif "/" in t:
            k, _, m = t.partition("/")
            parts.append(f"in {k} of {m} reported patients")
        else:
            parts.append(f"{t} as annotated")
    return "; ".join(parts)


def name_words(g: SynthesisGraph, row: int) -> frozenset[str]:
    """Content words of a row's name (as ``synth inspect`` counts them), memoised per
    graph view: option and cue names recur across items."""
    memo = g._cache.setdefault("cues.name_words", {})
    hit = memo.get(row)
    if hit is None:
        from medkg.synthesis.inspect import content_words

        hit = memo[row] = frozenset(content_words(g.names[row]))
    return hit


def key_words(g: SynthesisGraph, row: int) -> frozenset[str]:
    """Content words of an entity's name and synonyms (what a stem must not contain),
    memoised per graph view."""
    memo = g._cache.setdefault("cues.key_words", {})
    hit = memo.get(row)
    if hit is None:
        from medkg.synthesis.inspect import content_words

        words = set(name_words(g, row))
        for name in g.synonyms[row] if row < len(g.synonyms) else []:
            words |= content_words(name)
        hit = memo[row] = frozenset(words)
    return hit
