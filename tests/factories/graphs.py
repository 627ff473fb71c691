"""Small graphs shared by tests: real-format fixtures (HPO excerpts), a hand-built graph using
every column type, and synthetic graphs for the synthesis and retrieval tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.kg.build import assemble
from medkg.kg.index import SynthesisGraph
from medkg.kg.model import TREE_SCHEMA, KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.kg.sources.hpo import HpoOntologySource
from medkg.kg.sources.hpoa import HpoAnnotationSource, HpoGeneSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hpo"
MESHLIKE = SourceInfo(name="MeSH-test", version="2024", license="public domain")


def mesh_like() -> KnowledgeGraph:
    nodes = nodes_frame(
        [
            {"id": "MESH:C", "kind": "Category", "name": "Diseases"},
            {
                "id": "MESH:C16",
                "kind": "Category",
                "name": "Congenital, Hereditary, and Neonatal Diseases and Abnormalities",
            },
            {"id": "MESH:D000013", "kind": "Disease", "name": "Congenital Abnormalities"},
            {
                "id": "MESH:D056846",
                "kind": "Disease",
                "name": "Marfan Syndrome",
                "synonyms": ["Marfan's Syndrome"],
                "synonym_scopes": ["EXACT"],
            },
            {"id": "MESH:D009216", "kind": "Disease", "name": "Myopia"},
        ]
    )
    edges = edges_frame(
        [
            {"src": "MESH:C16", "rel": "IS_A", "dst": "MESH:C"},
            {"src": "MESH:D000013", "rel": "IS_A", "dst": "MESH:C16"},
            {"src": "MESH:D056846", "rel": "IS_A", "dst": "MESH:D000013"},
            {"src": "MESH:D009216", "rel": "IS_A", "dst": "MESH:C"},
        ]
    )
    return KnowledgeGraph.from_frames(stamp(nodes, MESHLIKE), stamp(edges, MESHLIKE), [MESHLIKE])


def small_graph() -> KnowledgeGraph:
    return assemble(
        [
            HpoOntologySource(FIXTURES / "mini.obo").load(),
            HpoAnnotationSource(FIXTURES / "mini.hpoa").load(),
            HpoGeneSource(FIXTURES / "genes_to_phenotype.txt").load(),
            mesh_like(),
        ]
    )


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


GEN_SRC = SourceInfo(name="Gen", version="1", license="CC0-1.0")


def generated_graph(n_diseases: int = 120, n_genes: int = 60) -> KnowledgeGraph:
    """A MET with two disease branches (every third disease rare) and a gene branch."""
    rows: list[dict[str, Any]] = [
        {"id": "MET:root", "kind": "Category", "name": "root"},
        {"id": "MET:Disease", "kind": "Category", "name": "Diseases", "met_parent": "MET:root"},
        {"id": "MET:Gene", "kind": "Category", "name": "Genes", "met_parent": "MET:root"},
        {"id": "GEN:A", "kind": "Category", "name": "Branch A", "met_parent": "MET:Disease"},
        {"id": "GEN:B", "kind": "Category", "name": "Branch B", "met_parent": "MET:Disease"},
    ]
    for i in range(n_diseases):
        rows.append(
            {
                "id": f"DIS:{i:03d}",
                "kind": "Disease",
                "name": f"disorder{i}",
                "met_parent": "GEN:A" if i % 2 else "GEN:B",
                "rare": i % 3 == 0,
            }
        )
    for i in range(n_genes):
        rows.append(
            {"id": f"GENE:{i:03d}", "kind": "Gene", "name": f"GENE{i}", "met_parent": "MET:Gene"}
        )
    nodes = nodes_frame(rows).with_columns(
        pl.Series("met_parent", [r.get("met_parent") for r in rows], dtype=pl.String()),
        pl.Series("rare", [bool(r.get("rare")) for r in rows], dtype=pl.Boolean()),
    )
    nodes = nodes.with_columns(
        pl.lit(GEN_SRC.name).alias("source"), pl.lit(GEN_SRC.version).alias("source_version")
    )
    return KnowledgeGraph.from_frames(nodes, edges_frame([]), [GEN_SRC])


HPO = SourceInfo(name="HPO", version="2025-05-06", license="HPO licence", counts={"terms": 7})

ORPHA = SourceInfo(name="Orphanet", version="1.3.32", license="CC-BY-4.0")

MET = SourceInfo(name="MET", version="test", license="CC0-1.0")


def _small_nodes() -> pl.DataFrame:
    def p(src: SourceInfo) -> dict[str, str]:
        return {"source": src.name, "source_version": src.version, "license": src.license}

    rows: list[dict[str, Any]] = [
        {"id": "MET:root", "kind": "Category", "name": "Medical entity tree", **p(MET)},
        {"id": "MET:Disease", "kind": "Category", "name": "Diseases", **p(MET)},
        {"id": "MET:Phenotype", "kind": "Category", "name": "Phenotypes", **p(MET)},
        {
            "id": "ORPHA:558",
            "kind": "Disease",
            "name": "Marfan syndrome",
            "definition": "A systemic disease of connective tissue.",
            "synonyms": ["MFS", "Marfan's syndrome"],
            "synonym_scopes": ["EXACT", "RELATED"],
            "xrefs": ["OMIM:154700", "ICD10:Q87.4"],
            "props": {"prevalence": "1-5 / 10 000", "type": "Disease"},
            **p(ORPHA),
        },
        {
            "id": "OMIM:154700",
            "kind": "Disease",
            "name": "Marfan syndrome type 1",
            "xrefs": ["ORPHA:558"],
            **p(HPO),
        },
        {"id": "HP:0000118", "kind": "Phenotype", "name": "Phenotypic abnormality", **p(HPO)},
        {
            "id": "HP:0001166",
            "kind": "Phenotype",
            "name": "Arachnodactyly",
            "definition": "Abnormally long and slender fingers and toes.",
            "synonyms": ["Long slender fingers", "Spider fingers"],
            "synonym_scopes": ["EXACT", "EXACT"],
            "xrefs": ["UMLS:C0003706"],
            **p(HPO),
        },
        {
            "id": "HP:0000545",
            "kind": "Phenotype",
            "name": "Myopia",
            "synonyms": ["Nearsightedness"],
            "synonym_scopes": ["EXACT"],
            **p(HPO),
        },
        {"id": "HP:0000001", "kind": "Phenotype", "name": "All", "obsolete": True, **p(HPO)},
        {"id": "HP:0003577", "kind": "Modifier", "name": "Congenital onset", **p(HPO)},
        {"id": "HP:0003593", "kind": "Modifier", "name": "Infantile onset", **p(HPO)},
        {
            "id": "NCBIGene:2200",
            "kind": "Gene",
            "name": "FBN1",
            "synonyms": ["fibrillin 1"],
            "synonym_scopes": ["EXACT"],
            "props": {"symbol": "FBN1", "chromosome": "15"},
            **p(HPO),
        },
    ]
    nodes = nodes_frame(rows)
    # One node with a null list (not an empty one), so both spellings round-trip.
    nodes = nodes.with_columns(
        pl.when(pl.col("id") == "HP:0000001").then(None).otherwise(pl.col("xrefs")).alias("xrefs")
    )
    tree = pl.DataFrame(
        {
            "id": ["MET:root", "MET:Disease", "MET:Phenotype", "ORPHA:558", "OMIM:154700",
                   "HP:0000118", "HP:0001166", "HP:0000545", "HP:0000001", "HP:0003577",
                   "HP:0003593", "NCBIGene:2200"],
            "met_parent": [None, "MET:root", "MET:root", "MET:Disease", "ORPHA:558",
                           "MET:Phenotype", "HP:0000118", "HP:0000118", None, "MET:root",
                           "MET:root", "MET:root"],
            "met_placement": [None, "scaffold", "scaffold", "source_root", "mapping:xref",
                              "source_root", "hierarchy", "hierarchy", None,
                              "fallback:unclassified", "fallback:unclassified",
                              "fallback:unclassified"],
            "depth": [0, 1, 1, 2, 3, 2, 3, 3, None, 1, 1, 1],
            "subtree_size": [11, 3, 4, 2, 1, 3, 1, 1, None, 1, 1, 1],
            "rare": [None, None, None, True, True, None, None, None, None, None, None, None],
            "rare_reason": [None, None, None, "orphanet", "hpo_rare_disease_annotation",
                            None, None, None, None, None, None, None],
            "annotation_degree": [0, 0, 0, 5, 1, 0, 2, 1, 0, 0, 0, 1],
        },
        schema={"id": pl.String(), **TREE_SCHEMA},
    )  # fmt: skip
    return nodes.join(tree, on="id", how="left", maintain_order="left")


def _small_edges() -> pl.DataFrame:
    hpo = {"source": HPO.name, "source_version": HPO.version, "license": HPO.license}
    return edges_frame(
        [
            {"src": "HP:0001166", "rel": "IS_A", "dst": "HP:0000118", **hpo},
            {"src": "HP:0000545", "rel": "IS_A", "dst": "HP:0000118", **hpo},
            {
                "src": "ORPHA:558",
                "rel": "HAS_PHENOTYPE",
                "dst": "HP:0001166",
                "frequency": "HP:0040281",
                "frequency_value": 0.9,
                "evidence": "TAS",
                "reference": "ORPHA:558",
                "negated": False,
                **hpo,
            },
            # Two annotations of one pair that differ only in onset: both must survive.
            {"src": "OMIM:154700", "rel": "HAS_PHENOTYPE", "dst": "HP:0000545",
             "onset": "HP:0003577", "evidence": "PCS", "reference": "PMID:1", "negated": False,
             **hpo},
            {"src": "OMIM:154700", "rel": "HAS_PHENOTYPE", "dst": "HP:0000545",
             "onset": "HP:0003593", "evidence": "PCS", "reference": "PMID:1", "negated": False,
             **hpo},
            # A negated annotation ("NOT").
            {"src": "ORPHA:558", "rel": "HAS_PHENOTYPE", "dst": "HP:0000545", "negated": True,
             "evidence": "IEA", "reference": "ORPHA:558", "frequency_value": 0.0, **hpo},
            {"src": "OMIM:154700", "rel": "HAS_CLINICAL_COURSE", "dst": "HP:0003577", **hpo},
            {"src": "NCBIGene:2200", "rel": "GENE_ASSOCIATED_WITH", "dst": "ORPHA:558",
             "props": {"association": "Disease-causing germline mutation(s) in"}, **hpo},
            {"src": "NCBIGene:2200", "rel": "GENE_HAS_PHENOTYPE", "dst": "HP:0001166", **hpo},
            {"src": "OMIM:154700", "rel": "MAPS_TO", "dst": "ORPHA:558", "method": "xref",
             "confidence": 0.95, "source": "medkg-resolve", "source_version": "1",
             "license": "CC0-1.0"},
            {"src": "HP:0000001", "rel": "REPLACED_BY", "dst": "HP:0000118", **hpo},
        ]
    )  # fmt: skip


def make_small_kg() -> KnowledgeGraph:
    """A small graph that uses every node, edge and tree column type (see the fixture)."""
    return KnowledgeGraph.from_frames(
        _small_nodes(),
        _small_edges(),
        sources=[HPO, ORPHA, MET],
        report={"hpoa.negated_kept": 1, "resolve": {"maps_to": 1}},
    )


@cache
def small() -> KnowledgeGraph:
    return small_graph()
