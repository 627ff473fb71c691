"""Helpers of the sharded-synthesis tests (tests/synthesis/test_sharded*.py,
tests/engines/test_synth_ranges.py, tests/engines/test_engines.py): families that duplicate
or keep state, a digest of a result's items and manifest, the same of `medkg synth` runs on
the local and the ray engine, the MMLU excerpt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from medkg.kg.model import KnowledgeGraph
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


def cli_synth_digests(kg: KnowledgeGraph, root: Path, *options: str) -> dict[str, dict[str, str]]:
    """`medkg synth --n 250` of ``kg`` (saved to ``root/graph``) into ``root/local`` and
    ``root/ray``, each with ``--engine`` set and ``options`` added; per engine the sha256
    (hashlib) of ``items.jsonl`` and ``manifest.json``. Each run must exit 0 and its JSON
    summary must name the engine that ran it."""
    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores import open_store

    store = root / "graph"
    with open_store("embedded", path=store) as s:
        s.save(kg)
    digests = {}
    for engine in ("local", "ray"):
        out = root / engine
        res = CliRunner().invoke(app, ["synth", "--n", "250", "--path", str(store), "--out",
                                       str(out), "--formats", "jsonl", "--engine", engine,
                                       *options, "--json"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["engine"]["engine"] == engine
        digests[engine] = {
            name: hashlib.sha256((out / name).read_bytes()).hexdigest()
            for name in ("items.jsonl", "manifest.json")
        }
    return digests
