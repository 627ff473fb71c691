"""``--repeated-ids last`` on the real local Ray cluster (tests/engines/conftest.py): a
PubMed baseline with its update file (tests/factories/pubmed_updates.py) plus JSONL files
that repeat ids, linked and audited on Ray Data, write the local engine's bytes and counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus
from medkg.engines import LocalEngine, RayEngine
from medkg.kg.stores import open_store
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.corpora import write_keyed_jsonl
from tests.factories.graphs import small_graph
from tests.factories.pubmed_updates import write_updated_pubmed

pytestmark = pytest.mark.ray


def test_last_policy_on_ray_writes_the_local_bytes(ray_cluster: str, tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    write_keyed_jsonl(pm.folder / "x.jsonl", ["k1", "k2", "k1"], ["Myopia", "FBN1", "TGFB2"])
    linker = Linker.from_graph(small_graph())
    shards = plan_shards(str(pm.folder), 2)
    files, counts = {}, {}
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        files[name] = tmp_path / f"{name}.parquet"
        res = link_corpus(linker, shards, ShardItems(("q",), None), engine, files[name],
                          repeated_ids="last")  # fmt: skip
        counts[name] = (res.items, res.superseded, res.deleted, res.mentions)
    # citations: the expected ones; JSONL ids are file:line (x.jsonl:1..3 differ): none drop
    assert counts["local"][:3] == (len(pm.kept) + 3, 1, 1)
    assert counts["ray"] == counts["local"]
    assert files["ray"].read_bytes() == files["local"].read_bytes()


def test_cli_audit_with_updates_on_ray_writes_the_local_audit(
    ray_cluster: str, tmp_path: Path
) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / engine
        res = CliRunner().invoke(app, ["coverage", "audit", str(pm.folder), "--path", str(store),
                                       "--out", str(outs[engine]), "--amcs-ref", "none",
                                       "--no-report", "--repeated-ids", "last",
                                       "--engine", engine])  # fmt: skip
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs["local"].iterdir())
    assert "coverage.json" in names and names == sorted(p.name for p in outs["ray"].iterdir())
    for name in names:
        if name != "manifest.json":  # its provenance names the engine
            assert (outs["ray"] / name).read_bytes() == (outs["local"] / name).read_bytes(), name
