"""Text from corpora is printed as written by `medkg retrieve query`: brackets in titles
and passages are data, never rich markup (a "[/i]" used to crash the table)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medkg.cli.main import app

runner = CliRunner()


def test_query_table_prints_bracketed_text(tmp_path: Path) -> None:
    corpus = tmp_path / "tb.jsonl"
    rows = [
        {"id": "d1", "title": "Zyxdeafness [x-linked]", "text": "Zyxdeafness [/i] is rare."},
        {"id": "d2", "title": "Other", "text": "Nothing about it."},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    indexes = tmp_path / "indexes"
    args = ["retrieve", "index", "tb", str(corpus), "--kind", "textbook", "--indexes"]
    res = runner.invoke(app, [*args, str(indexes)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["retrieve", "query", "tb", "zyxdeafness", "--indexes", str(indexes)])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.stdout.split())
    assert "[x-linked]" in flat and "[/i]" in flat
