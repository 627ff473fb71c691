"""The `medkg kg` commands end to end on a small graph in an embedded store."""

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.stores.embedded import EmbeddedStore

FIXTURES = Path(__file__).parent.parent / "fixtures"
runner = CliRunner()


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The excerpt graph, built once by `medkg kg build` for the module."""
    path = tmp_path_factory.mktemp("kg_cli") / "graph"
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


@pytest.fixture()
def store_path(built_store: Path, tmp_path: Path) -> Path:
    """A private copy of the built graph (some tests import into it)."""
    return Path(shutil.copytree(built_store, tmp_path / "graph"))


def _json(args: list[str]) -> Any:
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


def test_build_loads_a_source_without_a_bundled_release_from_its_file(tmp_path: Path):
    """`--file` for a source with no bundled file (obo) loads that file; there is no bundled
    release to compare it with (this failed: "this source has no bundled file")."""
    obo = FIXTURES / "hpo" / "mini.obo"
    term_ids = set(re.findall(r"^id: (HP:\d{7})$", obo.read_text("utf-8"), re.M))
    path = tmp_path / "graph"
    res = runner.invoke(
        app, ["kg", "build", "--path", str(path), "--sources", "obo", "--file", f"obo={obo}"]
    )
    assert res.exit_code == 0, res.output
    assert "bundled release" not in res.output
    nodes = EmbeddedStore(path).load().nodes
    assert term_ids and term_ids <= set(nodes.get_column("id").to_list())


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
    kept = EmbeddedStore(store_path).get_node("HP:0001166")
    assert kept is not None and kept["name"] == "Arachnodactyly"


def test_export_parquet_cli(store_path: Path, tmp_path: Path):
    res = _json(["kg", "export", str(tmp_path / "out"), "--path", str(store_path), "--json"])
    assert res["format"] == "parquet"
    assert (tmp_path / "out" / "nodes.parquet").is_file()


def test_mappings_import_export_and_identity_quality(store_path: Path, tmp_path: Path):
    sssom = tmp_path / "marfan.sssom.tsv"
    sssom.write_text(
        "#curie_map:\n#  OMIM: https://omim.org/entry/\n"
        "#  orphanet: http://www.orpha.net/ORDO/Orphanet_\n"
        "#mapping_set_id: https://example.org/marfan.sssom.tsv\n"
        "subject_id\tpredicate_id\tobject_id\tmapping_justification\n"
        "OMIM:154700\tskos:exactMatch\torphanet:558\tsemapv:ManualMappingCuration\n",
        encoding="utf-8",
    )
    res = _json(["kg", "mappings", "import", str(sssom), "--path", str(store_path), "--json"])
    assert res["source"]["name"] == "marfan" and res["edges_added"] == 1
    kg = EmbeddedStore(store_path).load()
    imported = kg.edges.filter(kg.edges["method"] == "sssom")
    assert imported.select("src", "dst", "confidence").rows() == [
        ("OMIM:154700", "ORPHA:558", 0.95)
    ]
    stats = _json(["kg", "stats", "--path", str(store_path), "--json"])
    methods = stats["identity_quality"]["methods"]
    assert {"name_exact", "sssom"} <= set(methods)
    assert methods["sssom"]["edges"] == 1
    assert stats["rare"]["by_reason"]["orphanet"] == 1
    assert stats["rare"]["by_reason"]["orphanet_name"] == 1  # OMIM:154700 is Orphanet's Marfan
    assert "not_rare_by_reason" in stats["rare"]
    text = runner.invoke(app, ["kg", "stats", "--path", str(store_path)])
    assert "Identity quality" in text.stdout
    # export: every MAPS_TO edge, readable again
    out = tmp_path / "export" / "all.sssom.tsv"
    res = _json(["kg", "mappings", "export", str(out), "--path", str(store_path), "--json"])
    assert res["mappings"] == kg.edges.filter(kg.edges["rel"] == "MAPS_TO").height
    assert "OMIM:154700\t" in out.read_text(encoding="utf-8")
    # a malformed file names its line and leaves the store as it was
    bad = tmp_path / "bad.sssom.tsv"
    bad.write_text(sssom.read_text(encoding="utf-8") + "OMIM:1\tskos:exactMatch\n")
    before = EmbeddedStore(store_path).load().content_hash()
    res = runner.invoke(app, ["kg", "import", str(bad), "--path", str(store_path)])
    assert res.exit_code != 0
    assert f"{bad}:7" in res.output and "object_id" in res.output
    assert EmbeddedStore(store_path).load().content_hash() == before


def test_show_reads_facts_through_equivalents(store_path: Path):
    # TGFB2 is attached to ORPHA:558 only; OMIM:154700 is the same Marfan syndrome
    shown = _json(["kg", "show", "OMIM:154700", "--path", str(store_path), "--json"])
    own = shown["relations"]["GENE_ASSOCIATED_WITH (in)"]["items"]
    assert [g["other_name"] for g in own] == ["FBN1"]
    via = {eq["id"]: eq for eq in shown["via_equivalents"]}
    orpha = via["ORPHA:558"]
    assert orpha["method"] == "name_exact" and orpha["confidence"] >= 0.95
    genes = orpha["relations"]["GENE_ASSOCIATED_WITH (in)"]["items"]
    assert sorted(g["other_name"] for g in genes) == ["FBN1", "TGFB2"]
    assert "MESH:D056846" not in via  # the MeSH node carries no facts of its own here
    text = runner.invoke(app, ["kg", "show", "OMIM:154700", "--path", str(store_path)]).stdout
    assert "via equivalent ORPHA:558" in text and "TGFB2" in text


def test_names_with_brackets_print_as_written(store_path: Path, tmp_path: Path):
    """Entity names are data, not rich markup: "[x-linked]" must not vanish and "[/i]"
    must not crash the table (both are plain text in imported ontologies)."""
    obo = tmp_path / "odd.obo"
    obo.write_text(
        "ontology: odd\ndata-version: 1\n\n[Term]\nid: ODD:1\nname: Zyxdeafness [x-linked]\n"
        "xref: OMIM:154700\n\n[Term]\nid: ODD:2\nname: Zyxdeafness [/i] type 2\n"
    )
    _json(["kg", "import", str(obo), "--kind", "Disease", "--path", str(store_path), "--json"])
    flat = lambda text: " ".join(text.split())  # noqa: E731 - tables may wrap cells
    res = runner.invoke(app, ["kg", "search", "zyxdeafness", "--path", str(store_path)])
    assert res.exit_code == 0, res.output
    assert "[x-linked]" in flat(res.stdout) and "[/i]" in flat(res.stdout)
    res = runner.invoke(app, ["kg", "show", "OMIM:154700", "--path", str(store_path)])
    assert res.exit_code == 0, res.output
    assert "Zyxdeafness [x-linked]" in flat(res.stdout)
    res = runner.invoke(
        app,
        ["sample", "--n", "40", "--show", "40", "--seed", "1", "--kind", "Disease",
         "--path", str(store_path)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "[x-linked]" in flat(res.stdout) and "[/i]" in flat(res.stdout)


def test_export_with_an_unknown_kind_is_an_error(store_path: Path, tmp_path: Path):
    """A misspelt --kind used to export an empty graph with exit 0."""
    dest = tmp_path / "out"
    res = runner.invoke(
        app, ["kg", "export", str(dest), "--kind", "Diseases", "--path", str(store_path)]
    )
    assert res.exit_code == 2, res.output
    assert "Diseases" in res.output and "Disease" in res.output.replace("Diseases", "")
    assert not dest.exists()
    ok = _json(
        ["kg", "export", str(dest), "--kind", "Disease", "--path", str(store_path), "--json"]
    )
    assert ok["nodes"] == 3
