"""Diagnosis: a vignette of discriminative phenotypes → "Which is the most likely diagnosis?"

Seeds: diseases with at least ``k_min`` usable phenotype annotations. Cues: see
:mod:`medkg.synthesis.questions.cues` (frequent/obligate and specific first, never NOT);
the age of onset is added when the disease has exactly one onset term. Distractors: the
diseases sharing most phenotypes (Jaccard), minus any that has every cue, itself or
through a MAPS_TO equivalent.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.model import DISEASE, HAS_CLINICAL_COURSE, HAS_PHENOTYPE
from medkg.synthesis.clinical import disease_like, with_equivalents
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
from medkg.synthesis.questions.cues import frequency_note, key_words, select_cues


def onset_of(g: Any, disease: int) -> int:
    """The disease's single onset term (row), or -1 if none or several."""
    terms = [t for t in g.course.row(disease).tolist() if g.onset_term[t]]
    return terms[0] if len(terms) == 1 else -1


def onset_sentence(name: str) -> str:
    label = name[: -len(" onset")] if name.lower().endswith(" onset") else name
    return f" Onset: {label.lower()}."


def missing_cue(g: Any, disease: int, cues: list[int]) -> int:
    """The first cue ``disease`` does not have (-1 if it has them all)."""
    have = g.has_phenotype(disease, np.asarray(cues))
    miss = np.flatnonzero(~have)
    return cues[int(miss[0])] if miss.size else -1


@register_family("diagnosis")
class DiagnosisFamily(QuestionFamily):
    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {"k_min": 3, "k_max": 5, "use_onset": True}

    def eligible(self) -> np.ndarray:
        g = self.graph
        return (
            g.is_kind(DISEASE)
            & (g.dis_pheno.degree() >= self.params["k_min"])
            & ~g.obsolete
            & disease_like(g)
        )

    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        g, p = self.graph, self.params
        k = int(rng.integers(p["k_min"], p["k_max"] + 1))
        cand, jac = similar_diseases(g, seed, 40)
        avoid = key_words(g, seed)
        cues = select_cues(g, seed, k, rng, near=cand, avoid=avoid)
        if len(cues) < p["k_min"]:
            return Reject("too_few_phenotypes", f"{len(cues)} usable of {p['k_min']}")
        dis_code = g.kind_codes[DISEASE]
        closed = g.dis_closed  # what g.has_phenotype looks up, one cue at a time

        def ok(c: int) -> bool:
            return (
                int(g.kind[c]) == dis_code
                and not g.obsolete[c]
                # nor its MAPS_TO twins: sources annotate one disease apart (ORPHA:776
                # lacks a finding its twin OMIM:309520 has)
                and not any(all(closed.has(t, p) for p in cues) for t in with_equivalents(g, c))
                and not (g.is_ancestor(c, seed) or g.is_ancestor(seed, c))
            )

        chosen, sims = pick(cand, jac, self.n_options - 1, rng, ok, [seed], g, balance=self.balance)
        if len(chosen) < self.n_options - 1:
            return Reject("not_enough_distractors", f"{len(chosen)} hard negatives")
        onset = onset_of(g, seed) if p["use_onset"] else -1
        if onset >= 0 and avoid & key_words(g, onset):
            onset = -1  # "Onset: neonatal" would name "... neonatal diabetes"
        findings = join_names([phrase(g.names[c]) for c in cues])
        question = f"A patient presents with {findings}."
        if onset >= 0:
            question += onset_sentence(g.names[onset])
        question += " Which is the most likely diagnosis?"
        path = star_walk(cues, seed)
        rels = [HAS_PHENOTYPE] * (len(path) - 1)
        if onset >= 0:
            path, rels = [onset, seed, *path], [HAS_CLINICAL_COURSE, HAS_PHENOTYPE, *rels]
        recall = ", ".join(f"{phrase(g.names[c])} ({frequency_note(g, seed, c)})" for c in cues)
        why = {d: f"not annotated in HPO with {phrase(g.names[missing_cue(g, d, cues)])}"
               for d in chosen}  # fmt: skip
        answer = g.names[seed]
        return Draft(
            template="diagnosis.vignette.v1",
            question=question,
            answer=seed,
            distractors=chosen,
            entities=[*cues, *([onset] if onset >= 0 else []), seed],
            path=path,
            rels=rels,
            hops=1,
            similarity=float(np.mean(sims)),
            rationale={
                "understanding": f"The vignette gives {len(cues)} findings ({findings})"
                + (f" and {phrase(g.names[onset])}" if onset >= 0 else "")
                + "; the task is the one disease that shows all of them.",
                "recall": f"{answer} ({g.ids[seed]}) is annotated with {recall}.",
                "reasoning": "Every other option misses at least one finding in HPO: "
                + "; ".join(f"{g.names[d]} is {why[d]}" for d in chosen)
                + ".",
                "conclusion": f"The most likely diagnosis is {answer}.",
            },
            seed=seed,
            distractor_reasons=why,
        )
