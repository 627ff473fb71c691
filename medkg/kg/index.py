"""Integer-indexed array views of a :class:`~medkg.kg.model.KnowledgeGraph` for synthesis.

Question families and the verifier run thousands of look-ups per second; they never
filter polars tables per item. :meth:`SynthesisGraph.from_kg` builds, once and vectorised,
CSR adjacency arrays over node rows (row ``i`` = ``kg.nodes`` row ``i``):

* ``dis_pheno`` — disease → phenotype, non-negated HPO annotations (one entry per pair,
  with the highest known ``frequency_value``, NaN if unknown, and an onset row or -1);
  ``dis_not`` — the negated ("NOT") annotations, plus those with frequency "Excluded (0%)";
* ``pheno_dis`` — the inverse index of ``dis_pheno`` (for Jaccard neighbours);
* ``anc`` — IS_A ancestor closure of every node, itself included (a DAG: all parents);
* ``dis_closed`` / ``closed_dis`` — what a disease "has" once the HPO hierarchy is taken
  into account: every ancestor of an annotated phenotype (a disease annotated with
  *Arachnodactyly* has *Abnormality of the hand*), and its inverse;
* ``gene_dis`` / ``dis_gene``, ``parents`` / ``children`` (IS_A), ``equiv`` (MAPS_TO,
  undirected), ``course`` (HAS_CLINICAL_COURSE);
* an edge-key index to check that a path's edges exist.

The rows stay aligned with ``kg.nodes``, so a sampler's mask over ``kg.nodes`` is a mask
here too.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from medkg.kg.model import (
    GENE_ASSOCIATED_WITH,
    HAS_CLINICAL_COURSE,
    HAS_INHERITANCE,
    HAS_PHENOTYPE,
    IS_A,
    MAPS_TO,
    KnowledgeGraph,
)

ONSET_ROOT = "HP:0003674"  # HPO "Onset": the clinical-course terms that name an age of onset
PHENOTYPIC_ABNORMALITY = "HP:0000118"


class CSR:
    """Compressed sparse rows: ``indices[indptr[i]:indptr[i+1]]`` are row ``i``'s targets,
    sorted ascending; ``data`` (optional) holds one value per entry. Look-ups use array
    methods directly (no NumPy function wrappers): they run thousands of times per item."""

    __slots__ = ("_deg", "_ptr", "data", "indices", "indptr")

    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, data: dict[str, np.ndarray] | None = None
    ) -> None:
        self.indptr = indptr
        self.indices = indices
        self.data = data or {}
        self._deg = np.diff(indptr)
        self._ptr = indptr.tolist()  # Python ints: slicing with them is faster

    @classmethod
    def from_pairs(
        cls,
        src: np.ndarray,
        dst: np.ndarray,
        n: int,
        data: dict[str, np.ndarray] | None = None,
    ) -> CSR:
        """Rows from (src, dst) pairs; pairs must already be unique if ``data`` is given."""
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        order = np.lexsort((dst, src))
        counts = np.bincount(src, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        values = {k: np.asarray(v)[order] for k, v in (data or {}).items()}
        return cls(indptr, dst[order].astype(np.int64), values)

    @classmethod
    def unique_pairs(cls, src: np.ndarray, dst: np.ndarray, n: int) -> CSR:
        key = np.unique(np.asarray(src, dtype=np.int64) * n + np.asarray(dst, dtype=np.int64))
        return cls.from_pairs(key // n, key % n, n)

    def row(self, i: int) -> np.ndarray:
        return self.indices[self._ptr[i] : self._ptr[i + 1]]

    def values(self, name: str, i: int) -> np.ndarray:
        return self.data[name][self._ptr[i] : self._ptr[i + 1]]

    def degree(self) -> np.ndarray:
        return self._deg

    def size(self, i: int) -> int:
        return self._ptr[i + 1] - self._ptr[i]

    def has(self, i: int, j: int) -> bool:
        lo, hi = self._ptr[i], self._ptr[i + 1]
        if lo == hi:
            return False
        k = lo + int(self.indices[lo:hi].searchsorted(j))
        return k < hi and int(self.indices[k]) == j

    def contains(self, i: int, js: np.ndarray) -> np.ndarray:
        """Bool mask: which of ``js`` are in row ``i``."""
        r = self.row(i)
        js = np.asarray(js)
        if r.size == 0:
            return np.zeros(js.size, dtype=bool)
        k = r.searchsorted(js)
        k[k >= r.size] = r.size - 1
        return r[k] == js

    def transpose(self, n: int) -> CSR:
        src = np.repeat(np.arange(self.indptr.size - 1, dtype=np.int64), self._deg)
        return CSR.from_pairs(self.indices, src, n)

    @property
    def nnz(self) -> int:
        return int(self.indices.size)

    def pair_keys(self) -> np.ndarray:
        """One int64 key ``row * n + col`` per entry (sorted, since rows are)."""
        n = self.indptr.size - 1
        return np.repeat(np.arange(n, dtype=np.int64), self._deg) * n + self.indices

    def drop_entries(self, drop: np.ndarray) -> CSR:
        n = self.indptr.size - 1
        keys = self.pair_keys()[~drop]
        data = {k: v[~drop] for k, v in self.data.items()}
        return CSR.from_pairs(keys // n, keys % n, n, data)


@dataclass
class SynthesisGraph:
    """Array views of one graph snapshot; build with :meth:`from_kg`."""

    ids: list[str]
    names: list[str]
    names_lower: list[str]
    kind: np.ndarray  # int code per row, see kind_codes
    kind_codes: dict[str, int]
    rare: np.ndarray
    obsolete: np.ndarray
    met_parent: np.ndarray  # row of the MET primary parent, -1 at the root / when absent
    depth: np.ndarray
    row_of: dict[str, int]
    rel_codes: dict[str, int]
    edge_keys: np.ndarray  # sorted int64 keys of (src, rel, dst), see edge_key
    parents: CSR
    children: CSR
    anc: CSR  # IS_A ancestors, self included
    dis_pheno: CSR  # data: freq (NaN unknown), onset (row or -1)
    dis_not: CSR
    pheno_dis: CSR
    dis_closed: CSR
    closed_dis: CSR
    dis_maybe: CSR  # direct annotations incl. those seen in 0 of n patients (not explicit NOT)
    dis_maybe_closed: CSR  # ... with the HPO closure: for distractor safety
    maybe_closed_dis: CSR
    gene_dis: CSR
    dis_gene: CSR
    equiv: CSR
    course: CSR
    onset_term: np.ndarray  # bool: a descendant of HPO "Onset"
    content_hash: str
    source_versions: dict[str, str]
    synonyms: list[list[str]] = field(default_factory=list)  # per row, exact synonyms
    inheritance: CSR | None = None  # disease -> mode of inheritance (HAS_INHERITANCE)
    freq_text: dict[int, str] = field(default_factory=dict)  # disease*n+pheno -> source text
    timings: dict[str, float] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_kg(cls, kg: KnowledgeGraph, content_hash: str | None = None) -> SynthesisGraph:
        """Build every view from the node and edge tables (vectorised).

        ``content_hash`` defaults to ``kg.content_hash()`` (a hash over the canonical
        tables, about a second on the bundled graph); pass it when the caller has it.
        """
        import time

        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        nodes = kg.nodes
        n = nodes.height
        ids: list[str] = nodes.get_column("id").to_list()
        names = [nm or i for nm, i in zip(nodes.get_column("name").to_list(), ids, strict=True)]
        kinds = nodes.get_column("kind").fill_null("")
        kind_list = sorted(set(kinds.unique().to_list()))
        kind_codes = {k: c for c, k in enumerate(kind_list)}
        kind = kinds.replace_strict(kind_codes, return_dtype=pl.Int8).to_numpy()
        obsolete = nodes.get_column("obsolete").fill_null(False).to_numpy()
        if "rare" in nodes.columns:
            rare = nodes.get_column("rare").fill_null(False).to_numpy()
        else:
            rare = np.zeros(n, dtype=bool)
        row_of = {x: i for i, x in enumerate(ids)}
        index = pl.DataFrame({"id": ids, "row": np.arange(n, dtype=np.int64)})
        if "met_parent" in nodes.columns:
            met_parent = (
                nodes.select(pl.col("met_parent").alias("id"))
                .join(index, on="id", how="left", maintain_order="left")
                .get_column("row")
                .fill_null(-1)
                .to_numpy()
                .astype(np.int64)
            )
            depth = nodes.get_column("depth").fill_null(-1).to_numpy().astype(np.int32)
        else:
            met_parent = np.full(n, -1, dtype=np.int64)
            depth = np.full(n, -1, dtype=np.int32)

        edges = (
            kg.edges.select("src", "rel", "dst", "negated", "frequency", "frequency_value", "onset")
            .join(index.rename({"id": "src", "row": "s"}), on="src", how="inner")
            .join(index.rename({"id": "dst", "row": "d"}), on="dst", how="inner")
            .join(index.rename({"id": "onset", "row": "o"}), on="onset", how="left")
        )
        rel_list = sorted(edges.get_column("rel").unique().to_list())
        rel_codes = {r: c for c, r in enumerate(rel_list)}
        s_all = edges.get_column("s").to_numpy()
        d_all = edges.get_column("d").to_numpy()
        r_all = edges.get_column("rel").replace_strict(rel_codes, return_dtype=pl.Int64).to_numpy()
        edge_keys = np.unique((s_all * len(rel_list) + r_all) * n + d_all)
        timings["tables"] = time.perf_counter() - t0

        def pairs(rel: str) -> tuple[np.ndarray, np.ndarray]:
            mask = r_all == rel_codes[rel] if rel in rel_codes else np.zeros(s_all.size, bool)
            return s_all[mask], d_all[mask]

        t = time.perf_counter()
        ps, pd = pairs(IS_A)
        parents = CSR.unique_pairs(ps, pd, n)
        children = CSR.unique_pairs(pd, ps, n)
        anc = _ancestor_closure(parents, n)
        timings["is_a_closure"] = time.perf_counter() - t

        t = time.perf_counter()
        hp = edges.filter(pl.col("rel") == HAS_PHENOTYPE)
        neg = hp.get_column("negated").fill_null(False).to_numpy()
        fv = hp.get_column("frequency_value").fill_null(np.nan).to_numpy()
        excluded = neg | (fv == 0.0)  # HPO "Excluded (0%)" reads as NOT
        hs = hp.get_column("s").to_numpy()
        hd = hp.get_column("d").to_numpy()
        onset = hp.get_column("o").fill_null(-1).to_numpy()
        dis_not = CSR.unique_pairs(hs[excluded], hd[excluded], n)
        dis_pheno = _aggregate_annotations(hs[~excluded], hd[~excluded], fv[~excluded],
                                           onset[~excluded], n)  # fmt: skip
        # A pair annotated both ways (rare, conflicting sources) is not a usable positive.
        both = sorted_isin(dis_pheno.pair_keys(), dis_not.pair_keys())
        if both.any():
            dis_pheno = dis_pheno.drop_entries(both)
        pheno_dis = dis_pheno.transpose(n)
        dis_closed = _closed_annotations(dis_pheno, anc, n)
        closed_dis = dis_closed.transpose(n)
        # "May have": positives plus annotations seen in 0 of n patients of one cohort (not an
        # explicit NOT). Never enough to make a cue, but enough to make a distractor unsafe.
        zero = (fv == 0.0) & ~neg
        maybe = CSR.unique_pairs(
            np.concatenate([hs[~excluded], hs[zero]]), np.concatenate([hd[~excluded], hd[zero]]), n
        )
        explicit_not = CSR.unique_pairs(hs[neg], hd[neg], n)
        clash = sorted_isin(maybe.pair_keys(), explicit_not.pair_keys())
        if clash.any():
            maybe = maybe.drop_entries(clash)
        freq_text = _frequency_texts(hp.filter(pl.Series(~excluded)), n)
        dis_maybe_closed = _closed_annotations(maybe, anc, n)
        maybe_closed_dis = dis_maybe_closed.transpose(n)
        timings["annotations"] = time.perf_counter() - t

        t = time.perf_counter()
        gs, gd = pairs(GENE_ASSOCIATED_WITH)
        gene_dis = CSR.unique_pairs(gs, gd, n)
        dis_gene = CSR.unique_pairs(gd, gs, n)
        ms, md = pairs(MAPS_TO)
        equiv = CSR.unique_pairs(np.concatenate([ms, md]), np.concatenate([md, ms]), n)
        cs, cd = pairs(HAS_CLINICAL_COURSE)
        course = CSR.unique_pairs(cs, cd, n)
        inheritance = CSR.unique_pairs(*pairs(HAS_INHERITANCE), n)
        if "synonyms" in nodes.columns:
            synonyms = [list(x or []) for x in nodes.get_column("synonyms").to_list()]
        else:
            synonyms = [[] for _ in range(n)]
        onset_term = np.zeros(n, dtype=bool)
        if ONSET_ROOT in row_of:
            onset_term = _has_ancestor(anc, row_of[ONSET_ROOT], n)
            onset_term[row_of[ONSET_ROOT]] = False
        timings["other"] = time.perf_counter() - t
        timings["total_views"] = time.perf_counter() - t0
        t = time.perf_counter()
        chash = content_hash if content_hash is not None else kg.content_hash()
        timings["content_hash"] = time.perf_counter() - t
        return cls(
            ids=ids,
            names=names,
            names_lower=[x.lower() for x in names],
            kind=kind,
            kind_codes=kind_codes,
            rare=rare,
            obsolete=obsolete,
            met_parent=met_parent,
            depth=depth,
            row_of=row_of,
            rel_codes=rel_codes,
            edge_keys=edge_keys,
            parents=parents,
            children=children,
            anc=anc,
            dis_pheno=dis_pheno,
            dis_not=dis_not,
            pheno_dis=pheno_dis,
            dis_closed=dis_closed,
            closed_dis=closed_dis,
            dis_maybe=maybe,
            dis_maybe_closed=dis_maybe_closed,
            maybe_closed_dis=maybe_closed_dis,
            gene_dis=gene_dis,
            dis_gene=dis_gene,
            equiv=equiv,
            course=course,
            onset_term=onset_term,
            content_hash=chash,
            source_versions=kg.source_versions(),
            synonyms=synonyms,
            inheritance=inheritance,
            freq_text=freq_text,
            timings=timings,
        )

    # ------------------------------------------------------------------ look-ups
    @property
    def n(self) -> int:
        return len(self.ids)

    def is_kind(self, kind: str) -> np.ndarray:
        """Bool mask of rows of one kind (all False for a kind the graph lacks)."""
        code = self.kind_codes.get(kind)
        if code is None:
            return np.zeros(self.n, dtype=bool)
        return self.kind == code

    def kind_of(self, row: int) -> str:
        return self.kind_names[int(self.kind[row])]

    @property
    def kind_names(self) -> list[str]:
        return sorted(self.kind_codes, key=self.kind_codes.__getitem__)

    def row(self, node_id: str) -> int:
        return self.row_of[node_id]

    def edge_key(self, src: int, rel: str, dst: int) -> int:
        code = self.rel_codes.get(rel, -1)
        return (src * len(self.rel_codes) + code) * self.n + dst

    def has_edge(self, src: int, rel: str, dst: int) -> bool:
        """True if the graph has ``src -rel-> dst``."""
        if rel not in self.rel_codes:
            return False
        key = self.edge_key(src, rel, dst)
        k = int(self.edge_keys.searchsorted(key))
        return k < self.edge_keys.size and int(self.edge_keys[k]) == key

    def has_phenotype(self, disease: int, phenotypes: np.ndarray) -> np.ndarray:
        """Which ``phenotypes`` the disease has, directly or through an annotated descendant."""
        return self.dis_closed.contains(disease, np.asarray(phenotypes))

    def may_have_phenotype(self, disease: int, phenotypes: np.ndarray) -> np.ndarray:
        """Like :meth:`has_phenotype`, also counting annotations seen in 0 of n patients
        (conservative: what a distractor must not have)."""
        return self.dis_maybe_closed.contains(disease, np.asarray(phenotypes))

    def diseases_with_all(self, phenotypes: Sequence[int], *, maybe: bool = False) -> np.ndarray:
        """Rows of every disease that has all ``phenotypes`` (HPO closure applied), sorted.

        ``maybe=True`` also counts annotations seen in 0 of n patients: the conservative
        set a distractor must stay out of."""
        index = self.maybe_closed_dis if maybe else self.closed_dis
        rows = [index.row(p) for p in phenotypes]
        if not rows:
            return np.zeros(0, dtype=np.int32)
        rows.sort(key=len)
        out = rows[0]
        for r in rows[1:]:
            if out.size == 0:
                break
            out = out[sorted_isin(out, r)]
        return out

    def is_ancestor(self, a: int, b: int) -> bool:
        """True if ``a`` is ``b`` or an IS_A ancestor of ``b``."""
        return self.anc.has(b, a)

    def descendants_mask(self, a: int) -> np.ndarray:
        """Bool mask over rows: ``a`` and every IS_A descendant of ``a`` (one pass over
        the ancestor closure, not a walk)."""
        return _has_ancestor(self.anc, a, self.n)

    def equivalent(self, a: int, b: int) -> bool:
        """Same entity for a reader: same row, a MAPS_TO link or the same name."""
        return a == b or self.names_lower[a] == self.names_lower[b] or self.equiv.has(a, b)

    @property
    def annotated_diseases(self) -> int:
        """How many diseases have at least one phenotype annotation."""
        if "annotated_diseases" not in self._cache:
            self._cache["annotated_diseases"] = int((self.dis_pheno.degree() > 0).sum())
        return self._cache["annotated_diseases"]

    @property
    def met_children(self) -> CSR:
        """Children in the medical entity tree (inverse of ``met_parent``), built on first use."""
        if "met_children" not in self._cache:
            rows = np.flatnonzero(self.met_parent >= 0)
            self._cache["met_children"] = CSR.from_pairs(self.met_parent[rows], rows, self.n)
        return self._cache["met_children"]

    def branches(self, scheme: str) -> np.ndarray:
        """Sorted rows of the top-level branches of one classification scheme.

        Schemes (see :data:`BRANCH_SCHEMES`): ``icd10_chapter`` (IS_A roots of ICD-10),
        ``mesh_disease_category`` (children of MeSH ``C``), ``hpo_organ_system`` (children
        of *Phenotypic abnormality*). Empty when the graph lacks the scheme.
        """
        key = f"branches:{scheme}"
        if key not in self._cache:
            self._cache[key] = BRANCH_SCHEMES[scheme].rows(self)
        return self._cache[key]

    def provenance(self) -> dict[str, Any]:
        return {"graph_hash": self.content_hash, "source_versions": dict(self.source_versions)}


@dataclass(frozen=True)
class BranchScheme:
    """Top-level branches of a classification: children of ``parent``, or, with
    ``parent=None``, the IS_A roots among ids starting with ``prefix`` that have children."""

    label: str
    prefix: str
    parent: str | None

    def rows(self, g: SynthesisGraph) -> np.ndarray:
        if self.parent is not None:
            if self.parent not in g.row_of:
                return np.zeros(0, dtype=np.int32)
            return np.sort(g.children.row(g.row_of[self.parent]))
        has_prefix = np.fromiter((i.startswith(self.prefix) for i in g.ids), bool, g.n)
        roots = (g.parents.degree() == 0) & (g.children.degree() > 0) & has_prefix
        return np.flatnonzero(roots).astype(np.int32)


BRANCH_SCHEMES: dict[str, BranchScheme] = {
    "icd10_chapter": BranchScheme("ICD-10 chapter", "ICD10:", None),
    "mesh_disease_category": BranchScheme("MeSH disease category", "MESH:", "MESH:C"),
    "hpo_organ_system": BranchScheme("HPO organ system", "HP:", PHENOTYPIC_ABNORMALITY),
}


# ---------------------------------------------------------------------- helpers
def sorted_isin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.isin`` for sorted ``b`` (searchsorted; fast for small ``a``)."""
    if b.size == 0:
        return np.zeros(a.size, dtype=bool)
    k = b.searchsorted(a)
    k[k >= b.size] = b.size - 1
    return b[k] == a


