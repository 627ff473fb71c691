"""Rarity from source evidence: ``rare`` and ``rare_reason`` on every node.

``phenotype.hpoa`` calls itself "HPO annotations for rare diseases", but its OMIM part is
OMIM's phenotype catalogue, which also holds susceptibility entries (``{...}`` in OMIM),
somatic entries, non-disease entries (``[...]``, QTLs, modifiers) and the entries of common
complex diseases (schizophrenia, type 2 diabetes, asthma). Rarity is therefore decided per
node from evidence, by these rules in order (the first that applies gives the reason):

======================================  =====  ===============================================
reason                                  rare   evidence
======================================  =====  ===============================================
``not_a_disease``                       no     kind is not Disease (phenotypes, genes, ...)
``subset:<name>``                       yes    the node is in an ontology subset the user named
                                               rare (``medkg kg import --rare-subset NAME``)
``prevalence:<value>``                  y/n    a source gives a prevalence (``props.prevalence``:
                                               a proportion, ``n/m`` or ``a-b / m``): rare when
                                               its upper bound is at most 1/2,000 (the EU
                                               definition Orphanet uses: "not more than 5 in
                                               10 000", so "1-5 / 10 000" is rare)
``orphanet``                            yes    an Orphanet disease (Orphanet lists rare
                                               diseases only)
``omim_susceptibility``                 no     OMIM entry for a susceptibility / QTL / modifier
                                               / resistance / polymorphism (names as HPO writes
                                               them: "..., susceptibility to", "... quantitative
                                               trait locus 2", "..., modifier of")
``orphanet_name:<ORPHA id>``            yes    an OMIM/DECIPHER entry whose name (for somatic
                                               entries: the name without ", somatic") is an
                                               Orphanet disease's name, in any word order
                                               ("Leukemia, chronic myeloid")
``omim_somatic``                        no     OMIM somatic entry ("Esophageal cancer, somatic")
``orphanet_form:<ORPHA id>``            yes    an OMIM/DECIPHER entry whose name, or whose exact
                                               MeSH/ICD twin's, Orphanet lists as a rare
                                               disease in its population-wide form or a broader
                                               one: "Sporadic X" or "Classic X" (the non-
                                               inherited / typical cases of X), "X spectrum
                                               disorder" (Stiff person spectrum disorder for
                                               Stiff-person syndrome). A subset of a rare
                                               population is rare, so this outranks a common
                                               name match; Orphanet's narrower forms
                                               ("Familial X", "Early-onset X") never count.
``common_disease:<id>``                 no     an OMIM/DECIPHER entry that is exactly (xref, same
                                               name or synonym) a MeSH / ICD-10 disease that no
                                               Orphanet disease names: the OMIM entry of a common
                                               disease (OMIM:181500 Schizophrenia)
``locus_of_common:<id>``                no     a numbered OMIM entry ("Schizophrenia 3") of such a
                                               common disease with no causal gene in the HPO
                                               gene annotations: a linkage locus
``hpo_rare_disease_annotation``         yes    any other OMIM/DECIPHER disease of phenotype.hpoa
``maps_to:<ORPHA id>``                  yes    a MeSH/ICD disease whose preferred name is an
                                               Orphanet disease's name in any word order
                                               (MeSH's "Leukemia, Promyelocytic, Acute"), that an
                                               Orphanet xref names, or whose population-wide or
                                               broader form Orphanet lists (as above)
``no_rare_evidence``                    no     any other disease
======================================  =====  ===============================================

Phenotypes (kind Phenotype) are never rare; a MeSH disease such as Chorea or Microcephaly
is rare only if Orphanet names it exactly. Name stems (``name_stem``/``name_contains``) and
synonym matches never carry the flag:
MeSH entry terms are often narrower concepts ("MODY" under Type 2 diabetes, "Familial
atrial fibrillation" under Atrial fibrillation), so they would spread rarity to common
diseases.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from medkg.kg.model import DISEASE, GENE_ASSOCIATED_WITH, IS_A, MAPS_TO
from medkg.kg.resolve import normalise_name, normalise_names

# EU: "not more than five in 10 000" (Regulation (EC) No 141/2000): at most this is rare.
RARE_PREVALENCE_AT_MOST = 5 / 10_000
HPOA_PREFIXES = ("OMIM", "DECIPHER")
COMMON_TARGET_PREFIXES = ("MESH", "MESHX", "ICD10", "ICD10CM")
EXACT_EQUIVALENCE = ("xref", "name_exact", "synonym_exact")
SUSCEPTIBILITY = re.compile(
    r"\bsusceptib|quantitative trait locus|\bqtl\b|\bmodifier\b|\bpolymorphism\b"
    r"|(?:^|, )resistance to\b|\bprotection against\b|\blevel in (?:plasma|serum|blood)\b",
    re.IGNORECASE,
)
# Names of a Mendelian form: a subtype designator or an inheritance / onset qualifier.
MENDELIAN_FORM = re.compile(
    r"\b(?:familial|hereditary|inherited|autosomal|x-linked|y-linked|congenital|classic"
    r"|juvenile|infantile|neonatal|early-onset|type [0-9a-z]{1,4}|with .*|due to .*)\b"
    r"|(?:,|\s)\s*[0-9]+[a-z]?\s*$|\s[ivx]{1,5}\s*$|\s[0-9]+[a-z]?,",
    re.IGNORECASE,
)
# Branches of MeSH / ICD-10 whose diseases are genetic or congenital: an OMIM entry equal to
# one of them is the rare Mendelian disease, not the OMIM entry of a common disease.
GENETIC_BRANCH_NAMES = frozenset(
    [
        "genetic diseases inborn",
        "congenital abnormalities",
        "metabolism inborn errors",
        "congenital malformations deformations and chromosomal abnormalities",
        "metabolic disorders",
    ]
)
# "Schizophrenia 3", "Diabetes mellitus, insulin-dependent, 15": a numbered OMIM entry.
NUMBERED = re.compile(r"^(.*?),?\s+[0-9]+[a-z]?$", re.IGNORECASE)
SOMATIC = re.compile(r",\s*somatic\b.*$", re.IGNORECASE)
# Orphanet names of a disease's population-wide form ("Sporadic Creutzfeldt-Jakob disease",
# "Classic Hodgkin lymphoma") and of a broader entity ("Stiff person spectrum disorder").
# "Primary"/"idiopathic" are left out: Idiopathic pulmonary fibrosis is rare, pulmonary
# fibrosis of all causes is not.
POPULATION_FORM_WORDS = frozenset({"sporadic", "classic", "classical"})
BROADER_FORM_WORDS = frozenset({"spectrum", "disorder", "disorders"})
HEAD_WORDS = frozenset({"syndrome", "disease", "disorder"})
_RATIO = re.compile(r"^\s*[<>]?\s*([\d.]+)\s*(?:-\s*([\d.]+))?\s*/\s*([\d][\d ,]*)\s*$")


def parse_prevalence(value: str | float | None) -> float | None:
    """A prevalence's upper bound as a proportion: ``0.0002``, ``1/5000``, ``1-9 / 100 000``,
    ``<1 / 1 000 000`` (Orphanet's classes); None when the text is not a prevalence."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = _RATIO.match(text)
    if not m:
        return None
    upper = float(m.group(2) or m.group(1))
    denominator = float(m.group(3).replace(" ", "").replace(",", ""))
    return upper / denominator if denominator else None


@dataclass
class _Evidence:
    """What the rules read besides the node's own columns."""

    orpha_by_name: dict[str, str] = field(default_factory=dict)  # normalised name -> ORPHA id
    orpha_target: dict[str, str] = field(default_factory=dict)  # MeSH/ICD id -> ORPHA naming it
    exact_partners: dict[str, list[str]] = field(default_factory=dict)
    genetic_branch: set[str] = field(default_factory=set)  # under a GENETIC_BRANCH_NAMES node
    common_names: dict[str, str] = field(default_factory=dict)  # name/synonym -> common disease
    has_gene: set[str] = field(default_factory=set)  # diseases with a GENE_ASSOCIATED_WITH edge
    # word set of a disease name -> ORPHA disease naming its population-wide / broader form
    orpha_form: dict[frozenset[str], str] = field(default_factory=dict)
    # word set of an Orphanet name -> ORPHA id (MeSH and OMIM invert names: "Leukemia,
    # Promyelocytic, Acute" is Orphanet's "Acute promyelocytic leukemia")
    orpha_by_words: dict[frozenset[str], str] = field(default_factory=dict)

    def orphanet_name(self, key: str) -> str | None:
        """The Orphanet disease with this name, in any word order."""
        return self.orpha_by_name.get(key) or self.orpha_by_words.get(frozenset(key.split()))

    def orphanet_form(self, key: str) -> str | None:
        """The Orphanet disease listing the named disease's population-wide or broader
        form (see :data:`POPULATION_FORM_WORDS`), if any."""
        words = frozenset(key.split())
        return self.orpha_form.get(words) or self.orpha_form.get(words - HEAD_WORDS)


def rarity(nodes: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """``id``, ``rare``, ``rare_reason`` for every node, by the rules of the module doc."""
    ids = nodes.get_column("id").to_list()
    kinds = nodes.get_column("kind").to_list()
    names = nodes.get_column("name").to_list()
    props = nodes.get_column("props")
    subsets = props.str.json_path_match("$.rare_subset").to_list()
    prevalence = props.str.json_path_match("$.prevalence").to_list()
    prefix = [i.split(":", 1)[0] for i in ids]
    kind_of = dict(zip(ids, kinds, strict=True))

    keys = normalise_names(nodes.get_column("name")).to_list()
    ev = _Evidence()
    for node_id, p, k, key in zip(ids, prefix, kinds, keys, strict=True):
        if p == "ORPHA" and k == DISEASE and key:
            _keep_smallest(ev.orpha_by_name, key, node_id)
            words = frozenset(key.split())
            _keep_smallest(ev.orpha_by_words, words, node_id)
            if words & POPULATION_FORM_WORDS and len(words) > 2:
                _keep_smallest(ev.orpha_form, words - POPULATION_FORM_WORDS, node_id)
            if "spectrum" in words:
                _keep_smallest(ev.orpha_form, words - BROADER_FORM_WORDS, node_id)

    maps = edges.filter(pl.col("rel") == MAPS_TO).select("src", "dst", "method")
    for src, dst, method in maps.iter_rows():
        if method not in EXACT_EQUIVALENCE:
            continue
        for a, b in ((src, dst), (dst, src)):
            if kind_of.get(a) != DISEASE:
                continue
            if kind_of.get(b) == DISEASE:
                ev.exact_partners.setdefault(a, []).append(b)
            if a.startswith("ORPHA:") and method in ("xref", "name_exact"):
                _keep_smallest(ev.orpha_target, b, a)
    # A MeSH/ICD disease whose preferred name is an Orphanet disease's is named by Orphanet.
    for node_id, p, key in zip(ids, prefix, keys, strict=True):
        if p in COMMON_TARGET_PREFIXES and key and kind_of[node_id] == DISEASE:
            hit = ev.orphanet_name(key) or ev.orphanet_form(key)
            if hit:
                _keep_smallest(ev.orpha_target, node_id, hit)

    ev.genetic_branch = _genetic_branch(ids, prefix, keys, edges)
    ev.has_gene = set(
        edges.filter(pl.col("rel") == GENE_ASSOCIATED_WITH).get_column("dst").unique().to_list()
    )
    candidates = nodes.filter(
        pl.col("id").str.extract(r"^([^:]+)").is_in(COMMON_TARGET_PREFIXES)
        & (pl.col("kind") == DISEASE)
        & ~pl.col("id").is_in(list(ev.orpha_target))
        & ~pl.col("id").is_in(list(ev.genetic_branch))
    ).sort("id")
    texts = pl.concat(
        [
            candidates.select("id", pl.col("name").alias("text")),
            candidates.select("id", pl.col("synonyms").alias("text")).explode("text"),
        ]
    ).drop_nulls("text")
    for node_id, key in zip(
        texts.get_column("id").to_list(),
        normalise_names(texts.get_column("text")).to_list(),
        strict=True,
    ):
        if key:
            ev.common_names.setdefault(key, node_id)

    rare: list[bool] = []
    reasons: list[str] = []
    for i, node_id in enumerate(ids):
        flag, reason = _decide(
            node_id, prefix[i], kinds[i], names[i] or "", subsets[i], prevalence[i], ev
        )
        rare.append(flag)
        reasons.append(reason)
    return pl.DataFrame(
        {"id": ids, "rare": rare, "rare_reason": reasons},
        schema={"id": pl.String(), "rare": pl.Boolean(), "rare_reason": pl.String()},
    )


def _genetic_branch(
    ids: list[str], prefix: list[str], keys: list[str], edges: pl.DataFrame
) -> set[str]:
    """MeSH/ICD nodes at or under a branch named in GENETIC_BRANCH_NAMES (by IS_A)."""
    anchors = [
        node_id
        for node_id, p, key in zip(ids, prefix, keys, strict=True)
        if p in COMMON_TARGET_PREFIXES and key in GENETIC_BRANCH_NAMES
    ]
    children: dict[str, list[str]] = {}
    for child, parent in edges.filter(pl.col("rel") == IS_A).select("src", "dst").iter_rows():
        children.setdefault(parent, []).append(child)
    seen = set(anchors)
    stack = list(anchors)
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def _keep_smallest(table: dict[Any, str], key: Hashable, value: str) -> None:
    if key not in table or value < table[key]:
        table[key] = value


def _decide(
    node_id: str,
    prefix: str,
    kind: str,
    name: str,
    subset: str | None,
    prevalence: str | None,
    ev: _Evidence,
) -> tuple[bool, str]:
    if kind != DISEASE:
        return False, "not_a_disease"
    if subset:
        return True, f"subset:{subset}"
    value = parse_prevalence(prevalence)
    if value is not None:
        return value <= RARE_PREVALENCE_AT_MOST, f"prevalence:{prevalence}"
    if prefix == "ORPHA":
        return True, "orphanet"
    if prefix in HPOA_PREFIXES:
        if SUSCEPTIBILITY.search(name):
            return False, "omim_susceptibility"
        somatic = SOMATIC.search(name)
        hit = ev.orphanet_name(normalise_name(SOMATIC.sub("", name)))
        if hit:
            return True, f"orphanet_name:{hit}"
        if somatic:
            return False, "omim_somatic"
        form = ev.orphanet_form(normalise_name(name))
        if form:
            return True, f"orphanet_form:{form}"
        common = sorted(
            t
            for t in ev.exact_partners.get(node_id, ())
            if t.split(":", 1)[0] in COMMON_TARGET_PREFIXES
            and t not in ev.orpha_target
            and t not in ev.genetic_branch
        )
        if common and not MENDELIAN_FORM.search(name):
            return False, f"common_disease:{common[0]}"
        numbered = NUMBERED.match(name)
        if numbered and node_id not in ev.has_gene and not MENDELIAN_FORM.search(numbered[1]):
            locus_of = ev.common_names.get(normalise_name(numbered.group(1)))
            if locus_of:
                return False, f"locus_of_common:{locus_of}"
        return True, "hpo_rare_disease_annotation"
    if node_id in ev.orpha_target:
        return True, f"maps_to:{ev.orpha_target[node_id]}"
    return False, "no_rare_evidence"
