"""What a clinician would dispute in a key: related options, non-causal genes, odd terms.

* :func:`related` - two entities a reader could not hold apart as "the answer" and "a wrong
  option": the same entity (same row, MAPS_TO, same name), one a subtype or supertype of
  the other (IS_A either way, also through their MAPS_TO equivalents), or the same
  **name core** - the name without numbering and designators, compared as a word set
  ("Malignant hyperthermia susceptibility 5" ~ "... 1"; "Diabetes mellitus, transient
  neonatal, 1" ~ "Transient neonatal diabetes mellitus"), a core inside the other ("Von
  Willebrand disease" ⊂ "von Willebrand disease, type 3"), or a one-word core that is the
  other's acronym or one of its synonyms' cores ("vWD type 1" ~ "von Willebrand disease").
* :func:`causal_gene_links` - the gene-disease links fit to be a key of gene and chain
  items: not a susceptibility/association entry by its name (OMIM's ``{...}``/``[...]``,
  "susceptibility", "resistance to", "protection against", "modifier of", "somatic",
  "quantitative trait"), not a disease whose only inheritance is multifactorial, and
  not a gene that is a susceptibility locus elsewhere where the disease has another gene
  that is not (CJD: PRNP causal, HLA-DQB1 not).
* :func:`clinical_terms` - HPO terms that may be a cue or a key: under *Phenotypic
  abnormality*, two levels below the organ systems or deeper (depth >= 3: not
  "Abnormality of the nervous system" nor "Abnormal nervous system physiology"), and
  not about the delivery itself
  (*Abnormal delivery*, e.g. "Vaginal birth after Caesarian").
* :func:`disease_like` - disease rows whose name reads as a disease, not as a trait, a
  lab level or a susceptibility ("Immunoglobulin D level in plasma, low"), so "a
  characteristic feature of X" makes sense.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from medkg.kg.index import CSR, PHENOTYPIC_ABNORMALITY, SynthesisGraph

ABNORMAL_DELIVERY = "HP:0001787"
MULTIFACTORIAL = "HP:0001426"
MIN_TERM_DEPTH = 3  # Phenotypic abnormality = 0, organ systems = 1

ASSOCIATION_NAME = re.compile(
    r"susceptib|\{|\[|resistance to|protection against|modifier of|\bsomatic\b|"
    r"quantitative trait|\bqtl\b",
    re.IGNORECASE,
)
NOT_A_DISEASE_NAME = re.compile(
    r"\blevels?\b|\bquantitative trait|\bqtl\b|blood group|polymorphism|\btrait\b|"
    r"susceptib|resistance to|protection against|\bvariation in\b|^\{|^\[",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[0-9a-z]+")
_NUMBERED = re.compile(r"[0-9]+[a-z]")
_ROMAN = re.compile(r"^(?=[ivx]+$)x{0,3}(ix|iv|v?i{0,3})$")
DESIGNATORS = frozenset(
    [
        "type",
        "types",
        "subtype",
        "form",
        "forms",
        "group",
        "groups",
        "class",
        "variant",
        "complementation",
        "susceptibility",
        "to",
        "with",
        "autosomal",
        "dominant",
        "recessive",
        "linked",
        "x",
        "y",
        "the",
        "of",
        "and",
        "due",
        "a",
        "an",
        "in",
        "familial",
        "isolated",
    ]
)


@lru_cache(maxsize=200_000)
def name_core(name: str) -> frozenset[str]:
    """The words of a name that say what it is, without numbering and designators."""
    words = _TOKEN.findall(name.lower().replace("'s", ""))
    out = set()
    for w in words:
        if w in DESIGNATORS or w.isdigit() or _ROMAN.match(w):
            continue
        if _NUMBERED.fullmatch(w):  # 1a, 5c, 13q (but "3mc" of "3MC syndrome" is a word)
            continue
        if len(w) == 1:
            continue
        out.add(w)
    return frozenset(out)


def acronym(name: str) -> str:
    """Initials of a name's words, "von Willebrand disease" -> "vwd"."""
    return "".join(w[0] for w in _TOKEN.findall(name.lower()) if w not in {"of", "and", "the"})


def _cores(g: SynthesisGraph, row: int) -> list[frozenset[str]]:
    cache = g._cache.setdefault("clinical.cores", {})
    hit = cache.get(row)
    if hit is None:
        names = [g.names[row], *(g.synonyms[row] if row < len(g.synonyms) else [])]
        hit = [c for c in {name_core(x) for x in names} if c]
        cache[row] = hit
    return hit


