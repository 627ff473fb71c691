"""Seed-range shards (``shards_per_family`` K > 1) on a real local Ray cluster (a head and
a worker node, one CPU each: tests/engines/conftest.py): the Ray run writes the bytes
of the local run of the same config, also when ranges are run again on the driver, and
through the CLI on the bundled graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medkg.engines import RayEngine
from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.graphs import generated_graph
from tests.factories.sharding import MMLU_EXCERPT, TwinDxFamily, cli_synth_digests, digest
from tests.factories.synth import FakeFamily, fake_backends

pytestmark = pytest.mark.ray


@pytest.mark.parametrize("twin", [False, True])
def test_ranges_on_ray_equal_the_local_run(ray_cluster: str, twin: bool) -> None:
    backends = (
        fake_backends(fake_dx=FakeFamily, fake_twin=TwinDxFamily) if twin else fake_backends()
    )
    config = SynthConfig(n=160, seed=3, strategy="uniform", shards_per_family=2,
                         decontam_files=[str(MMLU_EXCERPT)], allow_partial=True)  # fmt: skip
    local = synthesize(generated_graph(), config, backends=backends)
    ray = synthesize(generated_graph(), config, backends=backends,
                     engine=RayEngine(workers=2))  # fmt: skip
    assert digest(ray) == digest(local)
    assert ray.sharding["engine"] == "ray" and ray.sharding["shards"] == 4
    if twin:
        assert ray.sharding["rerun_on_driver"] == ["fake_twin#0", "fake_twin#1"]


def test_cli_synth_ranges_on_ray_writes_the_local_dataset(
    ray_cluster: str, bundled_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    """`medkg synth --shards-per-family 3 --engine ray` writes the bytes of the local run
    (hashed with hashlib), and the manifest records K."""
    digests = cli_synth_digests(bundled_kg, tmp_path, "--shards-per-family", "3")
    assert digests["ray"] == digests["local"]
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["config"]["shards_per_family"] == 3
    assert (tmp_path / "ray" / "items.jsonl").read_text().count("\n") == 250
