"""Resolution and the medical entity tree on small real-format inputs."""

from pathlib import Path

import polars as pl

from medkg.kg.build import assemble, drop_dangling_edges
from medkg.kg.resolve import normalise_name, stem_candidates
from medkg.kg.sources.hpo import HpoOntologySource
from medkg.kg.sources.hpoa import HpoAnnotationSource
from tests.factories.graphs import small_graph

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hpo"


def test_normalise_and_stems():
    assert normalise_name("Marfan's  Syndrome") == "marfan syndrome"
    assert normalise_name("Sjögren syndrome") == "sjogren syndrome"
    assert "charcot marie tooth disease" in stem_candidates("Charcot-Marie-Tooth disease, type 2A")
    assert "ehlers danlos syndrome" in stem_candidates("Ehlers-Danlos syndrome, classic type, 1")
    assert "distal symphalangism" in stem_candidates("Symphalangism, distal")


def test_mapping_edges_carry_method_and_confidence():
    kg = small_graph()
    maps = kg.edges.filter(pl.col("rel") == "MAPS_TO")
    rows = {
        (s, d): (m, c)
        for s, d, m, c in maps.select("src", "dst", "method", "confidence").iter_rows()
    }
    assert rows[("ORPHA:558", "MESH:D056846")] == ("name_exact", 0.95)
    assert rows[("OMIM:154700", "ORPHA:558")] == ("name_exact", 0.95)
    # a disease named like a phenotype maps to it, and to the MeSH disease
    assert rows[("OMIM:999999", "MESH:D009216")][0] == "name_exact"
    assert rows[("HP:0000545", "MESH:D009216")][0] == "name_exact"
    assert maps.filter(pl.col("source") != "medkg-resolve").is_empty()
    # nodes are never merged: both Marfan entries stay
    assert {"OMIM:154700", "ORPHA:558", "MESH:D056846"} <= set(kg.nodes.get_column("id"))


def test_tree_is_rooted_and_places_rare_diseases_by_mapping():
    kg = small_graph()
    n = {r["id"]: r for r in kg.nodes.iter_rows(named=True)}
    assert n["MET:root"]["depth"] == 0 and n["MET:root"]["met_parent"] is None
    assert n["MET:root"]["subtree_size"] == kg.nodes.height
    # every node except the root has a parent that is a node
    others = kg.nodes.filter(pl.col("id") != "MET:root")
    assert others.get_column("met_parent").null_count() == 0
    assert set(others.get_column("met_parent")) <= set(n)
    # depth = parent depth + 1
    for row in others.iter_rows(named=True):
        assert row["depth"] == n[row["met_parent"]]["depth"] + 1
    assert n["ORPHA:558"]["met_parent"] == "MESH:D056846"
    assert n["ORPHA:558"]["met_placement"] == "mapping:name_exact"
    assert n["OMIM:154700"]["met_parent"] in ("ORPHA:558", "MESH:D056846")
    # MeSH hierarchy sits under the Disease kind node; HPO under Phenotype
    assert n["MESH:C"]["met_parent"] == "MET:Disease"
    assert n["HP:0000001"]["met_parent"] == "MET:Phenotype"
    # DAG keeps both IS_A parents; the tree picks the deepest one
    assert n["HP:0001166"]["met_parent"] == "HP:0001238"
    assert n["HP:0000002"]["met_parent"] == "MET:obsolete"
    assert n["NCBIGene:2200"]["met_placement"] == "fallback:unclassified"


def test_rarity_and_annotation_degree():
    kg = small_graph()
    n = {r["id"]: r for r in kg.nodes.iter_rows(named=True)}
    assert n["ORPHA:558"]["rare"] and n["ORPHA:558"]["rare_reason"] == "orphanet"
    assert n["OMIM:154700"]["rare_reason"] == "orphanet_name:ORPHA:558"
    assert n["MESH:D056846"]["rare"] and n["MESH:D056846"]["rare_reason"] == "maps_to:ORPHA:558"
    assert not n["MESH:D009216"]["rare"]
    # OMIM:154700: 4 annotation edges (2 aortic root rows, arachnodactyly, NOT myopia) + inheritance + FBN1
    assert n["OMIM:154700"]["annotation_degree"] == 6


def test_organ_system_fallback_for_unmapped_disease():
    hpo = HpoOntologySource(FIXTURES / "mini.obo").load()
    hpoa = HpoAnnotationSource(FIXTURES / "mini.hpoa").load()
    kg = assemble([hpo, hpoa])  # no MeSH: nothing to map Marfan to
    n = {r["id"]: r for r in kg.nodes.iter_rows(named=True)}
    # Marfan's non-negated phenotypes: arachnodactyly (limbs) and aortic root (cardiovascular x2)
    assert n["ORPHA:558"]["met_placement"] == "fallback:organ_system"
    assert n["ORPHA:558"]["met_parent"] == "MET:unmapped-HP_0040064"
    assert n["OMIM:154700"]["met_parent"] in ("ORPHA:558", "MET:unmapped-HP_0001626")


def test_dangling_edges_are_dropped_and_counted():
    hpoa = HpoAnnotationSource(FIXTURES / "mini.hpoa").load()  # no HPO terms loaded
    kg = drop_dangling_edges(hpoa)
    assert kg.edges.is_empty()
    assert kg.report["build.dangling_edges_dropped"] == hpoa.edges.height
    assert kg.report["build.dangling_edges_dropped.by_rel"]["HAS_PHENOTYPE"] > 0


def test_build_is_deterministic():
    assert small_graph().content_hash() == small_graph().content_hash()


def test_unknown_prefixes_are_kept_and_reported():
    from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp

    info = SourceInfo(name="clinic", version="1", license="x")
    nodes = stamp(nodes_frame([{"id": "CLIN:1", "kind": "Disease", "name": "local thing"}]), info)
    kg = assemble(
        [
            HpoOntologySource(FIXTURES / "mini.obo").load(),
            KnowledgeGraph.from_frames(nodes, stamp(edges_frame([]), info), [info]),
        ]
    )
    assert kg.report["build.unknown_prefixes_kept"] == {"CLIN": 1}
    assert kg.report["build.nodes_by_prefix"]["HP"] == 11
    clin = kg.node("CLIN:1")
    assert clin is not None and clin["met_parent"] == "MET:Disease-unclassified"


def test_equivalence_map_follows_precise_identity_edges_only():
    from medkg.kg.equivalents import equivalence_map, is_equivalence

    eq = equivalence_map(small_graph().edges)
    assert eq["ORPHA:558"] == ["MESH:D056846", "OMIM:154700"]
    assert "ORPHA:558" in eq["OMIM:154700"]
    assert not is_equivalence("name_stem", 1.0, None)
    assert not is_equivalence("sssom", 0.99, '{"match":"broad"}')
    assert not is_equivalence("synonym_exact", 0.68, None)  # measured precision too low
    assert is_equivalence("xref", 0.95, None)
