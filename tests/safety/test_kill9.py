"""kill -9 at seeded random points of each writing command: the previous output stays
readable and complete (or the new one is complete), never a mix, and nothing stale is left
for long (the next write removes a killed process's staging)."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest

from medkg.kg.stores.embedded import EmbeddedStore
from tests.factories.graphs import small_graph
from tests.factories.processes import run_medkg, start_medkg, tree_bytes

pytestmark = pytest.mark.slow
KILLS = 3


def _visible(folder: Path) -> dict[str, bytes]:
    return tree_bytes(folder)


def _timed(*args: str) -> float:
    began = time.monotonic()
    res = run_medkg(*args)
    assert res.returncode == 0, res.stderr
    return time.monotonic() - began


def _no_staging_after_next_write(parent: Path, name: str, *args: str) -> None:
    res = run_medkg(*args)
    assert res.returncode == 0, res.stderr
    left = [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]
    assert left == [] or left == [f".{name}.lock"], left


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "graph"
    EmbeddedStore(path).save(small_graph())
    return path


def test_kill9_during_kg_export(store: Path, tmp_path: Path) -> None:
    rng = random.Random(13)
    out, ref = tmp_path / "export", tmp_path / "ref"
    base = ["kg", "export", "--path", str(store)]
    _timed(*base, "--kind", "Disease", str(out))
    old = _visible(out)
    duration = _timed(*base, str(ref))
    new = _visible(ref)
    assert old != new
    args = [*base, str(out)]
    for _ in range(KILLS):
        proc = start_medkg(*args)
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _visible(out) in (old, new)
        if _visible(out) == new:
            _timed(*base, "--kind", "Disease", str(out))
    _no_staging_after_next_write(tmp_path, "export", *args)
    assert _visible(out) == new


def test_kill9_during_an_embedded_store_build(store: Path, tmp_path: Path) -> None:
    rng = random.Random(17)
    target = tmp_path / "graph"
    EmbeddedStore(target).save(small_graph())
    old = _visible(target)
    args = ["kg", "build", "-s", "hpo", "--path", str(target)]
    for _ in range(2):  # a build is ~10 s on 2 cores: two kills, before and in the save
        proc = start_medkg(*args)
        time.sleep(rng.uniform(2.0, 9.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reopened = EmbeddedStore(target)
        assert reopened.exists()  # recovers an interrupted swap if there was one
        now = _visible(target)
        if now != old:  # the new graph got in: it must be complete and loadable
            manifest = reopened.manifest()
            kg = reopened.load()
            assert kg.nodes.height == manifest["counts"]["nodes"]
            assert kg.content_hash() == manifest["content_hash"]
            EmbeddedStore(target).save(small_graph())
            old = _visible(target)
        else:
            assert reopened.load().content_hash() == small_graph().content_hash()
    _no_staging_after_next_write(tmp_path, "graph", "kg", "stats", "--path", str(target))


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph every family can draw items from with clinically sound distractors (the
    small graph above has too few diseases for that since the relatedness checks)."""
    from tests.factories.graphs import synthetic_kg

    path = tmp_path_factory.mktemp("synth-store") / "graph"
    EmbeddedStore(path).save(synthetic_kg())
    return path


def test_kill9_during_synth(synth_store: Path, tmp_path: Path) -> None:
    rng = random.Random(19)
    out, ref = tmp_path / "ds", tmp_path / "ref"
    base = ["synth", "--n", "2", "--families", "category", "--path", str(synth_store), "--out"]
    _timed(*base, str(out), "--formats", "jsonl")
    old = _visible(out)
    duration = _timed(*base, str(ref), "--formats", "jsonl,parquet,trl")
    new = _visible(ref)
    # the manifest names the output folder nowhere, so the two runs compare byte for byte
    assert set(new) - set(old) == {"items.parquet", "trl_grpo.jsonl", "trl_sft.jsonl"}
    args = [*base, str(out), "--formats", "jsonl,parquet,trl"]
    for _ in range(KILLS):
        proc = start_medkg(*args)
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _visible(out)
        assert now in (old, new)
        if now == new:
            _timed(*base, str(out), "--formats", "jsonl")
    assert json.loads(_visible(out)["manifest.json"])["n_items"] == 2
    _no_staging_after_next_write(tmp_path, "ds", *args)


def test_kill9_during_coverage_audit(store: Path, tmp_path: Path) -> None:
    rng = random.Random(23)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    row = '{{"id": "{}", "question": "{}", "options": ["yes", "no"]}}\n'
    one.write_text(row.format(1, "Marfan syndrome?"), encoding="utf-8")
    two.write_text(row.format(1, "Marfan syndrome or myopia?") + row.format(2, "Arachnodactyly"),
                   encoding="utf-8")  # fmt: skip
    out, ref = tmp_path / "audit", tmp_path / "ref"
    base = ["coverage", "audit", "--name", "d", "--amcs-ref", "none", "--path", str(store)]
    _timed(*base, str(one), "--out", str(out))
    old = _visible(out)
    duration = _timed(*base, str(two), "--out", str(ref))
    new = _visible(ref)
    assert old["gaps.json"] != new["gaps.json"]
    args = [*base, str(two), "--out", str(out)]
    for _ in range(KILLS):
        proc = start_medkg(*args)
        time.sleep(rng.uniform(0.3, 1.0) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _visible(out)
        # the finding: gaps.json of the new run beside coverage.json of the old one
        assert now in (old, new)
        if now == new:
            _timed(*base, str(one), "--out", str(out))
    _no_staging_after_next_write(tmp_path, "audit", *args)
