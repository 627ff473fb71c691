"""Export: every format, byte-identical reruns, checksums, atomic writes."""

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medkg.errors import OutputError
from medkg.io import MANIFEST, ExportError
from medkg.synthesis.export import (
    export_items,
    read_items,
    sft_completion,
)
from tests.factories.items import Q, item, items

MANIFEST_IN = {"config": {"n": 2, "seed": 7}, "seed": 7, "graph_hash": "abc"}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_all_formats_written_and_readable(tmp_path: Path):
    out = tmp_path / "ds"
    report = export_items(items(), out, MANIFEST_IN)
    names = set(tree_bytes(out))
    assert {
        "items.jsonl",
        "items.parquet",
        "trl_sft.jsonl",
        "trl_grpo.jsonl",
        "manifest.json",
        ".medkg-output.json",
        "hf/dataset_info.json",
        "hf/state.json",
        "hf/data-00000-of-00001.arrow",
    } == names
    back = read_items(out)
    assert [i.id for i in back] == [i.id for i in items()]
    assert back[1].answer_letter == "C" and back[1].difficulty == pytest.approx(1 / 3)
    table = pq.read_table(out / "items.parquet")
    assert table.num_rows == 2 and table.column("answer_letter").to_pylist() == ["A", "C"]
    assert json.loads(table.column("provenance")[1].as_py())["seed"] == 7

    from datasets import load_from_disk

    ds = load_from_disk(str(out / "hf"))
    assert ds.num_rows == 2 and ds[1]["answer"] == items()[1].answer
    assert ds[0]["rationale"]["conclusion"] == "Marfan syndrome."

    sft = [json.loads(line) for line in (out / "trl_sft.jsonl").open(encoding="utf-8")]
    assert [m["role"] for m in sft[0]["prompt"]] == ["system", "user"]
    assert sft[0]["prompt"][1]["content"] == items()[0].mc_prompt()
    assert sft[1]["completion"] == [{"role": "assistant", "content": sft_completion(items()[1])}]
    assert sft[1]["completion"][0]["content"].endswith("Answer: C. Homocystinuria")
    grpo = [json.loads(line) for line in (out / "trl_grpo.jsonl").open(encoding="utf-8")]
    assert [g["answer"] for g in grpo] == ["A", "C"] and "completion" not in grpo[0]

    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["n_items"] == 2 and manifest["graph_hash"] == "abc"
    assert manifest == report.manifest
    for name, info in manifest["files"].items():
        data = (out / name).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert set(manifest["files"]) == names - {"manifest.json", ".medkg-output.json"}


def test_rerun_is_byte_identical_hf_folder_included(tmp_path: Path):
    export_items(items(), tmp_path / "a", MANIFEST_IN)
    export_items(items(), tmp_path / "b", MANIFEST_IN)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a.keys() == b.keys() and a == b
    # and the same folder again (replaces the earlier export in place)
    export_items(items(), tmp_path / "a", MANIFEST_IN)
    assert tree_bytes(tmp_path / "a") == b


def test_floats_have_fixed_formatting(tmp_path: Path):
    export_items(items(), tmp_path / "a", MANIFEST_IN, formats=["jsonl"])
    line = (tmp_path / "a" / "items.jsonl").read_text(encoding="utf-8").splitlines()[1]
    assert '"difficulty":0.333333' in line
    assert set(tree_bytes(tmp_path / "a")) == {".medkg-output.json", "items.jsonl", "manifest.json"}


def test_refuses_foreign_folder_and_leaves_nothing_on_failure(tmp_path: Path, monkeypatch):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError, match=r"non-empty folder that medkg did not write"):
        export_items(items(), foreign, MANIFEST_IN)
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "keep me"

    out = tmp_path / "ds"
    export_items(items(), out, MANIFEST_IN, formats=["jsonl"])
    before = tree_bytes(out)

    import medkg.synthesis.export as export

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "write_parquet", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_items(items()[:1], out, MANIFEST_IN)
    assert tree_bytes(out) == before  # the old export is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "mine"]  # no temp folders


def test_bad_format_and_duplicate_ids_are_errors(tmp_path: Path):
    with pytest.raises(ExportError, match="unknown export format"):
        export_items(items(), tmp_path / "x", formats=["csv"])
    with pytest.raises(ExportError, match="same id"):
        export_items([item(Q), item(Q)], tmp_path / "x")
    assert not (tmp_path / "x").exists()
