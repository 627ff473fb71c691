"""`medkg synth` end to end on an embedded store (stand-in families, real samplers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medkg.cli.synth import app as synth_group
from medkg.kg.stores import open_store
from medkg.synthesis.pipeline import SynthBackends
from tests.factories.graphs import generated_graph
from tests.factories.synth import fake_backends

BENCH = Path(__file__).parent.parent / "fixtures" / "benchmarks"
runner = CliRunner()


def synth_app() -> typer.Typer:
    """`synth` mounted as in medkg.cli.main (a callback keeps it a subcommand)."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.add_typer(synth_group, name="synth")
    return app


@pytest.fixture()
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "graph"
    with open_store("embedded", path=path) as store:
        store.save(generated_graph())
    monkeypatch.setattr(SynthBackends, "default", classmethod(lambda cls: fake_backends()))
    return path


def invoke(*args: str):
    return runner.invoke(synth_app(), ["synth", *args])


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_synth_writes_the_export_and_reruns_byte_identically(store_path: Path, tmp_path: Path):
    args = ["--n", "60", "--seed", "5", "--families", "fake_dx,fake_gene", "--rare-share", "0.3"]
    args += ["--strategy", "uniform", "--path", str(store_path)]
    res = invoke(*args, "--out", str(tmp_path / "a"), "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["items"] == 60 and not summary["partial"]
    assert summary["counts"]["by_family"] == {"fake_dx": 30, "fake_gene": 30}
    assert summary["distribution"]["rare"]["realised"] == pytest.approx(0.3)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 5 and manifest["config"]["rare_share"] == 0.3
    assert manifest["n_items"] == 60 == sum(manifest["counts"]["by_family"].values())
    assert sum(manifest["counts"]["rare"].values()) == 60
    assert manifest["rejects"] == summary["rejects"]
    lines = (tmp_path / "a" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60
    # Same graph + config + seed => the same bytes, every file and the HF folder included.
    res = invoke(*args, "--out", str(tmp_path / "b"))
    assert res.exit_code == 0, res.output
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert "items by family" in res.stdout and "rare share 0.300" in res.stdout


def test_synth_decontam_and_formats(store_path: Path, tmp_path: Path):
    res = invoke(
        "--n", "200", "--seed", "1", "--families", "fake_dx", "--strategy", "uniform",
        "--decontam", str(BENCH / "mmlu_excerpt.jsonl"), "--decontam-mode", "drop",
        "--formats", "jsonl", "--path", str(store_path), "--out", str(tmp_path / "d"), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    decontam = json.loads(res.stdout)["counts"]["decontam"]
    assert decontam["dropped"] >= 1
    assert decontam["matched_by_benchmark"] == {"mmlu_excerpt": decontam["dropped"]}
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        ".medkg-output.json", "items.jsonl", "manifest.json",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--families", "fake_dx,nope"], "unknown question famil"),
        (["--strategy", "astrology"], "unknown sampling strategy"),
        (["--family-weights", "fake_dx=0.6,fake_gene=0.6"], "sum to 1"),
        (["--decontam", "/nope/bench.jsonl"], "bench.jsonl not found"),
        (["--formats", "csv"], "unknown export format"),
        (["--n", "100000", "--families", "fake_dx", "--strategy", "uniform"], "1200 at most"),
    ],
)
def test_synth_bad_input_is_a_clear_error_and_writes_nothing(
    store_path: Path, tmp_path: Path, args: list[str], message: str
):
    res = invoke(*args, "--path", str(store_path), "--out", str(tmp_path / "x"))
    assert res.exit_code == 2
    assert message in res.output.replace("\n", " ")
    assert not (tmp_path / "x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph"]


def test_synth_without_a_graph_says_so(tmp_path: Path):
    res = invoke("--path", str(tmp_path / "empty"), "--out", str(tmp_path / "x"))
    assert res.exit_code == 2 and "medkg kg build" in res.output


def test_synth_inspect_reports_on_a_dataset(store_path: Path, tmp_path: Path):
    args = ["--n", "80", "--seed", "2", "--strategy", "uniform", "--path", str(store_path)]
    assert invoke(*args, "--out", str(tmp_path / "ds")).exit_code == 0
    res = invoke("inspect", str(tmp_path / "ds"), "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["items"] == 80 and set(report["families"]) == {"fake_dx", "fake_gene"}
    fam = report["families"]["fake_dx"]
    assert fam["spread"]["distinct_seeds"] == 40 == fam["spread"]["effective_n"]
    assert set(fam["baselines"]) >= {"answer_prior", "stem_overlap", "longest", "most_central"}
    table = invoke("inspect", str(tmp_path / "ds"))
    assert table.exit_code == 0 and "trivial baselines" in table.stdout
    missing = invoke("inspect", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "nope" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"family": "x"}\n', encoding="utf-8")
    res = invoke("inspect", str(bad))
    assert res.exit_code == 2 and "bad.jsonl:1: not a QA item" in res.output.replace("\n", "")
