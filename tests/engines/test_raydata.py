"""Ray Data on the real local Ray cluster (tests/engines/conftest.py): corpora linked shard by
shard through ``map_batches`` on an actor pool write the local engine's bytes, a bad shard
names its file and line and leaves nothing behind, the audit of a corpus on Ray writes the
local audit, streamed embedding gives the local vectors, each actor sets its task up once,
and a worker killed mid-shard is replaced and its shard run again."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus
from medkg.embed.sharded import embed_sharded, shards_of
from medkg.engines import EngineError, LocalEngine, RayEngine, ShardTask
from medkg.errors import InputError
from medkg.io import DatasetError
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.corpora import PUBMED, check_rolled_up_audit, write_corpus, write_keyed_jsonl
from tests.factories.engines import Fails, SlowFirstAttempt, kill_when_started
from tests.factories.graphs import small_graph

pytestmark = pytest.mark.ray


def test_ray_data_links_a_corpus_into_the_local_bytes(ray_cluster: str, tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    (tmp_path / "corpus" / "pubmed.xml.gz").write_bytes(PUBMED.read_bytes())
    linker = Linker.from_graph(small_graph())
    shards = plan_shards(str(tmp_path / "corpus"), 40)
    read = ShardItems(("q",))
    files = {}
    ticks: list[int] = []
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        files[name] = tmp_path / f"{name}.parquet"
        res = link_corpus(linker, shards, read, engine, files[name],
                          progress=lambda s, d, t: ticks.append(d))  # fmt: skip
        assert res.items == len(expected) + 8  # the MMLU records and 8 citations
    assert files["ray"].read_bytes() == files["local"].read_bytes()
    assert ticks == list(range(1, len(shards) + 1)) * 2


def test_a_bad_shard_on_ray_names_file_and_line(ray_cluster: str, tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus")
    bad = tmp_path / "corpus" / "sub" / "b.jsonl"
    lines = bad.read_text().split("\n")
    lines[77] = '{"q": 1, '
    bad.write_text("\n".join(lines))
    linker = Linker.from_graph(small_graph())
    with pytest.raises(DatasetError, match=r"sub/b\.jsonl:78: malformed JSON"):
        link_corpus(linker, plan_shards(str(tmp_path / "corpus"), 40), ShardItems(("q",)),
                    RayEngine(workers=2), tmp_path / "m.parquet")  # fmt: skip
    # through the CLI: a one-line error, a non-zero exit, no output file
    store = tmp_path / "graph"
    from medkg.kg.stores import open_store

    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    out = tmp_path / "mentions.parquet"
    res = CliRunner().invoke(
        app,
        ["coverage", "link", str(tmp_path / "corpus"), "--fields", "q", "--path", str(store),
         "--out", str(out), "--engine", "ray", "--shard-size", "40"],
    )  # fmt: skip
    assert res.exit_code != 0 and "b.jsonl:78: malformed JSON" in res.output
    assert not out.exists() and not list(tmp_path.glob(".mentions*"))


def test_cli_audit_of_a_corpus_on_ray_writes_the_local_audit(
    ray_cluster: str, tmp_path: Path
) -> None:
    write_corpus(tmp_path / "corpus")
    store = tmp_path / "graph"
    from medkg.kg.stores import open_store

    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / f"audit-{engine}"
        res = CliRunner().invoke(
            app,
            ["coverage", "audit", str(tmp_path / "corpus"), str(PUBMED), "--fields", "q",
             "--path", str(store),
             "--out", str(outs[engine]), "--engine", engine, "--shard-size", "60",
             "--amcs-ref", "none", "--no-report", "--json"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        first, second = json.loads(res.stdout)["datasets"]  # two corpora, one stream
        assert first["name"] == "corpus" and first["n_items"] == 400
        assert second["name"] == "pubmed21n1298-excerpt" and second["n_items"] == 8
    names = sorted(p.name for p in outs["local"].iterdir())
    assert "mentions.corpus.parquet" in names and "coverage.json" in names
    assert names == sorted(p.name for p in outs["ray"].iterdir())
    for name in names:
        if name != "manifest.json":  # its provenance names the engine
            assert (outs["ray"] / name).read_bytes() == (outs["local"] / name).read_bytes(), name


def test_a_rolled_up_audit_on_ray_equals_the_whole_table_audit(
    ray_cluster: str, tmp_path: Path
) -> None:
    """Each Ray worker reduces its shard to the audit's counts; the driver adds them."""
    check_rolled_up_audit(small_graph(), tmp_path, 40, RayEngine(workers=2))


