"""Logging: library modules log under "medkg" and print nothing by themselves; the CLI's
--verbose / --debug send the records to stderr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.stores import open_store
from tests.factories.graphs import small_graph

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_medkg_logger():
    logger = logging.getLogger("medkg")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logging") / "graph"
    with open_store("embedded", path=path) as s:
        s.save(small_graph())
    return path


def test_the_library_has_only_a_null_handler() -> None:
    import medkg

    handlers = logging.getLogger(medkg.__name__).handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_a_store_load_is_logged(store_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="medkg"),
        open_store("embedded", path=store_path) as s,
    ):
        kg = s.load()
    records = [r for r in caplog.records if r.name == "medkg.kg.stores.base"]
    assert len(records) == 1
    assert f"loaded {kg.nodes.height} nodes, {kg.edges.height} edges" in records[0].getMessage()


def test_verbose_shows_info_records_on_stderr(store_path: Path) -> None:
    quiet = runner.invoke(app, ["kg", "stats", "--path", str(store_path), "--json"])
    loud = runner.invoke(app, ["--verbose", "kg", "stats", "--path", str(store_path), "--json"])
    assert quiet.exit_code == 0 and loud.exit_code == 0, loud.output
    assert "loaded" not in quiet.stderr
    assert "medkg.kg.stores.base: loaded" in " ".join(loud.stderr.split())
    assert loud.stdout == quiet.stdout  # the JSON on stdout is untouched


def test_debug_lowers_the_level_to_debug(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "kg", "stats", "--path", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert logging.getLogger("medkg").getEffectiveLevel() == logging.DEBUG
