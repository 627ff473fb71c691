"""The long-tail audit on a hand-made tree whose counts are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from medkg.coverage.audit import (
    AuditError,
    audit,
    compare,
    gini,
    normalised_entropy,
    read_audit_folder,
    write_audit,
)
from medkg.synthesis.sampling.gaps import load_gaps

TREE = [
    # id, kind, parent, placement, depth, subtree, rare
    ("MET:root", "Category", None, "scaffold", 0, 8, False),
    ("MET:Disease", "Category", "MET:root", "scaffold", 1, 7, False),
    ("D1", "Disease", "MET:Disease", "hierarchy", 2, 4, False),
    ("D1a", "Disease", "D1", "hierarchy", 3, 1, True),
    ("D1b", "Disease", "D1", "hierarchy", 3, 2, False),
    ("D1b1", "Disease", "D1b", "hierarchy", 4, 1, True),
    ("D2", "Disease", "MET:Disease", "hierarchy", 2, 2, False),
    ("D2a", "Disease", "D2", "hierarchy", 3, 1, False),
]


def tree() -> pl.DataFrame:
    cols = ["id", "kind", "met_parent", "met_placement", "depth", "subtree_size", "rare"]
    frame = pl.DataFrame([dict(zip(cols, row, strict=True)) for row in TREE])
    return frame.with_columns(
        pl.col("id").alias("name"),
        pl.col("depth").cast(pl.Int32),
        pl.col("subtree_size").cast(pl.Int64),
    )


def mentions() -> pl.DataFrame:
    rows = [("1", "D1a"), ("1", "D1b1"), ("2", "D1a"), ("3", "D2"), ("3", "D2"), ("4", "X:unknown")]
    return pl.DataFrame(
        {
            "item_id": [r[0] for r in rows],
            "entity_id": [r[1] for r in rows],
            "method": ["exact"] * 6,
        }
    )


@pytest.fixture()
def result():
    return audit(tree(), mentions(), name="toy", n_items=5, min_branch_size=1)


def col(result, column: str) -> dict[str, int]:
    return dict(result.nodes.select("id", column).iter_rows())


def test_direct_and_rolled_up_counts(result) -> None:
    assert {k: v for k, v in col(result, "items").items() if v} == {"D1a": 2, "D1b1": 1, "D2": 1}
    assert col(result, "mentions")["D2"] == 2
    # an item mentioning two nodes of one subtree counts once there
    rollup = col(result, "rollup_items")
    assert (rollup["D1b"], rollup["D1"], rollup["MET:Disease"], rollup["MET:root"]) == (1, 2, 3, 3)
    assert rollup["D2a"] == 0
    below = col(result, "covered_below")
    assert (below["D1"], below["D1b"], below["MET:Disease"], below["D2a"]) == (2, 1, 3, 0)


def test_summary_coverage_rare_and_unknown_ids(result) -> None:
    s = result.summary
    assert s["universe_nodes"] == 6  # scaffold nodes are not audited
    assert s["coverage"] == pytest.approx(3 / 6)
    assert s["mentions_unknown_ids"] == 1
    assert s["linked_items"] == 3 and s["n_items"] == 5
    rare = s["rare_diseases"]
    assert (rare["nodes"], rare["covered"], rare["coverage"]) == (2, 2, 1.0)
    assert rare["share_of_disease_mentions"] == pytest.approx(3 / 5)
    assert rare["share_of_items"] == pytest.approx(2 / 5)
    levels = {r["depth"]: r for r in result.levels.to_dicts()}
    assert levels[2]["coverage"] == pytest.approx(0.5)  # D2 yes, D1 no (only its children)
    assert levels[2]["reached_share"] == pytest.approx(1.0)
    assert result.rank_frequency == [2, 1, 1]


def test_top_uncovered_are_maximal_unreached_subtrees(result) -> None:
    # D2a is unreached and its parent D2 is reached; nothing else is unreached
    assert result.uncovered.get_column("id").to_list() == ["D2a"]
    branches = result.branches.to_dicts()
    assert [b["id"] for b in branches] == ["D1", "D2"]  # depth 2, largest first
    assert branches[0]["coverage"] == pytest.approx(2 / 4)


def test_gini_and_entropy_against_brute_force() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=50)
    brute = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(brute, abs=1e-12)
    assert gini(np.array([3, 3, 3])) == pytest.approx(0.0, abs=1e-12)
    assert normalised_entropy(np.array([5, 5, 5, 0])) == pytest.approx(1.0)
    assert normalised_entropy(np.array([9, 1])) < 0.5


def test_files_round_trip_and_gaps_feed_the_sampler(result, tmp_path: Path) -> None:
    other = audit(tree(), mentions().filter(pl.col("item_id") == "3"), name="other", n_items=1,
                  min_branch_size=1)  # fmt: skip
    files = write_audit([result, other], tmp_path)
    assert {"coverage.json", "gaps.toy.json", "nodes.other.csv", "uncovered.toy.csv"} <= set(files)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    data, tables = read_audit_folder(tmp_path)
    assert [d["name"] for d in data["datasets"]] == ["toy", "other"]
    row = next(
        r for r in data["comparison"]["summary"] if r["metric"] == "coverage of the universe"
    )
    assert row == {"metric": "coverage of the universe", "toy": 0.5, "other": pytest.approx(1 / 6)}
    assert tables["toy"].height == len(TREE)
    gaps = load_gaps(tmp_path / "gaps.toy.json")
    assert dict(gaps.iter_rows()) == pytest.approx(
        {"D1": 1.0, "D1a": 1 / 3, "D1b": 1.0, "D1b1": 0.5, "D2": 0.5, "D2a": 1.0}
    )
    assert json.loads((tmp_path / "gaps.toy.json").read_text())[0] == {"id": "D1", "count": 0}


def test_compare_lists_every_dataset(result) -> None:
    rows = compare([result])["summary"]
    assert rows[0] == {"metric": "items", "toy": 5}


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="MET columns"):
        audit(tree().drop("depth"), mentions())
    with pytest.raises(AuditError, match="no items"):
        audit(tree(), mentions().head(0), name="empty")
    with pytest.raises(AuditError, match=r"coverage\.json not found"):
        read_audit_folder(tmp_path)
    (tmp_path / "coverage.json").write_text("{not json")
    with pytest.raises(AuditError, match="not valid JSON"):
        read_audit_folder(tmp_path)


def test_equivalents_cover_the_same_concept_in_another_branch() -> None:
    # item 5 mentions D1a; the linker says D2a is the same concept (an exact mapping in
    # another source's branch): D2a and its ancestors count it, and the summary says so
    rows = mentions().with_columns(pl.lit([], dtype=pl.List(pl.String())).alias("equivalents"))
    extra = pl.DataFrame(
        {"item_id": ["5"], "entity_id": ["D1a"], "method": ["exact"], "equivalents": [["D2a"]]}
    )
    res = audit(tree(), pl.concat([rows, extra]), name="eq", n_items=5, min_branch_size=1)
    items, concept, rollup = col(res, "items"), col(res, "concept_items"), col(res, "rollup_items")
    assert items["D2a"] == 0 and concept["D2a"] == 1
    assert rollup["D2"] == 2  # item 3 (D2 itself) and item 5 (via D2a)
    assert concept["D1a"] == 3 and items["D1a"] == 3
    assert res.summary["covered_via_equivalents_only"] == 1
    assert res.summary["coverage_rollup"].startswith("entity + exact MAPS_TO")
    # the gap list no longer reports D2a as uncovered
    from medkg.coverage.audit import gaps_entries

    assert {e["id"]: e["count"] for e in gaps_entries(res)}["D2a"] == 1
    # switched off: surface senses only, as before
    plain = audit(tree(), pl.concat([rows, extra]), name="eq", n_items=5, min_branch_size=1,
                  follow_equivalents=False)  # fmt: skip
    assert col(plain, "concept_items")["D2a"] == 0
    assert plain.summary["coverage_rollup"] == "entity only"


def test_a_branch_without_universe_nodes_is_not_a_gap() -> None:
    # ICD-10's external causes are kind Concept: their chapter is no coverage gap, however
    # large, while an unreached branch holding a disease still is one.
    extra = pl.DataFrame(
        {
            "id": ["ICD:V", "ICD:V01", "ICD:V02"],
            "kind": ["Category", "Concept", "Concept"],
            "met_parent": ["MET:root", "ICD:V", "ICD:V"],
            "met_placement": ["hierarchy"] * 3,
            "depth": [1, 2, 2],
            "subtree_size": [3, 1, 1],
            "rare": [False] * 3,
        }
    ).with_columns(
        pl.col("id").alias("name"),
        pl.col("depth").cast(pl.Int32),
        pl.col("subtree_size").cast(pl.Int64),
    )
    nodes = pl.concat([tree(), extra.select(tree().columns)])
    got = audit(nodes, mentions(), name="toy", n_items=5, min_branch_size=1)
    assert got.uncovered.get_column("id").to_list() == ["D2a"]


def test_names_that_share_a_file_tag_are_refused_before_anything_is_written(
    result, tmp_path: Path
) -> None:
    """'x.y' and 'x_y' differ but both tag their files ``.x_y`` (gaps.x_y.json, ...): one
    dataset's files would silently replace the other's, and reading the folder back would
    give both names the same table."""
    other = audit(tree(), mentions().filter(pl.col("item_id") == "3"), name="x_y", n_items=1,
                  min_branch_size=1)  # fmt: skip
    first = audit(tree(), mentions(), name="x.y", n_items=5, min_branch_size=1)
    out = tmp_path / "audit"
    with pytest.raises(
        AuditError, match=r"'x\.y' and 'x_y' .*same file names \(\.x_y: gaps\.x_y\.json"
    ):
        write_audit([first, other], out)
    assert not out.exists() or not list(out.iterdir())
    from medkg.coverage.audit import check_names  # what run_audit checks before linking

    with pytest.raises(AuditError, match=r"'x\.y' and 'x_y'"):
        check_names(["x.y", "a", "x_y"])
    assert check_names(["x.y", "x-y", "xy"]) == ["x.y", "x-y", "xy"]