def test_repeated_ids_on_ray_name_both_records(ray_cluster: str, tmp_path: Path) -> None:
    """Across shards (found on the driver from the spooled hashes) and within one shard
    (raised on the worker, re-raised as it was)."""
    texts = ["fever", "a rash", "headache", "cough"]
    write_keyed_jsonl(tmp_path / "c" / "a.jsonl", ["k1", "k2", "k3", "k4"], texts)
    write_keyed_jsonl(tmp_path / "c" / "b.jsonl", ["k5", "k3", "k6", "k3"], texts)
    linker = Linker.from_graph(small_graph())
    for size, where in ((2, r"\S*a\.jsonl:3 and \S*b\.jsonl:2\."),
                        (4, r"\S*b\.jsonl:2 and \S*b\.jsonl:4\.")):  # fmt: skip
        with pytest.raises(InputError, match=rf"item id 'k3' appears twice in the corpus: {where}"):
            link_corpus(linker, plan_shards(str(tmp_path / "c"), size),
                        ShardItems(("q",), "key"), RayEngine(workers=2),
                        tmp_path / "m.parquet")  # fmt: skip


def test_streamed_embedding_on_ray_data_gives_the_local_vectors(ray_cluster: str) -> None:
    from medkg.io import mmlu_medical_items

    texts = [i.text[:300] for i in mmlu_medical_items()[:200]]
    local = embed_sharded(texts, LocalEngine(), "hashing", shard_size=32)
    remote = embed_sharded(texts, RayEngine(workers=2), "hashing", shard_size=32)
    np.testing.assert_array_equal(remote, local)


class CountsSetups(ShardTask[list[int], list[int]]):
    """Notes each ``setup`` (one file per call) and each shard's worker pid."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def setup(self) -> None:
        (Path(self.folder) / f"setup-{os.getpid()}-{uuid.uuid4().hex}").touch()

    def run(self, shard: list[int]) -> list[int]:
        return [x * 2 for x in shard]


def test_each_ray_data_actor_sets_the_task_up_once(ray_cluster: str, tmp_path: Path) -> None:
    shards = list(shards_of(range(40), 4))
    got = list(RayEngine(workers=2).stream(CountsSetups(str(tmp_path)), shards))
    assert got == [[x * 2 for x in s] for s in shards]
    setups = list(tmp_path.glob("setup-*"))
    assert 1 <= len(setups) <= 2  # one per actor of the pool, not one per shard (10)


def test_a_ray_data_worker_killed_mid_shard_is_retried(ray_cluster: str, tmp_path: Path) -> None:
    shards = list(shards_of(range(12), 4))
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["out"] = list(
                RayEngine(workers=2).stream(SlowFirstAttempt(str(tmp_path)), shards)
            )
        except BaseException as exc:  # collected for the assertion
            result["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    kill_when_started(tmp_path / "started-0")
    thread.join(timeout=240)
    assert not thread.is_alive()
    assert result.get("out") == [[x + 1 for x in s] for s in shards], result.get("error")


def test_a_failing_shard_on_ray_data_names_itself(ray_cluster: str) -> None:
    shards = list(shards_of(range(12), 4))
    with pytest.raises(EngineError, match=r"shard 1 failed: ValueError\('seven is not allowed'\)"):
        list(RayEngine(workers=2).stream(Fails(), shards))
