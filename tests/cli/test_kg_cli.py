"""The `medkg kg` commands end to end on a small graph in an embedded store."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.stores.embedded import EmbeddedStore

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


@pytest.fixture()
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "graph"
    res = runner.invoke(
        app,
        [
            "kg",
            "build",
            "--path",
            str(path),
            "--sources",
            "hpo,hpoa,hpo_genes",
            "--file",
            f"hpo={FIXTURES / 'hpo' / 'mini.obo'}",
            "--file",
            f"hpoa={FIXTURES / 'hpo' / 'mini.hpoa'}",
            "--file",
            f"hpo_genes={FIXTURES / 'hpo' / 'genes_to_phenotype.txt'}",
            "--force",  # excerpts: far fewer rows than the bundled releases, on purpose
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    return path


def _json(args: list[str]) -> object:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_build_stats_show_search(store_path: Path):
    stats = _json(["kg", "stats", "--path", str(store_path), "--json"])
    assert stats["nodes_by_kind"]["Disease"] == 3
    assert stats["edges_by_rel"]["HAS_PHENOTYPE"] == 6
    assert stats["rare"]["rare_diseases"] == 3
    shown = _json(["kg", "show", "OMIM:154700", "--path", str(store_path), "--json"])
    assert shown["node"]["name"] == "Marfan syndrome"
    assert shown["ancestors"][-1]["id"] == "MET:root"
    assert shown["relations"]["HAS_PHENOTYPE (out)"]["count"] == 4
    assert any(i.get("negated") for i in shown["relations"]["HAS_PHENOTYPE (out)"]["items"])
    hits = _json(["kg", "search", "spider fingers", "--path", str(store_path), "--json"])
    assert hits[0]["id"] == "HP:0001166" and hits[0]["matched"] == "Spider fingers"
    # MIM: is normalised to OMIM:
    assert (
        _json(["kg", "show", "MIM:154700", "--path", str(store_path), "--json"])["node"]["id"]
        == "OMIM:154700"
    )


def test_show_unknown_id_fails_clearly(store_path: Path):
    res = runner.invoke(app, ["kg", "show", "HP:9999999", "--path", str(store_path)])
    assert res.exit_code == 2
    assert "no entity HP:9999999" in res.output


def test_commands_without_a_graph_say_so(tmp_path: Path):
    res = runner.invoke(app, ["kg", "stats", "--path", str(tmp_path / "none")])
    assert res.exit_code == 2
    assert "holds no graph" in res.output


def test_build_with_a_bad_file_writes_nothing(tmp_path: Path):
    bad = tmp_path / "bad.obo"
    bad.write_text("[Term]\nid: HP:1\nname: x\nnot a tag line\n")
    path = tmp_path / "graph"
    res = runner.invoke(
        app, ["kg", "build", "--path", str(path), "--sources", "hpo", "--file", f"hpo={bad}"]
    )
    assert res.exit_code == 2
    assert "bad.obo:4: malformed line" in res.output
    assert not path.exists()


def test_unknown_source_is_an_error(tmp_path: Path):
    res = runner.invoke(app, ["kg", "build", "--path", str(tmp_path / "g"), "--sources", "nosuch"])
    assert res.exit_code == 2 and "unknown source 'nosuch'" in res.output


def test_import_obo_extends_the_graph_and_rederives(store_path: Path, tmp_path: Path):
    obo = tmp_path / "mondo.obo"
    obo.write_text(
        "ontology: mondo\ndata-version: 2024-01-01\n\n[Term]\nid: MONDO:0000001\nname: disease\n\n"
        "[Term]\nid: MONDO:0007947\nname: Marfan syndrome\nxref: OMIM:154700\nis_a: MONDO:0000001\n"
    )
    before = EmbeddedStore(store_path).load()
    res = _json(
        ["kg", "import", str(obo), "--kind", "Disease", "--path", str(store_path), "--json"]
    )
    assert res["nodes_added"] == 2
    after = EmbeddedStore(store_path).load()
    assert after.nodes.height == before.nodes.height + 2
    maps = after.edges.filter(
        (after.edges["rel"] == "MAPS_TO") & (after.edges["src"] == "MONDO:0007947")
    )
    assert set(maps.get_column("method")) >= {"xref"}
    # importing the same release again replaces it: same graph, same hash
    res2 = _json(
        ["kg", "import", str(obo), "--kind", "Disease", "--path", str(store_path), "--json"]
    )
    assert res2["nodes_added"] == 2 and res2["ids_in_other_sources_kept_existing"] == 0
    assert res2["content_hash"] == res["content_hash"]
    # a clash with another source's id keeps the existing entity and says so
    clash = tmp_path / "clash.obo"
    clash.write_text("ontology: other\n\n[Term]\nid: HP:0001166\nname: not arachnodactyly\n")
    res3 = _json(["kg", "import", str(clash), "--path", str(store_path), "--json"])
    assert res3["ids_in_other_sources_kept_existing"] == 1
    assert EmbeddedStore(store_path).get_node("HP:0001166")["name"] == "Arachnodactyly"


def test_export_parquet_cli(store_path: Path, tmp_path: Path):
    res = _json(["kg", "export", str(tmp_path / "out"), "--path", str(store_path), "--json"])
    assert res["format"] == "parquet"
    assert (tmp_path / "out" / "nodes.parquet").is_file()
