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


def test_recipe_vars_stay_text_as_typed() -> None:
    """`medkg train run --var NAME=VALUE`: the value is substituted as typed (the help says
    values stay text); a JSON round trip turned "1.10" into "1.1" and "1e-5" into "1e-05"."""
    from medkg.cli.train_run import parse_vars
    from medkg.errors import UsageError

    given = ["REV=1.10", "LR=1e-5", 'NAME="quoted"', "EMPTY=", "EQ=a=b", " K =v"]
    assert parse_vars(given) == {
        "REV": "1.10",
        "LR": "1e-5",
        "NAME": '"quoted"',
        "EMPTY": "",
        "EQ": "a=b",
        "K": "v",
    }
    try:
        parse_vars(["novalue"])
    except UsageError as exc:
        assert "novalue" in str(exc)
    else:
        raise AssertionError("NAME without =VALUE must be an error")
