"""The synthetic QA item: what every question family emits and every exporter reads.

An item is checkable against the graph: it names the answer's id, every entity it used,
the graph path (node ids and relation types) and the distractor ids, and carries its
provenance (source versions, graph content hash, template or generator, seed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from medkg.errors import UsageError

LETTERS = "ABCDEFGH"
RATIONALE_STEPS = ("understanding", "recall", "reasoning", "conclusion")


@dataclass(frozen=True)
class Reject:
    """Why a candidate item was not emitted (counted by reason, never silent)."""

    reason: str
    detail: str = ""


# Set on an item (outside its fields) by a family that ran the verifier on it:
# (verifier, id of the graph view). The pipeline does not run the same check twice.
VERIFIED_ATTR = "_verified_with"


@dataclass
class QAItem:
    family: str
    question: str  # the stem, usable as the open-answer form
    options: list[str]  # multiple-choice options (4-5), in presentation order
    option_ids: list[str]  # entity id behind each option
    answer_index: int  # index of the correct option
    answer_id: str
    entity_ids: list[str]  # every entity the item uses (seed, cues, intermediates, answer)
    path_nodes: list[str]  # the graph path that justifies the answer ...
    path_rels: list[str]  # ... and its relation types (len(path_nodes) - 1)
    distractor_ids: list[str]
    hops: int
    rare: bool
    difficulty: float  # 0 (easy) .. 1 (hard)
    rationale: dict[str, str]  # understanding -> recall -> reasoning -> conclusion
    template: str  # template id, or the generator name for LLM-written text
    seed_entity: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def answer(self) -> str:
        return self.options[self.answer_index]

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer_index]

    def mc_prompt(self) -> str:
        """The question with lettered options, as shown to a model."""
        opts = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(self.options))
        return f"{self.question}\n{opts}"

    def check_shape(self) -> None:
        """Raise ValueError if the item is internally inconsistent."""
        if not 4 <= len(self.options) <= 5:
            raise UsageError(f"{self.family}: {len(self.options)} options (need 4-5)")
        if len(self.options) != len(self.option_ids):
            raise UsageError(f"{self.family}: options and option_ids differ in length")
        # not Python's negative indexing: -1 would read as the last option (letter "H")
        if not 0 <= self.answer_index < len(self.options):
            raise UsageError(
                f"{self.family}: answer_index {self.answer_index} outside the "
                f"{len(self.options)} options"
            )
        if self.option_ids[self.answer_index] != self.answer_id:
            raise UsageError(f"{self.family}: answer_index does not point at answer_id")
        if len(set(self.option_ids)) != len(self.option_ids):
            raise UsageError(f"{self.family}: duplicate option ids")
        if len(set(o.lower() for o in self.options)) != len(self.options):
            raise UsageError(f"{self.family}: duplicate option texts")
        if len(self.path_rels) != max(len(self.path_nodes) - 1, 0):
            raise UsageError(f"{self.family}: path_rels must be one shorter than path_nodes")
        if set(self.rationale) != set(RATIONALE_STEPS):
            raise UsageError(f"{self.family}: rationale needs {RATIONALE_STEPS}")

    def to_dict(self) -> dict[str, Any]:
        """The item as a plain dict (lists and dicts copied one level: nothing nested deeper
        is mutable in an item, and a deep copy costs a tenth of an item's making)."""
        d = {
            f: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for f in self.__dataclass_fields__
            for v in (getattr(self, f),)
        }
        d["answer"] = self.answer
        d["answer_letter"] = self.answer_letter
        return d

    def with_id(self) -> QAItem:
        """Set ``id`` to a stable hash of the content (same item, same id)."""
        body = {k: v for k, v in self.to_dict().items() if k not in ("id", "provenance")}
        digest = hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        self.id = f"{self.family}-{digest[:16]}"
        return self
