"""Composed surface forms (site + morphology, gene + deficiency, inherited classes,
disease/disorder, "<X> deficient", class paraphrases), the MeSH tree exclusion, subtype and bracketed-
abbreviation spans, and the look/check split of an annotated corpus; on a hand-made graph
in the real node/edge format."""

from __future__ import annotations

import json
import random

import pytest

from medkg.coverage.annotated import AnnotatedDocument
from medkg.coverage.linkeval import split_halves
from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.variants import key_variants
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp

INFO = SourceInfo(name="hand-made", version="1", license="CC0-1.0")


def _trees(*numbers: str) -> str:
    return json.dumps({"tree_numbers": list(numbers)})


def graph() -> KnowledgeGraph:
    d = "Disease"
    nodes = nodes_frame([
        {"id": "MESH:D011471", "kind": d, "name": "Prostatic Neoplasms",
         "synonyms": ["prostate cancer", "cancers, prostatic"]},
        {"id": "MESH:D002277", "kind": d, "name": "Carcinoma"},
        {"id": "X:lung", "kind": d, "name": "Lung Neoplasms", "synonyms": ["lung cancer"]},
        {"id": "X:lung-carcinoma", "kind": d, "name": "Lung carcinoma"},
        {"id": "X:wilms", "kind": d, "name": "Wilms tumor"},
        {"id": "OMIM:613825", "kind": d, "name": "Complement component 9 deficiency"},
        {"id": "OMIM:615591", "kind": d, "name": "Macular degeneration, age-related, 15"},
        {"id": "MESH:D030342", "kind": d, "name": "Genetic Diseases, Inborn",
         "synonyms": ["hereditary disease", "genetic disorder"]},
        {"id": "MESH:D019636", "kind": d, "name": "Neurodegenerative Diseases"},
        {"id": "X:g6pd", "kind": d, "name": "G6PD deficiency"},
        {"id": "OMIM:217000", "kind": d, "name": "C2 deficiency"},
        {"id": "MESH:D018450", "kind": d, "name": "Disease Progression",
         "props": _trees("C23.550.291.656")},
        {"id": "MESH:D014178", "kind": d, "name": "Translocation, Genetic",
         "synonyms": ["chromosomal translocation"],
         "props": _trees("C23.550.210.870", "G05.558.860")},
        {"id": "MESH:D009468", "kind": d, "name": "Neuromuscular Diseases",
         "props": _trees("C10.668")},
        {"id": "MESH:D006623", "kind": d, "name": "von Hippel-Lindau Disease"},
        # MeSH 2025 names and (some) entry terms
        {"id": "MESH:D007154", "kind": d, "name": "Immune System Diseases",
         "synonyms": ["immune disorders", "immunologic diseases"]},
        {"id": "MESH:D001327", "kind": d, "name": "Autoimmune Diseases",
         "synonyms": ["autoimmune disease"]},
        {"id": "MESH:D005128", "kind": d, "name": "Eye Diseases", "synonyms": ["eye disorders"]},
        {"id": "MESH:D005124", "kind": d, "name": "Eye Abnormalities",
         "synonyms": ["eye abnormality"]},
        {"id": "NCBIGene:735", "kind": "Gene", "name": "C9"},
    ])  # fmt: skip
    edges = edges_frame([
        {"src": "NCBIGene:735", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:615591"},
        {"src": "NCBIGene:735", "rel": "GENE_ASSOCIATED_WITH", "dst": "OMIM:613825"},
    ])  # fmt: skip
    return KnowledgeGraph.from_frames(stamp(nodes, INFO), stamp(edges, INFO), [INFO])


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return graph()


@pytest.fixture(scope="module")
def lk(kg: KnowledgeGraph) -> Linker:
    return Linker.from_graph(kg, LinkerConfig(kinds=("Disease",)))


def links(lk: Linker, text: str) -> list[tuple[str, str, str]]:
    return [(r[3], r[4], r[5]) for r in lk.link_text(text).iter_rows()]


def test_site_plus_morphology_maps_to_the_site_neoplasm(lk: Linker) -> None:
    got = links(lk, "Two prostate carcinomas and a prostatic adenocarcinoma were typed.")
    assert ("prostate carcinomas", "MESH:D011471", "rule") in got
    assert ("prostatic adenocarcinoma", "MESH:D011471", "rule") in got
    # a bare morphology stays the morphology; a real form beats a composed one
    assert links(lk, "A carcinoma.") == [("carcinoma", "MESH:D002277", "exact")]
    assert links(lk, "A lung carcinoma.") == [("lung carcinoma", "X:lung-carcinoma", "exact")]
    # only "<site> Neoplasms" entities compose: "Wilms tumor" is no site
    assert links(lk, "Wilms carcinoma.") == [("carcinoma", "MESH:D002277", "exact")]


def test_gene_deficiency_follows_gene_disease_edges(lk: Linker) -> None:
    text = "C9-deficient sera; complete deficiency of C9; C9 deficiency."
    got = links(lk, text)
    assert [g[0] for g in got] == ["C9-deficient", "complete deficiency of C9", "C9 deficiency"]
    # the disease named a deficiency wins over the gene's other disease
    assert {g[1] for g in got} == {"OMIM:613825"}


def test_inherited_classes_and_disease_disorder(lk: Linker) -> None:
    assert links(lk, "An autosomal recessive disorder.") == [
        ("autosomal recessive disorder", "MESH:D030342", "rule")
    ]
    assert links(lk, "Other inherited human diseases.") == [
        ("inherited human diseases", "MESH:D030342", "rule")
    ]
    assert links(lk, "Neurodegenerative disorders.") == [
        ("Neurodegenerative disorders", "MESH:D019636", "rule")
    ]
    assert links(lk, "G6PD deficient cells.") == [("G6PD deficient", "X:g6pd", "rule")]


def test_class_paraphrase_with_a_generic_head(lk: Linker) -> None:
    # "<X> defects / abnormalities / manifestations" name the class "<X> [system] diseases"
    got = links(lk, "Immune defects and autoimmune manifestations; an immunologic abnormality.")
    assert got == [
        ("Immune defects", "MESH:D007154", "rule"),
        ("autoimmune manifestations", "MESH:D001327", "rule"),
        ("immunologic abnormality", "MESH:D007154", "rule"),
    ]
    # a real form of the paraphrase wins: MeSH has its own "Eye Abnormalities"
    assert links(lk, "Eye abnormalities.") == [("Eye abnormalities", "MESH:D005124", "exact")]
    assert links(lk, "Eye defects.") == [("Eye defects", "MESH:D005128", "rule")]
    # a generic head alone names nothing, and neither does a head after an unknown class
    assert links(lk, "Defects and abnormalities of the gait.") == []
    assert links(lk, "Prostatic defects.") == []


def test_composed_forms_can_be_switched_off(kg: KnowledgeGraph) -> None:
    # the ontologies' synonyms name "C9 deficiency" too: only the rules are switched off here
    off = Linker.from_graph(
        kg, LinkerConfig(kinds=("Disease",), composed=False, synonym_evidence=False)
    )
    assert links(off, "A prostate carcinoma, C9 deficiency, an autosomal recessive disorder.") == [
        ("carcinoma", "MESH:D002277", "exact")
    ]


def test_mesh_attribute_and_genetic_finding_branches_are_not_linked(
    lk: Linker, kg: KnowledgeGraph
) -> None:
    text = "Disease progression and a chromosomal translocation in neuromuscular diseases."
    assert links(lk, text) == [("neuromuscular diseases", "MESH:D009468", "exact")]
    assert lk.stats["excluded_by_tree"] == 2
    keep = Linker.from_graph(kg, LinkerConfig(kinds=("Disease",), mesh_exclude_trees=()))
    assert [g[1] for g in links(keep, text)] == ["MESH:D018450", "MESH:D014178", "MESH:D009468"]


def test_subtype_designation_and_bracketed_short_form_spans(lk: Linker) -> None:
    got = links(lk, "Type II C2 deficiency and type 1 C2 deficiency.")
    assert [g[0] for g in got] == ["Type II C2 deficiency", "type 1 C2 deficiency"]
    text = "In von Hippel-Lindau (VHL) disease, VHL tumours recur."
    got = links(lk, text)
    assert got[0] == ("von Hippel-Lindau (VHL) disease", "MESH:D006623", "abbreviation")
    assert ("VHL", "MESH:D006623", "abbreviation") in got
    assert len(got) == 2  # the bracketed "VHL" is inside the first mention


def test_split_halves_is_a_fixed_partition() -> None:
    many = [AnnotatedDocument(id=str(9000000 + 7 * i), text="x", mentions=()) for i in range(11)]
    look, check = split_halves(many)
    assert {d.id for d in look}.isdisjoint({d.id for d in check})
    assert (len(look), len(check)) == (6, 5)
    assert [d.id for d in look] != [d.id for d in many[:6]]  # by hash, not file order
    shuffled = list(many)
    random.Random(3).shuffle(shuffled)
    look2, check2 = split_halves(shuffled)
    assert [d.id for d in look2] == [d.id for d in look]
    assert [d.id for d in check2] == [d.id for d in check]


def test_british_spellings_and_qualifier_coordinations() -> None:
    assert " phaeochromocytoma " in key_variants("Pheochromocytoma", " pheochromocytoma ")
    assert " diarrhea " in key_variants("diarrhoea", " diarrhoea ")
    nodes = nodes_frame([
        {"id": "MESH:D010673", "kind": "Disease", "name": "Pheochromocytoma"},
        {"id": "MESH:D012175", "kind": "Disease", "name": "Retinoblastoma"},
        {"id": "MESH:D009369", "kind": "Disease", "name": "Neoplasms", "synonyms": ["tumors"]},
    ])  # fmt: skip
    kg = KnowledgeGraph.from_frames(stamp(nodes, INFO), stamp(edges_frame([]), INFO), [INFO])
    lk = Linker.from_graph(kg, LinkerConfig(kinds=("Disease",)))
    text = "A phaeochromocytoma; familial or sporadic bilateral retinoblastoma; solid tumors."
    assert [g[:2] for g in links(lk, text)] == [
        ("phaeochromocytoma", "MESH:D010673"),
        ("familial or sporadic bilateral retinoblastoma", "MESH:D012175"),
        ("solid tumors", "MESH:D009369"),
    ]
    # a coordination with a word that is no qualifier is left out of the span
    assert links(lk, "Classical and Duarte retinoblastoma.")[0][0] == "retinoblastoma"
