"""Session-wide test set-up: a private MEDKG_HOME, one real Neo4j server, a small graph."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import TREE_SCHEMA, KnowledgeGraph, SourceInfo, edges_frame, nodes_frame

# Two shared cores: numeric libraries read these when first imported (torch sizes its
# intra-op pool from OMP_NUM_THREADS), and no test imports torch before conftest runs.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HPO = SourceInfo(name="HPO", version="2025-05-06", license="HPO licence", counts={"terms": 7})
ORPHA = SourceInfo(name="Orphanet", version="1.3.32", license="CC-BY-4.0")
MET = SourceInfo(name="MET", version="test", license="CC0-1.0")


@pytest.fixture(scope="session", autouse=True)
def medkg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point $MEDKG_HOME at a per-session folder so no test writes into the repository."""
    home = tmp_path_factory.mktemp("medkg_home")
    old = os.environ.get("MEDKG_HOME")
    os.environ["MEDKG_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MEDKG_HOME", None)
    else:
        os.environ["MEDKG_HOME"] = old


@pytest.fixture(scope="session")
def neo4j_server(medkg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Neo4j Community server (harness + APOC) on a free port, for the whole session.

    If it cannot start, every test using it errors with the runner's message - never skips.
    """
    from medkg.kg import neo4j_server as runner

    info = runner.start(
        data_dir=tmp_path_factory.mktemp("neo4j_data"), port=0, name="pytest", heap="768m"
    )
    try:
        yield info
    finally:
        runner.stop("pytest")


def _small_nodes() -> pl.DataFrame:
    def p(src: SourceInfo) -> dict[str, str]:
        return {"source": src.name, "source_version": src.version, "license": src.license}

    rows = [
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


@pytest.fixture()
def small_kg() -> KnowledgeGraph:
    """Diseases, phenotypes, modifiers, a gene and MET scaffolding: lists (empty, full and
    null), nulls, props JSON, tree columns, a negated edge and two edges of one pair that
    differ only in onset."""
    return make_small_kg()
