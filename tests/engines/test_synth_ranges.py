"""Seed-range shards (``shards_per_family`` K > 1) on a real local Ray cluster (a head and
a worker node, one CPU each: tests/engines/conftest.py): the Ray run writes the bytes
of the local run of the same config, also when ranges are run again on the driver, and
through the CLI on the bundled graph."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from medkg.engines import RayEngine
from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.graphs import generated_graph
from tests.factories.sharding import MMLU_EXCERPT, TwinDxFamily, digest
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
    (hashed here with hashlib), and the manifest records K."""
    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores import open_store

    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(bundled_kg)
    digests = {}
    for engine in ("local", "ray"):
        out = tmp_path / engine
        res = CliRunner().invoke(app, ["synth", "--n", "250", "--path", str(store), "--out",
                                       str(out), "--formats", "jsonl", "--engine", engine,
                                       "--shards-per-family", "3", "--json"])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["engine"]["engine"] == engine
        digests[engine] = {
            name: hashlib.sha256((out / name).read_bytes()).hexdigest()
            for name in ("items.jsonl", "manifest.json")
        }
    assert digests["ray"] == digests["local"]
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["config"]["shards_per_family"] == 3
    assert (tmp_path / "ray" / "items.jsonl").read_text().count("\n") == 250
