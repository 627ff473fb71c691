"""Helpers of the sharded-synthesis tests (tests/synthesis/test_sharded*.py,
tests/engines/test_synth_ranges.py): families that duplicate or keep state, a digest of a
result's items and manifest, the MMLU excerpt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medkg.synthesis.export import item_row
from medkg.synthesis.items import Reject
from medkg.synthesis.pipeline import SynthResult
from tests.factories.synth import FakeFamily, FakeGeneFamily

MMLU_EXCERPT = Path(__file__).parent.parent / "fixtures" / "benchmarks" / "mmlu_excerpt.jsonl"


class TwinDxFamily(FakeFamily):
    """fake_dx under another name: same seeds, same stems, own random stream, so many of
    its items are near duplicates (same answer and seed, 3 of 4 cues) of fake_dx's."""

    name = "fake_twin"


class StatefulGeneFamily(FakeGeneFamily):
    """fake_gene with state across draws (as a real family's OptionBalance): an item's
    difficulty follows how many items the family object made before it."""

    def __init__(self, graph, n_options=5):
        super().__init__(graph, n_options)
        self.made = 0

    def make(self, row, rng):
        item = super().make(row, rng)
        self.made += 1
        if not isinstance(item, Reject):
            item.difficulty = round(0.1 * (self.made % 7), 1)
        return item


def digest(result: SynthResult) -> tuple[str, str]:
    rows = "".join(json.dumps(item_row(i), sort_keys=True) + "\n" for i in result.items)
    manifest = json.dumps(result.manifest(), sort_keys=True, default=str)
    return (
        hashlib.sha256(rows.encode()).hexdigest(),
        hashlib.sha256(manifest.encode()).hexdigest(),
    )
