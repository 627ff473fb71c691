"""The workbench's pages through Starlette's test client on the small real-format graph:
bad input gives a message and writes nothing, the token guards non-loopback servers,
entity pages say what the graph holds, dataset pages read lazily."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from starlette.testclient import TestClient

from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import open_store
from medkg.ui.app import UIState, create_app, needs_token
from medkg.ui.datasets import Dataset, ItemFilter
from medkg.ui.entity import entity_page, frequency_words
from medkg.ui.graph import GraphIndex

# A token-less server answers only requests addressed to the loopback interface.
LOCAL = "http://127.0.0.1:8765"


def write_dataset(folder: Path, n: int, families: tuple[str, ...] = ("gene", "diagnosis")) -> Path:
    """A dataset folder in `medkg synth`'s layout: manifest.json + items.parquet."""
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "id": [f"item{i:06d}" for i in range(n)],
            "family": [families[i % len(families)] for i in range(n)],
            "question": [f"Which disease explains finding {i}?" for i in range(n)],
            "options": [["Marfan syndrome", "Myopia"]] * n,
            "option_ids": [["ORPHA:558", "HP:0000545"]] * n,
            "answer_index": [0] * n,
            "answer": ["Marfan syndrome"] * n,
            "answer_id": ["ORPHA:558" if i % 3 else "HP:0000545" for i in range(n)],
            "path_nodes": [["HP:0001166", "ORPHA:558"]] * n,
            "path_rels": [["HAS_PHENOTYPE"]] * n,
            "rare": [i % 2 == 0 for i in range(n)],
            "difficulty": [(i % 10) / 10 for i in range(n)],
            "template": ["t1"] * n,
            "seed_entity": ["ORPHA:558"] * n,
            "provenance": ["{}"] * n,
        }
    ).write_parquet(folder / "items.parquet", row_group_size=10_000)
    (folder / "manifest.json").write_text(json.dumps({"n_items": n}), encoding="utf-8")
    return folder


@pytest.fixture()
def state(tmp_path: Path, small_kg: KnowledgeGraph) -> UIState:
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    return UIState(store=open_store("embedded", path=tmp_path / "graph"))


