"""The files curators' decisions go to: review.jsonl (and the consumers that honour it)
and the curated SSSOM table of mapping decisions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from medkg.kg.curated import CuratedMappingError, read_curated
from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.review import ReviewError, read_review, record_decisions, rejected_ids
from medkg.ui.graph import GraphIndex
from medkg.ui.mappings import MappingReviewError, record_decision, review_queue


def test_review_file_round_trip_latest_wins(tmp_path: Path) -> None:
    record_decisions(tmp_path, [{"item_id": "a", "decision": "reject", "reason": "bad key"}])
    record_decisions(
        tmp_path,
        [
            {"item_id": "b", "decision": "flag", "reason": "odd"},
            {"item_id": "a", "decision": "accept", "reason": ""},
        ],
    )
    lines = (tmp_path / "review.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["item_id"] for x in lines] == ["a", "b", "a"]
    assert {k: v["decision"] for k, v in read_review(tmp_path).items()} == {
        "a": "accept",
        "b": "flag",
    }
    assert rejected_ids(tmp_path) == set()
    (tmp_path / "other").mkdir()
    assert read_review(tmp_path / "other") == {}
    assert rejected_ids(tmp_path / "items.jsonl") == set()  # a file: the review beside it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json\n", "line 1: not valid JSON"),
        (
            '{"item_id": "a", "decision": "reject"}\n[1]\n',
            "line 2: a review line must be a JSON object",
        ),
        ('{"decision": "reject"}\n', "line 1: item_id must be a non-empty string"),
        (
            '{"item_id": "a", "decision": "reject", "reason": 3}\n',
            "line 1: reason must be a string",
        ),
    ],
)
def test_malformed_review_file_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "review.jsonl").write_text(text, encoding="utf-8")
    with pytest.raises(ReviewError, match=message):
        read_review(tmp_path)
    with pytest.raises(ReviewError):
        record_decisions(tmp_path, [{"item_id": "b", "decision": "accept"}])
    assert (tmp_path / "review.jsonl").read_text(encoding="utf-8") == text


def test_non_utf8_review_file(tmp_path: Path) -> None:
    (tmp_path / "review.jsonl").write_bytes(b"\xff\xfe{}\n")
    with pytest.raises(ReviewError, match="not UTF-8"):
        read_review(tmp_path)


def test_training_loader_drops_rejected_items(tmp_path: Path) -> None:
    from medkg.training.trainers import load_dataset

    rows = [
        {
            "id": f"i{k}",
            "prompt": [{"role": "user", "content": f"q{k}"}],
            "completion": [{"role": "assistant", "content": "Answer: A"}],
        }
        for k in range(4)
    ]
    (tmp_path / "trl_sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    assert len(load_dataset(tmp_path, "sft")) == 4
    record_decisions(
        tmp_path,
        [
            {"item_id": "i2", "decision": "reject", "reason": "wrong key"},
            {"item_id": "i3", "decision": "flag", "reason": "check"},
        ],
    )
    assert load_dataset(tmp_path, "sft")["id"] == ["i0", "i1", "i3"]


def test_mapping_queue_and_curated_sssom(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    index = GraphIndex(small_kg)
    assert review_queue(index, threshold=0.7).is_empty()  # the one mapping has confidence 0.95
    queue = review_queue(index, threshold=0.99)
    assert queue.select("src", "dst", "why").rows() == [
        ("OMIM:154700", "ORPHA:558", "low confidence")
    ]
    path = tmp_path / "curated.sssom.tsv"
    record_decision(index, "OMIM:154700", "ORPHA:558", "reject", "different disease", path)
    record_decision(index, "OMIM:154700", "ORPHA:558", "accept", "on second look", path)
    body = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    rows = list(csv.DictReader(body, delimiter="\t"))
    assert (
        len(rows) == 1
        and rows[0]["predicate_modifier"] == ""
        and rows[0]["object_label"] == "Marfan syndrome"
    )
    assert rows[0]["comment"] == "on second look (resolver: xref)"
    assert list(read_curated(path)) == [("OMIM:154700", "ORPHA:558")]
    with pytest.raises(MappingReviewError, match="no MAPS_TO edge"):
        record_decision(index, "ORPHA:558", "HP:0000118", "accept", "", path)
    with pytest.raises(MappingReviewError, match="accept or reject"):
        record_decision(index, "OMIM:154700", "ORPHA:558", "maybe", "", path)
    path.write_text("a\tb\n1\t2\n", encoding="utf-8")
    with pytest.raises(CuratedMappingError, match="not an SSSOM table"):
        read_curated(path)


def test_reviewed_export_leaves_rejected_items_out(tmp_path: Path) -> None:
    from medkg.synthesis.export import export_items, read_items
    from medkg.synthesis.review import export_reviewed
    from tests.factories.items import items as make_items

    items = make_items()
    export_items(items, tmp_path / "ds", {"seed": 7}, ["jsonl", "parquet"])
    rejected = items[1].id
    record_decisions(tmp_path / "ds", [{"item_id": rejected, "decision": "reject", "reason": "x"}])
    report = export_reviewed(tmp_path / "ds", tmp_path / "reviewed")
    assert [i.id for i in read_items(tmp_path / "reviewed")] == [
        i.id for i in items if i.id != rejected
    ]
    assert report.manifest["seed"] == 7 and report.manifest["n_items"] == len(items) - 1
    assert report.manifest["review"]["left_out"] == 1
    assert sorted(report.files) == ["items.jsonl", "items.parquet"]
    with pytest.raises(ReviewError, match="another folder"):
        export_reviewed(tmp_path / "ds", tmp_path / "ds")
    with pytest.raises(ReviewError, match="not a medkg dataset"):
        export_reviewed(tmp_path, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_decision_keeps_the_curators_own_columns_and_header(
    tmp_path: Path, small_kg: KnowledgeGraph
) -> None:
    """The curated file may be edited by hand (SSSOM has many optional columns and a
    free curie map): a decision made in the workbench must not drop what it does not write."""
    path = tmp_path / "curated.sssom.tsv"
    path.write_text(
        "#curie_map:\n#  MONDO: http://purl.obolibrary.org/obo/MONDO_\n"
        "#  OMIM: https://omim.org/entry/\n"
        "subject_id\tpredicate_id\tobject_id\tmapping_justification\treviewer_id\tsubject_source\n"
        "MONDO:0007947\tskos:exactMatch\tOMIM:154700\tsemapv:ManualMappingCuration\t"
        "orcid:0000-0002\tobo:mondo\n",
        encoding="utf-8",
    )
    record_decision(GraphIndex(small_kg), "OMIM:154700", "ORPHA:558", "reject", "no", path)
    text = path.read_text(encoding="utf-8")
    assert "#  MONDO: http://purl.obolibrary.org/obo/MONDO_" in text
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    rows = {r["subject_id"]: r for r in csv.DictReader(body, delimiter="\t")}
    assert rows["MONDO:0007947"]["reviewer_id"] == "orcid:0000-0002"
    assert rows["MONDO:0007947"]["subject_source"] == "obo:mondo"
    assert rows["OMIM:154700"]["predicate_modifier"] == "Not"
    assert rows["OMIM:154700"]["reviewer_id"] == ""
