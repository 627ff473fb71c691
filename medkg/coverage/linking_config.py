"""The linker's configuration (:class:`LinkerConfig`): what the dictionary holds and how
each pass of :class:`~medkg.coverage.linking.Linker` decides."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from medkg.kg.model import DISEASE, DRUG, GENE, PHENOTYPE


@dataclass(frozen=True)
class LinkerConfig:
    """What the dictionary holds and how each pass decides."""

    kinds: tuple[str, ...] = field(
        default=(DISEASE, PHENOTYPE, GENE, DRUG),
        metadata={"help": "entity kinds linked; their order breaks ties between kinds"},
    )
    prefix_priority: tuple[str, ...] = field(
        default=("MESH", "ORPHA", "OMIM", "HP", "ICD10", "ICD10CM", "DRUGBANK", "NCBIGene"),
        metadata={"help": "id prefixes in tie-break order (others after, by id)"},
    )
    synonyms: bool = field(default=True, metadata={"help": "index synonyms as well as names"})
    synonym_evidence: bool = field(
        default=True,
        metadata={"help": "also index MONDO and Disease Ontology names and synonyms of the "
                  "MeSH, OMIM and Orphanet ids they cross-reference (ranked after the "
                  "graph's own forms)"},
    )  # fmt: skip
    variants: bool = field(
        default=True,
        metadata={"help": "also index plural/singular, British/American and word-order variants"},
    )
    composed: bool = field(
        default=True,
        metadata={"help": "also index forms composed by terminology rules: '<site> carcinoma' "
                  "for MeSH '<site> Neoplasms', '<gene> deficiency' via gene-disease edges, "
                  "'autosomal recessive disorder' -> the hereditary-disease class, "
                  "'immune defects' -> 'Immune System Diseases'"},
    )  # fmt: skip
    mesh_exclude_trees: tuple[str, ...] = field(
        default=("C23.550.210", "C23.550.291", "C23.550.362"),
        metadata={"help": "MeSH tree branches that name attributes of diseases or genetic "
                  "findings, not diseases (Chromosome Aberrations, Disease Attributes, "
                  "Genomic Instability): a descriptor all of whose C-tree positions lie "
                  "under them is not linked"},
    )  # fmt: skip
    mesh_scr_defer_from: str | None = field(
        default="C560000",
        metadata={"help": "MeSH supplementary records (SCRs) with a UI at or after this one "
                  "(the block of OMIM-derived disease records NLM added from MeSH 2013 on, "
                  "C56xxxx) yield to an exact equivalent from another record (the OMIM entry "
                  "first), else to the descriptor they are mapped to; text "
                  "annotated against the older vocabulary (the NCBI disease corpus) uses "
                  "those ids. None: off"},
    )  # fmt: skip
    context: bool = field(
        default=True,
        metadata={"help": "choose among a form's senses by the co-mentioned entities' graph "
                  "neighbourhood (else the first sense by the priority order)"},
    )  # fmt: skip
    qualifiers: bool = field(
        default=True,
        metadata={"help": "extend a mention over preceding clinical qualifiers "
                  "('hereditary', 'sporadic', ...) and expand composite mentions"},
    )  # fmt: skip
    clinical_abbreviations: bool = field(
        default=True,
        metadata={"help": "link common clinical abbreviations (HIV, HCV, CKD, ...) from the "
                  "curated list when written in capitals and not defined in the text"},
    )  # fmt: skip
    mention_filter: bool = field(
        default=False,
        metadata={"help": "drop mentions the learned mention filter (data/mention_filter.json, "
                  "fitted on the look half of the NCBI disease corpus) judges unlikely to be "
                  "annotated; judges only the kinds it was fitted on"},
    )  # fmt: skip
    min_chars: int = field(default=3, metadata={"help": "shortest normalised surface form"})
    max_senses: int = field(
        default=8, metadata={"help": "skip a surface form naming more entities than this"}
    )
    abbreviations: str | None = field(
        default="schwartz_hearst",
        metadata={"help": "abbreviation detector: schwartz_hearst | scispacy | None (off)"},
    )
    tfidf: bool = field(
        default=False,
        metadata={"help": "run the TF-IDF fallback (off by default: its precision on "
                  "benchmark text is measured in bench/README.md)"},
    )  # fmt: skip
    tfidf_threshold: float = field(
        default=0.85, metadata={"help": "minimum cosine similarity for a tfidf mention"}
    )
    tfidf_candidates: int = field(
        default=10, metadata={"help": "candidates per phrase rescored with full vectors"}
    )
    tfidf_candidate_df: float = field(
        default=0.002,
        metadata={"help": "grams in more than this share of keys are left out of candidate search"},
    )
    tfidf_ngrams: tuple[int, int] = field(
        default=(3, 4), metadata={"help": "character n-gram range (char_wb analyzer)"}
    )
    min_phrase_chars: int = field(default=5, metadata={"help": "shortest fallback phrase"})
    max_phrase_tokens: int = field(default=5, metadata={"help": "longest fallback phrase"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkerConfig:
        data = dict(data)
        for key in ("kinds", "prefix_priority", "tfidf_ngrams", "mesh_exclude_trees"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


__all__ = ["LinkerConfig"]
