"""Fake question families, graph and verifier: the synthesis pipeline without the real ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.items import QAItem, Reject
from medkg.synthesis.pipeline import (
    SynthBackends,
)
from medkg.synthesis.sampling import build_sampler

RATIONALE = {
    "understanding": "u",
    "recall": "r",
    "reasoning": "x",
    "conclusion": "c",
}

# MMLU anatomy (fixture line 4): a family copies it for one seed to test decontamination.
MMLU_STEM = (
    "A lesion causing compression of the facial nerve at the stylomastoid foramen will "
    "cause ipsilateral"
)


class FakeGraph:
    def __init__(self, kg: KnowledgeGraph) -> None:
        self.nodes = kg.nodes
        self.ids = kg.nodes.get_column("id").to_list()
        self.names = kg.nodes.get_column("name").to_list()
        self.rare = kg.nodes.get_column("rare").to_numpy().astype(bool)
        self.content_hash = "fakehash"
        self.source_versions = {"Gen": "1"}


class FakeFamily:
    """Vignettes of 4 of a seed's 6 made-up cue words; distractors of the same kind."""

    name = "fake_dx"
    kind = "Disease"
    n_cues = 6

    def __init__(self, graph: FakeGraph, n_options: int = 5) -> None:
        self.g = graph
        self.n_options = n_options
        self.rows = np.flatnonzero((graph.nodes.get_column("kind") == self.kind).to_numpy())

    def eligible(self) -> np.ndarray:
        mask = np.zeros(len(self.g.ids), dtype=bool)
        mask[self.rows] = True
        return mask

    def stem(self, row: int, rng: np.random.Generator) -> str:
        cues = [f"sign{row}x{j}" for j in rng.choice(self.n_cues, 4, replace=False)]
        if self.g.ids[row] == "DIS:010":
            return MMLU_STEM
        return f"A patient presents with {', '.join(cues)}. Which is the most likely diagnosis?"

    def make(self, row: int, rng: np.random.Generator) -> QAItem | Reject:
        if self.g.ids[row].endswith("3"):
            return Reject("no_cues", self.g.ids[row])
        others = rng.choice(self.rows[self.rows != row], self.n_options - 1, replace=False)
        answer = int(rng.integers(self.n_options))
        option_rows = [int(r) for r in others]
        option_rows.insert(answer, row)
        ids = [self.g.ids[r] for r in option_rows]
        return QAItem(
            family=self.name,
            question=self.stem(row, rng),
            options=[self.g.names[r] for r in option_rows],
            option_ids=ids,
            answer_index=answer,
            answer_id=self.g.ids[row],
            entity_ids=[self.g.ids[row]],
            path_nodes=[self.g.ids[row]],
            path_rels=[],
            distractor_ids=[i for i in ids if i != self.g.ids[row]],
            hops=1 if self.kind == "Disease" else 2,
            rare=bool(self.g.rare[row]),
            difficulty=0.5,
            rationale=RATIONALE,
            template=self.name,
            seed_entity=self.g.ids[row],
        )


class FewFamily(FakeFamily):
    """Always the same four cues (shuffled) and the same distractors: few distinct items."""

    name = "fake_dx"
    n_cues = 4

    def stem(self, row: int, rng: np.random.Generator) -> str:
        cues = [f"sign{row}x{j}" for j in rng.permutation(self.n_cues)]
        return f"A patient presents with {', '.join(cues)}. Which is the most likely diagnosis?"

    def make(self, row: int, rng: np.random.Generator) -> QAItem | Reject:
        item = super().make(row, rng)
        if isinstance(item, QAItem):
            others = [int(r) for r in self.rows if r != row][: self.n_options - 1]
            rows = [*others[: item.answer_index], row, *others[item.answer_index :]]
            item.options = [self.g.names[r] for r in rows]
            item.option_ids = [self.g.ids[r] for r in rows]
            item.distractor_ids = [self.g.ids[r] for r in others]
        return item


class FakeGeneFamily(FakeFamily):
    name = "fake_gene"
    kind = "Gene"

    def stem(self, row: int, rng: np.random.Generator) -> str:
        cues = [f"marker{row}y{j}" for j in rng.choice(self.n_cues, 3, replace=False)]
        return f"Variants in which gene explain {', '.join(cues)}?"


def fake_verify(item: QAItem, graph: FakeGraph) -> list[str]:
    if item.answer_id.endswith("7"):
        return [f"distractor_fits: {item.distractor_ids[0]} also fits"]
    return []


def fake_backends(**families: Any) -> SynthBackends:
    return SynthBackends(
        families=families or {"fake_dx": FakeFamily, "fake_gene": FakeGeneFamily},
        build_sampler=build_sampler,
        graph_from_kg=FakeGraph,
        verify_item=fake_verify,
    )
