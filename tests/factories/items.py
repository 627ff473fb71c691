"""Items and item dicts shared by the dedup, export, decontamination and retrieval tests."""

from __future__ import annotations

from typing import Any

from medkg.synthesis.items import QAItem

RATIONALE = {
    "understanding": "A vignette of connective-tissue findings.",
    "recall": "Marfan syndrome has these phenotypes.",
    "reasoning": "Only Marfan syndrome has all of them.",
    "conclusion": "Marfan syndrome.",
}

OPTIONS = [
    "Marfan syndrome",
    "Loeys-Dietz syndrome",
    "Homocystinuria",
    "Ehlers-Danlos syndrome",
    "Stickler syndrome",
]

IDS = ["ORPHA:558", "ORPHA:60030", "ORPHA:394", "ORPHA:98249", "ORPHA:828"]


def item(question: str, options: list[str] = OPTIONS, answer: int = 0) -> QAItem:
    ids = IDS[: len(options)]
    return QAItem(
        family="diagnosis",
        question=question,
        options=list(options),
        option_ids=list(ids),
        answer_index=answer,
        answer_id=ids[answer],
        entity_ids=list(ids),
        path_nodes=[ids[answer]],
        path_rels=[],
        distractor_ids=[i for i in ids if i != ids[answer]],
        hops=1,
        rare=True,
        difficulty=0.5,
        rationale=RATIONALE,
        template="test",
    ).with_id()


Q = (
    "A 16-year-old boy presents with arachnodactyly, ectopia lentis, dilatation of the "
    "aortic root, pectus excavatum and tall stature. Which is the most likely diagnosis?"
)

PARAPHRASE = (
    "A 16-year-old boy presents with arachnodactyly, ectopia lentis, dilatation of the "
    "aortic root, pectus excavatum and tall stature. What is the most likely diagnosis?"
)

REORDERED = (
    "A 16-year-old boy presents with ectopia lentis, arachnodactyly, dilatation of the "
    "aortic root, pectus excavatum and tall stature. Which is the most likely diagnosis?"
)

DIFFERENT = (
    "A 3-year-old girl presents with hepatosplenomegaly, bone pain, anaemia, "
    "thrombocytopenia and Erlenmeyer flask deformity. Which is the most likely diagnosis?"
)


def items():
    a = item(Q)
    b = item(DIFFERENT, answer=2)
    b.difficulty = 1 / 3  # a float whose repr has many digits
    b.provenance = {"seed": 7, "graph_hash": "abc", "source_versions": {"HPO": "2025-01-16"}}
    return [a, b]


GENE_ITEM: dict[str, Any] = {
    "id": "gene-marfan",
    "question": "Which gene is associated with Marfan syndrome?",
    "answer": "FBN1",
    "answer_id": "NCBIGene:2200",
    "entity_ids": ["OMIM:154700", "NCBIGene:2200"],
    "option_ids": ["NCBIGene:2200", "NCBIGene:7042"],
    "distractor_ids": ["NCBIGene:7042"],
    "path_nodes": ["OMIM:154700", "NCBIGene:2200"],
    "path_rels": ["GENE_ASSOCIATED_WITH"],
}

PHENOTYPE_ITEM: dict[str, Any] = {
    "id": "phenotype-marfan",
    "question": "Which of the following is a characteristic feature of Marfan syndrome?",
    "answer": "Arachnodactyly",
    "answer_id": "HP:0001166",
    "entity_ids": ["OMIM:154700", "HP:0001166"],
    "option_ids": ["HP:0001166", "HP:0000545"],
    "distractor_ids": ["HP:0000545"],
    "path_nodes": ["OMIM:154700", "HP:0001166"],
    "path_rels": ["HAS_PHENOTYPE"],
}
