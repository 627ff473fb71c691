"""Hard negatives from the graph: never random filler.

Each function returns candidate rows ranked hardest first, with a similarity in 0..1 that
feeds the item's difficulty. Families filter the candidates with the same validity
predicates the verifier uses (:mod:`medkg.synthesis.verify`) and reject the item with
``not_enough_distractors`` when too few remain.

* :func:`similar_diseases` — diseases sharing phenotypes, ranked by Jaccard over direct
  annotations, computed through the phenotype → disease inverse index (only the diseases
  that share at least one phenotype are touched, never all pairs);
* :func:`genes_of_similar_diseases` — genes of those diseases;
* :func:`hierarchy_neighbours` — IS_A siblings, then cousins (children of the parents'
  siblings), then MET siblings, with the ancestor-set Jaccard as similarity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medkg.kg.index import CSR, SynthesisGraph, gather_rows


def similar_diseases(
    g: SynthesisGraph, disease: int, limit: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` diseases sharing phenotypes with ``disease``, Jaccard descending
    (ties: row ascending, so the ranking is deterministic). Memoised per graph view: the
    diagnosis, gene and chain families ask again for the same seeds and answers; the
    arrays returned are read-only."""
    memo = g._cache.setdefault("similar.memo", {})
    hit = memo.get((disease, limit))
    if hit is None:
        hit = _similar_diseases(g, disease, limit)
        for a in hit:
            a.setflags(write=False)
        memo[(disease, limit)] = hit
    return hit


