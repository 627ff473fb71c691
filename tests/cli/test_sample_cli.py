"""`medkg sample` end to end on a small real-format graph in an embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medkg.cli.sample import sample
from medkg.kg.stores.embedded import EmbeddedStore
from tests.factories.graphs import small_graph

runner = CliRunner()

# The command as `medkg sample` mounts it (app.command("sample")(sample)).
app = typer.Typer(pretty_exceptions_enable=False)


@app.callback()
def _root() -> None:
    """medkg"""


app.command("sample")(sample)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample_cli") / "graph"
    with EmbeddedStore(path) as store:
        store.save(small_graph())
    return path


def run(store_path: Path, *args: str) -> dict:
    res = runner.invoke(app, ["sample", "--path", str(store_path), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def fail(store_path: Path, *args: str) -> str:
    res = runner.invoke(app, ["sample", "--path", str(store_path), *args])
    assert res.exit_code == 2, res.output
    return res.output


def test_draws_are_reproducible_and_described(store_path: Path):
    a = run(store_path, "--strategy", "tree_balanced", "--n", "50", "--seed", "3")
    b = run(store_path, "--strategy", "tree_balanced", "--n", "50", "--seed", "3")
    c = run(store_path, "--strategy", "tree_balanced", "--n", "50", "--seed", "4")
    assert a["draws"] == b["draws"] and a["draws"] != c["draws"]
    assert len(a["draws"]) == 50
    assert set(a["draws"][0]) == {"id", "name", "kind", "rare"}
    assert not any(d["id"].startswith("MET:") for d in a["draws"])
    dist = a["distribution"]
    assert dist["by"] == "kind" and dist["reference"] == "expected"
    assert sum(dist["realised"].values()) == pytest.approx(1)
    assert sum(dist["expected"].values()) == pytest.approx(1)
    assert 0 <= dist["tvd"] <= 1
    assert a["graph"]["content_hash"]


def test_rare_mixture_reports_the_rare_share(store_path: Path):
    res = run(store_path, "--strategy", "rare_mixture", "--alpha", "0.4", "--n", "4000")
    assert res["distribution"]["by"] == "rare"
    assert res["distribution"]["expected"] == pytest.approx({"rare": 0.4, "not_rare": 0.6})
    assert res["rare_share"] == pytest.approx(0.4, abs=0.03)
    assert all(d["kind"] == "Disease" for d in res["draws"] if d["rare"])


def test_target_by_kind(store_path: Path, tmp_path: Path):
    res = run(
        store_path,
        "--strategy",
        "target",
        "--target",
        "kind=Disease:0.5,Phenotype:0.3,Gene:0.2",
        "--n",
        "101",
    )
    dist = res["distribution"]
    assert dist["reference"] == "target"
    assert dist["tolerance"]["allocation"] == {"Disease": 51, "Phenotype": 30, "Gene": 20}
    assert dist["tvd"] <= dist["tolerance"]["tvd_max"]
    # The same target from a JSON file, and the --kind filter on another strategy.
    f = tmp_path / "target.json"
    f.write_text(json.dumps({"kind": {"Disease": 0.5, "Phenotype": 0.3, "Gene": 0.2}}))
    from_file = run(store_path, "--strategy", "target", "--target", str(f), "--n", "101")
    assert from_file["draws"] == res["draws"]
    only = run(store_path, "--strategy", "uniform", "--kind", "Gene", "--n", "20")
    assert {d["kind"] for d in only["draws"]} == {"Gene"}
    # With another strategy, --target is the reference the draws are measured against.
    ref = run(store_path, "--strategy", "uniform", "--target", "kind=Disease:1.0", "--n", "40")
    assert ref["distribution"]["target"] == {"Disease": 1.0}
    assert ref["distribution"]["tvd"] == pytest.approx(
        1 - ref["distribution"]["realised"]["Disease"]
    )


def test_coverage_gap_and_inverse_frequency(store_path: Path, tmp_path: Path):
    gaps = tmp_path / "gaps.json"
    gaps.write_text(json.dumps([{"id": "OMIM:154700", "gap": 9}, {"id": "HP:0001166", "gap": 1}]))
    res = run(store_path, "--strategy", "coverage_gap", "--gaps", str(gaps), "--n", "500")
    ids = [d["id"] for d in res["draws"]]
    assert set(ids) == {"OMIM:154700", "HP:0001166"}
    assert ids.count("OMIM:154700") > 3 * ids.count("HP:0001166")
    inv = run(store_path, "--strategy", "inverse_frequency", "--temperature", "0.5", "--n", "30")
    assert len(inv["draws"]) == 30


def test_human_output(store_path: Path):
    res = runner.invoke(
        app, ["sample", "--path", str(store_path), "--n", "30", "--show", "5", "--seed", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "realised vs expected" in res.output and "total variation distance" in res.output
    assert "25 more" in res.output


def test_bad_input_exits_2_with_a_clear_message(store_path: Path, tmp_path: Path):
    out = fail(store_path, "--strategy", "zipf")
    assert "unknown sampling strategy 'zipf'" in out and "tree_balanced" in out
    assert "--alpha does not apply to --strategy uniform" in fail(
        store_path, "--strategy", "uniform", "--alpha", "0.3"
    )
    assert "needs --target" in fail(store_path, "--strategy", "target")
    assert "not 1" in fail(store_path, "--strategy", "target", "--target", "kind=Disease:0.4")
    missing = tmp_path / "no_such_gaps.json"
    assert "no_such_gaps.json does not exist" in fail(
        store_path, "--strategy", "coverage_gap", "--gaps", str(missing)
    )
    assert "unknown kind" in fail(store_path, "--kind", "Dragon")
    assert "holds no graph" in fail(tmp_path / "empty")
