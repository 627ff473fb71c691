"""`medkg retrieve eval --report`: a report path that cannot be written is a one-line error
(exit 2) found before the evaluation runs, and the report is written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medkg.cli.main import app
from tests.retrieval.test_cli_retrieve import world  # noqa: F401 - the module's fixture

runner = CliRunner()


def test_eval_report_under_a_file_is_a_clear_error(world: dict[str, Path]) -> None:  # noqa: F811
    blocker = world["root"] / "not-a-folder"
    blocker.write_text("notes\n", encoding="utf-8")
    base = ["retrieve", "eval", str(world["ds"]), "--path", str(world["store"]), "-k", "1"]
    base += ["--indexes", str(world["indexes"])]
    res = runner.invoke(app, [*base, "--report", str(blocker / "eval.json")])
    assert res.exit_code == 2, res.output
    assert f"{blocker} is a file" in " ".join(res.output.split())
    assert blocker.read_text(encoding="utf-8") == "notes\n"
    report = world["root"] / "reports" / "eval.json"
    res = runner.invoke(app, [*base, "--report", str(report), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(report.read_text(encoding="utf-8")) == json.loads(res.stdout)