def _ancestor_closure(parents: CSR, n: int) -> CSR:
    """Every node's IS_A ancestors (itself included), by frontier expansion over the DAG."""
    deg = parents.degree()
    nodes = np.arange(n, dtype=np.int64)
    known = nodes * n + nodes  # self pairs
    src = np.repeat(nodes, deg)
    dst = parents.indices.astype(np.int64)
    front = np.unique(src * n + dst)
    known = np.union1d(known, front)
    while front.size:
        fs, fp = front // n, front % n
        k = deg[fp]
        nxt = np.unique(np.repeat(fs, k) * n + _gather_rows(parents, fp, k))
        front = nxt[~sorted_isin(nxt, known)]
        known = np.union1d(known, front)
    return CSR.from_pairs(known // n, known % n, n)


def _gather_rows(csr: CSR, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``csr.row(r)`` for each r in ``rows`` (vectorised)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = csr.indptr[rows]
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return csr.indices[np.repeat(starts, counts) + offsets].astype(np.int64)


def _aggregate_annotations(
    s: np.ndarray, d: np.ndarray, fv: np.ndarray, onset: np.ndarray, n: int
) -> CSR:
    """One entry per (disease, phenotype): highest known frequency, first known onset."""
    key = s.astype(np.int64) * n + d
    order = np.lexsort((-np.nan_to_num(fv, nan=-1.0), key))
    key, fv, onset = key[order], fv[order], onset[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    # onset: the largest row among duplicates (-1 only if none known)
    starts = np.flatnonzero(first)
    best_onset = np.maximum.reduceat(onset, starts) if starts.size else onset[:0]
    return CSR.from_pairs(
        key[first] // n, key[first] % n, n, {"freq": fv[first], "onset": best_onset}
    )


def _frequency_texts(hp: pl.DataFrame, n: int) -> dict[int, str]:
    """The source's own frequency text per annotated pair (``s * n + d``): an HPO frequency
    term id or ``n/m``/``x%`` as written; several annotations of a pair joined by "; "."""
    rows = (
        hp.filter(pl.col("frequency").is_not_null())
        .select((pl.col("s") * n + pl.col("d")).alias("key"), "frequency")
        .unique()
        .sort("key", "frequency")
        .group_by("key", maintain_order=True)
        .agg(pl.col("frequency").str.join("; "))
    )
    return dict(zip(rows.get_column("key").to_list(), rows.get_column("frequency").to_list(),
                    strict=True))  # fmt: skip


# id(graph) -> (weak reference to the graph, its node and edge tables, their index)
_INDEXES: dict[int, tuple[Any, pl.DataFrame, pl.DataFrame, SynthesisGraph]] = {}


def graph_index(kg: KnowledgeGraph, content_hash: str | None = None) -> SynthesisGraph:
    """The integer index of ``kg``'s current snapshot, built once and shared.

    The index is reused while ``kg.nodes`` and ``kg.edges`` are the same table objects
    (medkg replaces tables, it never edits them in place) and forgotten with the graph.
    ``content_hash`` as for :meth:`SynthesisGraph.from_kg`: ``None`` computes it, ``""``
    says the caller does not need it (any cached index will do), a value is taken as is.
    """
    entry = _INDEXES.get(id(kg))
    if entry is not None and entry[0]() is kg and entry[1] is kg.nodes and entry[2] is kg.edges:
        index = entry[3]
        if (
            content_hash == ""
            or content_hash == index.content_hash
            or (content_hash is None and index.content_hash)
        ):
            return index
    fresh = entry is None or entry[0]() is not kg
    index = SynthesisGraph.from_kg(kg, content_hash)
    _INDEXES[id(kg)] = (weakref.ref(kg), kg.nodes, kg.edges, index)
    if fresh:
        weakref.finalize(kg, _INDEXES.pop, id(kg), None)
    return index


def _closed_annotations(dis_pheno: CSR, anc: CSR, n: int) -> CSR:
    deg = dis_pheno.degree()
    src = np.repeat(np.arange(n, dtype=np.int64), deg)
    ph = dis_pheno.indices.astype(np.int64)
    k = anc.degree()[ph]
    keys = np.unique(np.repeat(src, k) * n + _gather_rows(anc, ph, k))
    return CSR.from_pairs(keys // n, keys % n, n)


def _has_ancestor(anc: CSR, a: int, n: int) -> np.ndarray:
    src = np.repeat(np.arange(n, dtype=np.int64), anc.degree())
    mask = np.zeros(n, dtype=bool)
    mask[src[anc.indices == a]] = True
    return mask
