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
# Words that name a member's place in a series, not what the disease is.
SERIES_DESIGNATORS = frozenset(
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
        "the",
        "of",
        "and",
    ]
)
# ... and, for a name core, also inheritance, fillers and single letters of "X-linked".
DESIGNATORS = SERIES_DESIGNATORS | frozenset(
    [
        "with",
        "autosomal",
        "dominant",
        "recessive",
        "linked",
        "x",
        "y",
        "due",
        "a",
        "an",
        "in",
        "familial",
        "isolated",
    ]
)


# Words already classified, and those of them a name core drops: the vocabulary is small
# next to the names (about 250,000 with synonyms, nearly all distinct), so a core costs two
# C-level set differences instead of a Python test per word.
_SEEN_WORDS: set[str] = set()
_DROPPED_WORDS: set[str] = set()


def _dropped(w: str) -> bool:
    """A word a name core leaves out: a designator, a number (arabic or roman), a numbered
    designator (1a, 5c, 13q; but "3mc" of "3MC syndrome" is a word) or a single letter."""
    return (
        w in DESIGNATORS
        or w.isdigit()
        or len(w) == 1
        or _ROMAN.match(w) is not None
        or _NUMBERED.fullmatch(w) is not None
    )


def name_core(name: str) -> frozenset[str]:
    """The words of a name that say what it is, without numbering and designators."""
    words = set(_TOKEN.findall(name.lower().replace("'s", "")))
    new = words - _SEEN_WORDS
    if new:  # classify before marking seen: a word seen is always classified
        _DROPPED_WORDS.update(w for w in new if _dropped(w))
        _SEEN_WORDS.update(new)
    return frozenset(words - _DROPPED_WORDS)


def acronym(name: str) -> str:
    """Initials of a name's words, "von Willebrand disease" -> "vwd"."""
    return "".join(w[0] for w in _TOKEN.findall(name.lower()) if w not in {"of", "and", "the"})


def _names_of(g: SynthesisGraph, row: int) -> list[str]:
    return [g.names[row], *(g.synonyms[row] if row < len(g.synonyms) else [])]


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


TYPED = re.compile(r"\b(type|subtype|susceptibility|group|form)\b", re.IGNORECASE)


def series_stem(name: str) -> frozenset[str]:
    """The words a numbered series shares, when there are at least two of them: the name
    without numbers (arabic, roman, "1a"), single letters and series designators, but with
    its inheritance words. "Deafness, autosomal recessive 94" and "... 48" share
    {deafness, autosomal, recessive}; their name cores ({deafness}) are too weak to tell."""
    words = {
        w
        for w in _TOKEN.findall(name.lower())
        if w not in SERIES_DESIGNATORS
        and not w.isdigit()
        and len(w) > 1
        and _ROMAN.match(w) is None
        and _NUMBERED.fullmatch(w) is None
    }
    return frozenset(words) if len(words) >= 2 else frozenset()


NameSig = tuple[
    frozenset[str],
    frozenset[str],
    frozenset[str],
    bool,
    tuple[frozenset[str], ...],
    tuple[frozenset[str], tuple[str, ...]],
    frozenset[str],
]


def _name_sig(g: SynthesisGraph, row: int) -> NameSig:
    """Per row, cached: (words of every core, one-word cores' words, acronyms, typed,
    the cores, :func:`_words`), from one pass over the row's names: the cores are
    :func:`name_core` of each name and synonym, the acronyms :func:`acronym` of each core's
    words in name order (tests/factories/names.py writes both out plainly).

    Two rows can only share or nest cores when their core words meet, so these sets let
    :func:`names_related` answer most pairs with two C-level set intersections."""
    cache = g._cache.setdefault("clinical.name_sig", {})
    hit = cache.get(row)
    if hit is None:
        cores: set[frozenset[str]] = set()
        acronyms: set[str] = set()
        for x in _names_of(g, row):
            core = name_core(x)
            if core:
                cores.add(core)
                # acronym() of the core's words in name order; they are tokens already
                # and never "of"/"and"/"the" (designators), so the initials suffice
                low = x.lower()
                acronyms.add("".join([w[0] for w in sorted(core, key=low.find)]))
        ordered = tuple(cores)
        hit = (
            frozenset().union(*ordered),
            frozenset(next(iter(c)) for c in ordered if len(c) == 1),
            frozenset(acronyms),
            bool(TYPED.search(g.names[row])),
            ordered,
            _words(g, row),
            series_stem(g.names[row]),
        )
        cache[row] = hit
    return hit


