"""``coverage audit`` of a dataset read whole on the real local Ray cluster
(tests/engines/conftest.py) writes the files of ``--engine local``, the mention table
included (line-number ids, whose string order is not their input order)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.stores import open_store
from tests.factories.graphs import small_graph

pytestmark = pytest.mark.ray


def test_cli_audit_of_a_file_on_ray_writes_the_local_files(
    ray_cluster: str, tmp_path: Path
) -> None:
    texts = ["fever and cough", "Myopia", "Marfan syndrome", "FBN1 and Myopia"]
    (tmp_path / "d.jsonl").write_text("".join(f'{{"q": "{texts[n % 4]}"}}\n' for n in range(120)))
    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / engine
        res = CliRunner().invoke(app, ["coverage", "audit", str(tmp_path / "d.jsonl"), "--fields",
                                       "q", "--path", str(store), "--out", str(outs[engine]),
                                       "--amcs-ref", "none", "--no-report", "--shard-size", "50",
                                       "--engine", engine, "--workers", "2"])  # fmt: skip
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs["local"].iterdir())
    assert "mentions.parquet" in names and names == sorted(p.name for p in outs["ray"].iterdir())
    for name in names:
        if name != "manifest.json":  # its provenance names the engine
            assert (outs["ray"] / name).read_bytes() == (outs["local"] / name).read_bytes(), name
