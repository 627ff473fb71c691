"""`medkg retrieve index|query|attach|eval` end to end on a synthetic graph in an embedded
store, a textbook corpus in JSONL and the graph corpus; exit codes and error messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medkg.cli.retrieve import app
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories.graphs import synthetic_kg

runner = CliRunner()


def invoke(args: Sequence[object], code: int = 0) -> Any:
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == code, res.output
    return res


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A graph store, a synthetic dataset and a textbook corpus about its diseases."""
    root = tmp_path_factory.mktemp("retrieve")
    kg = synthetic_kg()
    with EmbeddedStore(root / "graph") as store:
        store.save(kg)
    synthesize(kg, SynthConfig(n=30, seed=0, rare_share=None)).export(root / "ds", ["jsonl"])
    names = dict(zip(kg.nodes["id"], kg.nodes["name"], strict=True))
    phenotypes: dict[str, list[str]] = {}
    for src, rel, dst in kg.edges.select("src", "rel", "dst").iter_rows():
        if rel == "HAS_PHENOTYPE":
            phenotypes.setdefault(src, []).append(names[dst])
    with (root / "textbook.jsonl").open("w", encoding="utf-8") as fh:
        for dis, found in sorted(phenotypes.items()):
            text = f"{names[dis]} presents with {', '.join(found).lower()}."
            fh.write(json.dumps({"id": dis, "title": names[dis], "text": text}) + "\n")
    indexes = root / "home" / "retrieval" / "indexes"
    invoke(["index", "tb", root / "textbook.jsonl", "--kind", "textbook", "--indexes", indexes])
    invoke(["index", "kg", "--graph", "--path", root / "graph", "--indexes", indexes])
    return {"root": root, "indexes": indexes, "store": root / "graph", "ds": root / "ds"}


def test_index_and_query(world: dict[str, Path]):
    idx = world["indexes"]
    registry = json.loads((idx.parent / "corpora.json").read_text(encoding="utf-8"))
    assert {(c["name"], c["kind"]) for c in registry["corpora"]} == {
        ("tb", "textbook"),
        ("kg", "graph"),
    }
    hits = json.loads(
        invoke(["query", "kg", "Syndrome A0, phenotypes", "--indexes", idx, "--json"]).stdout
    )
    assert hits["kind"] == "graph" and hits["hits"][0]["doc_id"] == "ORPHA:900"
    assert "Syndrome A0 has phenotype" in hits["hits"][0]["text"]
    hits = json.loads(
        invoke(["query", "tb", "Syndrome B1", "-k", "2", "--indexes", idx, "--json"]).stdout
    )
    assert hits["hits"][0]["chunk_id"] == "tb:ORPHA:901:0" and len(hits["hits"]) <= 2
    table = invoke(["query", "tb", "Syndrome B1", "--indexes", idx]).stdout
    assert "ORPHA:901" in table