def names_related(g: SynthesisGraph, a: int, b: int) -> bool:
    """Same name core, one core inside the other, members of one numbered series
    (:func:`series_stem`), or a one-word core that is the other's acronym (names and
    synonyms of both). A one-word core ("hemophilia", "syndrome") is
    too weak to call two names one, unless both names are typed members of one series
    ("Type D brachydactyly", "Type E brachydactyly")."""
    words_a, ones_a, acr_a, typed_a, cores_a, name_a, series_a = _name_sig(g, a)
    words_b, ones_b, acr_b, typed_b, cores_b, name_b, series_b = _name_sig(g, b)
    if name_a == name_b:
        return True  # the same words reordered: "Hemihyperplasia, isolated"
    if series_a and series_a == series_b:
        return True  # members of one numbered series: "Osteopetrosis, AR 2" and "... 3"
    if not ones_a.isdisjoint(acr_b) or not ones_b.isdisjoint(acr_a):
        return True  # a one-word core that is the other's acronym
    if words_a.isdisjoint(words_b):
        return False  # non-empty cores with no word in common neither nest nor match
    typed = typed_a and typed_b
    for x in cores_a:
        for y in cores_b:
            if len(x) >= 2 and len(y) >= 2 and (x <= y or y <= x):
                return True
            if typed and x == y:
                return True
    return False


# A key whose side (itself and its MAPS_TO equivalents) has at most this many IS_A
# descendants is tested against a candidate through its descendant set; above it, through
# the candidate's ancestor set (as large keys, MeSH drug classes, would cost more).
DESCENDANT_LIMIT = 256


def with_equivalents(g: SynthesisGraph, row: int) -> frozenset[int]:
    """The row and its MAPS_TO equivalents (cached per graph view)."""
    cache = g._cache.setdefault("clinical.rows_of", {})
    hit = cache.get(row)
    if hit is None:
        eq = g.equiv.row(row)
        hit = cache[row] = frozenset([row, *eq.tolist()]) if eq.size else frozenset((row,))
    return hit


def _up(g: SynthesisGraph, row: int) -> frozenset[int]:
    """Per row, cached: IS_A ancestors (self included) of the row and its equivalents."""
    cache = g._cache.setdefault("clinical.up", {})
    hit = cache.get(row)
    if hit is None:
        side = with_equivalents(g, row)
        if len(side) == 1:
            hit = frozenset(g.anc.row(row).tolist())
        else:
            hit = frozenset(np.concatenate([g.anc.row(x) for x in side]).tolist())
        cache[row] = hit
    return hit


def _down(g: SynthesisGraph, side: frozenset[int]) -> frozenset[int] | None:
    """IS_A descendants (self included) of every row of ``side``; None past the limit."""
    desc = g.desc
    if sum(desc.size(x) for x in side) > DESCENDANT_LIMIT:
        return None
    if len(side) == 1:
        return frozenset(desc.row(next(iter(side))).tolist())
    return frozenset(np.concatenate([desc.row(x) for x in side]).tolist())


def _key_side(
    g: SynthesisGraph, key: int
) -> tuple[frozenset[int], frozenset[int], frozenset[int] | None]:
    """Per key row, cached: (its side, the side's ancestors, the side's descendants)."""
    cache = g._cache.setdefault("clinical.key_side", {})
    hit = cache.get(key)
    if hit is None:
        side = with_equivalents(g, key)
        hit = cache[key] = (side, _up(g, key), _down(g, side))
    return hit


def hierarchy_related(g: SynthesisGraph, a: int, b: int) -> bool:
    """One is an IS_A ancestor of the other, directly or through MAPS_TO equivalents."""
    return related_to(g, a, names=False)(b)


def related_to(g: SynthesisGraph, key: int, *, names: bool = True) -> Callable[[int], bool]:
    """A predicate ``c -> related(g, c, key)`` with the key's side worked out once.

    "c's side has an ancestor on the key's side" is asked as "c's side meets the key side's
    descendants" while those are few, so a candidate needs only its own equivalents."""
    key_side, key_up, key_down = _key_side(g, key)
    names_lower = g.names_lower
    key_name = names_lower[key]

    def check(c: int) -> bool:
        side = with_equivalents(g, c)
        if c == key or key in side or names_lower[c] == key_name:
            return True  # g.equivalent(c, key): same row, MAPS_TO link or same name
        if not key_up.isdisjoint(side):
            return True
        if key_down is not None:
            if not key_down.isdisjoint(side):
                return True
        elif not _up(g, c).isdisjoint(key_side):
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
    "related_to",
    "siblings",
    "with_equivalents",
]
