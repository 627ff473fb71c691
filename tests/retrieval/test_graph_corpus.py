"""Graph corpus cards and the graph retriever's "term, relation" look-ups on the small graph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import KnowledgeGraph, edges_frame, nodes_frame
from medkg.retrieval.base import RETRIEVERS, RetrievalError, build_retriever
from medkg.retrieval.graph_corpus import (
    GraphRetriever,
    graph_chunks,
    graph_documents,
    parse_lookup,
)
from tests.factories.graphs import small_graph


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return small_graph()


@pytest.fixture(scope="module")
def cards(kg: KnowledgeGraph) -> dict[str, str]:
    return {d.doc_id: d.text for d in graph_documents(kg)}


@pytest.fixture(scope="module")
def retriever(kg: KnowledgeGraph) -> GraphRetriever:
    r = GraphRetriever(corpus="graph")
    r.add(graph_chunks(kg))
    return r


def test_one_card_per_entity_in_id_order(kg: KnowledgeGraph) -> None:
    docs = graph_documents(kg)
    ids = [d.doc_id for d in docs]
    assert ids == sorted(ids) and len(ids) == 20
    assert not [i for i in ids if i.startswith("MET:")]  # tree categories get no card
    assert "HP:0000002" not in ids  # obsolete
    assert "OMIM:154700" in ids and "NCBIGene:2200" in ids
    assert all(len(d.text) <= 2000 for d in docs)


def test_disease_card_text(cards: dict[str, str]) -> None:
    lines = cards["OMIM:154700"].split("\n")
    assert lines[:3] == [
        "Marfan syndrome",
        "Disease OMIM:154700.",
        "Parent in the medical entity tree: Marfan Syndrome.",
    ]
    assert lines[3:] == [
        "Marfan syndrome has mode of inheritance Autosomal dominant inheritance.",
        # most frequent phenotype first; the frequency class is named
        "Marfan syndrome has phenotype Arachnodactyly (very frequent).",
        # one sentence for two annotations of the same phenotype, both qualifiers kept
        "Marfan syndrome has phenotype Aortic root aneurysm "
        "(7/8, onset HP:0003577; 3/8, onset HP:0011463).",
        "Marfan syndrome does not have phenotype Myopia.",  # a NOT annotation stays negative
        "FBN1 is a gene associated with Marfan syndrome.",
        "Marfan syndrome maps to Marfan Syndrome (MESH:D056846).",
        "Marfan syndrome maps to Marfan syndrome (ORPHA:558).",
    ]


def test_phenotype_card_has_synonyms_definition_and_incoming_relations(
    cards: dict[str, str],
) -> None:
    text = cards["HP:0001166"]
    assert "Also known as: Long slender fingers; Spider fingers." in text
    assert 'Definition: Abnormally long and slender fingers ("spider fingers").' in text
    assert "Arachnodactyly is a subtype of Slender finger." in text
    assert "Marfan syndrome has phenotype Arachnodactyly (very frequent)." in text
    assert "Marfan syndrome has phenotype Arachnodactyly (50%)." in text
    assert "FBN1 is a gene associated with phenotype Arachnodactyly." in text


def test_same_named_neighbours_are_told_apart(cards: dict[str, str]) -> None:
    text = cards["NCBIGene:2200"]
    assert "FBN1 (NCBIGene:2200) is a gene associated with Marfan syndrome (OMIM:154700)." in text
    assert "FBN1 (NCBIGene:2200) is a gene associated with Marfan syndrome (ORPHA:558)." in text


def test_cards_do_not_depend_on_row_order(kg: KnowledgeGraph) -> None:
    shuffled = KnowledgeGraph(
        nodes=kg.nodes.sample(fraction=1.0, shuffle=True, seed=3),
        edges=kg.edges.sample(fraction=1.0, shuffle=True, seed=5),
        sources=kg.sources,
    )
    assert graph_documents(shuffled) == graph_documents(kg)


def test_relation_cap_is_counted(kg: KnowledgeGraph) -> None:
    doc = next(d for d in graph_documents(kg, per_relation=1) if d.doc_id == "OMIM:154700")
    assert doc.text.count("has phenotype") == 1  # Arachnodactyly, the most frequent
    # left out: 2 phenotype sentences (Aortic root aneurysm, not Myopia), 1 mapping
    assert doc.text.endswith("(3 more relations of Marfan syndrome not listed.)")
    assert doc.metadata["relations_not_listed"] == 3


def test_card_length_budget() -> None:
    name = "Big disease " + "with a very long name " * 6
    nodes = [{"id": "D:1", "kind": "Disease", "name": name}]
    nodes += [
        {"id": f"P:{i:03d}", "kind": "Phenotype", "name": f"Finding number {i} " + "x" * 40}
        for i in range(100)
    ]
    edges = [{"src": "D:1", "rel": "HAS_PHENOTYPE", "dst": f"P:{i:03d}"} for i in range(100)]
    kg = KnowledgeGraph.from_frames(nodes_frame(nodes), edges_frame(edges))
    card = graph_documents(kg, max_chars=1000, per_relation=100)[0]
    assert card.doc_id == "D:1" and len(card.text) <= 1000
    listed = card.text.count(f"{name} has phenotype")
    assert 0 < listed < 100
    assert card.text.endswith(f"({100 - listed} more relations of {name} not listed.)")
    # the look-up records keep every capped relation, not only those that fit the text
    assert len(card.metadata["relations"]) == 100
    # a card whose relations all fit lists them all, with no closing line
    small = graph_documents(kg, max_chars=100_000, per_relation=100)[0]
    assert small.text.count("has phenotype") == 100 and "not listed" not in small.text


# ----------------------------------------------------------------------------- look-ups
def test_parse_lookup() -> None:
    assert parse_lookup("Marfan syndrome, phenotypes")[0] == "Marfan syndrome"
    assert parse_lookup("Marfan syndrome, phenotypes")[1].label == "phenotype"  # type: ignore[union-attr]
    assert parse_lookup("FBN1, HAS_PHENOTYPE")[1].rels == {"HAS_PHENOTYPE"}  # type: ignore[union-attr]
    # a comma inside a name is not a relation
    name = "Congenital, Hereditary, and Neonatal Diseases and Abnormalities"
    assert parse_lookup(name) == (name, None)


def test_registered_and_built_by_key() -> None:
    assert RETRIEVERS["graph"] is GraphRetriever
    built = build_retriever("graph", corpus="kg")
    assert isinstance(built, GraphRetriever) and built.corpus == "kg" and built.size == 0


def test_term_relation_lookup(retriever: GraphRetriever) -> None:
    (hits,) = retriever.search(["Marfan syndrome, phenotype"], k=10)
    # three entities named Marfan syndrome (exact, 1.0); the best connected first
    assert [(h.chunk.doc_id, h.score, h.rank) for h in hits] == [
        ("OMIM:154700", 1.0, 1),
        ("ORPHA:558", 1.0, 2),
        ("MESH:D056846", 1.0, 3),
    ]
    top = hits[0].chunk
    assert top.chunk_id == "graph:OMIM:154700:0"
    assert top.text.split("\n") == [
        "Marfan syndrome (Disease OMIM:154700).",
        "Marfan syndrome has phenotype Arachnodactyly (very frequent).",
        "Marfan syndrome has phenotype Aortic root aneurysm "
        "(7/8, onset HP:0003577; 3/8, onset HP:0011463).",
        "Marfan syndrome does not have phenotype Myopia.",
    ]
    assert top.metadata["facts"] == [
        "OMIM:154700 HAS_PHENOTYPE HP:0001166",
        "OMIM:154700 HAS_PHENOTYPE HP:0002616",
        "OMIM:154700 HAS_PHENOTYPE HP:0000545",
    ]
    # MeSH's heading records no phenotype: it answers with its equivalents', said so
    assert hits[2].chunk.metadata["via_equivalents"] == ["OMIM:154700", "ORPHA:558"]
    assert "Through its equivalent Marfan syndrome (OMIM:154700):" in hits[2].chunk.text
    assert len(retriever.search(["Marfan syndrome, phenotype"], k=1)[0]) == 1


def test_a_lookup_reads_through_exact_equivalents(
    retriever: GraphRetriever, kg: KnowledgeGraph
) -> None:
    """ "Marfan Syndrome, genes" on MeSH's heading said "No gene relations are recorded",
    though its exact equivalents' genes are in the graph (FBN1 on OMIM:154700). Expected
    from the edge table: the MAPS_TO neighbours of the heading and their gene edges."""
    edges = kg.edges
    maps = edges.filter(pl.col("rel") == "MAPS_TO")
    equivalents = sorted(
        set(maps.filter(pl.col("dst") == "MESH:D056846").get_column("src"))
        | set(maps.filter(pl.col("src") == "MESH:D056846").get_column("dst"))
    )
    genes = edges.filter(
        (pl.col("rel") == "GENE_ASSOCIATED_WITH") & pl.col("dst").is_in(equivalents)
    )
    expected = sorted(f"{g} GENE_ASSOCIATED_WITH {d}" for g, d in genes.select("src", "dst").rows())
    assert expected  # the fixture has them
    (hits,) = retriever.search(["Marfan syndrome, genes"])
    mesh = next(h.chunk for h in hits if h.chunk.doc_id == "MESH:D056846")
    assert sorted(mesh.metadata["facts"]) == expected
    assert mesh.metadata["via_equivalents"] == sorted(
        {d for _, d in genes.select("src", "dst").rows()}
    )
    assert "No gene relations" not in mesh.text
    assert "FBN1 is a gene associated with Marfan syndrome." in mesh.text
    # the entities that hold the facts themselves answer as before, with no via
    omim = next(h.chunk for h in hits if h.chunk.doc_id == "OMIM:154700")
    assert "via_equivalents" not in omim.metadata
    assert omim.metadata["facts"] == ["NCBIGene:2200 GENE_ASSOCIATED_WITH OMIM:154700"]


def test_a_lookup_with_nothing_on_the_equivalents_either_says_so(
    retriever: GraphRetriever, kg: KnowledgeGraph
) -> None:
    ends = {"MESH:D056846", "OMIM:154700", "ORPHA:558"}
    history = kg.edges.filter(
        (pl.col("rel") == "HAS_MEDICAL_HISTORY")
        & (pl.col("src").is_in(ends) | pl.col("dst").is_in(ends))
    )
    assert history.height == 0  # none in the fixture, on the heading or its equivalents
    (hits,) = retriever.search(["Marfan syndrome, medical history"])
    mesh = next(h.chunk for h in hits if h.chunk.doc_id == "MESH:D056846")
    assert mesh.text.endswith(
        "No medical history relations are recorded for Marfan Syndrome or its equivalents "
        "(OMIM:154700, ORPHA:558)."
    )
    assert mesh.metadata["facts"] == [] and "via_equivalents" not in mesh.metadata


def test_synonym_lookup_scores_lower_and_reads_incoming(retriever: GraphRetriever) -> None:
    (hits,) = retriever.search(["spider FINGERS, diseases"])
    assert [(h.chunk.doc_id, h.score) for h in hits] == [("HP:0001166", 0.9)]
    text = hits[0].chunk.text
    assert 'Definition: Abnormally long and slender fingers ("spider fingers").' in text
    assert "Marfan syndrome has phenotype Arachnodactyly (very frequent)." in text
    assert "FBN1" not in text  # a gene, not a disease
    assert hits[0].chunk.metadata["facts"] == [
        "OMIM:154700 HAS_PHENOTYPE HP:0001166",
        "ORPHA:558 HAS_PHENOTYPE HP:0001166",
    ]


def test_gene_inheritance_and_parent_lookups(retriever: GraphRetriever) -> None:
    genes, inheritance, parent = retriever.search(
        ["Marfan's syndrome, genes", "Marfan syndrome, inheritance", "Arachnodactyly, parent"]
    )
    assert genes[1].chunk.text.split("\n")[1:] == [
        "FBN1 is a gene associated with Marfan syndrome.",
        "TGFB2 is a gene associated with Marfan syndrome.",
    ]
    assert "has mode of inheritance Autosomal dominant inheritance." in inheritance[0].chunk.text
    assert parent[0].chunk.text.split("\n")[1:] == [
        'Definition: Abnormally long and slender fingers ("spider fingers").',
        "Parent in the medical entity tree: Slender finger.",
        "Arachnodactyly is a subtype of Abnormality of limbs.",
        "Arachnodactyly is a subtype of Slender finger.",
    ]


def test_plain_term_returns_the_card(retriever: GraphRetriever, kg: KnowledgeGraph) -> None:
    name = "Congenital, Hereditary, and Neonatal Diseases and Abnormalities"
    (hits,) = retriever.search([name])
    card = next(c for c in graph_chunks(kg) if c.doc_id == "MESH:C16")
    assert [h.chunk for h in hits] == [card] and hits[0].score == 1.0


def test_partial_and_unknown_terms(retriever: GraphRetriever) -> None:
    partial, unknown, empty = retriever.search(["Marfan, inheritance", "Gaucher disease", ""])
    assert [h.score for h in partial] == [0.8, 0.8, 0.8]  # name starts with the term
    assert partial[0].chunk.doc_id == "OMIM:154700"
    assert unknown == [] and empty == []
    with pytest.raises(RetrievalError, match="a list of queries"):
        retriever.search("Marfan syndrome")


def test_incremental_add(kg: KnowledgeGraph) -> None:
    chunks = graph_chunks(kg)
    r = GraphRetriever()
    r.add(chunks[:5])
    assert r.search(["FBN1"]) == [[]]
    r.add(chunks[5:])
    assert r.size == len(chunks) and r.search(["FBN1"])[0][0].chunk.doc_id == "NCBIGene:2200"


# ----------------------------------------------------------------------------- persistence
def test_save_load_round_trip(retriever: GraphRetriever, tmp_path: Path) -> None:
    folder = retriever.save(tmp_path / "idx")
    loaded = GraphRetriever.load(folder)
    queries = ["Marfan syndrome, phenotype", "Spider fingers, disease", "FBN1"]
    assert loaded.size == retriever.size and loaded.corpus == "graph"
    assert loaded.search(queries) == retriever.search(queries)


def test_load_retriever_reads_a_graph_index_in_a_fresh_process(
    retriever: GraphRetriever, tmp_path: Path
) -> None:
    # "graph" registers when graph_corpus is imported; a process that only imports the
    # retrievers module (as a user script loading a saved index does) must still load it.
    folder = retriever.save(tmp_path / "idx")
    script = (
        "import sys\n"
        "from medkg.retrieval.retrievers import load_retriever\n"
        "assert 'medkg.retrieval.graph_corpus' not in sys.modules\n"
        "r = load_retriever(sys.argv[1])\n"
        "print(type(r).__name__, r.size, r.search(['FBN1'])[0][0].chunk.doc_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["GraphRetriever", str(retriever.size), "NCBIGene:2200"]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match=r"meta\.json: no saved index here"):
        GraphRetriever.load(tmp_path / "nothing")
    (tmp_path / "bm25").mkdir()
    (tmp_path / "bm25" / "meta.json").write_text('{"key": "bm25"}')
    with pytest.raises(RetrievalError, match="index of 'bm25', not a 'graph' index"):
        GraphRetriever.load(tmp_path / "bm25")


def test_interrupted_save_keeps_the_previous_index(
    retriever: GraphRetriever, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = retriever.save(tmp_path / "idx")
    small = GraphRetriever()
    small.add(graph_chunks(small_graph())[:2])

    def crash(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("medkg.retrieval.graph_corpus.json.dumps", crash)
    with pytest.raises(KeyboardInterrupt):
        small.save(folder)
    monkeypatch.undo()
    assert GraphRetriever.load(folder).size == retriever.size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_graph_without_tree_columns() -> None:
    nodes = nodes_frame([{"id": "D:1", "kind": "Disease", "name": "Alpha", "synonyms": ["A1"]}])
    kg = KnowledgeGraph.from_frames(nodes, edges_frame([]))
    (doc,) = graph_documents(kg)
    assert doc.text == "Alpha\nDisease D:1.\nAlso known as: A1."
    assert doc.metadata["met_parent"] is None


def test_describe_records_the_graph_index_size(retriever: GraphRetriever) -> None:
    """The evidence manifest's corpus entry names the graph index's chunk count (it read
    ``null``: the graph retriever has no ``meta()``)."""
    from medkg.retrieval.evidence import CorpusIndex

    info = CorpusIndex("graph", "graph", retriever).describe()
    assert info["backend"] == "graph" and info["n_chunks"] == retriever.size > 0
    assert info["version"] == 1