@pytest.fixture()
def client(state: UIState) -> TestClient:
    return TestClient(create_app(state), base_url=LOCAL, raise_server_exceptions=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_unknown_id_is_a_message_not_a_trace(client: TestClient) -> None:
    for url in (
        "/entity/ORPHA:999999",
        "/tree/children/NOPE:1",
        "/api/neighbourhood/X:1",
        "/tree?open=ORPHA:0",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "no entity" in r.text and "Traceback" not in r.text
    assert client.get("/no/such/page").status_code == 404


def test_a_folder_that_is_not_a_dataset_is_refused_and_untouched(
    client: TestClient, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "items.jsonl").write_text('{"question": "q"}\n', encoding="utf-8")
    before = snapshot(folder)
    for url in (
        f"/datasets?path={folder}",
        f"/dataset?path={folder}",
        f"/dataset?path={tmp_path / 'missing'}",
    ):
        r = client.get(url)
        assert r.status_code == 400 and "Traceback" not in r.text
    assert "has no manifest.json" in client.get(f"/dataset?path={folder}").text
    r = client.post(
        "/dataset/review",
        data={"path": str(folder), "item_id": "x", "decision": "reject", "reason": "r"},
    )
    assert r.status_code == 400
    assert snapshot(folder) == before


def test_malformed_review_file_is_named_and_never_extended(
    client: TestClient, tmp_path: Path
) -> None:
    ds = write_dataset(tmp_path / "ds", 10)
    bad = '{"item_id": "item000001", "decision": "reject", "reason": "x"}\n{"item_id": "item000002", "decision": "maybe"}\n'
    (ds / "review.jsonl").write_text(bad, encoding="utf-8")
    r = client.get(f"/dataset?path={ds}")
    assert r.status_code == 400 and "review.jsonl line 2" in r.text and "maybe" in r.text
    r = client.post(
        "/dataset/review",
        data={"path": str(ds), "item_id": "item000003", "decision": "accept", "reason": ""},
    )
    assert r.status_code == 400 and "line 2" in r.text
    assert (ds / "review.jsonl").read_text(encoding="utf-8") == bad
    assert sorted(p.name for p in ds.iterdir()) == [
        "items.parquet",
        "manifest.json",
        "review.jsonl",
    ]


def test_review_needs_a_known_item_a_decision_and_a_reason(
    client: TestClient, tmp_path: Path
) -> None:
    ds = write_dataset(tmp_path / "ds", 5)
    post = lambda **kw: client.post("/dataset/review", data={"path": str(ds), **kw})  # noqa: E731
    assert post(item_id="nope", decision="reject", reason="r").status_code == 404
    assert post(item_id="item000001", decision="delete", reason="r").status_code == 400
    assert post(item_id="item000001", decision="reject", reason="  ").status_code == 400
    assert not (ds / "review.jsonl").exists()
    r = post(item_id="item000001", decision="flag", reason="stem too long")
    assert r.status_code == 200 and "flagged" in r.text
    r = post(item_id="item000001", decision="accept", reason="")
    lines = [json.loads(x) for x in (ds / "review.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["decision"] for x in lines] == ["flag", "accept"]  # history kept, the last wins
    page = client.get(f"/dataset?path={ds}&review=accept")
    assert "1 item(s) match" in page.text


def test_token_is_required_beyond_loopback(state: UIState) -> None:
    assert not needs_token("127.0.0.1") and not needs_token("localhost")
    assert needs_token("0.0.0.0") and needs_token("192.168.1.5")
    state.token = "s3cret-token"
    client = TestClient(create_app(state), base_url=LOCAL)
    assert client.get("/").status_code == 403
    assert client.get("/static/vendor/htmx.min.js").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get("/?token=s3cret-token").status_code == 200
    assert client.get("/entity/ORPHA:558").status_code == 200  # the cookie set above


def test_entity_page_shows_equivalent_facts_as_such(small_kg: KnowledgeGraph) -> None:
    index = GraphIndex(small_kg)
    # FBN1 is associated with ORPHA:558 only; OMIM:154700 maps to it.
    page = entity_page(index, "OMIM:154700")
    assert page is not None
    genes = page["facts"]["genes"]
    assert [(g["id"], g["held_by"]) for g in genes] == [("NCBIGene:2200", "ORPHA:558")]
    assert genes[0]["via"].startswith("xref 0.95")
    own = entity_page(index, "ORPHA:558")
    assert own is not None
    assert [(g["id"], g["via"]) for g in own["facts"]["genes"]] == [("NCBIGene:2200", "")]
    # Present phenotypes vs the NOT annotation; arachnodactyly is HP:0040281 in the fixture.
    assert [p["id"] for p in own["phenotypes"]] == ["HP:0001166"]
    assert [p["id"] for p in own["excluded"]] == ["HP:0000545"]
    assert [a.id for a in own["ancestors"]] == ["MET:root", "MET:Disease"]
    assert entity_page(index, "ORPHA:0") is None


def test_frequency_in_plain_words(small_kg: KnowledgeGraph) -> None:
    index = GraphIndex(small_kg)  # the fixture has no frequency terms: codes keep their range
    assert frequency_words(index, "HP:0040281", 0.9) == "HP:0040281 (80–99%)"
    assert frequency_words(index, "12/20", 0.6) == "12 of 20 patients"
    assert frequency_words(index, "45%", 0.45) == "45% of patients"
    assert frequency_words(index, None, 0.25) == "about 25% of patients"
    assert frequency_words(index, None, None) == "frequency not recorded"


@pytest.mark.slow  # writes and pages 100k items
def test_hundred_thousand_items_page_lazily(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    ds = Dataset.open(write_dataset(tmp_path / "big", 100_000))
    total, rows = ds.page(ItemFilter(), offset=99_980, size=50)
    assert total == 100_000 and [r["id"] for r in rows] == [
        f"item{i:06d}" for i in range(99_980, 100_000)
    ]
    total, rows = ds.page(ItemFilter(family="gene", rare="yes"), offset=0, size=3)
    assert total == 50_000 and [r["id"] for r in rows] == ["item000000", "item000002", "item000004"]
    index = GraphIndex(small_kg)
    total, _ = ds.page(ItemFilter(branch="MET:Phenotype"), index=index)  # answer HP:0000545
    assert total == 33_334
    assert ds.page(ItemFilter(min_difficulty=0.85), size=1)[0] == 10_000


def test_entity_pages_render_every_relation_group(client: TestClient) -> None:
    # HP:0001166 has IS_A and GENE_HAS_PHENOTYPE edges, listed under "other relations"
    # (a group's list was once named like a dict method and broke the template).
    r = client.get("/entity/HP:0001166")
    assert r.status_code == 200
    assert "IS_A (outgoing, 1)" in r.text and "Phenotypic abnormality" in r.text
    assert "GENE_HAS_PHENOTYPE (incoming, 1)" in r.text and ">FBN1<" in r.text
    for node_id in ("MET:root", "ORPHA:558", "OMIM:154700", "NCBIGene:2200", "HP:0000001"):
        assert client.get(f"/entity/{node_id}").status_code == 200, node_id


def test_item_path_shows_each_edge_direction(small_kg: KnowledgeGraph) -> None:
    from medkg.ui.datasets import graph_path

    index = GraphIndex(small_kg)
    item = {
        "path_nodes": ["HP:0001166", "ORPHA:558", "NCBIGene:2200", "HP:0000118"],
        "path_rels": ["HAS_PHENOTYPE", "GENE_ASSOCIATED_WITH", "IS_A"],
    }
    steps = graph_path(item, index)
    # ORPHA:558 HAS_PHENOTYPE HP:0001166 (points back), FBN1 GENE_ASSOCIATED_WITH ORPHA:558
    # (points back), and no IS_A edge between FBN1 and HP:0000118.
    assert [(s["node"], s["rel"], s["arrow"]) for s in steps] == [
        ("HP:0001166", "HAS_PHENOTYPE", "←"),
        ("ORPHA:558", "GENE_ASSOCIATED_WITH", "←"),
        ("NCBIGene:2200", "IS_A", "?"),
        ("HP:0000118", "", ""),
    ]
    assert steps[0]["name"] == "Arachnodactyly"


@pytest.mark.neo4j
def test_workbench_over_a_neo4j_store(neo4j_server: Any, small_kg: KnowledgeGraph) -> None:
    from medkg.kg.stores.neo4j import Neo4jStore

    store = Neo4jStore(uri=neo4j_server.uri)
    try:
        store.save(small_kg)
        client = TestClient(create_app(UIState(store=store)), base_url=LOCAL)
        page = client.get("/entity/OMIM:154700")
        assert page.status_code == 200
        assert "Marfan syndrome type 1" in page.text and "equivalent entity" in page.text
        assert "Arachnodactyly" in client.get("/tree/children/HP:0000118").text
        assert "ORPHA:558" in client.get("/search?q=marfan").text
        assert client.get("/entity/ORPHA:1").status_code == 404
    finally:
        store.close()


def test_identifiers_list_equivalents_with_source_and_licence(small_kg: KnowledgeGraph) -> None:
    page = entity_page(GraphIndex(small_kg), "ORPHA:558")
    assert page is not None
    rows = {i["id"]: i for i in page["ids"]}
    assert rows["ORPHA:558"]["license"] == "CC-BY-4.0"
    assert rows["OMIM:154700"]["via"] == "cross-reference; equivalent (xref, 0.95)"
    assert rows["OMIM:154700"]["source"] == "HPO 2025-05-06"
    assert rows["ICD10:Q87.4"] == {"id": "ICD10:Q87.4", "via": "cross-reference", "in_graph": False}
    omim_page = entity_page(GraphIndex(small_kg), "OMIM:154700")
    assert omim_page is not None
    omim = {i["id"]: i for i in omim_page["ids"]}
    assert omim["ORPHA:558"]["via"] == "cross-reference; equivalent (xref, 0.95)"


def test_an_unexpected_error_shows_a_message_without_the_trace(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import medkg.ui.routes as routes

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("secret internals")

    monkeypatch.setattr(routes, "entity_page", broken)
    r = client.get("/entity/ORPHA:558")
    assert r.status_code == 500
    assert "internal error (KeyError)" in r.text
    assert "secret internals" not in r.text and "Traceback" not in r.text
    r = client.get("/entity/ORPHA:558", headers={"HX-Request": "true"})
    assert r.status_code == 500 and r.text.startswith('<div class="error"')


def test_writes_from_another_origin_are_refused(client: TestClient, tmp_path: Path) -> None:
    ds = write_dataset(tmp_path / "ds", 3)
    form = {"path": str(ds), "item_id": "item000001", "decision": "reject", "reason": "spam"}
    r = client.post("/dataset/review", data=form, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and not (ds / "review.jsonl").exists()
    r = client.post("/dataset/review", data=form, headers={"Origin": LOCAL})
    assert r.status_code == 200 and (ds / "review.jsonl").is_file()


def test_a_tokenless_server_refuses_other_host_names(client: TestClient, tmp_path: Path) -> None:
    """DNS rebinding: a page of http://evil.example:8765 whose name now resolves to
    127.0.0.1 is same-origin with itself, so Origin matches Host; only the Host name
    tells that the request was not addressed to the loopback server."""
    ds = write_dataset(tmp_path / "ds", 3)
    form = {"path": str(ds), "item_id": "item000001", "decision": "reject", "reason": "spam"}
    evil = {"Host": "evil.example:8765", "Origin": "http://evil.example:8765"}
    r = client.post("/dataset/review", data=form, headers=evil)
    assert r.status_code == 403 and not (ds / "review.jsonl").exists()
    assert client.get("/entity/ORPHA:558", headers={"Host": "evil.example:8765"}).status_code == 403
    for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert client.get("/entity/ORPHA:558", headers={"Host": host}).status_code == 200


def test_ids_with_url_characters_link_and_open(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    odd = "LOCAL:a/b c#1?x"
    nodes = pl.concat([
        small_kg.nodes,
        small_kg.nodes.filter(pl.col("id") == "HP:0000545").with_columns(
            pl.lit(odd).alias("id"), pl.lit("Odd term").alias("name")
        ),
    ])  # fmt: skip
    kg = KnowledgeGraph(nodes=nodes, edges=small_kg.edges, sources=small_kg.sources)
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(kg)
    client = TestClient(
        create_app(UIState(store=open_store("embedded", path=tmp_path / "graph"))), base_url=LOCAL
    )
    listing = client.get("/tree/children/HP:0000118").text
    assert "/entity/LOCAL:a%2Fb%20c%231%3Fx" in listing
    page = client.get("/entity/LOCAL:a%2Fb%20c%231%3Fx")
    assert page.status_code == 200 and "Odd term" in page.text


def test_two_datasets_side_by_side_on_one_scale(tmp_path: Path, state: UIState) -> None:
    from medkg.coverage.audit import audit, write_audit
    from medkg.ui.coverage import colour

    nodes = state.index.nodes
    a = audit(nodes, pl.DataFrame({"item_id": ["1", "2"], "entity_id": ["ORPHA:558", "HP:0001166"]}),
              name="alpha", min_branch_size=1)  # fmt: skip
    b = audit(nodes, pl.DataFrame({"item_id": ["1"], "entity_id": ["HP:0000545"]}),
              name="beta", min_branch_size=1)  # fmt: skip
    write_audit([a, b], tmp_path / "cov")
    client = TestClient(create_app(state), base_url=LOCAL)
    page = client.get("/coverage", params={"audit": str(tmp_path / "cov")})
    assert page.status_code == 200
    table = page.text[page.text.index('id="branches"') :]
    assert "<th>alpha</th><th>beta</th>" in table.replace("\n", "")
    # MET:Phenotype (depth 1 scaffold) holds HP:0000118's subtree: alpha covers 1 of its
    # nodes, beta 1; the chip colours come from the one scale.
    for d in (a, b):
        row = d.nodes.filter(pl.col("id") == "HP:0000118").row(0, named=True)
        share = row["covered_below"] / row["subtree_size"]
        assert colour(share) in page.text
    tree = client.get("/tree/children/MET:Phenotype", params={"audit": str(tmp_path / "cov")}).text
    assert tree.count('class="chip"') == 2  # HP:0000118: one chip per dataset
    branch = client.get("/coverage/branch", params={"audit": str(tmp_path / "cov"),
                                                    "dataset": "beta", "id": "HP:0000118"})  # fmt: skip
    assert branch.status_code == 200 and "Arachnodactyly" in branch.text  # uncovered for beta
    missing = client.get("/coverage/branch", params={"audit": str(tmp_path / "cov"),
                                                     "dataset": "gamma", "id": "HP:0000118"})  # fmt: skip
    assert missing.status_code == 400 and "no dataset &#39;gamma&#39;" in missing.text


def test_export_without_rejected_items(client: TestClient, tmp_path: Path) -> None:
    from medkg.synthesis.export import export_items, read_items
    from tests.factories.items import items as make_items

    items = make_items()
    export_items(items, tmp_path / "ds", {"seed": 7}, ["jsonl", "parquet"])
    client.post("/dataset/review", data={"path": str(tmp_path / "ds"), "item_id": items[0].id,
                                         "decision": "reject", "reason": "wrong key"})  # fmt: skip
    r = client.post("/dataset/export", data={"path": str(tmp_path / "ds")})
    assert r.status_code == 200 and "1 rejected left out" in r.text
    assert [i.id for i in read_items(tmp_path / "ds-reviewed")] == [items[1].id]
    (tmp_path / "notes").mkdir()
    r = client.post("/dataset/export", data={"path": str(tmp_path / "notes")})
    assert r.status_code == 400 and not (tmp_path / "notes-reviewed").exists()


def test_branch_lists_count_concepts_not_surface_mentions(tmp_path: Path, state: UIState) -> None:
    # One item names Marfan syndrome (ORPHA:558); the linker records OMIM:154700 as its
    # exact-mapping equivalent. The audit counts OMIM:154700 as covered (concept_items),
    # so the branch page must list it as covered, with the item reaching it, not as a gap.
    from medkg.coverage.audit import audit, write_audit

    mentions = pl.DataFrame(
        {"item_id": ["1"], "entity_id": ["ORPHA:558"], "text": ["Marfan syndrome"],
         "equivalents": [["OMIM:154700"]]}
    )  # fmt: skip
    a = audit(state.index.nodes, mentions, name="solo", min_branch_size=1)
    write_audit([a], tmp_path / "cov")
    mentions.write_parquet(tmp_path / "cov" / "mentions.parquet")
    client = TestClient(create_app(state), base_url=LOCAL)
    params = {"audit": str(tmp_path / "cov"), "dataset": "solo"}
    page = client.get("/coverage/branch", params={**params, "id": "ORPHA:558"}).text
    uncovered = page[
        page.index('id="uncovered"') : page.index("</ul>", page.index('id="uncovered"'))
    ]
    assert "OMIM:154700" not in uncovered
    assert "0 by none" in page and "2 mentioned by an item" in page
    leaf = client.get("/coverage/branch", params={**params, "id": "OMIM:154700"}).text
    items = leaf[leaf.index('id="branch-items"') :]
    assert "Marfan syndrome" in items  # the item reaching it through the equivalent
    assert "exact-mapping equivalent" in page  # the page says what it counts


def test_inspect_warnings_filter_keeps_flagged_families_and_heavy_seeds(
    tmp_path: Path, state: UIState
) -> None:
    # Hand-built so the answer is known without medkg: "gene" (10 items) always keys the
    # longest option (longest: 1.0 vs chance 0.25, flagged); "diagnosis" (400 items) gives
    # every heuristic nothing to go on (equal lengths, no shared words, unseen option ids:
    # exactly chance) and uses one seed per item except D0, which holds 3 of 400 (0.75% >
    # 0.5%). So the warnings are the 10 gene items and the 3 items of D0: 13.
    rows = []
    for i in range(10):
        rows.append(
            ("gene", f"Which gene for case {i}?", ["a much longer key", "b", "c", "d"], 0, f"G{i}")
        )
    for i in range(400):
        opts = [f"w{i}a", f"w{i}b", f"w{i}c", f"w{i}d"]
        rows.append(
            ("diagnosis", f"Question number {i}?", opts, i % 4, "D0" if i >= 398 else f"D{i}")
        )
    folder = tmp_path / "ds"
    folder.mkdir()
    pl.DataFrame(
        {
            "id": [f"item{n:04d}" for n in range(len(rows))],
            "family": [r[0] for r in rows],
            "question": [r[1] for r in rows],
            "options": [r[2] for r in rows],
            "option_ids": [[f"E{n}-{k}" for k in range(4)] for n in range(len(rows))],
            "answer_index": [r[3] for r in rows],
            "answer_id": [f"E{n}-{r[3]}" for n, r in enumerate(rows)],
            "template": [f"{r[0]}.t" for r in rows],
            "seed_entity": [r[4] for r in rows],
            "rare": [False] * len(rows),
            "difficulty": [0.5] * len(rows),
        }
    ).write_parquet(folder / "items.parquet")
    (folder / "manifest.json").write_text(json.dumps({"n_items": len(rows)}), "utf-8")
    ds = Dataset.open(folder)
    total, page = ds.page(ItemFilter(warnings="yes"), size=100)
    assert total == 13
    assert {r["seed_entity"] for r in page if r["family"] == "diagnosis"} == {"D0"}
    warn = ds.inspect_warnings()
    assert warn is ds.inspect_warnings()  # computed once per manifest
    assert set(warn.flagged_families) == {"gene"}
    client = TestClient(create_app(state), base_url=LOCAL)
    html = client.get("/dataset", params={"path": str(folder), "warnings": "yes"}).text
    assert "13 item(s) match" in html and "longest 1.00 vs chance 0.25" in html
    # a new manifest (a new dataset in the folder) is inspected afresh
    (folder / "manifest.json").write_text(json.dumps({"n_items": len(rows), "v": 2}), "utf-8")
    assert Dataset.open(folder).inspect_warnings() is not warn


def test_mapping_threshold_zero_is_honoured(client: TestClient) -> None:
    """threshold=0 asks for conflicts only; it must not fall back to the 0.7 default."""
    page = client.get("/mappings?threshold=0")
    assert page.status_code == 200
    assert 'name="threshold" value="0.0"' in page.text and "below 0.7" not in page.text
    assert 'value="0.7"' in client.get("/mappings").text
    assert client.get("/mappings?threshold=abc").status_code == 400


def test_export_again_keeps_the_reviews_made_on_the_export(
    client: TestClient, tmp_path: Path
) -> None:
    """Re-exporting replaces <dataset>-reviewed/ whole: decisions a curator recorded on the
    reviewed copy (its review.jsonl) must not be deleted by a second click."""
    from medkg.synthesis.export import export_items
    from tests.factories.items import items as make_items

    items = make_items()
    ds, reviewed = tmp_path / "ds", tmp_path / "ds-reviewed"
    export_items(items, ds, {"seed": 7}, ["jsonl", "parquet"])
    assert client.post("/dataset/export", data={"path": str(ds)}).status_code == 200
    decision = {"path": str(reviewed), "item_id": items[1].id, "decision": "flag", "reason": "x"}
    assert client.post("/dataset/review", data=decision).status_code == 200
    kept = (reviewed / "review.jsonl").read_bytes()
    r = client.post("/dataset/export", data={"path": str(ds)})
    assert r.status_code == 409 and "review.jsonl" in r.text
    assert (reviewed / "review.jsonl").read_bytes() == kept


def test_generating_again_keeps_the_reviews_of_the_generated_items(
    tmp_path: Path, small_kg: KnowledgeGraph
) -> None:
    """A generated folder reviewed in the workbench is not replaced (with its review.jsonl)
    by generating the same branch, size and seed again; refused before any work."""
    from medkg.synthesis.review import ReviewsWouldBeLost
    from medkg.ui.coverage import generate_for_gap

    out = tmp_path / "generated" / "HP_0000118-n5-s0"
    out.mkdir(parents=True)
    (out / "review.jsonl").write_text(
        '{"decision": "reject", "item_id": "a", "reason": "bad"}\n', encoding="utf-8"
    )
    gaps = [{"id": "HP:0001166", "items": 0}]
    with pytest.raises(ReviewsWouldBeLost, match="review"):
        generate_for_gap(small_kg, gaps, "HP:0000118", 5, 0, tmp_path / "generated")
    assert (out / "review.jsonl").is_file()
