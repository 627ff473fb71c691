"""Dataset readers: every format, ids, text fields, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from medkg.io import (
    MMLU_MEDICAL_SUBJECTS,
    DatasetError,
    iter_items,
    mmlu_medical_items,
    read_items,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "coverage"
FIRST = "Marfan syndrome (MFS) with arachnodactyly; MFS confirmed."


def test_jsonl_text_fields_joined_and_ids_default_to_line_numbers() -> None:
    items = read_items(FIXTURES / "notes.jsonl", ["title", "body"])
    # the blank line 3 is skipped but counted: ids are file line numbers
    assert [i.id for i in items] == ["1", "2", "4"]
    assert items[0].text == "Case 1\n" + FIRST
    items = read_items(FIXTURES / "notes.jsonl", ["body", "tags"], id_field="id")
    assert items[1].id == "n2"
    assert items[1].text == "Myopia and spider fingers.\neye\nhand"


@pytest.mark.parametrize("name", ["notes.json", "notes.csv"])
def test_json_list_and_csv(name: str) -> None:
    items = read_items(FIXTURES / name, "body", id_field="id")
    assert [i.id for i in items] == ["n1", "n2"]
    assert items[0].text == FIRST
    assert [i.id for i in read_items(FIXTURES / name, "body")] == ["1", "2"]


def test_parquet_streams_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.parquet"
    pl.DataFrame({"id": ["a", "b", "c"], "body": ["x y", None, "z"]}).write_parquet(path)
    items = list(iter_items(path, ["body"]))
    assert [(i.id, i.text) for i in items] == [("1", "x y"), ("2", ""), ("3", "z")]
    with pytest.raises(DatasetError, match="field 'text'") as exc:
        read_items(path, ["text"])
    assert exc.value.field == "text" and exc.value.path == str(path) and exc.value.line == 1


def test_missing_text_field_names_file_field_and_line() -> None:
    with pytest.raises(DatasetError) as exc:
        read_items(FIXTURES / "notes.jsonl", ["body", "abstract"])
    assert exc.value.field == "abstract" and exc.value.line == 1
    assert "notes.jsonl:1" in str(exc.value) and "'abstract'" in str(exc.value)
    with pytest.raises(DatasetError, match="field 'question'"):
        read_items(FIXTURES / "notes.csv", ["question"])


def test_missing_id_field() -> None:
    with pytest.raises(DatasetError, match="id field missing") as exc:
        read_items(FIXTURES / "notes.jsonl", ["body"], id_field="uid")
    assert exc.value.field == "uid"


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv"])
def test_empty_dataset(name: str) -> None:
    with pytest.raises(DatasetError, match="empty") as exc:
        read_items(FIXTURES / name, ["body"])
    assert exc.value.path.endswith(name)


def test_non_utf8_names_the_line() -> None:
    with pytest.raises(DatasetError, match="not UTF-8") as exc:
        read_items(FIXTURES / "latin1.jsonl", ["body"])
    assert exc.value.line == 2 and "latin1.jsonl:2" in str(exc.value)


def test_non_utf8_csv_and_json(tmp_path: Path) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_bytes(b"body\nok\nbad \xff here\n")
    with pytest.raises(DatasetError, match="not UTF-8") as exc:
        read_items(csv_path, ["body"])
    assert exc.value.line == 3
    json_path = tmp_path / "bad.json"
    json_path.write_bytes(b'[\n{"body": "ok"},\n{"body": "\xfe"}\n]')
    with pytest.raises(DatasetError, match="not UTF-8") as exc:
        read_items(json_path, ["body"])
    assert exc.value.line == 3


def test_malformed_json_line() -> None:
    with pytest.raises(DatasetError, match="malformed JSON") as exc:
        read_items(FIXTURES / "malformed.jsonl", ["body"])
    assert exc.value.line == 3


def test_json_that_is_not_a_list_and_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"body": "x"}))
    with pytest.raises(DatasetError, match="JSON list"):
        read_items(path, ["body"])
    with pytest.raises(DatasetError, match="unknown dataset format"):
        read_items(tmp_path / "x.txt", ["body"])
    with pytest.raises(DatasetError, match="file not found"):
        read_items(tmp_path / "missing.jsonl", ["body"])


def test_mmlu_medical_subset() -> None:
    items = mmlu_medical_items()
    assert len(items) == 1089
    assert len({i.id for i in items}) == 1089 and items[0].id.startswith("mmlu:")
    # question + four options, one per line
    assert all(i.text.count("\n") >= 4 for i in items)
    assert len(mmlu_medical_items(["medical genetics"])) == 100
    assert len(MMLU_MEDICAL_SUBJECTS) == 6
