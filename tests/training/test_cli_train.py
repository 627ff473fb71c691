"""`medkg train pseudo-label` and `medkg train eval` through the typer app, against real
HTTP endpoint stand-ins and an embedded store holding a small graph."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from medkg.cli.train import parse_generator_spec
from medkg.kg.stores import open_store
from medkg.synthesis.export import export_items
from tests.factories.chat import ChatServer
from tests.factories.graphs import make_small_kg
from tests.factories.training import MEDSSR, by_question, invoke, items, scripted


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    return export_items(items(), tmp_path / "synth", {"seed": 0}, formats=("jsonl", "trl")).path


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    path = tmp_path / "graph"
    with open_store("embedded", path=path) as s:
        s.save(make_small_kg())
    return path


def test_generator_specs() -> None:
    assert parse_generator_spec("local") == (None, "local", {})
    assert parse_generator_spec("before=local:model=/m/a,batch_size=16") == (
        "before", "local", {"model": "/m/a", "batch_size": 16},
    )  # fmt: skip
    assert parse_generator_spec("openai:base_url=http://h:8000/v1,model=q") == (
        None, "openai", {"base_url": "http://h:8000/v1", "model": "q"},
    )  # fmt: skip
    assert parse_generator_spec("after=runs/stage2") == ("after", "local", {"model": "runs/stage2"})


def test_pseudo_label_self_consistency(dataset: Path, store: Path, tmp_path: Path) -> None:
    out = tmp_path / "labelled"
    with ChatServer(reply=scripted) as server:
        spec = f"openai:base_url={server.base_url},model=policy"
        args = ["pseudo-label", str(dataset), "--out", str(out), "--generator", spec]
        result = invoke(*args, "--k", "4", "--tau", "0.6", "--path", str(store), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["items"], report["kept"]) == (6, 3)
    assert report["dropped"] == {"below_tau": 1, "no_answer": 1, "tie": 1}
    assert report["path_names"] == "graph" and report["config"]["k"] == 4
    grpo = [json.loads(x) for x in (out / "trl_grpo.jsonl").read_text().splitlines()]
    assert [g["answer"] for g in grpo] == ["A", "B", "A"]
    assert grpo[1]["path_names"][2] == ["FBN1", "fibrillin 1"]
    # human-readable output, options-only path names, and --limit
    with ChatServer(reply=scripted) as server:
        spec = f"openai:base_url={server.base_url},model=policy"
        args = ["pseudo-label", str(dataset / "items.jsonl"), "-o", str(out), "-g", spec]
        result = invoke(*args, "--k", "4", "--limit", "2", "--no-graph")
    assert result.exit_code == 0, result.output
    assert "pseudo-label accuracy" in result.stdout and "wrote 1 of 2 items" in result.stdout
    assert json.loads((out / "report.json").read_text())["path_names"] == "options"


def test_pseudo_label_reject_sampling(dataset: Path, tmp_path: Path) -> None:
    with ChatServer(reply=scripted) as a, ChatServer(reply=lambda body: ["Answer: A"]) as b:
        experts = [f"openai:base_url={s.base_url},model={n}" for s, n in ((a, "a"), (b, "b"))]
        result = invoke(
            "pseudo-label", str(dataset), "--out", str(tmp_path / "rs"), "--no-graph", "--json",
            "--expert", experts[0], "--expert", experts[1], "--min-agree", "2",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["method"] == "reject_sampling" and len(report["generators"]) == 2
    # greedy single answers: expert a's first sample per question agrees with b on 1, 2, 6
    assert report["kept"] == 3 and report["dropped"] == {"no_agreement": 3}
    assert a.requests[0]["n"] == 1 and a.requests[0]["temperature"] == 0.0


def test_pseudo_label_errors(dataset: Path, tmp_path: Path) -> None:
    result = invoke("pseudo-label", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "no such items file" in result.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = f"openai:base_url=http://127.0.0.1:{port}/v1,model=m,retries=0"
    result = invoke(
        "pseudo-label", str(dataset), "-o", str(tmp_path / "o"), "-g", spec, "--no-graph"
    )
    assert result.exit_code == 2 and "endpoint unreachable" in result.output
    assert not (tmp_path / "o").exists()  # nothing half-written
    result = invoke("pseudo-label", str(dataset), "-o", str(tmp_path / "o"), "-g", "vllm")
    assert result.exit_code == 2 and "unknown generator 'vllm'" in result.output


def test_eval_before_after_with_graph_tags(store: Path, tmp_path: Path) -> None:
    bench = tmp_path / "medssr.json"
    bench.write_text(json.dumps(MEDSSR), encoding="utf-8")
    with (
        ChatServer(reply=lambda body: ["Answer: B"]) as base,
        ChatServer(reply=by_question) as tuned,
    ):
        result = invoke(
            "eval", "--bench", str(bench), "--path", str(store), "--branch-depth", "2", "-p", "none",
            "--model", f"before=openai:base_url={base.base_url},model=base",
            "--model", f"after=openai:base_url={tuned.base_url},model=tuned",
            "--out", str(tmp_path / "results.json"), "--json",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [m["model"] for m in data["models"]] == ["before", "after"]
    assert data["models"][1]["scores"]["overall"]["correct"] == 2
    rows = {(r["breakdown"], r["group"]): r for r in data["comparison"]}
    assert rows[("overall", "all")]["delta"] == round(2 / 3, 4)
    assert rows[("rarity", "rare")]["models"][0]["n"] == 2  # both Marfan questions link
    assert rows[("rarity", "unlinked")]["models"][0]["n"] == 1
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["models"][0]["records"]) == 3


def test_eval_table_without_a_graph_and_errors(tmp_path: Path) -> None:
    bench = tmp_path / "medssr.json"
    bench.write_text(json.dumps(MEDSSR), encoding="utf-8")
    with ChatServer(reply=by_question) as server:
        spec = f"openai:base_url={server.base_url},model=tuned"
        result = invoke(
            "eval", "-b", str(bench), "-m", spec, "--path", str(tmp_path / "none"), "-p", "none"
        )
    assert result.exit_code == 0, result.output
    assert "openai:tuned" in result.stdout and "rarity and branch skipped" in result.output
    assert invoke("eval", "-b", str(bench)).exit_code == 2
    result = invoke("eval", "-m", "local", "-b", str(tmp_path / "missing.json"))
    assert result.exit_code == 2 and "missing.json" in result.output


@pytest.mark.slow
def test_pseudo_label_with_the_packaged_smollm2(dataset: Path, tmp_path: Path) -> None:
    """The README's `pseudo-label ... --generator local`: SmolLM2-135M-Instruct on CPU (the
    GGUF exported once to the cache) samples k answers per question and votes."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "pseudo"
    args = ["pseudo-label", str(dataset), "--out", str(out), "--generator", "local"]
    result = invoke(*args, "--k", "2", "--limit", "2", "--max-new-tokens", "8", "--no-graph",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["items"] == 2 and report["generator"]["model"] == "smollm2-135m-instruct"
    assert report["kept"] + sum(report["dropped"].values()) == 2
    votes = [json.loads(x) for x in (out / "votes.jsonl").read_text().splitlines()]
    assert len(votes) == 2 and all(len(v["votes"]) == 2 for v in votes)
