"""The question-family interface and the steps every family shares.

A family implements two hooks: :meth:`QuestionFamily.eligible` (a bool mask over graph
rows of valid seed entities) and :meth:`QuestionFamily.compose` (seed → :class:`Draft`, or
a :class:`Reject`). :meth:`QuestionFamily.make` is the template method around them: it
places the answer at a uniformly drawn letter (seeded), fills every :class:`QAItem` field,
scores difficulty, runs the independent verifier and turns its first problem into a
``Reject(reason)``, so an emitted item has passed the same check a consumer would run.

Difficulty (0 easy .. 1 hard)::

    difficulty = 0.5 * similarity + 0.3 * min(hops - 1, 3) / 3 + 0.2 * rare

``similarity`` is the mean similarity of the distractors to the answer in 0..1 (phenotype
Jaccard for diseases and genes, ancestor-set Jaccard for hierarchy terms), ``hops`` the
reasoning hops from the cues to the answer, ``rare`` whether a rare disease is involved.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from medkg.errors import UsageError
from medkg.kg.index import SynthesisGraph
from medkg.registry import Registry
from medkg.synthesis.distractors import OptionBalance
from medkg.synthesis.items import RATIONALE_STEPS, VERIFIED_ATTR, QAItem, Reject
from medkg.synthesis.questions.cues import name_words
from medkg.synthesis.verify import reason_of, verify_item


@dataclass
class Draft:
    """What a family decides; rows are graph rows."""

    template: str
    question: str
    answer: int
    distractors: list[int]  # hardest first; make() keeps n_options - 1 of them
    entities: list[int]  # seed, cues, intermediates, answer
    path: list[int]
    rels: list[str]
    hops: int
    similarity: float
    rationale: dict[str, str]
    seed: int
    # why each distractor (row) is wrong per the graph; make() records the shown ones in
    # provenance["distractor_reasons"], keyed by entity id
    distractor_reasons: dict[int, str] = field(default_factory=dict)


def stem_names_answer(item: QAItem, option_words: Sequence[AbstractSet[str]] | None = None) -> bool:
    """The key shares more content words with the stem than every other option (a reader
    could pick it by word overlap alone: the stem-overlap baseline of ``synth inspect``).
    ``option_words``: the options' content words when the caller has them already."""
    from medkg.synthesis.inspect import content_words

    stem = content_words(item.question)
    if option_words is None:
        option_words = [content_words(o) for o in item.options]
    overlap = [len(stem.intersection(w)) for w in option_words]
    key = overlap[item.answer_index]
    return key > 0 and all(v < key for i, v in enumerate(overlap) if i != item.answer_index)


def difficulty(similarity: float, hops: int, rare: bool) -> float:
    """The documented difficulty formula (see the module docstring)."""
    sim = min(max(similarity, 0.0), 1.0)
    return round(0.5 * sim + 0.3 * min(max(hops - 1, 0), 3) / 3 + 0.2 * float(rare), 4)


def star_walk(cues: list[int], center: int) -> list[int]:
    """A walk visiting each cue through ``center``: c1, center, c2, center, ..., ck, center."""
    walk: list[int] = []
    for c in cues:
        walk += [c, center]
    return walk


def phrase(name: str) -> str:
    """A term name as it reads mid-sentence (lower-cased first letter unless an acronym)."""
    if len(name) > 1 and name[:2].isupper():
        return name
    return name[:1].lower() + name[1:]


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


