"""Multi-hop chain (3 hops): phenotypes → [disease] → [gene] → another disease of that gene.

The disease and the gene are masked; the path is the reasoning trace. Valid when the answer
is associated with a gene of some disease having every cue (and is not one of those
diseases, nor the same entity under another id), and no distractor is reachable that way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.model import DISEASE, GENE_ASSOCIATED_WITH, HAS_PHENOTYPE
from medkg.synthesis.clinical import (
    causal_gene_links,
    disease_like,
    related_to,
    siblings,
    with_equivalents,
)
from medkg.synthesis.distractors import pick, similar_diseases
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
from medkg.synthesis.questions.gene import fitting_genes


@register_family("chain")
class ChainFamily(QuestionFamily):
    # The key (a gene's other disease) is chosen as the least used key so far: ranges run
    # apart each pick the same hub diseases, which makes the key guessable from the other
    # items (answer-prior baseline 0.31 vs chance 0.20 with 4 ranges at 2,000 chain items;
    # 0.19 unsplit). One range, the family's own stream.
    seed_ranges = False

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"k_min": 2, "k_max": 3}

    def eligible(self) -> np.ndarray:
        g = self.graph
        dis = g.is_kind(DISEASE) & (g.dis_pheno.degree() >= self.params["k_min"]) & ~g.obsolete
        dis_gene, gene_dis = causal_gene_links(g)
        shared = gene_dis.degree() >= 2
        src = np.repeat(np.arange(g.n), dis_gene.degree())
        has_shared = np.zeros(g.n, dtype=bool)
        has_shared[src[shared[dis_gene.indices]]] = True
        return dis & has_shared & disease_like(g)

    def _owed_first(self, cand: np.ndarray, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The candidates that owe distractor appearances (:meth:`OptionBalance.owes`)
        first, each group in its similarity order. A chain key comes back as the key
        (seeds are drawn again past the eligible count, and a gene has few other
        diseases); unless it is offered as a distractor in proportion, the "answer prior"
        baseline picks it: 0.27 vs chance 0.20 at 8,000 chain items, 0.19 after. Only
        keys seen ``MIN_KEYS`` times are moved: moving every past key made the answer the
        one option never seen as a key (0.13 at 2,000 items)."""
        balance, n = self.balance, self.n_options
        owed = np.fromiter((balance.owes(c, n) for c in cand.tolist()), bool, len(cand))
        if not owed.any():
            return cand, sim
        order = np.concatenate([np.flatnonzero(owed), np.flatnonzero(~owed)])
        return cand[order], sim[order]

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g, p = self.graph, self.params
        dis_gene, gene_dis = causal_gene_links(g)  # causal links only, both hops
        genes = [x for x in dis_gene.row(seed).tolist() if gene_dis.row(x).size >= 2]
        if not genes:
            return Reject("no_other_disease", f"{g.ids[seed]} shares no gene")
        k = int(rng.integers(p["k_min"], p["k_max"] + 1))
        c2, s2 = similar_diseases(g, seed, 30)
        cues = select_cues(g, seed, k, rng, near=c2)
        if len(cues) < p["k_min"]:
            return Reject("too_few_phenotypes", f"{len(cues)} usable of {p['k_min']}")
        gene = genes[int(rng.integers(len(genes)))]
        # conservative sets (0-of-n cohort annotations count): nothing that may fit is offered
        dstar, gstar = fitting_genes(g, cues, maybe=True)
        dlist = dstar.tolist()
        dset = set(dlist)
        first50_names = {g.names_lower[x] for x in dlist[:50]}
        seed_related = related_to(g, seed)  # related() is symmetric: the seed's side once
        # outside the hidden disease's equivalence class and group: not the same entity,
        # a subtype/supertype, a numbered sibling or an IS_A sibling of it or of another
        # disease showing every finding
        others = [
            d
            for d in gene_dis.row(gene).tolist()
            if d not in dset
            and disease_like(g)[d]
            and not seed_related(d)
            and not siblings(g, d, seed)
            # not g.equivalent(d, x) for x in the first 50 (same row, name or MAPS_TO
            # link; the rows and links are covered by dset, which holds them)
            and g.names_lower[d] not in first50_names
            and dset.isdisjoint(with_equivalents(g, d))
        ]
        if not others:
            return Reject("no_other_disease", f"{g.names[gene]} has no other disease")
        # the least used key first: a disease that keeps coming back as the answer of a
        # gene's other disease would make the key guessable from past items
        w = np.array([1.0 / self.balance.weight(d) for d in others])
        answer = others[int(rng.choice(len(others), p=w / w.sum()))]
        reach: set[int] = set()
        for x in gstar:
            reach.update(g.gene_dis.row(x).tolist())
        c1, s1 = similar_diseases(g, answer, 30)
        cand, sim = self._owed_first(np.concatenate([c1, c2]), np.concatenate([s1, s2]))
        dis_code = g.kind_codes[DISEASE]

        def ok(c: int) -> bool:
            # nor through a MAPS_TO twin (OMIM:151623 Li-Fraumeni syndrome has no gene
            # link of its own where its twin ORPHA:524 has)
            twins = with_equivalents(g, c)
            return (
                int(g.kind[c]) == dis_code
                and reach.isdisjoint(twins)
                and dset.isdisjoint(twins)
                and not g.obsolete[c]
            )

        chosen, sims = pick(
            cand, sim, self.n_options - 1, rng, ok, [answer, seed], g, balance=self.balance
        )
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} hard negatives")
        findings = join_names([phrase(g.names[c]) for c in cues])
        d1, gn, d2 = g.names[seed], g.names[gene], g.names[answer]
        return Draft(
            template="chain.pheno_disease_gene_disease.v1",
            question=f"A patient presents with {findings}. The gene most likely implicated "
            "in this condition is also associated with which other disease?",
            answer=answer,
            distractors=chosen,
            entities=[*cues, seed, gene, answer],
            path=[*star_walk(cues, seed), gene, answer],
            rels=[HAS_PHENOTYPE] * (2 * len(cues) - 1) + [GENE_ASSOCIATED_WITH] * 2,
            hops=3,  # findings -> disease, disease -> gene, gene -> other disease
            similarity=float(np.mean(sims)),
            rationale={
                "understanding": f"Three steps: the findings ({findings}) identify a "
                "disease, the disease a gene, the gene another disease.",
                "recall": f"{d1} ({g.ids[seed]}) shows these findings; {gn} is associated "
                f"with {d1} and with {d2}.",
                "reasoning": f"Findings → {d1} → {gn} → {d2}; none of the other options is "
                "associated with a gene of a disease showing all the findings.",
                "conclusion": f"The other disease is {d2}.",
            },
            seed=seed,
            distractor_reasons=dict.fromkeys(
                chosen, "not associated with a gene of a disease showing all the findings"
            ),
        )
