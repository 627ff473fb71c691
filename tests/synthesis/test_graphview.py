"""SynthesisGraph views on a small hand-built graph (and the graph the other synthesis
question/verify tests share: :func:`synthetic_graph`)."""

from __future__ import annotations

import numpy as np
import pytest

from medkg.kg.index import SynthesisGraph
from tests.factories.graphs import synthetic_graph, synthetic_kg


@pytest.fixture(scope="module")
def g() -> SynthesisGraph:
    return synthetic_graph()


def test_rows_align_with_kg_nodes():
    kg = synthetic_kg()
    sg = SynthesisGraph.from_kg(kg)
    assert sg.ids == kg.nodes.get_column("id").to_list()
    assert sg.content_hash == kg.content_hash()
    assert sg.source_versions == kg.source_versions()
    # MET parent rows point at the kg's met_parent ids
    for row, parent in enumerate(kg.nodes.get_column("met_parent").to_list()):
        assert (sg.ids[sg.met_parent[row]] if sg.met_parent[row] >= 0 else None) == parent


def test_ancestor_closure_follows_is_a(g: SynthesisGraph):
    leaf = g.row("HP:3000000")
    anc = {g.ids[i] for i in g.anc.row(leaf)}
    assert anc == {"HP:3000000", "HP:2000000", "HP:1000000", "HP:0000118", "HP:0000001"}
    assert g.is_ancestor(g.row("HP:0000118"), leaf)
    assert not g.is_ancestor(leaf, g.row("HP:0000118"))
    # the same chain read downwards: HP:2000000's subtree is itself and the leaf (and any
    # other IS_A descendants, each of which has it among its ancestors)
    mid = g.row("HP:2000000")
    below = {g.ids[i] for i in np.flatnonzero(g.descendants_mask(mid))}
    assert {"HP:2000000", "HP:3000000"} <= below
    assert "HP:1000000" not in below and "HP:0000118" not in below
    assert below == {g.ids[i] for i in range(g.n) if mid in g.anc.row(i).tolist()}


def test_annotations_split_negated_and_apply_closure(g: SynthesisGraph):
    kg = synthetic_kg()
    e = kg.edges
    d = "ORPHA:900"
    pos = set(
        e.filter((e["src"] == d) & (e["rel"] == "HAS_PHENOTYPE") & ~e["negated"])["dst"].to_list()
    )
    neg = set(
        e.filter((e["src"] == d) & (e["rel"] == "HAS_PHENOTYPE") & e["negated"])["dst"].to_list()
    )
    r = g.row(d)
    assert {g.ids[i] for i in g.dis_pheno.row(r)} == pos
    assert {g.ids[i] for i in g.dis_not.row(r)} == neg
    closed = {g.ids[i] for i in g.dis_closed.row(r)}
    assert pos <= closed and "HP:0000118" in closed and not (neg & closed)
    # frequency kept per pair; the inverse index agrees
    assert set(np.round(g.dis_pheno.values("freq", r)[~np.isnan(g.dis_pheno.values("freq", r))], 3))
    for p in g.dis_pheno.row(r):
        assert g.pheno_dis.has(int(p), r)


def test_diseases_with_all_uses_descendants(g: SynthesisGraph):
    d = g.row("ORPHA:900")
    leaf = int(g.dis_pheno.row(d)[0])
    group = int(g.parents.row(leaf)[0])
    hits = g.diseases_with_all([group])
    assert d in hits.tolist()
    expect = [
        x for x in range(g.n) if g.dis_pheno.size(x) and g.has_phenotype(x, np.array([group]))[0]
    ]
    assert hits.tolist() == expect


def test_edges_genes_and_onsets(g: SynthesisGraph):
    d, gene = g.row("ORPHA:900"), g.row("NCBIGene:100")
    assert g.has_edge(gene, "GENE_ASSOCIATED_WITH", d)
    assert not g.has_edge(d, "GENE_ASSOCIATED_WITH", gene)
    assert not g.has_edge(d, "NO_SUCH_REL", gene)
    assert d in g.gene_dis.row(gene).tolist() and gene in g.dis_gene.row(d).tolist()
    assert g.onset_term[g.row("HP:0003577")] and not g.onset_term[g.row("HP:0003674")]


def test_excluded_frequency_counts_as_not():
    kg = synthetic_kg()
    kg.edges = kg.edges.with_columns(
        (
            (kg.edges["src"] == "ORPHA:901") & (kg.edges["rel"] == "HAS_PHENOTYPE")
            & kg.edges["negated"].not_() & (kg.edges["frequency_value"] == 1.0)
        ).alias("_x")
    )  # fmt: skip
    target = kg.edges.filter("_x")["dst"][0]
    kg.edges = kg.edges.with_columns(
        frequency_value=pl_when_x(kg.edges["_x"], kg.edges["frequency_value"])
    ).drop("_x")
    sg = SynthesisGraph.from_kg(kg, content_hash="x")
    r = sg.row("ORPHA:901")
    assert sg.row(target) in sg.dis_not.row(r).tolist()
    assert sg.row(target) not in sg.dis_pheno.row(r).tolist()


def pl_when_x(mask, values):
    import polars as pl

    return pl.select(pl.when(mask).then(0.0).otherwise(values)).to_series()


def test_build_is_fast_enough_on_the_small_graph():
    import time

    kg = synthetic_kg()
    t = time.perf_counter()
    SynthesisGraph.from_kg(kg, content_hash="skip")
    assert time.perf_counter() - t < 2.0
