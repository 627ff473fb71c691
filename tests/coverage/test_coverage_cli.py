"""`medkg coverage amcs|link|audit|report`, set specs, the report and the write-back,
on the small real-format graph saved to an embedded store (and a real Neo4j server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.amcs import amcs
from medkg.coverage.pipeline import DatasetSpec, run_audit
from medkg.coverage.sets import SetError, met_slice, resolve_set
from medkg.coverage.writeback import property_prefix, write_back
from medkg.embed import build_embedder
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores import open_store
from medkg.kg.stores.neo4j import Neo4jStore
from medkg.synthesis.inspect import inspect_if_synth
from tests.factories.graphs import small_graph

runner = CliRunner()

QUESTIONS = [
    {"id": "q1", "question": "A tall patient with arachnodactyly and myopia: Marfan syndrome?",
     "options": ["Marfan syndrome", "Homocystinuria"]},
    {"id": "q2", "question": "Which gene is mutated in Marfan syndrome?", "options": ["FBN1", "COL1A1"]},
    {"id": "q3", "question": "Nothing medical here at all.", "options": ["yes", "no"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return small_graph()


@pytest.fixture(scope="module")
def store_path(kg: KnowledgeGraph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "graph"
    with open_store("embedded", path=path) as s:
        s.save(kg)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "items.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_met_slice_filters(kg: KnowledgeGraph) -> None:
    diseases = met_slice(kg.nodes, "kind=Disease")
    assert set(diseases.get_column("kind")) == {"Disease"}
    rare = met_slice(kg.nodes, "kind=Disease,rare")
    assert 0 < rare.height < diseases.height and rare.get_column("rare").all()
    branch = met_slice(kg.nodes, "branch=MESH:C")
    assert "MESH:D056846" in branch.get_column("id").to_list()
    assert "HP:0001166" not in branch.get_column("id").to_list()
    shallow = met_slice(kg.nodes, "depth<=3")
    assert 0 < shallow.height < met_slice(kg.nodes).height
    deepest = shallow.get_column("depth").max()
    assert isinstance(deepest, int) and deepest <= 3
    assert met_slice(kg.nodes, "").filter(pl.col("met_placement") == "scaffold").is_empty()
    with pytest.raises(SetError, match="unknown met filter 'colour=red'"):
        met_slice(kg.nodes, "colour=red")
    with pytest.raises(SetError, match="NOPE:1 is not a node"):
        met_slice(kg.nodes, "branch=NOPE:1")


def test_resolve_sets(kg: KnowledgeGraph, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("MESH:D056846\nsome free text name\n", encoding="utf-8")
    mixed = resolve_set(f"entities:{ids}", kg)
    assert mixed.texts == ["Marfan Syndrome", "some free text name"] and mixed.graph_nodes is None
    with pytest.raises(SetError, match="not found"):
        resolve_set(f"entities:{tmp_path / 'missing.txt'}", kg)
    with pytest.raises(SetError, match="unknown set kind"):
        resolve_set("bogus:x", kg)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(SetError, match="not UTF-8"):
        resolve_set(f"entities:{tmp_path / 'bad.txt'}", kg)


def test_run_audit_writes_everything_and_amcs_matches_direct(
    kg: KnowledgeGraph, dataset: Path, tmp_path: Path
) -> None:
    emb = build_embedder("hashing")
    result = run_audit(
        kg, [DatasetSpec("toy", str(dataset), id_field="id")], out=tmp_path,
        embedder=emb, amcs_reference="kind=Disease",
    )  # fmt: skip
    a = result.audits[0]
    assert a.summary["n_items"] == 3 and a.summary["linked_items"] == 2
    assert "q3" not in result.mentions["toy"].get_column("item_id").to_list()
    for name in ("coverage.json", "gaps.json", "nodes.csv", "branches.csv", "levels.csv",
                 "uncovered.csv", "mentions.parquet", "report.html"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    # AMCS in the audit equals a direct computation over the same two sets
    ref = met_slice(kg.nodes, "kind=Disease").sort("id")
    linked = kg.nodes.filter(
        pl.col("id").is_in(result.mentions["toy"].get_column("entity_id").unique().implode())
    ).sort("id")
    direct = amcs(
        emb.embed(ref.get_column("name").to_list()), emb.embed(linked.get_column("name").to_list())
    )
    assert a.amcs["forward"] == pytest.approx(direct.forward, abs=1e-6)
    assert a.amcs["backward"] == pytest.approx(direct.backward, abs=1e-6)
    assert sum(a.amcs["forward_hist"]) == ref.height
    assert a.amcs["least_covered"][0]["cosine"] == pytest.approx(
        float(direct.best_score_a_to_b.min())
    )
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "plotly" in page and "Top uncovered branches: toy" in page and "AMCS histograms" in page


def test_cli_audit_two_datasets_json_and_report(
    store_path: Path, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cov"
    r = invoke("coverage", "audit", str(dataset), str(dataset), "--name", "a", "--name", "b",
               "--id-field", "id", "--embedder", "hashing", "--out", str(out),
               "--path", str(store_path), "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [d["name"] for d in data["datasets"]] == ["a", "b"]
    assert data["datasets"][0]["amcs"]["model"].startswith("hashing")
    cov = json.loads((out / "coverage.json").read_text())
    assert cov["comparison"]["datasets"] == ["a", "b"]
    (out / "report.html").unlink()
    r = invoke("coverage", "report", str(out))
    assert r.exit_code == 0 and (out / "report.html").is_file()


def test_cli_amcs_json(store_path: Path, dataset: Path) -> None:
    r = invoke("coverage", "amcs", "--a", "met:kind=Disease", "--b", f"linked:{dataset}",
               "--embedder", "hashing", "--id-field", "id", "--path", str(store_path), "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {"forward", "backward", "n_a", "n_b", "model"} <= set(data)
    assert 0 < data["forward"] < 1 and 0 < data["backward"] < 1
    r = invoke("coverage", "amcs", "--a", "met:kind=Disease", "--b", "met:kind=Disease",
               "--embedder", "hashing", "--path", str(store_path), "--json")  # fmt: skip
    same = json.loads(r.stdout)
    assert same["forward"] == pytest.approx(1.0, abs=1e-6) == same["backward"]
    assert same["n_a"] == same["n_b"] == data["n_a"]


def test_cli_link_writes_the_mention_table(store_path: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    r = invoke("coverage", "link", str(dataset), "--id-field", "id", "--out", str(out),
               "--path", str(store_path), "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    m = pl.read_parquet(out)
    assert json.loads(r.stdout)["mentions"] == m.height > 0
    marfan = m.filter(pl.col("text").str.to_lowercase() == "marfan syndrome")
    assert marfan.height >= 2 and set(marfan.get_column("item_id")) == {"q1", "q2"}


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b'{"question": "x"}\n', [], "field 'options': text field missing"),
        (b"", [], "dataset is empty"),
        (b'{"question": "\xff"}\n', ["--fields", "question"], "not UTF-8"),
    ],
)
def test_cli_bad_datasets_fail_cleanly(
    store_path: Path, tmp_path: Path, content: bytes, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    out = tmp_path / "cov"
    r = invoke("coverage", "audit", str(bad), "--out", str(out), "--embedder", "hashing",
               "--path", str(store_path), *args)  # fmt: skip
    assert r.exit_code == 2
    assert str(bad) in r.output and message in r.output.replace("\n", "")
    assert not out.exists()  # nothing partial


def test_cli_unknown_embedder_and_missing_folder(
    store_path: Path, dataset: Path, tmp_path: Path
) -> None:
    r = invoke("coverage", "audit", str(dataset), "--embedder", "nope", "--out", str(tmp_path / "x"),
               "--path", str(store_path))  # fmt: skip
    assert r.exit_code == 2 and "unknown embedder 'nope'" in r.output
    r = invoke("coverage", "report", str(tmp_path / "nothing"))
    assert r.exit_code == 2 and "coverage.json not found" in r.output


def test_write_back_embedded(
    store_path: Path, dataset: Path, kg: KnowledgeGraph, tmp_path: Path
) -> None:
    result = run_audit(
        kg, [DatasetSpec("My Set", str(dataset), id_field="id")], amcs_reference=None
    )
    with open_store("embedded", path=store_path) as s:
        n = write_back(s, result.audits[0])
    rows = pl.read_parquet(store_path / "coverage.my_set.parquet")
    assert rows.height == n and set(rows.columns) == {
        "id",
        "coverage_my_set_items",
        "coverage_my_set_rollup",
    }
    assert property_prefix("My Set") == "coverage_my_set_"


def test_write_back_neo4j_is_queryable_and_idempotent(
    neo4j_server: Any, kg: KnowledgeGraph, dataset: Path
) -> None:
    store = Neo4jStore(uri=neo4j_server.uri, batch_size=7)
    try:
        store.clear()
        store.save(kg)
        result = run_audit(
            kg, [DatasetSpec("toy", str(dataset), id_field="id")], amcs_reference=None
        )
        a = result.audits[0]
        assert write_back(store, a) == write_back(store, a)  # twice: same values
        got = store._read(
            "MATCH (n:Entity) WHERE n.coverage_toy_items IS NOT NULL "
            "RETURN n.id AS id, n.coverage_toy_items AS items, n.coverage_toy_rollup AS rollup",
            "test",
        )
        expect = a.nodes.filter(pl.col("in_universe")).select("id", "items", "rollup_items")
        assert sorted((r["id"], r["items"], r["rollup"]) for r in got) == sorted(expect.iter_rows())
        uncovered = store._read(
            "MATCH (n:Entity:Disease) WHERE n.coverage_toy_items = 0 RETURN count(n) AS n", "test"
        )[0]["n"]
        assert (
            uncovered
            == expect.filter(pl.col("items") == 0)
            .join(kg.nodes.filter(pl.col("kind") == "Disease").select("id"), on="id")
            .height
        )
    finally:
        store.close()


def test_hist_edges_cover_zero_to_one(kg: KnowledgeGraph, dataset: Path) -> None:
    result = run_audit(kg, [DatasetSpec("toy", str(dataset), id_field="id")],
                       embedder=build_embedder("hashing"))  # fmt: skip
    edges = np.array(result.audits[0].amcs["bin_edges"])
    assert edges[0] == 0.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)


def test_run_audit_reports_embedding_progress(
    kg: KnowledgeGraph, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh cache, so the reference slice is embedded (a cache hit reports nothing).
    monkeypatch.setenv("MEDKG_CACHE", str(tmp_path / "cache"))
    events: list[tuple[str, int, int]] = []
    run_audit(
        kg, [DatasetSpec("toy", str(dataset), id_field="id")], embedder=build_embedder("hashing"),
        amcs_reference="kind=Disease", progress=lambda task, d, t: events.append((task, d, t)),
    )  # fmt: skip
    embeds = [(d, t) for task, d, t in events if task == "embed"]
    n_ref = met_slice(kg.nodes, "kind=Disease").height
    assert embeds and embeds[0][1] == n_ref and (n_ref, n_ref) in embeds
    assert all(d <= t for d, t in embeds)


def synth_folder(root: Path) -> Path:
    """A small `medkg synth` folder (manifest.json + items.jsonl) whose quality figures are
    known by hand: seeds S1, S1, S1, S2 (effective N 1/(0.75² + 0.25²) = 1.6, top seed 75%),
    every key at letter A and always the longest of four options (longest: 1.0 vs 0.25)."""
    root.mkdir()
    rows = []
    for n, seed in enumerate(["ORPHA:558", "ORPHA:558", "ORPHA:558", "OMIM:154700"]):
        rows.append({
            "id": f"i{n}", "family": "gene", "question": f"Which gene causes case {n} of Marfan syndrome?",
            "options": ["fibrillin 1 gene FBN1", "COL1A1", "TGFBR", "SMAD"],
            "option_ids": ["NCBIGene:2200", "X:1", "X:2", "X:3"], "answer_index": 0,
            "answer_id": "NCBIGene:2200", "entity_ids": [seed], "path_nodes": [seed],
            "path_rels": [], "distractor_ids": ["X:1", "X:2", "X:3"], "hops": 1, "rare": True,
            "difficulty": 0.5, "rationale": {}, "template": "gene.t1", "seed_entity": seed,
        })  # fmt: skip
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    (root / "manifest.json").write_text(json.dumps({"n_items": 4}), "utf-8")
    return root


def test_report_has_the_inspect_section_of_a_synth_dataset(
    kg: KnowledgeGraph, dataset: Path, tmp_path: Path
) -> None:
    from medkg.coverage.report import write_report

    folder = synth_folder(tmp_path / "synth")
    specs = [DatasetSpec("synthetic", str(folder / "items.jsonl"), id_field="id"),
             DatasetSpec("plain", str(dataset), id_field="id")]  # fmt: skip
    out = tmp_path / "cov"
    result = run_audit(kg, specs, out=out, embedder=build_embedder("hashing"),
                       amcs_reference=None, inspect=inspect_if_synth)  # fmt: skip
    fam = result.audits[0].inspect["families"]["gene"]
    assert fam["spread"]["effective_n"] == 1.6 and fam["spread"]["max_seed_share"] == 0.75
    assert result.audits[1].inspect == {}  # a plain file is no synth folder
    page = (out / "report.html").read_text(encoding="utf-8")
    section = page[page.index("Dataset quality (medkg synth inspect): synthetic") :]
    assert "Dataset quality (medkg synth inspect): plain" not in page
    row = section[
        section.index("<td>gene</td>") : section.index("</tr>", section.index("<td>gene</td>"))
    ]
    assert "<td>1.6</td>" in row and "<td>75.0%</td>" in row  # effective N, top seed share
    assert "A 4" in row  # every key at letter A
    assert "1.00 vs 0.25 ⚠" in row  # longest option beats chance
    for term in ("effective N", "top seed", "answer letters", "chance"):
        assert term in section
    before = (out / "report.html").read_bytes()
    write_report(out)  # re-rendered from the folder: the same bytes
    assert (out / "report.html").read_bytes() == before
