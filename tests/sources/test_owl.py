"""The generic OWL/RDF loader on a small HPO/MONDO-shaped ontology in several serialisations."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import IS_A, REPLACED_BY, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.owl import OwlSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generic"
RDFXML = FIXTURES / "mini_hp.owl"
TURTLE = FIXTURES / "mini_hp.ttl"

EXAMPLE_TTL = """\
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix foo: <http://example.org/foo#> .

<http://example.org/foo> a owl:Ontology ; owl:versionInfo "1.2" .
foo:root a owl:Class ; rdfs:label "Root" .
foo:child a owl:Class ; rdfs:label "Child" ; rdfs:subClassOf foo:root .
"""


def node(kg: KnowledgeGraph, node_id: str) -> dict:
    row = kg.node(node_id)
    assert row is not None, f"{node_id} missing"
    return row


def edges(kg: KnowledgeGraph, rel: str) -> set[tuple[str, str]]:
    return set(kg.edges.filter(pl.col("rel") == rel).select("src", "dst").iter_rows())


@pytest.fixture(scope="module")
def rdfxml_kg() -> KnowledgeGraph:
    return OwlSource(RDFXML).load()


def test_registered_and_not_default() -> None:
    assert SOURCES["owl"] is OwlSource
    assert OwlSource.default_enabled is False
    with pytest.raises(SourceError, match="no bundled file"):
        OwlSource()


def test_classes_become_nodes_with_annotations(rdfxml_kg: KnowledgeGraph) -> None:
    kg = rdfxml_kg
    # 12 declared classes + 1 stub for the undeclared parent HP:0000478
    assert kg.nodes.height == 13
    seizure = node(kg, "HP:0001250")
    assert seizure["name"] == "Seizure"
    assert seizure["kind"] == "Phenotype"
    assert seizure["definition"].startswith("A seizure is an intermittent abnormality")
    assert list(zip(seizure["synonyms"], seizure["synonym_scopes"], strict=True)) == [
        ("Epileptic seizure", "EXACT"),
        ("Seizures", "EXACT"),
        ("Fits", "RELATED"),
    ]
    # SNOMEDCT_US and MSH normalised; the URL kept as written (and counted in the report)
    assert seizure["xrefs"] == [
        "MESH:D012640",
        "SNOMEDCT:91175000",
        "UMLS:C0036572",
        "https://en.wikipedia.org/wiki/Seizure",
    ]
    props = json.loads(seizure["props"])
    assert props == {
        "alt_ids": ["HP:0001262", "HP:0002279"],
        "comment": "Seizures may be focal or generalised.",
        "iri": "http://purl.obolibrary.org/obo/HP_0001250",
    }
    # narrow and broad synonyms keep their scope
    status = node(kg, "HP:0002133")
    assert dict(zip(status["synonyms"], status["synonym_scopes"], strict=True)) == {
        "Convulsive status epilepticus": "NARROW",
        "Prolonged seizure": "BROAD",
    }
    # @en label wins over @fr; skos:altLabel becomes a RELATED synonym
    ad = node(kg, "HP:0000006")
    assert ad["name"] == "Autosomal dominant inheritance"
    assert (ad["synonyms"], ad["synonym_scopes"]) == (["AD"], ["RELATED"])
    # MONDO classes are diseases by default; Orphanet xref normalised to ORPHA
    epilepsy = node(kg, "MONDO:0005027")
    assert epilepsy["kind"] == "Disease"
    assert epilepsy["xrefs"] == ["DOID:1826", "ICD10CM:G40", "ORPHA:101998"]


def test_obsolete_and_replaced_by(rdfxml_kg: KnowledgeGraph) -> None:
    obsolete = node(rdfxml_kg, "HP:0000489")
    assert obsolete["obsolete"] is True
    assert node(rdfxml_kg, "HP:0100886")["obsolete"] is False
    assert edges(rdfxml_kg, REPLACED_BY) == {("HP:0000489", "HP:0100886")}
    assert rdfxml_kg.nodes["obsolete"].sum() == 1


def test_is_a_between_named_classes_only(rdfxml_kg: KnowledgeGraph) -> None:
    assert edges(rdfxml_kg, IS_A) == {
        ("HP:0000118", "HP:0000001"),
        ("HP:0000707", "HP:0000118"),
        ("HP:0012638", "HP:0000707"),
        ("HP:0001250", "HP:0012638"),  # its has_part restriction is skipped, not an edge
        ("HP:0002133", "HP:0001250"),
        ("HP:0000005", "HP:0000001"),
        ("HP:0000006", "HP:0000005"),
        ("HP:0100886", "HP:0000478"),  # dangling parent kept with a stub node
        ("MONDO:0005027", "MONDO:0005071"),
    }
    # the restriction, the anonymous class in the equivalence and the equivalence are counted
    assert rdfxml_kg.report == {
        "hp.owl.anonymous_classes_skipped": 1,
        "hp.owl.anonymous_superclasses_skipped": 1,
        "hp.owl.dangling_is_a_stubbed": 1,
        "hp.owl.equivalent_class_axioms_skipped": 1,
        "hp.owl.xrefs_not_curie_kept_as_written": 1,
    }


def test_dangling_parent_is_a_flagged_stub(rdfxml_kg: KnowledgeGraph) -> None:
    stub = node(rdfxml_kg, "HP:0000478")
    assert json.loads(stub["props"]) == {
        "iri": "http://purl.obolibrary.org/obo/HP_0000478",
        "stub": True,
    }
    assert stub["name"] == "HP:0000478"
    assert rdfxml_kg.sources[0].counts["stub_nodes"] == 1


def test_dangling_drop_option_drops_edge_and_counts() -> None:
    kg = OwlSource(TURTLE, dangling="drop").load()
    assert kg.node("HP:0000478") is None
    assert ("HP:0100886", "HP:0000478") not in edges(kg, IS_A)
    assert kg.report["hp.owl.dangling_is_a_dropped"] == 1
    assert kg.nodes.height == 12


def test_source_info_from_ontology_header(rdfxml_kg: KnowledgeGraph) -> None:
    (info,) = rdfxml_kg.sources
    assert (info.name, info.version, info.license) == (
        "hp",
        "2024-04-26",  # the date in owl:versionIRI
        "https://creativecommons.org/licenses/by/4.0/",
    )
    assert info.url == "http://purl.obolibrary.org/obo/hp.owl"
    assert info.path == str(RDFXML)
    assert info.counts == {
        "classes": 12,
        "obsolete": 1,
        "stub_nodes": 1,
        "edges.IS_A": 9,
        "edges.REPLACED_BY": 1,
    }


def test_every_row_stamped_with_provenance(rdfxml_kg: KnowledgeGraph) -> None:
    for frame in (rdfxml_kg.nodes, rdfxml_kg.edges):
        stamps = frame.select("source", "source_version", "license").unique().rows()
        assert stamps == [("hp", "2024-04-26", "https://creativecommons.org/licenses/by/4.0/")]


def test_options_override_header_and_kind() -> None:
    kg = OwlSource(
        TURTLE, name="hpo-excerpt", version="v9", license="CC0", kind={"HP": "Modifier"}
    ).load()
    assert kg.source_versions() == {"hpo-excerpt": "v9"}
    assert set(kg.nodes["license"]) == {"CC0"}
    kinds = dict(kg.nodes.select("id", "kind").iter_rows())
    assert kinds["HP:0001250"] == "Modifier"
    assert kinds["MONDO:0005027"] == "Disease"  # prefix default still applies
    assert set(OwlSource(TURTLE, kind="Category").load().nodes["kind"]) == {"Category"}
    assert "hpo-excerpt.owl.dangling_is_a_stubbed" in kg.report


# ------------------------------------------------------------------ conformance
def test_rdfxml_turtle_and_ntriples_give_identical_graphs(
    rdfxml_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    import rdflib

    ntriples = tmp_path / "mini_hp.nt"
    rdflib.Graph().parse(TURTLE, format="turtle").serialize(ntriples, format="nt", encoding="utf-8")
    gz = tmp_path / "mini_hp.ttl.gz"
    gz.write_bytes(gzip.compress(TURTLE.read_bytes()))
    nodes, edge_frame = rdfxml_kg.canonical()
    for path in (TURTLE, ntriples, gz):
        kg = OwlSource(path).load()
        other_nodes, other_edges = kg.canonical()
        assert other_nodes.equals(nodes), path.name
        assert other_edges.equals(edge_frame), path.name
        assert kg.report == rdfxml_kg.report
        assert kg.content_hash() == rdfxml_kg.content_hash()


def test_explicit_format_overrides_extension(tmp_path: Path) -> None:
    odd = tmp_path / "ontology.data"
    odd.write_bytes(TURTLE.read_bytes())
    with pytest.raises(SourceError, match=r"ontology\.data: cannot tell the RDF format"):
        OwlSource(odd).load()
    assert OwlSource(odd, format="ttl").load().nodes.height == 13


# ------------------------------------------------------------------ identity
def test_declared_prefix_maps_non_obo_iris(tmp_path: Path) -> None:
    path = tmp_path / "foo.ttl"
    path.write_text(EXAMPLE_TTL)
    kg = OwlSource(path, prefixes={"FOO": "http://example.org/foo#"}).load()
    assert sorted(kg.nodes["id"]) == ["FOO:child", "FOO:root"]
    assert edges(kg, IS_A) == {("FOO:child", "FOO:root")}
    assert set(kg.nodes["kind"]) == {"Category"}
    assert kg.source_versions() == {"foo": "1.2"}


def test_unmapped_iri_is_an_error_naming_the_namespace(tmp_path: Path) -> None:
    path = tmp_path / "foo.ttl"
    path.write_text(EXAMPLE_TTL)
    with pytest.raises(SourceError) as err:
        OwlSource(path).load()
    message = str(err.value)
    assert message.startswith(f"{path}: 2 class IRI(s) have no CURIE mapping")
    assert "'http://example.org/foo#'" in message and "on_unmapped='skip'" in message


def test_unmapped_iris_skipped_and_counted_on_request(tmp_path: Path) -> None:
    path = tmp_path / "mixed.ttl"
    path.write_text(
        EXAMPLE_TTL
        + '<http://purl.obolibrary.org/obo/HP_0000001> a owl:Class ; rdfs:label "All" .\n'
        + '<http://purl.obolibrary.org/obo/HP_0000118> a owl:Class ; rdfs:label "Pheno" ;\n'
        + "    rdfs:subClassOf <http://purl.obolibrary.org/obo/HP_0000001>, foo:root .\n"
    )
    kg = OwlSource(path, on_unmapped="skip").load()
    assert sorted(kg.nodes["id"]) == ["HP:0000001", "HP:0000118"]
    assert edges(kg, IS_A) == {("HP:0000118", "HP:0000001")}
    assert kg.report["foo.owl.unmapped_classes_skipped"] == 2
    assert kg.report["foo.owl.is_a_unmapped_target_skipped"] == 1


def test_is_a_cycle_broken_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "cycle.ttl"
    path.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix obo: <http://purl.obolibrary.org/obo/> .\n"
        "obo:DOID_1 a owl:Class ; rdfs:subClassOf obo:DOID_2 .\n"
        "obo:DOID_2 a owl:Class ; rdfs:subClassOf obo:DOID_1 .\n"
    )
    kg = OwlSource(path).load()
    assert kg.edges.height == 1
    assert kg.report["cycle.owl.is_a_cycle_edges_removed"] == 1
    assert kg.report["cycle.owl.classes_without_label"] == 2
    assert set(kg.nodes["name"]) == {"DOID:1", "DOID:2"}  # the id stands in for a missing label


# ------------------------------------------------------------------ bad input
def test_turtle_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.ttl"
    lines = TURTLE.read_text().splitlines()
    lines[40] = 'obo:HP_9999999 a owl:Class ; rdfs:label "unterminated .'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError) as err:
        OwlSource(path).load()
    assert err.value.line == 41
    assert str(err.value).startswith(f"{path}:41: turtle syntax error")


def test_rdfxml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.owl"
    text = RDFXML.read_text().replace(
        '<rdfs:label xml:lang="en">Seizure</rdfs:label>', "<rdfs:label>Seizure</rdfs:lable>"
    )
    path.write_text(text)
    expected = next(
        i for i, line in enumerate(text.splitlines(), start=1) if "</rdfs:lable>" in line
    )
    with pytest.raises(SourceError) as err:
        OwlSource(path).load()
    assert err.value.line == expected
    assert str(err.value).startswith(f"{path}:{expected}: RDF/XML syntax error: mismatched tag")


def test_ntriples_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.nt"
    path.write_text(
        "<http://purl.obolibrary.org/obo/HP_1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
        "<http://www.w3.org/2002/07/owl#Class> .\n"
        "<http://purl.obolibrary.org/obo/HP_2> <http://www.w3.org/2000/01/rdf-schema#label> .\n"
    )
    with pytest.raises(SourceError) as err:
        OwlSource(path).load()
    assert err.value.line == 2
    assert str(err.value).startswith(f"{path}:2: nt parse error")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.owl", b"", "file is empty"),
        ("blank.ttl", b"  \n\n", "file is empty"),
        (
            "functional.owl",
            b"Prefix(:=<http://x/>)\nOntology(<http://x/>)\n",
            "OWL functional syntax",
        ),
        (
            "owlxml.owl",
            b'<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" '
            b'ontologyIRI="http://x/"/>\n',
            "this is OWL/XML, not RDF/XML",
        ),
        ("terms.obo", b"format-version: 1.2\n", "use the 'obo' source"),
    ],
)
def test_unreadable_inputs_are_named(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=expected) as err:
        OwlSource(path).load()
    assert str(err.value).startswith(str(path))


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        OwlSource(tmp_path / "nope.owl").load()
    with pytest.raises(ValueError, match="on_unmapped"):
        OwlSource(TURTLE, on_unmapped="ignore")
    with pytest.raises(ValueError, match="unknown owl source options"):
        OwlSource(TURTLE, prefix={"FOO": "http://x/"})


# ------------------------------------------------------------------ scale
def write_large_turtle(path: Path, n: int) -> None:
    """An HPO-shaped ontology: n classes in a 4-ary tree, with labels, defs, synonyms, xrefs."""
    out = [
        "@prefix obo: <http://purl.obolibrary.org/obo/> .",
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .",
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .",
        "@prefix oio: <http://www.geneontology.org/formats/oboInOwl#> .",
        '<http://purl.obolibrary.org/obo/big.owl> a owl:Ontology ; owl:versionInfo "2024-01-01" .',
    ]
    for i in range(1, n + 1):
        parent = f" ;\n  rdfs:subClassOf obo:HP_{(i - 1) // 4 + 1:07d}" if i > 1 else ""
        out.append(
            f'obo:HP_{i:07d} a owl:Class ;\n  rdfs:label "Phenotype {i}"@en ;\n'
            f'  obo:IAO_0000115 "Definition of phenotype {i}."@en ;\n'
            f'  oio:hasExactSynonym "Synonym {i}"@en ; oio:hasRelatedSynonym "Related {i}"@en ;\n'
            f'  oio:hasDbXref "UMLS:C{i:07d}"{parent} .'
        )
    path.write_text("\n".join(out) + "\n")


@pytest.mark.slow  # 20k classes: seconds on two shared cores
def test_loads_20k_class_turtle_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.ttl"
    write_large_turtle(path, 20_000)
    start = time.perf_counter()
    kg = OwlSource(path).load()
    elapsed = time.perf_counter() - start
    print(f"\n20k-class Turtle ({path.stat().st_size / 1e6:.1f} MB) loaded in {elapsed:.2f} s")
    assert kg.nodes.height == 20_000
    assert kg.edges.height == 19_999
    assert node(kg, "HP:0020000")["synonyms"] == ["Synonym 20000", "Related 20000"]
    assert kg.report == {}
    assert elapsed < 30  # about 5 s on two shared cores; generous against noisy neighbours


def test_named_rare_subset_is_rarity_evidence(tmp_path: Path) -> None:
    ttl = tmp_path / "mondo_excerpt.ttl"
    ttl.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix oboInOwl: <http://www.geneontology.org/formats/oboInOwl#> .\n"
        "@prefix obo: <http://purl.obolibrary.org/obo/> .\n"
        'obo:MONDO_0007739 a owl:Class ; rdfs:label "Huntington disease" ;\n'
        "  oboInOwl:inSubset <http://purl.obolibrary.org/obo/mondo#rare> .\n"
        'obo:MONDO_0005148 a owl:Class ; rdfs:label "type 2 diabetes mellitus" .\n',
        encoding="utf-8",
    )
    kg = OwlSource(ttl, kind="Disease", rare_subsets=["rare"]).load()
    props = {i: json.loads(p) for i, p in kg.nodes.select("id", "props").iter_rows()}
    assert props["MONDO:0007739"]["rare_subset"] == "rare"
    assert "rare_subset" not in props["MONDO:0005148"]


MONDO_XREF_AXIOMS_TTL = """\
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix oio: <http://www.geneontology.org/formats/oboInOwl#> .
@prefix obo: <http://purl.obolibrary.org/obo/> .

