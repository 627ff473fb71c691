"""Exports: Parquet round trip, GraphML readable by networkx, Turtle parsable by rdflib."""

from pathlib import Path

import networkx as nx
import polars as pl
import rdflib

from medkg.kg.export import export_graph, iri_for
from medkg.kg.model import KnowledgeGraph
from tests.factories.graphs import small_graph


def test_iri_for_known_and_unknown_prefixes():
    assert iri_for("HP:0001166") == "http://purl.obolibrary.org/obo/HP_0001166"
    assert iri_for("ORPHA:558") == "http://www.orpha.net/ORDO/Orphanet_558"
    assert iri_for("FOO:a b") == "https://w3id.org/medkg/id/FOO_a%20b"


def test_parquet_export_round_trips(tmp_path: Path):
    kg = small_graph()
    export_graph(kg, tmp_path / "pq", "parquet")
    back = KnowledgeGraph(
        nodes=pl.read_parquet(tmp_path / "pq" / "nodes.parquet"),
        edges=pl.read_parquet(tmp_path / "pq" / "edges.parquet"),
    )
    assert back.content_hash() == kg.content_hash()


def test_graphml_export(tmp_path: Path):
    kg = small_graph()
    export_graph(kg, tmp_path / "g.graphml", "graphml")
    g = nx.read_graphml(tmp_path / "g.graphml")
    assert g.number_of_nodes() == kg.nodes.height
    assert g.number_of_edges() == kg.edges.height
    assert g.nodes["HP:0001166"]["synonyms"] == "Long slender fingers|Spider fingers"


def test_turtle_export_parses_and_never_asserts_negated_annotations(tmp_path: Path):
    kg = small_graph()
    counts = export_graph(kg, tmp_path / "g.ttl", "ttl", kinds=["Disease", "Phenotype", "Modifier"])
    g = rdflib.Graph()
    g.parse(tmp_path / "g.ttl", format="turtle")
    omim = rdflib.URIRef("https://omim.org/entry/154700")
    has_pheno = rdflib.URIRef("https://w3id.org/medkg/rel/HAS_PHENOTYPE")
    myopia = rdflib.URIRef("http://purl.obolibrary.org/obo/HP_0000545")
    arach = rdflib.URIRef("http://purl.obolibrary.org/obo/HP_0001166")
    assert (omim, has_pheno, arach) in g
    assert (omim, has_pheno, myopia) not in g  # annotated NOT
    negated = list(
        g.subjects(rdflib.URIRef("https://w3id.org/medkg/negated"), rdflib.Literal(True))
    )
    assert len(negated) == 1
    assert (negated[0], rdflib.RDF.object, myopia) in g
    assert (
        counts["nodes"]
        == kg.nodes.filter(pl.col("kind").is_in(["Disease", "Phenotype", "Modifier"])).height
    )
