"""Category / hierarchy questions.

* ``category.branch.<scheme>.v1`` — "Which ICD-10 chapter / MeSH disease category / HPO
  organ system does X belong to?": the answer is a top-level branch above X (IS_A
  closure); distractors are the sibling branches X is not under.
* ``category.msca.v1`` — "What is the most specific category that includes both A and B?"
  for two cousins A and B: the answer is their unique lowest common IS_A ancestor;
  distractors are the branches that hold only one of them and the more general ancestors.
  Opt-in (``msca_share`` 0 by default; see :meth:`CategoryFamily.defaults`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.index import BRANCH_SCHEMES, SynthesisGraph, sorted_isin
from medkg.kg.model import DISEASE, IS_A, PHENOTYPE
from medkg.synthesis.distractors import ancestor_jaccard, hierarchy_neighbours, pick
from medkg.synthesis.items import Reject
from medkg.synthesis.questions.base import Draft, QuestionFamily, register_family
from medkg.synthesis.verify import most_specific_common_ancestors

SIBLING_BRANCH_SIMILARITY = 0.5  # sibling branches share every ancestor but differ in scope


def path_up(g: SynthesisGraph, start: int, target: int) -> list[int]:
    """An IS_A walk from ``start`` up to its ancestor ``target`` (smallest parent first)."""
    path = [start]
    x = start
    while x != target:
        nxt = next((p for p in g.parents.row(x).tolist() if g.anc.has(p, target)), -1)
        if nxt < 0:
            return []
        path.append(nxt)
        x = nxt
    return path


@register_family("category")
class CategoryFamily(QuestionFamily):
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        # msca is opt-in: its key sits between the options in the hierarchy (the classes
        # below it and above it), so "the most central option" finds it 41% of the time
        # (measured with `medkg synth inspect`, chance 20%).
        return {"msca_share": 0.0}

    def eligible(self) -> np.ndarray:
        g = self.graph
        mask = (g.is_kind(DISEASE) | g.is_kind(PHENOTYPE)) & ~g.obsolete & (g.parents.degree() > 0)
        if self.params["msca_share"]:
            return mask
        # branch questions only: the seed must lie under a branch of some scheme
        under = np.zeros(g.n, dtype=bool)
        src = np.repeat(np.arange(g.n), g.anc.degree())
        for key in BRANCH_SCHEMES:
            br = g.branches(key)
            if br.size:
                hit = np.isin(g.anc.indices, br)
                under[src[hit & (src != g.anc.indices)]] = True
        return mask & under

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        if rng.random() < self.params["msca_share"]:
            draft = self._msca(seed, rng)
            if isinstance(draft, Draft):
                return draft
        draft = self._branch(seed, rng)
        if (
            isinstance(draft, Reject)
            and draft.reason == "no_category"
            and self.params["msca_share"]
        ):
            return self._msca(seed, rng)
        return draft

    def _branch(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g = self.graph
        anc = g.anc.row(seed)
        options = []
        for key in BRANCH_SCHEMES:
            br = g.branches(key)
            hit = br[sorted_isin(br, anc)]  # IS_A rows are sorted
            hit = hit[hit != seed]
            if hit.size:
                options.append((key, br, hit))
        if not options:
            return Reject("no_category", f"{g.ids[seed]} is under no known scheme branch")
        key, br, hit = options[int(rng.integers(len(options)))]
        answer = int(hit[rng.integers(hit.size)])
        cand = br[~sorted_isin(br, anc)].astype(np.int64)
        cand = cand[rng.permutation(cand.size)]
        sims = np.full(cand.size, SIBLING_BRANCH_SIMILARITY)
        chosen, s = pick(
            cand, sims, self.n_options - 1, rng, lambda c: True, [answer], g, cand.size,
            balance=self.balance, strict=False,
        )  # fmt: skip
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} sibling branches")
        path = path_up(g, seed, answer)
        label = BRANCH_SCHEMES[key].label
        e, a = g.names[seed], g.names[answer]
        trail = " → ".join(g.names[x] for x in path)
        return Draft(
            template=f"category.branch.{key}.v1",
            question=f"Which {label} does {e} belong to?",
            answer=answer,
            distractors=chosen,
            entities=[seed, answer],
            path=path,
            rels=[IS_A] * (len(path) - 1),
            hops=1,  # one look-up (the IS_A chain is its evidence, not reasoning steps)
            similarity=float(np.mean(s)),
            rationale={
                "understanding": f"The question asks for the top-level {label} above {e}.",
                "recall": f"The IS_A chain is {trail}.",
                "reasoning": f"{a} is on that chain; the other options are sibling "
                f"{label}s that {e} is not classified under.",
                "conclusion": f"{e} belongs to {a}.",
            },
            seed=seed,
            distractor_reasons=dict.fromkeys(chosen, f"{e} is not classified under this {label}"),
        )

    def _msca(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g = self.graph
        a = seed
        parents = g.parents.row(a)
        if parents.size == 0:
            return Reject("no_category", f"{g.ids[a]} has no parent")
        pa = int(parents[rng.integers(parents.size)])
        grand = g.parents.row(pa)
        b = -1
        if grand.size:
            gp = int(grand[rng.integers(grand.size)])
            aunts = [s for s in g.children.row(gp).tolist() if s != pa]
            cousins = [
                c
                for s in aunts
                for c in g.children.row(s).tolist()
                if not g.anc.has(c, a) and not g.anc.has(a, c) and not g.obsolete[c]
            ]
            if cousins:
                b = cousins[int(rng.integers(len(cousins)))]
        if b < 0:
            sibs = [
                s
                for s in g.children.row(pa).tolist()
                if s != a and not g.anc.has(s, a) and not g.anc.has(a, s) and not g.obsolete[s]
            ]
            if not sibs:
                return Reject("no_category", f"{g.ids[a]} has no sibling or cousin")
            b = sibs[int(rng.integers(len(sibs)))]
        msca = most_specific_common_ancestors(g, a, b)
        if msca.size != 1:
            return Reject("answer_not_unique", f"{msca.size} most specific common ancestors")
        answer = int(msca[0])
        up_a, up_b = path_up(g, a, answer), path_up(g, b, answer)
        below = [x for x in [*up_a[1:-1], *up_b[1:-1]]]
        above = [x for x in g.anc.row(answer).tolist() if x != answer]
        above.sort(key=lambda x: -int(g.anc.degree()[x]))  # nearest (deepest) first
        cand = np.asarray(
            [*below, *above, *hierarchy_neighbours(g, answer).tolist()], dtype=np.int64
        )
        cand = cand[np.sort(np.unique(cand, return_index=True)[1])]
        sims = np.array([ancestor_jaccard(g, answer, c) for c in cand.tolist()])
        bad = {a, b, answer}
        chosen, s = pick(
            cand,
            sims,
            self.n_options - 1,
            rng,
            lambda c: c not in bad,
            [answer, a, b],
            g,
            1,
            balance=self.balance,
            strict=False,
        )
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} ancestors and branches")
        path = [*up_a, *reversed(up_b[:-1])]
        na, nb, ans = g.names[a], g.names[b], g.names[answer]
        return Draft(
            template="category.msca.v1",
            question=f"What is the most specific category that includes both {na} and {nb}?",
            answer=answer,
            distractors=chosen,
            entities=[a, b, answer],
            path=path,
            rels=[IS_A] * (len(path) - 1),
            hops=2,  # the classes above A, the classes above B, then where they meet
            similarity=float(np.mean(s)),
            rationale={
                "understanding": f"The question asks for the lowest class above both {na} "
                f"and {nb}.",
                "recall": "IS_A chains: "
                + " → ".join(g.names[x] for x in up_a)
                + "; "
                + " → ".join(g.names[x] for x in up_b)
                + ".",
                "reasoning": f"The chains meet first at {ans}; the other options hold only "
                "one of the two, or hold both but are more general.",
                "conclusion": f"The most specific common category is {ans}.",
            },
            seed=seed,
            distractor_reasons={c: _msca_reason(g, c, a, b, ans) for c in chosen},
        )


def _msca_reason(g: Any, c: int, a: int, b: int, answer: str) -> str:
    """Why ``c`` is not the most specific common category of ``a`` and ``b``."""
    has_a, has_b = bool(g.anc.has(a, c)), bool(g.anc.has(b, c))
    if has_a and has_b:
        return f"includes both but is more general than {answer}"
    if has_a or has_b:
        return f"includes {g.names[a if has_a else b]} but not {g.names[b if has_a else a]}"
    return f"includes neither {g.names[a]} nor {g.names[b]}"