obo:MONDO_0000002 a owl:Class ; rdfs:label "intermediate disease" ;
    oio:hasDbXref "OMIM:100200", "Orphanet:456", "UMLS:C0000002" .
[] a owl:Axiom ; owl:annotatedSource obo:MONDO_0000002 ;
   owl:annotatedProperty oio:hasDbXref ; owl:annotatedTarget "OMIM:100200" ;
   oio:source "MONDO:equivalentTo" .
[] a owl:Axiom ; owl:annotatedSource obo:MONDO_0000002 ;
   owl:annotatedProperty oio:hasDbXref ; owl:annotatedTarget "Orphanet:456" ;
   oio:source "MONDO:relatedTo" .
"""


def test_mondo_related_xref_axiom_is_not_an_identity(tmp_path: Path) -> None:
    """MONDO's OWL puts an xref's source on an owl:Axiom; a ``MONDO:relatedTo`` xref is
    loose, not one of MONDO's 1:1 equivalences, and must not become an identity xref (it
    did: the axiom was ignored), as in the OBO loader."""
    path = tmp_path / "mondo.ttl"
    path.write_text(MONDO_XREF_AXIOMS_TTL, encoding="utf-8")
    row = node(OwlSource(path).load(), "MONDO:0000002")
    assert row["xrefs"] == ["OMIM:100200", "UMLS:C0000002"]
    assert json.loads(row["props"])["related_xrefs"] == ["ORPHA:456"]
