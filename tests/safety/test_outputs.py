"""One output discipline: staged atomic outputs that never replace what medkg did not write."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from medkg import outputs
from medkg.cli.main import app
from medkg.errors import OutputError
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.embedded import EmbeddedStore
from tests.factories.graphs import small_graph
from tests.factories.processes import tree_bytes

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "graph"
    EmbeddedStore(path).save(small_graph())
    return path


@pytest.fixture()
def users_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work", encoding="utf-8")
    (folder / "manifest.json").write_text('{"mine": true}', encoding="utf-8")
    return folder


def _untouched(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "thesis.tex"]
    assert (folder / "thesis.tex").read_text(encoding="utf-8") == "years of work"
    siblings = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    assert siblings == []  # no staging left behind


# -- every writing command refuses a user's folder -----------------------------------------


def test_kg_export_into_a_users_folder_leaves_it_untouched(store: Path, users_folder: Path):
    res = runner.invoke(app, ["kg", "export", str(users_folder), "--path", str(store)])
    assert res.exit_code == 2, res.output
    assert "medkg did not write: refusing to overwrite it" in res.output
    _untouched(users_folder)


def test_synth_into_a_users_folder_is_refused_before_any_work(store: Path, users_folder: Path):
    res = runner.invoke(app, ["synth", "--n", "2", "--families", "category", "--path",
                              str(store), "--out", str(users_folder)])  # fmt: skip
    assert res.exit_code == 2 and "refusing to overwrite" in res.output
    assert "loading the graph" not in res.output  # checked before the graph was read
    _untouched(users_folder)


def test_synth_into_the_store_itself_is_refused(store: Path):
    before = tree_bytes(store)
    res = runner.invoke(app, ["synth", "--n", "2", "--families", "category", "--path",
                              str(store), "--out", str(store)])  # fmt: skip
    assert res.exit_code == 2 and "holds a medkg 'embedded-store' output" in res.output
    assert tree_bytes(store) == before


def test_attach_and_dpo_pairs_and_pseudo_label_refuse_a_users_folder(users_folder: Path):
    for args in (
        ["retrieve", "attach", "nowhere.jsonl", "--corpus", "x", "--out", str(users_folder)],
        ["train", "dpo-pairs", "nowhere.jsonl", "--generator", "local:x", "--out",
         str(users_folder)],
        ["train", "pseudo-label", "nowhere", "--out", str(users_folder)],
    ):  # fmt: skip
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "refusing to overwrite" in res.output, (args, res.output)
    _untouched(users_folder)


def test_audit_into_a_users_folder_and_a_name_leaving_out_are_refused(
    store: Path, users_folder: Path, tmp_path: Path
):
    data = tmp_path / "items.jsonl"
    data.write_text('{"id": "1", "question": "Marfan syndrome?"}\n', encoding="utf-8")
    res = runner.invoke(app, ["coverage", "audit", str(data), "--out", str(users_folder),
                              "--path", str(store), "--amcs-ref", "none"])  # fmt: skip
    assert res.exit_code == 2 and "refusing to overwrite" in res.output
    _untouched(users_folder)
    out = tmp_path / "audit"
    res = runner.invoke(app, ["coverage", "audit", str(data), str(data), "--name", "a",
                              "--name", "../../escaped", "--out", str(out), "--path", str(store),
                              "--amcs-ref", "none"])  # fmt: skip
    assert res.exit_code == 2 and "cannot name a file" in res.output
    assert not out.exists() and not list(tmp_path.parent.glob("escaped*"))


def test_out_naming_a_file_is_a_clear_error(store: Path, tmp_path: Path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep", encoding="utf-8")
    for args in (
        ["coverage", "audit", "x.jsonl", "--out", str(a_file), "--path", str(store)],
        ["kg", "export", str(a_file), "--format", "parquet", "--path", str(store)],
        ["synth", "--n", "2", "--path", str(store), "--out", str(a_file)],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "is a file, not a folder" in res.output and "Traceback" not in res.output
    assert a_file.read_text(encoding="utf-8") == "keep"


# -- the module itself ------------------------------------------------------------------


def test_only_the_same_kind_is_replaced(tmp_path: Path):
    target = tmp_path / "out"
    with outputs.staged_folder(target, "synth") as stage:
        (stage / "a.txt").write_text("1")
    with outputs.staged_folder(target, "synth") as stage:
        (stage / "a.txt").write_text("2")
    assert (target / "a.txt").read_text() == "2"
    assert json.loads((target / outputs.MARKER).read_text())["kind"] == "synth"
    refused = "holds a medkg 'synth' output, not a 'kg-export'"
    with pytest.raises(OutputError, match=refused), outputs.staged_folder(target, "kg-export"):
        pass
    assert (target / "a.txt").read_text() == "2"


def test_a_failed_write_leaves_the_previous_output_and_no_staging(tmp_path: Path):
    target = tmp_path / "out"
    with outputs.staged_folder(target, "synth") as stage:
        (stage / "a.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), outputs.staged_folder(target, "synth") as s:
        (s / "a.txt").write_text("new")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_crash_between_the_two_renames_is_recovered_on_next_open(
    tmp_path: Path, small_kg: KnowledgeGraph
):
    store = EmbeddedStore(tmp_path / "graph")
    store.save(small_kg)
    before = tree_bytes(tmp_path / "graph")
    # The fallback swap (no renameat2) renames the old store aside first; a kill right
    # after that leaves no store at the path, only the aside copy of a dead process.
    aside = tmp_path / ".graph.medkg-old-999999-abcd"
    os.rename(tmp_path / "graph", aside)
    assert EmbeddedStore(tmp_path / "graph").exists()  # reopening recovers it
    assert tree_bytes(tmp_path / "graph") == before and not aside.exists()


def test_the_fallback_swap_without_renameat2_works(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    for text in ("1", "2"):
        with outputs.staged_folder(target, "synth") as stage:
            (stage / "a.txt").write_text(text)
    assert (target / "a.txt").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_of_dead_processes_is_cleaned(tmp_path: Path):
    dead = [tmp_path / ".out.medkg-stage-999999-abcd", tmp_path / ".out.tmp-999998"]
    for d in dead:
        d.mkdir()
        (d / "half.parquet").write_bytes(b"PAR1")
    live = tmp_path / f".out.medkg-stage-{os.getpid()}-live"
    live.mkdir()
    other = tmp_path / ".other.medkg-stage-999999-abcd"  # another target's: left alone
    other.mkdir()
    with outputs.staged_folder(tmp_path / "out", "synth") as stage:
        (stage / "a.txt").write_text("x")
    assert not any(d.exists() for d in dead) and live.exists() and other.exists()


def test_a_full_disk_is_a_one_line_error_with_exit_2(store: Path, tmp_path: Path, monkeypatch):
    def full(self: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    out = tmp_path / "export"
    res = runner.invoke(app, ["kg", "export", str(out), "--path", str(store)])
    assert res.exit_code == 2, res.output
    assert "no space left on the device while writing" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 2
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_real_bug_keeps_its_traceback(store: Path, monkeypatch):
    from medkg.kg import export

    def bug(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug, not a user error")

    monkeypatch.setattr(export, "export_graph", bug)
    res = runner.invoke(app, ["kg", "export", "x.graphml", "--path", str(store)])
    assert res.exit_code == 1 and isinstance(res.exception, ValueError)


def test_an_audit_folder_is_byte_identical_for_the_same_inputs(store: Path, tmp_path: Path):
    data = tmp_path / "items.jsonl"
    data.write_text('{"id": "1", "question": "Marfan syndrome?", "options": ["a", "b"]}\n')
    for out in ("a", "b"):
        res = runner.invoke(app, ["coverage", "audit", str(data), "--out", str(tmp_path / out),
                                  "--path", str(store), "--amcs-ref", "none"])  # fmt: skip
        assert res.exit_code == 0, res.output
    # report.html had plotly's random div ids: a kill test could not tell old from new
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_debug_keeps_the_traceback_of_medkgs_own_errors(
    store: Path, users_folder: Path, monkeypatch: pytest.MonkeyPatch
):
    from medkg.cli import common

    monkeypatch.setitem(common.DEBUG, "on", False)  # restored after: --debug sets it
    res = runner.invoke(app, ["--debug", "kg", "export", str(users_folder), "--path", str(store)])
    assert res.exit_code == 1 and isinstance(res.exception, OutputError)
    _untouched(users_folder)
