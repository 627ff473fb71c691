"""Curator mapping decisions (curated SSSOM) applied to the next build."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from medkg.kg.build import assemble
from medkg.kg.curated import (
    CuratedMappingError,
    apply_curated_mappings,
    read_curated,
    write_curated,
)
from medkg.kg.sources.hpo import HpoOntologySource
from medkg.kg.sources.hpoa import HpoAnnotationSource, HpoGeneSource
from tests.factories.graphs import FIXTURES, mesh_like


def sources() -> list:
    return [
        HpoOntologySource(FIXTURES / "mini.obo").load(),
        HpoAnnotationSource(FIXTURES / "mini.hpoa").load(),
        HpoGeneSource(FIXTURES / "genes_to_phenotype.txt").load(),
        mesh_like(),
    ]


def decision(subject: str, obj: str, reject: bool) -> dict[str, str]:
    return {"subject_id": subject, "object_id": obj, "predicate_id": "skos:exactMatch",
            "predicate_modifier": "Not" if reject else "",
            "mapping_justification": "semapv:ManualMappingCuration"}  # fmt: skip


def maps(kg) -> dict[tuple[str, str], tuple[str, float]]:
    m = kg.edges.filter(pl.col("rel") == "MAPS_TO")
    return {(r["src"], r["dst"]): (r["method"], r["confidence"]) for r in m.iter_rows(named=True)}


def placement(kg, node_id: str) -> tuple[str, str]:
    row = kg.nodes.filter(pl.col("id") == node_id).row(0, named=True)
    return row["met_parent"], row["met_placement"]


def test_decisions_change_the_next_build(tmp_path: Path) -> None:
    before = assemble(sources())
    # The resolver maps the OMIM "Myopia" disease to MeSH Myopia by name and hangs it there.
    assert placement(before, "OMIM:999999") == ("MESH:D009216", "mapping:name_exact")
    path = tmp_path / "curated.sssom.tsv"
    write_curated(path, {
        ("OMIM:999999", "MESH:D009216"): decision("OMIM:999999", "MESH:D009216", True),
        ("OMIM:999999", "HP:0000545"): decision("OMIM:999999", "HP:0000545", True),
        ("OMIM:154700", "ORPHA:558"): decision("OMIM:154700", "ORPHA:558", False),
        ("OMIM:154700", "DOID:14323"): decision("OMIM:154700", "DOID:14323", False),
    })  # fmt: skip
    after = assemble(sources(), curated=path)
    edges = maps(after)
    assert ("OMIM:999999", "MESH:D009216") not in edges and (
        "OMIM:999999",
        "HP:0000545",
    ) not in edges
    assert edges[("OMIM:154700", "ORPHA:558")] == ("curated", 1.0)
    assert placement(after, "OMIM:999999")[1] != "mapping:name_exact"
    assert after.report["curated_mappings"] == {
        "file": str(path), "accepted": 1, "accepted_new_edges": 0, "rejected": 2,
        "rejected_edges_removed": 2, "ids_not_in_graph": 1,
    }  # fmt: skip
    # Every other mapping is untouched.
    untouched = {
        k: v
        for k, v in maps(before).items()
        if k[0] != "OMIM:999999" and k != ("OMIM:154700", "ORPHA:558")
    }
    assert {k: edges[k] for k in untouched} == untouched
    assert apply_curated_mappings(before, tmp_path / "absent.tsv") is before


def test_malformed_curated_file(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text(
        "#curie_map:\nsubject_id\tobject_id\tpredicate_id\tpredicate_modifier\nA:1\tB:2\tskos:exactMatch\tMaybe\n",
        "utf-8",
    )
    with pytest.raises(
        CuratedMappingError, match="line 3: predicate_modifier must be empty or Not"
    ):
        read_curated(path)
    path.write_text("subject_id\tobject_id\tpredicate_id\n\tB:2\tskos:exactMatch\n", "utf-8")
    with pytest.raises(CuratedMappingError, match="line 2: subject_id and object_id are required"):
        read_curated(path)


def test_kg_build_refuses_a_missing_curated_file(tmp_path: Path) -> None:
    from medkg.cli.main import app

    result = CliRunner().invoke(app, ["kg", "build", "--path", str(tmp_path / "g"),
                                      "--curated", str(tmp_path / "nope.tsv")])  # fmt: skip
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "g").exists()


def test_accepting_a_broad_mapping_keeps_it_broad(tmp_path: Path) -> None:
    """A curator accepting a resolver's *broad* match (a subtype hung under its family by
    name_stem) confirms "broader", not "the same": the decision is written as
    skos:broadMatch and the next build keeps ``props.match = "broad"``. Before, the UI wrote
    skos:exactMatch and the build replaced the edge by a curated one without the marker,
    i.e. an identity at confidence 1.0 that fact sharing and the linker follow."""
    from medkg.kg.equivalents import equivalence_map
    from medkg.kg.model import KnowledgeGraph
    from medkg.ui.graph import GraphIndex
    from medkg.ui.mappings import record_decision

    base = assemble(sources())
    broad = pl.DataFrame(
        {"src": ["OMIM:999999"], "rel": ["MAPS_TO"], "dst": ["MESH:D056846"],
         "method": ["name_stem"], "confidence": [1.0], "props": ['{"match":"broad"}']}
    )  # fmt: skip
    kg = KnowledgeGraph(
        nodes=base.nodes,
        edges=pl.concat([base.edges, broad], how="diagonal_relaxed"),
        sources=base.sources,
        report=base.report,
    )
    path = tmp_path / "curated.sssom.tsv"
    record_decision(GraphIndex(kg), "OMIM:999999", "MESH:D056846", "accept", "", path)
    assert read_curated(path)[("OMIM:999999", "MESH:D056846")]["predicate_id"] == (
        "skos:broadMatch"
    )
    after = apply_curated_mappings(kg, path)
    edge = after.edges.filter(
        (pl.col("src") == "OMIM:999999") & (pl.col("dst") == "MESH:D056846")
    ).row(0, named=True)
    assert (edge["method"], edge["confidence"]) == ("curated", 1.0)
    assert '"match":"broad"' in (edge["props"] or "")
    assert "MESH:D056846" not in equivalence_map(after.edges).get("OMIM:999999", [])


def test_curated_predicate_must_be_a_mapping_predicate(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text(
        "#curie_map:\nsubject_id\tobject_id\tpredicate_id\tpredicate_modifier\n"
        "A:1\tB:2\tskos:exactMatch\t\nA:1\tB:3\tskos:relatedMatch\t\n",
        "utf-8",
    )
    with pytest.raises(CuratedMappingError, match="line 4: predicate_id must be one of"):
        read_curated(path)


def test_curated_errors_name_the_file_line(tmp_path: Path) -> None:
    """The curated file's errors give its line (header comment lines count), not the row
    number among the non-comment lines."""
    path = tmp_path / "curated.sssom.tsv"
    write_curated(path, {("A:1", "B:2"): decision("A:1", "B:2", False)})
    lines = path.read_text("utf-8").splitlines()
    lines.append("A:1\t\tskos:exactMatch\t\t\t\t\t\t\t\t")  # no object_id
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(CuratedMappingError, match=f"line {len(lines)}: subject_id and object_id"):
        read_curated(path)