def _words(g: SynthesisGraph, row: int) -> tuple[frozenset[str], tuple[str, ...]]:
    """A name's words as a set, with its numbers in order ("1.2" is not "2.1")."""
    cache = g._cache.setdefault("clinical.words", {})
    hit = cache.get(row)
    if hit is None:
        tokens = _TOKEN.findall(g.names_lower[row])
        hit = (
            frozenset(t for t in tokens if not t.isdigit()),
            tuple(t for t in tokens if t.isdigit()),
        )
        cache[row] = hit
    return hit


def _acronyms(g: SynthesisGraph, row: int) -> set[str]:
    cache = g._cache.setdefault("clinical.acronyms", {})
    hit = cache.get(row)
    if hit is None:
        names = [g.names[row], *(g.synonyms[row] if row < len(g.synonyms) else [])]
        hit = {acronym(" ".join(sorted(name_core(x), key=x.lower().find))) for x in names} - {""}
        cache[row] = hit
    return hit


TYPED = re.compile(r"\b(type|subtype|susceptibility|group|form)\b", re.IGNORECASE)


def _name_sig(
    g: SynthesisGraph, row: int
) -> tuple[frozenset[str], frozenset[str], frozenset[str], bool]:
    """Per row, cached: (words of every core, one-word cores' words, acronyms, typed).

    Two rows can only share or nest cores when their core words meet, so these sets let
    :func:`names_related` answer most pairs with two C-level set intersections."""
    cache = g._cache.setdefault("clinical.name_sig", {})
    hit = cache.get(row)
    if hit is None:
        cores = _cores(g, row)
        hit = (
            frozenset().union(*cores),
            frozenset(next(iter(c)) for c in cores if len(c) == 1),
            frozenset(_acronyms(g, row)),
            bool(TYPED.search(g.names[row])),
        )
        cache[row] = hit
    return hit


def names_related(g: SynthesisGraph, a: int, b: int) -> bool:
    """Same name core, one core inside the other, or a one-word core that is the other's
    acronym (names and synonyms of both). A one-word core ("hemophilia", "syndrome") is
    too weak to call two names one, unless both names are typed members of one series
    ("Type D brachydactyly", "Type E brachydactyly")."""
    if _words(g, a) == _words(g, b):
        return True  # the same words reordered: "Hemihyperplasia, isolated"
    words_a, ones_a, acr_a, typed_a = _name_sig(g, a)
    words_b, ones_b, acr_b, typed_b = _name_sig(g, b)
    if not ones_a.isdisjoint(acr_b) or not ones_b.isdisjoint(acr_a):
        return True  # a one-word core that is the other's acronym
    if words_a.isdisjoint(words_b):
        return False  # non-empty cores with no word in common neither nest nor match
    typed = typed_a and typed_b
    for x in _cores(g, a):
        for y in _cores(g, b):
            if len(x) >= 2 and len(y) >= 2 and (x <= y or y <= x):
                return True
            if typed and x == y:
                return True
    return False


def _with_equivalents(g: SynthesisGraph, row: int) -> list[int]:
    return [row, *g.equiv.row(row).tolist()]


def _side(g: SynthesisGraph, row: int) -> tuple[frozenset[int], frozenset[int]]:
    """Per row, cached: (the row and its MAPS_TO equivalents, their IS_A ancestors)."""
    cache = g._cache.setdefault("clinical.side", {})
    hit = cache.get(row)
    if hit is None:
        side = _with_equivalents(g, row)
        hit = (frozenset(side), frozenset(_up(g, side)))
        cache[row] = hit
    return hit


def _up(g: SynthesisGraph, side: list[int]) -> set[int]:
    """IS_A ancestors (self included) of every row of ``side``."""
    if len(side) == 1:
        return set(g.anc.row(side[0]).tolist())
    return set(np.concatenate([g.anc.row(x) for x in side]).tolist())


def hierarchy_related(g: SynthesisGraph, a: int, b: int) -> bool:
    """One is an IS_A ancestor of the other, directly or through MAPS_TO equivalents."""
    return related_to(g, a, names=False)(b)


