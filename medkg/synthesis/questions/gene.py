"""Gene (2 hops): phenotypes → (masked) disease → "Which gene is most likely implicated?"

Seeds: diseases with a gene and enough phenotypes. Valid when the answer is a gene of some
disease having every cue and no distractor is (the verifier recomputes that set over the
whole graph). Distractors: genes of the diseases most similar by phenotype Jaccard.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.model import DISEASE, GENE, GENE_ASSOCIATED_WITH, HAS_PHENOTYPE
from medkg.synthesis.clinical import causal_gene_links, disease_like
from medkg.synthesis.distractors import genes_of_similar_diseases, pick, similar_diseases
from medkg.synthesis.items import Reject
from medkg.synthesis.questions.base import (
    Draft,
    QuestionFamily,
    join_names,
    phrase,
    register_family,
    star_walk,
)
from medkg.synthesis.questions.cues import select_cues
from medkg.synthesis.verify import fitting_genes as verified_fitting_genes


def fitting_genes(g: Any, cues: list[int], maybe: bool = False) -> tuple[np.ndarray, set[int]]:
    """:func:`medkg.synthesis.verify.fitting_genes` (diseases having every cue, and their
    genes; ``maybe``: the conservative set distractors must avoid), the genes as a set: the
    families test membership, and the verifier must judge with the same set."""
    dstar, genes = verified_fitting_genes(g, cues, maybe=maybe)
    return dstar, set(genes.tolist())


@register_family("gene")
class GeneFamily(QuestionFamily):
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"k_min": 3, "k_max": 4}

    def eligible(self) -> np.ndarray:
        g = self.graph
        return (
            g.is_kind(DISEASE)
            & (g.dis_pheno.degree() >= self.params["k_min"])
            & (causal_gene_links(g)[0].degree() > 0)
            & ~g.obsolete
            & disease_like(g)
        )

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g, p = self.graph, self.params
        genes = causal_gene_links(g)[0].row(seed)  # keys: causal (Mendelian) links only
        if genes.size == 0:
            return Reject("no_gene", g.ids[seed])
        k = int(rng.integers(p["k_min"], p["k_max"] + 1))
        near, near_sim = similar_diseases(g, seed, 60)
        cues = select_cues(g, seed, k, rng, near=near)
        if len(cues) < p["k_min"]:
            return Reject("too_few_phenotypes", f"{len(cues)} usable of {p['k_min']}")
        answer = int(genes[rng.integers(genes.size)])
        dstar, _ = fitting_genes(g, cues)
        _, fits = fitting_genes(g, cues, maybe=True)
        cand, sim = genes_of_similar_diseases(g, near, near_sim)
        gene_code = g.kind_codes[GENE]

        def ok(c: int) -> bool:
            return int(g.kind[c]) == gene_code and c not in fits

        chosen, sims = pick(
            cand, sim, self.n_options - 1, rng, ok, [answer], g, balance=self.balance
        )
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} hard negatives")
        findings = join_names([phrase(g.names[c]) for c in cues])
        disease, gene = g.names[seed], g.names[answer]
        of = {c: g.names[int(g.gene_dis.row(c)[0])] for c in chosen}
        others = ", ".join(f"{g.names[c]} ({of[c]})" for c in chosen)
        why = {c: f"a gene of {of[c]}; no disease annotated with every finding has it"
               for c in chosen}  # fmt: skip
        return Draft(
            template="gene.two_hop.v1",
            question=f"A patient presents with {findings}. Which gene is most likely implicated?",
            answer=answer,
            distractors=chosen,
            entities=[*cues, seed, answer],
            path=[*star_walk(cues, seed), answer],
            rels=[HAS_PHENOTYPE] * (2 * len(cues) - 1) + [GENE_ASSOCIATED_WITH],
            hops=2,
            similarity=float(np.mean(sims)),
            rationale={
                "understanding": f"The findings ({findings}) point to a disease, and the "
                "question asks for the gene behind it (two steps).",
                "recall": f"{disease} ({g.ids[seed]}) shows all of these findings; {gene} "
                f"is associated with {disease}.",
                "reasoning": f"{len(dstar)} disease(s) in the graph show every finding, and "
                f"{gene} is a gene of one of them; the other genes belong to similar diseases "
                f"that do not show them all: {others}.",
                "conclusion": f"{gene} is the gene most likely implicated.",
            },
            seed=seed,
            distractor_reasons=why,
        )