def test_attach_writes_reproducible_evidence(world: dict[str, Path]):
    outs = []
    for name in ("a", "b"):
        out = world["root"] / f"attached-{name}"
        args = ["attach", world["ds"], "--out", out, "--path", world["store"], "-k", "3"]
        res = invoke([*args, "--indexes", world["indexes"], "--json"])
        outs.append(out)
    summary = json.loads(res.stdout)
    assert summary["items"] == 30 and summary["items_with_support"] > 0
    assert summary["sft_rows"] > 0 and "query_dpo.jsonl" in summary["files"]
    for f in ("items.jsonl", "queries.jsonl", "query_sft.jsonl", "query_dpo.jsonl"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    rows = [json.loads(x) for x in (outs[0] / "items.jsonl").read_text().splitlines()]
    assert {e["corpus"] for r in rows for e in r["evidence"]} == {"tb", "kg"}
    manifest = json.loads((outs[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"]["graph_hash"] and manifest["query_config"]["max_cues"] == 4
    assert str(world["root"]) not in (outs[0] / "manifest.json").read_text(encoding="utf-8")


def test_eval_reports_graph_vs_raw(world: dict[str, Path]):
    report = world["root"] / "eval.json"
    args = ["eval", world["ds"], "--path", world["store"], "-k", "1,10", "--report", report]
    data = json.loads(invoke([*args, "--indexes", world["indexes"], "--json"]).stdout)
    assert data["ks"] == [1, 10]
    assert {r["corpus"] for r in data["graph_vs_raw"]} == {"tb", "kg"}
    assert json.loads(report.read_text(encoding="utf-8")) == data
    kg_row = next(r for r in data["graph_vs_raw"] if r["corpus"] == "kg")
    assert kg_row["graph_recall@10"] > kg_row["raw_recall@10"]  # "term, relation" look-ups
    table = invoke([*args, "--indexes", world["indexes"], "--corpus", "tb"]).stdout
    assert "graph-expanded queries vs the raw question" in table
    strict = [*args, "--indexes", world["indexes"], "--corpus", "kg", "--support-only", "--json"]
    strict_row = json.loads(invoke(strict).stdout)["graph_vs_raw"][0]
    assert strict_row["graph_recall@10"] <= kg_row["graph_recall@10"]


def test_clear_errors(world: dict[str, Path], tmp_path: Path):
    idx = world["indexes"]
    res = invoke(["query", "nope", "x", "--indexes", idx], code=2)
    assert "no corpus 'nope'" in res.output and "corpora.json" in res.output
    res = invoke(["query", "tb", "x", "--indexes", tmp_path / "elsewhere" / "indexes"], code=2)
    assert "no corpus 'tb'" in res.output
    # registered, but its index folder is gone
    lost = tmp_path / "lost" / "indexes"
    (tmp_path / "c.jsonl").write_text('{"id": "1", "title": "t", "text": "x y"}\n', "utf-8")
    invoke(["index", "c", tmp_path / "c.jsonl", "--kind", "research", "--indexes", lost])
    (lost / "c" / "meta.json").unlink()
    res = invoke(["query", "c", "x", "--indexes", lost], code=2)
    assert "is not a retrieval index" in res.output and str(lost / "c") in res.output
    (tmp_path / "empty.jsonl").write_text("", "utf-8")
    res = invoke(
        ["index", "e", tmp_path / "empty.jsonl", "--kind", "textbook", "--indexes", idx], 2
    )
    assert "empty" in res.output and "empty.jsonl" in res.output
    assert not (idx / "e").exists()
    res = invoke(["index", "t", "--kind", "textbook", "--indexes", idx], code=2)
    assert "SOURCE" in res.output
    res = invoke(["index", "t", tmp_path / "c.jsonl", "--indexes", idx], code=2)
    assert "--kind is required" in res.output
    res = invoke(["query", "tb", "x", "--indexes", idx, "--embedder", "hashing"], code=2)
    assert "uses no embedder" in res.output
    res = invoke(["attach", tmp_path / "nothing", "--out", tmp_path / "o", "--indexes", idx], 2)
    assert "no items.jsonl" in res.output


def test_query_against_an_index_built_with_another_model(tmp_path: Path):
    idx = tmp_path / "indexes"
    (tmp_path / "c.jsonl").write_text(
        '{"id": "1", "title": "Marfan syndrome", "text": "FBN1 variants."}\n', "utf-8"
    )
    args = ["index", "d", tmp_path / "c.jsonl", "--kind", "research", "--backend", "dense"]
    opts = ["--backend-option", "embedder=hashing", "--backend-option"]
    invoke([*args, *opts, 'embedder_options={"n_features": 64}', "--indexes", idx])
    ok = ["query", "d", "Marfan", "--indexes", idx, "--json"]
    assert json.loads(invoke(ok).stdout)["hits"][0]["doc_id"] == "1"
    other = [*ok, "--embedder", "hashing", "--embedder-option", "n_features=32"]
    res = invoke(other, code=2)
    assert "was built with hashing:crc32-char3-5:64" in res.output
    assert "hashing:crc32-char3-5:32" in res.output


def test_unknown_embedder_option_is_a_clear_error(tmp_path: Path):
    """A misspelt embedder option (at index or query time) exits 2 naming the option, not
    with a TypeError traceback; nothing is indexed."""
    idx = tmp_path / "indexes"
    (tmp_path / "c.jsonl").write_text(
        '{"id": "1", "title": "Marfan syndrome", "text": "FBN1 variants."}\n', "utf-8"
    )
    args = ["index", "d", tmp_path / "c.jsonl", "--kind", "research", "--backend", "dense"]
    opts = ["--backend-option", "embedder=hashing", "--backend-option"]
    res = invoke([*args, *opts, 'embedder_options={"dim": 64}', "--indexes", idx], code=2)
    assert "does not take ['dim']" in res.output and "n_features" in res.output
    assert not (idx / "d").exists()
    invoke([*args, "--backend-option", "embedder=hashing", "--indexes", idx])
    query = ["query", "d", "Marfan", "--indexes", idx, "--embedder", "hashing"]
    res = invoke([*query, "--embedder-option", "dim=64"], code=2)
    assert "--embedder-option" in res.output and "does not take ['dim']" in res.output


def test_eval_report_under_a_file_is_a_clear_error(world: dict[str, Path]) -> None:
    """`retrieve eval --report` to a path that cannot be written is a one-line error (exit
    2) found before the evaluation runs; the report is written atomically."""
    blocker = world["root"] / "not-a-folder"
    blocker.write_text("notes\n", encoding="utf-8")
    base = ["eval", str(world["ds"]), "--path", str(world["store"]), "-k", "1"]
    base += ["--indexes", str(world["indexes"])]
    res = runner.invoke(app, [*base, "--report", str(blocker / "eval.json")])
    assert res.exit_code == 2, res.output
    assert f"{blocker} is a file" in " ".join(res.output.split())
    assert blocker.read_text(encoding="utf-8") == "notes\n"
    report = world["root"] / "reports" / "eval.json"
    res = runner.invoke(app, [*base, "--report", str(report), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(report.read_text(encoding="utf-8")) == json.loads(res.stdout)