def _similar_diseases(g: SynthesisGraph, disease: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    ph = g.dis_pheno.row(disease)
    if ph.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    rows, local_of, sizes_of, inverse = _local_index(g)
    # intersection sizes by counting, in the compact space of annotated diseases
    row = inverse.row
    hits = np.concatenate([row(p) for p in ph.tolist()])
    inter_all = np.bincount(hits, minlength=rows.size)
    inter_all[local_of[disease]] = 0  # not its own neighbour
    local = inter_all.nonzero()[0]
    cand = rows[local]
    inter = inter_all[local]
    jac = inter / (ph.size + sizes_of[local] - inter)
    if jac.size > limit:  # partial sort first: only the best ``limit`` are ranked
        top = (-jac).argpartition(limit)[:limit]
        cand, jac = cand[top], jac[top]
    order = np.lexsort((cand, -jac))[:limit]
    return cand[order], jac[order]


def _local_index(g: SynthesisGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray, CSR]:
    """Annotated disease rows, row -> position in that array (-1: none), their annotation
    counts, and phenotype -> positions (built once)."""
    if "similar.local" not in g._cache:
        rows = np.flatnonzero(g.dis_pheno.degree() > 0)
        local_of = np.full(g.n, -1, dtype=np.int64)
        local_of[rows] = np.arange(rows.size)
        inv = g.pheno_dis
        g._cache["similar.local"] = (
            rows,
            local_of,
            g.dis_pheno.degree()[rows],
            CSR(inv.indptr, local_of[inv.indices]),
        )
    return g._cache["similar.local"]


def genes_of_similar_diseases(
    g: SynthesisGraph, dis: np.ndarray, jac: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Genes of the similar diseases ``dis`` (from :func:`similar_diseases`, hardest first);
    a gene's similarity is that of the most similar disease it is associated with."""
    counts = g.dis_gene.degree()[dis]
    genes = gather_rows(g.dis_gene, dis, counts)
    first = np.sort(np.unique(genes, return_index=True)[1])  # first occurrences, in order
    return genes[first], np.repeat(np.asarray(jac, dtype=float), counts)[first]


def ancestor_jaccard(g: SynthesisGraph, a: int, b: int) -> float:
    """Jaccard of the IS_A ancestor sets (itself included): 1 for identical positions."""
    ra, rb = _ancestor_set(g, a), _ancestor_set(g, b)
    inter = len(ra.intersection(rb))
    return inter / (len(ra) + len(rb) - inter) if ra or rb else 0.0


def _ancestor_set(g: SynthesisGraph, row: int) -> frozenset[int]:
    """A row's IS_A ancestors, itself included, as a set (cached per graph view)."""
    memo = g._cache.setdefault("distractors.ancestors", {})
    hit = memo.get(row)
    if hit is None:
        hit = memo[row] = frozenset(g.anc.row(row).tolist())
    return hit


def hierarchy_neighbours(g: SynthesisGraph, row: int, limit: int = 40) -> np.ndarray:
    """IS_A siblings of ``row``, then cousins, then MET siblings; same kind, not obsolete,
    never ``row`` itself nor one of its ancestors or descendants. Hardest first.
    Memoised per graph view (a read-only array)."""
    memo = g._cache.setdefault("neighbours.memo", {})
    hit = memo.get((row, limit))
    if hit is None:
        hit = memo[(row, limit)] = _hierarchy_neighbours(g, row, limit)
        hit.setflags(write=False)
    return hit


def _hierarchy_neighbours(g: SynthesisGraph, row: int, limit: int) -> np.ndarray:
    kind = g.kind[row]
    seen = {row}
    out: list[int] = []
    parents = g.parents.row(row).tolist()
    grand = [gp for p in parents for gp in g.parents.row(p).tolist()]
    tiers = [
        [c for p in parents for c in g.children.row(p).tolist()],
        [
            c
            for gp in grand
            for s in g.children.row(gp).tolist()
            for c in g.children.row(s).tolist()
        ],
    ]
    mp = int(g.met_parent[row])
    if mp >= 0:
        tiers.append(g.met_children.row(mp).tolist())
    for tier in tiers:
        for c in sorted(set(tier) - seen):
            seen.add(c)
            if g.kind[c] != kind or g.obsolete[c]:
                continue
            if g.anc.has(row, c) or g.anc.has(c, row):
                continue
            out.append(c)
            if len(out) >= limit:
                return np.asarray(out, dtype=np.int64)
    return np.asarray(out, dtype=np.int64)


MIN_KEYS = 2
KEY_RATE_SLACK = 1.5


class OptionBalance:
    """How often each entity was shown as the key and as a distractor in one family.

    :func:`pick` prefers distractors that have been the key more often than a distractor,
    so that, across a dataset, an option's past role says nothing about its present one
    (the "answer prior" baseline of :mod:`medkg.synthesis.inspect` stays at chance)."""

    def __init__(self) -> None:
        self.key: dict[int, int] = {}
        self.shown: dict[int, int] = {}

    def weight(self, row: int) -> float:
        """How much a distractor is wanted: its key count against its distractor count."""
        k, d = self.key.get(row, 0), self.shown.get(row, 0)
        return ((1.0 + k) / (1.0 + d)) ** 2

    def overused(self, row: int, n_options: int) -> bool:
        """``row`` has been the key in more than ``KEY_RATE_SLACK / n_options`` of its
        appearances (after ``MIN_KEYS`` keys): another key would make its role guessable."""
        k, d = self.key.get(row, 0), self.shown.get(row, 0)
        return k >= MIN_KEYS and (k + 1) / (k + d + 1) > KEY_RATE_SLACK / n_options

    def owes(self, row: int, n_options: int) -> bool:
        """``row`` has been the key ``MIN_KEYS`` times or more and shown as a distractor
        fewer than ``n_options - 1`` times per key: it owes distractor appearances, without
        which its past keys single it out as the answer when it comes back as the key."""
        k = self.key.get(row, 0)
        return k >= MIN_KEYS and k * (n_options - 1) > self.shown.get(row, 0)

    def record(self, answer: int, distractors: list[int]) -> None:
        self.key[answer] = self.key.get(answer, 0) + 1
        for d in distractors:
            self.shown[d] = self.shown.get(d, 0) + 1


def _any_related(checks: list[Callable[[int], bool]], c: int) -> bool:
    for check in checks:  # noqa: SIM110 - a plain loop: cheaper than any() over a generator
        if check(c):
            return True
    return False


def pick(
    candidates: np.ndarray,
    scores: np.ndarray,
    k: int,
    rng: np.random.Generator,
    ok: Callable[[int], bool],
    shown: list[int],
    g: SynthesisGraph,
    pool_factor: int = 2,
    *,
    balance: OptionBalance | None = None,
    strict: bool = True,
) -> tuple[list[int], list[float]]:
    """Choose ``k`` candidates that pass ``ok`` and are not the same entity (id, MAPS_TO
    link or name) as anything in ``shown``; with ``strict`` (the default) not clinically
    related to it either (a subtype, supertype or numbered sibling, see
    :func:`medkg.synthesis.clinical.related`). Sampled without replacement from the
    hardest ``pool_factor * k`` valid ones, so items vary but stay hard; with ``balance``,
    in proportion to :meth:`OptionBalance.weight`. Fewer than ``k`` back means there were
    not enough hard negatives."""
    from medkg.synthesis.clinical import related_to, with_equivalents

    checks = [related_to(g, t) for t in shown] if strict else []
    valid: list[int] = []
    valid_scores: list[float] = []
    # g.equivalent(c, t) for any taken t, as set look-ups: the same row, the same name
    # (every taken name is in ``names``) or a MAPS_TO link from c to a taken row
    taken = set(shown)
    names = {g.names_lower[s] for s in shown}
    for c, s in zip(candidates.tolist(), scores.tolist(), strict=True):
        if len(valid) >= pool_factor * k:
            break
        if c in taken or g.names_lower[c] in names:
            continue
        if not taken.isdisjoint(with_equivalents(g, c)):
            continue
        if not ok(c):
            continue
        if strict and _any_related(checks, c):
            continue
        valid.append(c)
        valid_scores.append(s)
        taken.add(c)
        names.add(g.names_lower[c])
    if len(valid) <= k:
        return valid, valid_scores
    if balance is None:
        chosen = np.sort(rng.choice(len(valid), size=k, replace=False))
    else:
        w = np.array([balance.weight(c) for c in valid])
        chosen = np.sort(rng.choice(len(valid), size=k, replace=False, p=w / w.sum()))
    return [valid[i] for i in chosen], [valid_scores[i] for i in chosen]
