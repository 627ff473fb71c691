"""`medkg ui` refuses bad start-up input with a message and exit code 2 (nothing served)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import open_store

runner = CliRunner()


def test_ui_without_a_graph(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", "--path", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no graph in" in result.output and "medkg kg build" in result.output


def test_ui_with_a_folder_that_is_not_a_dataset(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    (tmp_path / "notes").mkdir()
    result = runner.invoke(
        app, ["ui", "--path", str(tmp_path / "graph"), "--dataset", str(tmp_path / "notes")]
    )
    assert result.exit_code == 2 and "is not a medkg dataset" in result.output
    result = runner.invoke(
        app, ["ui", "--path", str(tmp_path / "graph"), "--audit", str(tmp_path / "notes")]
    )
    assert result.exit_code == 2 and "coverage.json not found" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph", "notes"]