class QuestionFamily(ABC):
    """One kind of question; subclasses register with :func:`register_family`.

    A family's verification predicate sits beside it, registered with
    :func:`medkg.synthesis.verify.register_check` under the same name.
    """

    name: ClassVar[str]
    #: Made only when named in ``SynthConfig.families`` (not part of the default mix).
    opt_in: ClassVar[bool] = False
    #: May be cut into seed ranges (``SynthConfig.shards_per_family``): False for a family
    #: whose items must be steered by its whole history, which ranges run apart cannot share.
    seed_ranges: ClassVar[bool] = True

    def __init__(self, graph: SynthesisGraph, n_options: int = 5, **params: Any) -> None:
        if not 4 <= n_options <= 5:
            raise UsageError(f"n_options must be 4 or 5, got {n_options}")
        unknown = set(params) - set(self.defaults())
        if unknown:
            raise UsageError(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        self.graph = graph
        self.n_options = n_options
        self.params: dict[str, Any] = {**self.defaults(), **params}
        self._provenance = graph.provenance()
        self.balance = OptionBalance()

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Family parameters and their defaults (override to add some)."""
        return {}

    @abstractmethod
    def eligible(self) -> np.ndarray:
        """Bool mask over graph rows (= ``kg.nodes`` rows) of entities this family can seed."""

    @abstractmethod
    def compose(self, seed: int, rng: np.random.Generator) -> Draft | Reject:
        """Pick cues, answer, path and ranked distractors for ``seed``."""

    def make(self, seed: int, rng: np.random.Generator) -> QAItem | Reject:
        """One verified item for seed row ``seed``, or why not."""
        draft = self.compose(seed, rng)
        if isinstance(draft, Reject):
            return draft
        k = self.n_options - 1
        if self.balance.overused(draft.answer, self.n_options):
            return Reject("key_overused", f"{self.graph.ids[draft.answer]} is the key too often")
        if len(draft.distractors) < k:
            return Reject("not_enough_distractors", f"{len(draft.distractors)} of {k}")
        g = self.graph
        distractors = draft.distractors[:k]
        order = rng.permutation(k)
        pos = int(rng.integers(self.n_options))
        shown = [distractors[i] for i in order]
        shown.insert(pos, draft.answer)
        for step in RATIONALE_STEPS:
            if not draft.rationale.get(step):
                raise UsageError(f"{self.name}: rationale step {step!r} is empty")
        rare = bool(g.rare[[draft.seed, draft.answer, *draft.entities]].any())
        item = QAItem(
            family=self.name,
            question=draft.question,
            options=[g.names[r] for r in shown],
            option_ids=[g.ids[r] for r in shown],
            answer_index=pos,
            answer_id=g.ids[draft.answer],
            entity_ids=[g.ids[r] for r in draft.entities],
            path_nodes=[g.ids[r] for r in draft.path],
            path_rels=list(draft.rels),
            distractor_ids=[g.ids[r] for r in distractors],
            hops=draft.hops,
            rare=rare,
            difficulty=difficulty(draft.similarity, draft.hops, rare),
            rationale=draft.rationale,
            template=draft.template,
            seed_entity=g.ids[draft.seed],
        )
        if stem_names_answer(item, [name_words(g, r) for r in shown]):
            return Reject("stem_names_answer", "the key alone shares most words with the stem")
        problems = verify_item(item, g)
        if problems:
            return Reject(reason_of(problems[0]), problems[0])
        # not a field (not exported): lets the pipeline skip running the same check again
        item.__dict__[VERIFIED_ATTR] = (verify_item, id(g))
        self.balance.record(draft.answer, distractors)
        item.with_id()  # the id excludes provenance, so it is attached afterwards (cheaper)
        item.provenance = {
            **self._provenance,
            "template": draft.template,
            "generator": "template",
        }
        reasons = draft.distractor_reasons
        if reasons:
            item.provenance["distractor_reasons"] = {
                g.ids[d]: reasons[d] for d in distractors if d in reasons
            }
        return item


# Families by name, imported on first use; third-party ones arrive through the
# ``medkg.families`` entry-point group.
FAMILIES: Registry[type[QuestionFamily]] = Registry(
    "question family",
    group="medkg.families",
    set_key=False,
    lazy={
        "diagnosis": "medkg.synthesis.questions.diagnosis:DiagnosisFamily",
        "gene": "medkg.synthesis.questions.gene:GeneFamily",
        "phenotype": "medkg.synthesis.questions.phenotype:PhenotypeFamily",
        "category": "medkg.synthesis.questions.category:CategoryFamily",
        "chain": "medkg.synthesis.questions.chain:ChainFamily",
        "drug": "medkg.synthesis.questions.drug:DrugFamily",
    },
)


def register_family(name: str) -> Any:
    """Class decorator: add a :class:`QuestionFamily` to :data:`FAMILIES` as ``name``
    (and set its ``name``)."""

    def deco(cls: type[QuestionFamily]) -> type[QuestionFamily]:
        cls.name = name
        FAMILIES.add(name, cls)
        return cls

    return deco