def related_to(g: SynthesisGraph, key: int, *, names: bool = True) -> Callable[[int], bool]:
    """A predicate ``c -> related(g, c, key)`` with the key's side worked out once."""
    key_side, key_up = _side(g, key)

    def check(c: int) -> bool:
        if g.equivalent(c, key):
            return True
        side, up = _side(g, c)
        if not key_up.isdisjoint(side) or not up.isdisjoint(key_side):
            return True
        return names and names_related(g, key, c)

    return check


def related(g: SynthesisGraph, a: int, b: int) -> bool:
    """``a`` and ``b`` cannot be told apart as key and wrong option (see the module doc)."""
    return related_to(g, a)(b)


def siblings(g: SynthesisGraph, a: int, b: int) -> bool:
    """``a`` and ``b`` share a direct IS_A parent (one group)."""
    pa = g.parents.row(a)
    return bool(pa.size) and bool(np.isin(g.parents.row(b), pa).any())


# ----------------------------------------------------------------------------- masks
def _row(g: SynthesisGraph, node_id: str) -> int:
    return g.row_of.get(node_id, -1)


def clinical_terms(g: SynthesisGraph) -> np.ndarray:
    """Bool mask of HPO terms that may be a cue or a key (see the module doc)."""
    if "clinical.terms" in g._cache:
        return g._cache["clinical.terms"]
    mask = np.zeros(g.n, dtype=bool)
    root = _row(g, PHENOTYPIC_ABNORMALITY)
    if root >= 0:
        under = g.descendants_mask(root)
        # depth below the root: the longest IS_A chain is not needed, the shortest is
        # enough to drop the organ-system level and the level under it
        depth = np.full(g.n, -1, dtype=np.int64)
        depth[root] = 0
        frontier = [root]
        d = 0
        while frontier:
            d += 1
            nxt = [c for f in frontier for c in g.children.row(f).tolist() if depth[c] < 0]
            nxt = list(dict.fromkeys(nxt))
            depth[nxt] = d
            frontier = nxt
        mask = under & (depth >= MIN_TERM_DEPTH)
        delivery = _row(g, ABNORMAL_DELIVERY)
        if delivery >= 0:
            mask[g.descendants_mask(delivery)] = False
    g._cache["clinical.terms"] = mask
    return mask


def disease_like(g: SynthesisGraph) -> np.ndarray:
    """Bool mask: rows whose name does not read as a trait, a level or a susceptibility."""
    if "clinical.disease_like" not in g._cache:
        g._cache["clinical.disease_like"] = np.fromiter(
            (not NOT_A_DISEASE_NAME.search(x) for x in g.names), dtype=bool, count=g.n
        )
    return g._cache["clinical.disease_like"]


def causal_gene_links(g: SynthesisGraph) -> tuple[CSR, CSR]:
    """(disease -> causal genes, gene -> diseases it causes), see the module doc."""
    if "clinical.causal" in g._cache:
        return g._cache["clinical.causal"]
    marked = ~np.fromiter((not ASSOCIATION_NAME.search(x) for x in g.names), bool, g.n)
    multi = _row(g, MULTIFACTORIAL)
    if g.inheritance is not None and multi >= 0:
        inh = g.inheritance
        only_multi = (inh.degree() > 0) & np.array(
            [bool(inh.size(i)) and set(inh.row(i).tolist()) == {multi} for i in range(g.n)]
        )
        marked |= only_multi
    genes = np.repeat(np.arange(g.n, dtype=np.int64), g.gene_dis.degree())
    dis = g.gene_dis.indices.astype(np.int64)
    keep = ~marked[dis]
    # susceptibility genes: a gene with a marked disease somewhere
    sus_gene = np.zeros(g.n, dtype=bool)
    sus_gene[genes[marked[dis]]] = True
    # a disease with at least one gene that is not a susceptibility gene
    clean_gene_of = np.zeros(g.n, dtype=bool)
    clean_gene_of[dis[keep & ~sus_gene[genes]]] = True
    keep &= ~(sus_gene[genes] & clean_gene_of[dis])
    result = (
        CSR.unique_pairs(dis[keep], genes[keep], g.n),
        CSR.unique_pairs(genes[keep], dis[keep], g.n),
    )
    g._cache["clinical.causal"] = result
    return result


__all__ = [
    "causal_gene_links",
    "clinical_terms",
    "disease_like",
    "hierarchy_related",
    "name_core",
    "names_related",
    "related",
    "siblings",
]
