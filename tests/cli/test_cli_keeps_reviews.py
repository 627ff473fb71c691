"""Writing a dataset folder again (`medkg synth --out`, `medkg run`) replaces it whole:
a curator's review.jsonl in it (written by `medkg ui`) must stop the command instead of
being deleted with the folder."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.stores.base import open_store
from medkg.synthesis.export import export_items
from medkg.synthesis.review import record_decisions
from tests.factories.graphs import synthetic_kg
from tests.factories.items import items as make_items


def test_synth_refuses_to_replace_a_reviewed_dataset(tmp_path: Path) -> None:
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(synthetic_kg())
    ds = export_items(make_items(), tmp_path / "ds", {"seed": 0}, ["jsonl"]).path
    record_decisions(ds, [{"item_id": "x1", "decision": "reject", "reason": "wrong key"}])
    kept = (ds / "review.jsonl").read_bytes()
    args = ["synth", "--n", "4", "--out", str(ds)]
    args += ["--formats", "jsonl", "--path", str(tmp_path / "graph")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "review.jsonl" in " ".join(res.output.split())
    assert (ds / "review.jsonl").read_bytes() == kept
