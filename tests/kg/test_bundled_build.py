"""The full graph from every bundled default source: real counts, a complete tree, determinism.

This is the graph `medkg run` builds; ~10-20 s on two cores.
"""

import polars as pl
import pytest

from medkg.kg.build import build_graph, default_source_keys, stats
from medkg.kg.model import KnowledgeGraph


@pytest.fixture(scope="module")
def full() -> KnowledgeGraph:
    return build_graph()


def _prefix_count(kg: KnowledgeGraph, prefix: str, kind: str | None = None) -> int:
    f = pl.col("id").str.starts_with(prefix + ":")
    if kind:
        f = f & (pl.col("kind") == kind)
    return kg.nodes.filter(f).height


def test_default_sources():
    assert default_source_keys() == ["hpo", "hpoa", "hpo_genes", "mesh", "icd10", "drugs"]


def test_counts_reflect_the_real_sources(full: KnowledgeGraph):
    live_hpo = full.nodes.filter(pl.col("id").str.starts_with("HP:") & ~pl.col("obsolete")).height
    assert 18_500 <= live_hpo <= 20_000
    diseases = sum(_prefix_count(full, p, "Disease") for p in ("OMIM", "ORPHA", "DECIPHER"))
    assert diseases >= 12_000
    assert full.edges.filter(pl.col("rel") == "HAS_PHENOTYPE").height >= 250_000
    assert _prefix_count(full, "NCBIGene", "Gene") >= 5_000
    assert _prefix_count(full, "ICD10") >= 12_000
    mesh = full.nodes.filter((pl.col("source") == "MeSH") & (pl.col("kind") != "Category"))
    assert mesh.height >= 5_600  # entries of the MeSH disease dictionary (Disease + Concept)
    assert mesh.filter(pl.col("kind") == "Disease").height >= 5_000
    assert full.nodes.filter(pl.col("kind") == "Drug").height >= 20_000


def test_every_node_is_in_one_rooted_tree(full: KnowledgeGraph):
    nodes = full.nodes
    assert nodes.filter(pl.col("met_parent").is_null()).get_column("id").to_list() == ["MET:root"]
    assert (
        nodes.filter(pl.col("id") == "MET:root").get_column("subtree_size").item() == nodes.height
    )
    parents = nodes.select(pl.col("met_parent").alias("id")).drop_nulls().unique()
    assert parents.join(nodes.select("id"), on="id", how="anti").is_empty()


def test_every_edge_has_provenance_and_known_endpoints(full: KnowledgeGraph):
    for col in ("source", "source_version", "license"):
        assert full.nodes.get_column(col).null_count() == 0, col
        assert full.edges.get_column(col).null_count() == 0, col
    ids = full.nodes.select("id")
    assert full.edges.join(ids.rename({"id": "src"}), on="src", how="anti").is_empty()
    assert full.edges.join(ids.rename({"id": "dst"}), on="dst", how="anti").is_empty()


def test_rare_diseases_are_placed_mostly_by_mapping(full: KnowledgeGraph):
    s = stats(full)
    placed = s["hpo_annotated_diseases_placed_by_mapping"]
    assert placed["of"] >= 12_000
    assert placed["share"] >= 0.6
    hpoa = full.nodes.filter(pl.col("source") == "HPOA")
    assert set(hpoa.get_column("met_placement").str.replace(r":.*", "")) <= {"mapping", "fallback"}
    assert hpoa.get_column("rare").all()
    marfan = full.nodes.filter(pl.col("id") == "ORPHA:558").row(0, named=True)
    assert marfan["met_parent"] == "MESH:D008382"  # MeSH's Marfan Syndrome
    # its primary ancestors stay in the MeSH disease tree (C), never behaviour (F01) etc.
    parent = dict(full.nodes.select("id", "met_parent").iter_rows())
    chain, node = [], "ORPHA:558"
    while node:
        chain.append(node)
        node = parent[node]
    assert chain[-3:] == ["MESH:C", "MET:Disease", "MET:root"]


def test_sampled_mesh_ui_name_pairs(full: KnowledgeGraph):
    # On the full build (after resolution and the tree), the hand-listed descriptors keep
    # their true MeSH UI-name pairs.
    from tests.sources.test_mesh_identity import well_known

    names = dict(full.nodes.select("id", "name").iter_rows())
    sample = well_known("disease")
    got = {ui: names.get(f"MESH:{ui}", "").casefold() for ui in sample}
    assert got == {ui: name.casefold() for ui, name in sample.items()}


def test_build_is_byte_reproducible(full: KnowledgeGraph):
    assert build_graph().content_hash() == full.content_hash()
