"""Phenotype: a disease's characteristic finding, and the negative "NOT a feature" form.

* ``phenotype.positive.v1`` — "Which is a characteristic feature of D?": the answer is a
  frequent, specific annotated phenotype; distractors are HPO siblings/cousins of it that D
  neither has (HPO closure applied) nor refines, and neither do D's MAPS_TO equivalents
  (:func:`~medkg.synthesis.verify.absent_phenotype`).
* ``phenotype.negative.v1`` — "Which is NOT a feature of D?": the answer is a phenotype
  annotated NOT for D when there is one, else an absent IS_A sibling of one of D's
  features; distractors are D's annotated features, most frequent first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.model import DISEASE, HAS_PHENOTYPE, IS_A, PHENOTYPE
from medkg.synthesis.clinical import clinical_terms, disease_like
from medkg.synthesis.distractors import ancestor_jaccard, hierarchy_neighbours, pick
from medkg.synthesis.items import Reject
from medkg.synthesis.questions.base import Draft, QuestionFamily, phrase, register_family
from medkg.synthesis.questions.cues import cue_scores
from medkg.synthesis.verify import absent_phenotype, negated_cue


@register_family("phenotype")
class PhenotypeFamily(QuestionFamily):
    # One range, the family's own stream (as chain): a key is a disease's most frequent,
    # specific finding, so the same findings come back as keys, and only the family's
    # whole OptionBalance history offers them as distractors in proportion. Ranges run
    # apart each start that history afresh: the answer-prior baseline at 4 ranges was
    # 0.239 on `--n 10000 --seed 0` (bar: chance 0.20 + 0.05), and 0.252 once the twins'
    # features stopped being (wrong) distractors; 0.202 unsplit.
    seed_ranges = False

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"negative_share": 0.35}

    def eligible(self) -> np.ndarray:
        g = self.graph
        return g.is_kind(DISEASE) & (g.dis_pheno.degree() >= 1) & ~g.obsolete & disease_like(g)

    def organ_systems(self, row: int) -> set[int]:
        """The HPO organ systems (children of Phenotypic abnormality) above ``row``."""
        g = self.graph
        cache = g._cache.setdefault("phenotype.systems", {})
        hit = cache.get(row)
        if hit is None:
            if "phenotype.system_set" not in g._cache:
                g._cache["phenotype.system_set"] = set(g.branches("hpo_organ_system").tolist())
            hit = cache[row] = g._cache["phenotype.system_set"].intersection(
                g.anc.row(row).tolist()
            )
        return hit

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        rows, score, _ = cue_scores(self.graph, seed)
        if rows.size == 0:
            return Reject("too_few_phenotypes", "no usable phenotype")
        negative = rows.size >= self.n_options - 1 and rng.random() < self.params["negative_share"]
        if negative:
            return self._negative(seed, rows, score, rng)
        return self._positive(seed, rows, score, rng)

    def _positive(
        self, seed: int, rows: np.ndarray, score: np.ndarray, rng: np.random.Generator
    ) -> Draft | Reject:
        g = self.graph
        key = np.log(score) + 0.3 * rng.gumbel(size=score.size)
        answer = int(rows[int(np.argmax(key))])
        cand = hierarchy_neighbours(g, answer)
        memo = g._cache.setdefault("phenotype.neighbour_sims", {})
        sims = memo.get(answer)
        if sims is None:  # pure in (answer, cand): asked again on every draw of the answer
            sims = memo[answer] = np.array([ancestor_jaccard(g, answer, c) for c in cand.tolist()])
            sims.setflags(write=False)
        code = g.kind_codes[PHENOTYPE]

        clinical = clinical_terms(g)

        def ok(c: int) -> bool:
            return int(g.kind[c]) == code and clinical[c] and absent_phenotype(g, seed, c)

        chosen, s = pick(cand, sims, self.n_options - 1, rng, ok, [answer], g, balance=self.balance)
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} hard negatives")
        d, a = g.names[seed], g.names[answer]
        return Draft(
            template="phenotype.positive.v1",
            question=f"Which of the following is a characteristic feature of {d}?",
            answer=answer,
            distractors=chosen,
            entities=[seed, answer],
            path=[seed, answer],
            rels=[HAS_PHENOTYPE],
            hops=1,
            similarity=float(np.mean(s)),
            rationale={
                "understanding": f"The question asks which finding belongs to {d}.",
                "recall": f"{d} ({g.ids[seed]}) is annotated with {phrase(a)} ({g.ids[answer]}).",
                "reasoning": "The other options are neighbouring HPO terms that are not "
                f"annotated to {d}, nor under any of its annotated findings.",
                "conclusion": f"{a} is a characteristic feature of {d}.",
            },
            seed=seed,
            distractor_reasons=dict.fromkeys(
                chosen, f"not annotated to {d} in HPO, nor under any of its annotated findings"
            ),
        )

    def _negative(
        self, seed: int, rows: np.ndarray, score: np.ndarray, rng: np.random.Generator
    ) -> Draft | Reject:
        g = self.graph
        code = g.kind_codes[PHENOTYPE]
        clinical = clinical_terms(g)
        systems = {int(f): self.organ_systems(int(f)) for f in rows.tolist()}

        k = self.n_options - 1
        need = (k + 1) // 2  # features that must share an organ system with the odd option

        def shares_system(p: int) -> bool:
            mine = self.organ_systems(p)
            return sum(1 for s in systems.values() if s & mine) >= need

        explicit = [
            p
            for p in g.dis_not.row(seed).tolist()
            if int(g.kind[p]) == code
            and clinical[p]
            and absent_phenotype(g, seed, p)
            and shares_system(p)
        ]
        path_mid: list[int] = []
        if explicit:
            answer = explicit[int(rng.integers(len(explicit)))]
            near = -1
        else:
            answer, near, parent = self._absent_sibling(seed, rows, score, rng)
            if answer < 0:
                return Reject("not_enough_distractors", "no absent sibling for a NOT answer")
            path_mid = [near, parent]
        # the odd option must not stand out by organ system: features from its systems
        # first (most frequent first within each group), and at least half of them
        answer_systems = self.organ_systems(answer)
        same = np.array([bool(systems.get(int(f), set()) & answer_systems) for f in rows])
        order = np.lexsort((-score, ~same))
        feats = rows[order]
        sims = np.array([ancestor_jaccard(g, answer, int(f)) for f in feats])

        def ok(c: int) -> bool:
            return c != near and not negated_cue(g, seed, c)

        chosen, s = pick(
            feats,
            sims,
            self.n_options - 1,
            rng,
            ok,
            [answer],
            g,
            pool_factor=1,
            balance=self.balance,
        )
        if len(chosen) < k:
            return Reject("not_enough_distractors", f"{len(chosen)} distinct features")
        if sum(1 for c in chosen if systems.get(c, set()) & answer_systems) < need:
            return Reject("not_enough_distractors", "too few features in the odd one's systems")
        d, a = g.names[seed], g.names[answer]
        if explicit:
            recall = f"{d} ({g.ids[seed]}) is annotated NOT {phrase(a)} ({g.ids[answer]})."
            path, rels = [seed, answer], [HAS_PHENOTYPE]
        else:
            recall = (
                f"{d} ({g.ids[seed]}) is annotated with {phrase(g.names[near])}; its sibling "
                f"term {phrase(a)} and the terms under it are not annotated in HPO for {d}."
            )
            path, rels = [seed, *path_mid, answer], [HAS_PHENOTYPE, IS_A, IS_A]
        return Draft(
            template="phenotype.negative.v1",
            question=f"Which of the following is NOT a feature of {d}?",
            answer=answer,
            distractors=chosen,
            entities=[seed, answer],
            path=path,
            rels=rels,
            hops=1,
            similarity=float(np.mean(s)),
            rationale={
                "understanding": f"{self.n_options - 1} of the options are annotated findings "
                f"of {d}; one is not.",
                "recall": recall,
                "reasoning": "Every other option is an annotated feature of "
                f"{d}: " + ", ".join(phrase(g.names[c]) for c in chosen) + ".",
                "conclusion": (
                    f"{a} is annotated NOT for {d} in HPO."
                    if explicit
                    else f"{a} is the option not annotated in HPO for {d}."
                ),
            },
            seed=seed,
            distractor_reasons=dict.fromkeys(chosen, f"an annotated feature of {d} in HPO"),
        )

    def _absent_sibling(
        self, seed: int, rows: np.ndarray, score: np.ndarray, rng: np.random.Generator
    ) -> tuple[int, int, int]:
        """An IS_A sibling of one of the disease's features that the disease lacks."""
        g = self.graph
        code = g.kind_codes[PHENOTYPE]
        for i in rng.permutation(rows.size).tolist()[:8]:
            f = int(rows[i])
            for parent in g.parents.row(f).tolist():
                sibs = [
                    s
                    for s in g.children.row(parent).tolist()
                    if s != f
                    and int(g.kind[s]) == code
                    and not g.obsolete[s]
                    and clinical_terms(g)[s]
                    and absent_phenotype(g, seed, s)
                ]
                if sibs:
                    return sibs[int(rng.integers(len(sibs)))], f, parent
        return -1, -1, -1
