"""Drug classification: "Under which MeSH class is drug X listed?"

What the drug data supports: the bundled drug dictionary gives drugs IS_A links into the
MeSH D (Chemicals and Drugs) tree and nothing else — no indications, targets or adverse
effects — so this family asks about classification only. The answer is a direct MeSH
parent of the drug; distractors are sibling and cousin MeSH classes the drug is not under.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from medkg.kg.model import DRUG, IS_A
from medkg.synthesis.distractors import ancestor_jaccard, pick
from medkg.synthesis.items import Reject
from medkg.synthesis.questions.base import Draft, QuestionFamily, register_family

CLASS_PREFIX = "MESH:"


@register_family("drug")
class DrugFamily(QuestionFamily):
    opt_in = True  # MeSH chemical classes test taxonomy, not pharmacology

    def _is_class(self) -> np.ndarray:
        g = self.graph
        if "is_class" not in g._cache:
            pref = np.fromiter((i.startswith(CLASS_PREFIX) for i in g.ids), bool, g.n)
            g._cache["is_class"] = pref & (g.children.degree() > 0) & ~g.obsolete
        return g._cache["is_class"]

    def eligible(self) -> np.ndarray:
        g = self.graph
        is_class = self._is_class()
        src = np.repeat(np.arange(g.n), g.parents.degree())
        mask = np.zeros(g.n, dtype=bool)
        mask[src[is_class[g.parents.indices]]] = True
        return mask & g.is_kind(DRUG) & ~g.obsolete

    def _candidates(self, answer: int) -> tuple[np.ndarray, np.ndarray]:
        """Sibling, then cousin classes of ``answer`` (at most 24) and their ancestor
        similarity; pure in ``answer``, so memoised per graph view (read-only arrays)."""
        g = self.graph
        memo = g._cache.setdefault("drug.candidates", {})
        hit = memo.get(answer)
        if hit is not None:
            return hit
        is_class = self._is_class()
        ups = g.parents.row(answer).tolist()

        def siblings_then_cousins() -> Iterator[int]:
            for p in ups:
                yield from g.children.row(p).tolist()
            for p in ups:
                for gp in g.parents.row(p).tolist():
                    for s in g.children.row(gp).tolist():
                        yield from g.children.row(s).tolist()

        seen: set[int] = set()
        cand_list: list[int] = []
        for c in siblings_then_cousins():  # the first 24 distinct classes: no need for more
            if c not in seen and c != answer and is_class[c]:
                seen.add(c)
                cand_list.append(c)
                if len(cand_list) == 24:
                    break
        cand = np.asarray(cand_list, dtype=np.int64)
        sims = np.array([ancestor_jaccard(g, answer, c) for c in cand_list])
        for a in (cand, sims):
            a.setflags(write=False)
        memo[answer] = (cand, sims)
        return cand, sims

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g = self.graph
        is_class = self._is_class()
        classes = [p for p in g.parents.row(seed).tolist() if is_class[p]]
        if not classes:
            return Reject("no_category", f"{g.ids[seed]} has no MeSH class")
        answer = classes[int(rng.integers(len(classes)))]
        cand, sims = self._candidates(answer)

        def ok(c: int) -> bool:
            return not g.anc.has(seed, c)

        chosen, s = pick(
            cand, sims, self.n_options - 1, rng, ok, [answer, seed], g, balance=self.balance
        )
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} sibling classes")
        d, a = g.names[seed], g.names[answer]
        return Draft(
            template="drug.mesh_class.v1",
            question=f"In the MeSH Chemicals and Drugs tree, {d} is listed under which class?",
            answer=answer,
            distractors=chosen,
            entities=[seed, answer],
            path=[seed, answer],
            rels=[IS_A],
            hops=1,
            similarity=float(np.mean(s)) if s else 0.0,
            rationale={
                "understanding": f"The question asks for the MeSH class of the drug {d}.",
                "recall": f"{d} ({g.ids[seed]}) IS_A {a} ({g.ids[answer]}).",
                "reasoning": f"The other options are classes beside {a} in the MeSH tree "
                f"that {d} is not under.",
                "conclusion": f"{d} is listed under {a}.",
            },
            seed=seed,
            distractor_reasons=dict.fromkeys(chosen, f"{d} is not under it in the MeSH tree"),
        )
