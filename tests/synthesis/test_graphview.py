"""SynthesisGraph views on a small hand-built graph (and the graph the other synthesis
question/verify tests share: :func:`synthetic_graph`)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from medkg.kg.build import assemble
from medkg.kg.index import SynthesisGraph
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp

SRC = SourceInfo(name="synthetic", version="1", license="CC0-1.0")
N_DISEASES = 30
N_LEAVES = 24


def _hpo(nodes: list[dict], edges: list[dict]) -> list[str]:
    """All → Phenotypic abnormality → 4 systems → 3 groups each → 2 leaves each; Onset."""
    nodes += [
        {"id": "HP:0000001", "kind": "Phenotype", "name": "All"},
        {"id": "HP:0000118", "kind": "Phenotype", "name": "Phenotypic abnormality"},
        {"id": "HP:0003674", "kind": "Modifier", "name": "Onset"},
        {"id": "HP:0003577", "kind": "Modifier", "name": "Congenital onset"},
        {"id": "HP:0003593", "kind": "Modifier", "name": "Infantile onset"},
    ]
    edges += [
        {"src": "HP:0000118", "rel": "IS_A", "dst": "HP:0000001"},
        {"src": "HP:0003674", "rel": "IS_A", "dst": "HP:0000001"},
        {"src": "HP:0003577", "rel": "IS_A", "dst": "HP:0003674"},
        {"src": "HP:0003593", "rel": "IS_A", "dst": "HP:0003674"},
    ]
    leaves = []
    for s in range(4):
        sid = f"HP:10{s:05d}"
        nodes.append({"id": sid, "kind": "Phenotype", "name": f"Abnormality of organ {s}"})
        edges.append({"src": sid, "rel": "IS_A", "dst": "HP:0000118"})
        for gi in range(3):
            gid = f"HP:20{s}{gi:04d}"
            nodes.append({"id": gid, "kind": "Phenotype", "name": f"Organ {s} finding group {gi}"})
            edges.append({"src": gid, "rel": "IS_A", "dst": sid})
            for li in range(2):
                lid = f"HP:30{s}{gi}{li:03d}"
                nodes.append({"id": lid, "kind": "Phenotype", "name": f"Finding {s}.{gi}.{li}"})
                edges.append({"src": lid, "rel": "IS_A", "dst": gid})
                leaves.append(lid)
    return leaves


def synthetic_kg() -> KnowledgeGraph:
    """30 Orphanet-like diseases over a 24-leaf HPO-like tree (with frequencies, NOT
    annotations and onsets), 15 genes, a MeSH-like disease tree and a MeSH D drug tree."""
    rng = np.random.default_rng(7)
    nodes: list[dict] = []
    edges: list[dict] = []
    leaves = _hpo(nodes, edges)
    diseases = [f"ORPHA:{900 + i}" for i in range(N_DISEASES)]
    for i, d in enumerate(diseases):
        nodes.append({"id": d, "kind": "Disease", "name": f"Syndrome {chr(65 + i % 26)}{i}"})
        annotated = rng.choice(N_LEAVES, size=6, replace=False)
        for j, leaf in enumerate(annotated):
            fv = [1.0, 0.895, 0.545, 0.17, None, 0.545][j]
            edges.append(
                {"src": d, "rel": "HAS_PHENOTYPE", "dst": leaves[leaf], "frequency_value": fv,
                 "negated": False}
            )  # fmt: skip
        rest = [x for x in range(N_LEAVES) if x not in set(annotated.tolist())]
        edges.append(
            {"src": d, "rel": "HAS_PHENOTYPE", "dst": leaves[rest[i % len(rest)]],
             "negated": True}
        )  # fmt: skip
        edges.append(
            {"src": d, "rel": "HAS_CLINICAL_COURSE",
             "dst": "HP:0003577" if i % 2 else "HP:0003593"}
        )  # fmt: skip
    for k in range(15):
        gid = f"NCBIGene:{100 + k}"
        nodes.append({"id": gid, "kind": "Gene", "name": f"GENE{k}"})
        for d in (diseases[k], diseases[(k + 7) % N_DISEASES], diseases[(2 * k + 3) % N_DISEASES]):
            edges.append({"src": gid, "rel": "GENE_ASSOCIATED_WITH", "dst": d})
    # MeSH-like disease tree: C → C01..C05 → 3 descriptors each → 2 children each
    nodes.append({"id": "MESH:C", "kind": "Category", "name": "Diseases"})
    for c in range(1, 6):
        cid = f"MESH:C0{c}"
        nodes.append({"id": cid, "kind": "Category", "name": f"Disease category {c}"})
        edges.append({"src": cid, "rel": "IS_A", "dst": "MESH:C"})
        for m in range(3):
            mid = f"MESH:D0{c}{m}000"
            nodes.append({"id": mid, "kind": "Disease", "name": f"Disease group {c}-{m}"})
            edges.append({"src": mid, "rel": "IS_A", "dst": cid})
            for q in range(2):
                qid = f"MESH:D0{c}{m}{q}01"
                nodes.append({"id": qid, "kind": "Disease", "name": f"Disease type {c}-{m}-{q}"})
                edges.append({"src": qid, "rel": "IS_A", "dst": mid})
    # MeSH D tree: D → D01..D05 → 3 classes each → 3 drugs each
    nodes.append({"id": "MESH:D", "kind": "Category", "name": "Chemicals and Drugs"})
    for c in range(1, 6):
        cid = f"MESH:D0{c}"
        nodes.append({"id": cid, "kind": "Category", "name": f"Chemical group {c}"})
        edges.append({"src": cid, "rel": "IS_A", "dst": "MESH:D"})
        for m in range(3):
            mid = f"MESH:D9{c}{m}000"
            nodes.append({"id": mid, "kind": "Drug", "name": f"Drug class {c}-{m}"})
            edges.append({"src": mid, "rel": "IS_A", "dst": cid})
            for q in range(3):
                did = f"DRUGBANK:DB9{c}{m}{q}"
                nodes.append({"id": did, "kind": "Drug", "name": f"Drugamine {c}{m}{q}"})
                edges.append({"src": did, "rel": "IS_A", "dst": mid})
    kg = KnowledgeGraph.from_frames(
        stamp(nodes_frame(nodes), SRC), stamp(edges_frame(edges), SRC), [SRC]
    )
    return assemble([kg])


@cache
def synthetic_graph() -> SynthesisGraph:
    return SynthesisGraph.from_kg(synthetic_kg())


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


def pl_when_x(mask, values):  # type: ignore[no-untyped-def]
    import polars as pl

    return pl.select(pl.when(mask).then(0.0).otherwise(values)).to_series()


def test_build_is_fast_enough_on_the_small_graph():
    import time

    kg = synthetic_kg()
    t = time.perf_counter()
    SynthesisGraph.from_kg(kg, content_hash="skip")
    assert time.perf_counter() - t < 2.0
