"""Export a graph as Parquet, GraphML (networkx) or RDF Turtle (rdflib terms, streamed).

Every exporter writes through :mod:`medkg.outputs` (a staging path beside the target,
swapped in when complete), so an interrupted export leaves no half-written file, and a
Parquet export never replaces a folder it did not write.

Turtle mapping: each entity is an IRI (OBO PURLs for OBO prefixes, the usual namespaces
for OMIM, Orphanet, MeSH, NCBI Gene, DrugBank, ICD-10; ``https://w3id.org/medkg/id/``
otherwise) typed ``medkg:<Kind>``, with ``rdfs:label``, ``IAO:0000115`` definitions,
``oboInOwl:has{Exact,Related,Broad,Narrow}Synonym``, ``oboInOwl:hasDbXref`` and
``rdfs:subClassOf`` for IS_A. Other relations are ``medkg:<REL>`` triples. An edge with
qualifiers (frequency, onset, evidence, mapping method/confidence) is also reified as an
``rdf:Statement`` carrying them; a **negated** annotation (HPO ``NOT``) is emitted only
in reified form with ``medkg:negated true``, never as a plain triple that would assert it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl

from medkg.errors import OutputError
from medkg.kg.model import IS_A, KnowledgeGraph
from medkg.outputs import check_folder_target, legacy_files, staged_file, staged_folder

MEDKG = "https://w3id.org/medkg/"
OBO = "http://purl.obolibrary.org/obo/"
IRI_BASES = {
    "OMIM": "https://omim.org/entry/",
    "OMIMPS": "https://omim.org/phenotypicSeries/PS",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "NCBIGene": "https://identifiers.org/ncbigene:",
    "DRUGBANK": "https://go.drugbank.com/drugs/",
    "ICD10": "http://purl.bioontology.org/ontology/ICD10/",
    "ICD10CM": "http://purl.bioontology.org/ontology/ICD10CM/",
    "DECIPHER": "https://www.deciphergenomics.org/syndrome/",
}
OBO_PREFIXES = {"HP", "MONDO", "DOID", "GO", "UBERON", "CHEBI", "NCIT", "EFO"}
SCOPE_PREDICATE = {
    "EXACT": "http://www.geneontology.org/formats/oboInOwl#hasExactSynonym",
    "BROAD": "http://www.geneontology.org/formats/oboInOwl#hasBroadSynonym",
    "NARROW": "http://www.geneontology.org/formats/oboInOwl#hasNarrowSynonym",
}
RELATED_SYNONYM = "http://www.geneontology.org/formats/oboInOwl#hasRelatedSynonym"
QUALIFIERS = (
    "negated",
    "frequency",
    "frequency_value",
    "onset",
    "evidence",
    "reference",
    "method",
    "confidence",
)


def iri_for(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    if prefix in OBO_PREFIXES:
        return f"{OBO}{prefix}_{quote(local, safe='')}"
    if prefix in IRI_BASES:
        return IRI_BASES[prefix] + quote(local, safe="")
    return f"{MEDKG}id/{quote(prefix, safe='')}_{quote(local, safe='')}"


KIND = "kg-export"
# A Parquet export from before the output marker: exactly these two files.
LEGACY = legacy_files("nodes.parquet", "edges.parquet")


def check_export_target(dest: Path, fmt: str) -> None:
    """Refuse ``dest`` before any work: a Parquet export replaces only an earlier one (never
    a user's folder); a GraphML/Turtle export needs a file path, not a folder."""
    if fmt == "parquet":
        check_folder_target(dest, KIND, LEGACY)
    elif dest.is_dir():
        raise OutputError(f"{dest} is a folder: a {fmt} export needs a file path")


def export_parquet(kg: KnowledgeGraph, dest: Path) -> None:
    nodes, edges = kg.canonical()
    with staged_folder(dest, KIND, legacy=LEGACY) as tmp:
        nodes.write_parquet(tmp / "nodes.parquet", compression="zstd")
        edges.write_parquet(tmp / "edges.parquet", compression="zstd")


def _graphml_value(value: Any) -> Any:
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return value


def export_graphml(kg: KnowledgeGraph, dest: Path) -> None:
    import networkx as nx

    graph = nx.MultiDiGraph()
    for row in kg.nodes.iter_rows(named=True):
        node_id = row.pop("id")
        graph.add_node(
            node_id, **{k: _graphml_value(v) for k, v in row.items() if v not in (None, [])}
        )
    for row in kg.edges.iter_rows(named=True):
        src, dst = row.pop("src"), row.pop("dst")
        graph.add_edge(src, dst, **{k: v for k, v in row.items() if v is not None})
    with staged_file(dest) as tmp:
        nx.write_graphml(graph, tmp)


def export_turtle(kg: KnowledgeGraph, dest: Path) -> None:
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDF, RDFS, XSD

    def u(value: str) -> str:
        return str(URIRef(value).n3())

    def lit(value: Any) -> str:
        if isinstance(value, bool):
            return str(Literal(value).n3())
        if isinstance(value, float):
            return str(Literal(value, datatype=XSD.double).n3())
        return str(Literal(str(value)).n3())

    label, rdf_type, subclass = u(str(RDFS.label)), u(str(RDF.type)), u(str(RDFS.subClassOf))
    definition = u(f"{OBO}IAO_0000115")
    xref = u("http://www.geneontology.org/formats/oboInOwl#hasDbXref")
    with staged_file(dest) as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.write(f"# medkg export; graph content hash {kg.content_hash()}\n")
        for row in kg.nodes.iter_rows(named=True):
            s = u(iri_for(row["id"]))
            fh.write(f"{s} {rdf_type} {u(MEDKG + 'class/' + quote(row['kind'] or 'Entity'))} .\n")
            fh.write(f"{s} {u(MEDKG + 'id')} {lit(row['id'])} .\n")
            if row["name"]:
                fh.write(f"{s} {label} {lit(row['name'])} .\n")
            if row["definition"]:
                fh.write(f"{s} {definition} {lit(row['definition'])} .\n")
            for syn, scope in zip(row["synonyms"] or [], row["synonym_scopes"] or [], strict=False):
                fh.write(f"{s} {u(SCOPE_PREDICATE.get(scope, RELATED_SYNONYM))} {lit(syn)} .\n")
            for x in row["xrefs"] or []:
                fh.write(f"{s} {xref} {lit(x)} .\n")
            for col in (
                "source",
                "source_version",
                "license",
                "met_parent",
                "depth",
                "rare",
                "rare_reason",
            ):
                if row.get(col) is not None:
                    value = row[col] if col != "met_parent" else u(iri_for(row[col]))
                    fh.write(
                        f"{s} {u(MEDKG + col)} {value if col == 'met_parent' else lit(value)} .\n"
                    )
        for i, row in enumerate(kg.edges.iter_rows(named=True)):
            s, o = u(iri_for(row["src"])), u(iri_for(row["dst"]))
            p = subclass if row["rel"] == IS_A else u(MEDKG + "rel/" + row["rel"])
            if not row.get("negated"):
                fh.write(f"{s} {p} {o} .\n")
            quals = {k: row[k] for k in QUALIFIERS if row.get(k) not in (None, False)}
            if quals or row.get("negated"):
                b = f"_:e{i}"
                fh.write(
                    f"{b} {rdf_type} {u(str(RDF.Statement))} ; {u(str(RDF.subject))} {s} ; "
                    f"{u(str(RDF.predicate))} {p} ; {u(str(RDF.object))} {o} ; "
                    f"{u(MEDKG + 'source')} {lit(row['source'])}"
                )
                for k, v in quals.items():
                    fh.write(f" ; {u(MEDKG + k)} {lit(v)}")
                fh.write(" .\n")


EXPORTERS: dict[str, Callable[[KnowledgeGraph, Path], None]] = {
    "parquet": export_parquet,
    "graphml": export_graphml,
    "ttl": export_turtle,
}


def export_graph(
    kg: KnowledgeGraph, dest: Path, fmt: str, kinds: list[str] | None = None
) -> dict[str, int]:
    """Write ``kg`` (optionally only some kinds, with the edges among them) to ``dest``."""
    if kinds:
        nodes = kg.nodes.filter(pl.col("kind").is_in(kinds))
        ids = nodes.select("id")
        edges = kg.edges.join(ids.rename({"id": "src"}), on="src", how="semi").join(
            ids.rename({"id": "dst"}), on="dst", how="semi"
        )
        kg = KnowledgeGraph(nodes=nodes, edges=edges, sources=kg.sources, report=kg.report)
    check_export_target(dest, fmt)
    EXPORTERS[fmt](kg, dest)
    return {"nodes": kg.nodes.height, "edges": kg.edges.height}
