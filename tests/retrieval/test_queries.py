"""Multi-corpora query generation: styles per corpus kind, graph expansion with its facts,
no answer leakage, hidden intermediates, and the LLM rewrite path over a real HTTP stand-in."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from medkg.kg.model import KnowledgeGraph
from medkg.llm import build_generator
from medkg.retrieval.base import RetrievalError
from medkg.retrieval.graph_corpus import parse_lookup
from medkg.retrieval.queries import QueryConfig, QueryGenerator, rewrite_prompt
from medkg.synthesis.pipeline import SynthConfig, synthesize
from medkg.text import names_in, normalise
from tests.factories.chat import ChatServer
from tests.factories.graphs import small, synthetic_kg
from tests.factories.items import GENE_ITEM, PHENOTYPE_ITEM


@cache
def synthetic() -> tuple[KnowledgeGraph, tuple[dict[str, Any], ...]]:
    kg = synthetic_kg()
    result = synthesize(kg, SynthConfig(n=60, seed=1, rare_share=None))
    return kg, tuple(it.to_dict() for it in result.items)


def by_kind(queries: list, source: str = "graph") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in queries:
        if q.source == source:
            out.setdefault(q.corpus_kind, []).append(q.text)
    return out


def test_entity_queries_expand_synonyms_from_equivalents_and_genes():
    qgen = QueryGenerator(small())
    queries = qgen.for_entity("OMIM:154700")
    texts = by_kind(queries)
    assert texts["research"] == ['("Marfan syndrome" OR "Marfan\'s Syndrome") AND FBN1']
    # the MeSH twin is the MET parent: skipped as a synonym, the next level is the hypernym
    assert texts["encyclopedia"] == ["Marfan syndrome", "Congenital Abnormalities"]
    assert texts["graph"] == ["Marfan syndrome, phenotypes"]
    research = next(q for q in queries if q.corpus_kind == "research")
    assert research.style == "keyword"
    assert research.facts == (
        "OMIM:154700 name Marfan syndrome",
        "OMIM:154700 MAPS_TO MESH:D056846",
        "MESH:D056846 synonym Marfan's Syndrome",
        "NCBIGene:2200 GENE_ASSOCIATED_WITH OMIM:154700",
    )
    textbook = next(q for q in queries if q.corpus_kind == "textbook")
    assert textbook.style == "question"
    assert textbook.text.startswith("What are the characteristic clinical features of Marfan")
    assert "arachnodactyly" in textbook.text and "OMIM:154700 HAS_PHENOTYPE HP:0001166" in (
        textbook.facts
    )
    assert all(q.source == "graph" for q in queries)  # no raw query for a bare entity


def test_gene_item_never_names_the_answer_or_a_distractor():
    qgen = QueryGenerator(small())
    queries = qgen.for_item(GENE_ITEM)
    texts = by_kind(queries)
    assert texts["research"] == ['("Marfan syndrome" OR "Marfan\'s Syndrome")']
    assert texts["graph"] == ["Marfan syndrome, genes"]
    assert texts["textbook"][0].startswith("Which genes are implicated in Marfan syndrome")
    for q in queries:
        assert "FBN1" not in q.text and "TGFB2" not in q.text
        assert not any("NCBIGene:2200" in f or "NCBIGene:7042" in f for f in q.facts)
    raw = by_kind(queries, "raw")
    assert set(raw) == {"research", "encyclopedia", "textbook", "guideline", "graph"}
    assert all(v == [GENE_ITEM["question"]] for v in raw.values())
    assert all(q.style == "raw" for q in queries if q.source == "raw")


def test_phenotype_item_expansion_skips_answer_and_distractor_phenotypes():
    queries = QueryGenerator(small()).for_item(PHENOTYPE_ITEM)
    (textbook,) = by_kind(queries)["textbook"]
    assert "aortic root aneurysm" in textbook  # another characteristic phenotype
    for bad in ("arachnodactyly", "spider fingers", "myopia", "nearsightedness"):
        assert bad not in textbook.lower()
    assert by_kind(queries)["graph"] == ["Marfan syndrome, phenotypes"]


def test_no_query_of_any_family_leaks_the_answer():
    kg, items = synthetic()
    qgen = QueryGenerator(kg)
    families = set()
    for item in items:
        families.add(item["family"])
        answer = [item["answer"], *qgen.names(item["answer_id"])]
        asked = names_in(normalise(item["question"]), answer)
        for q in qgen.for_item(item):
            if q.source == "raw":
                continue
            assert asked or not names_in(normalise(q.text), answer), (item["id"], q.text)
            assert not any(item["answer_id"] in f.split() for f in q.facts), (item["id"], q)
            for other in item["distractor_ids"]:
                assert not any(other in f.split() for f in q.facts)
    assert {"diagnosis", "phenotype", "gene", "chain", "category"} <= families


def test_a_shared_hypernym_gives_one_title_query():
    item = {
        "id": "diagnosis-x",
        "question": "A patient presents with arachnodactyly and slender finger. Diagnosis?",
        "answer": "Myopia",
        "answer_id": "OMIM:999999",
        "entity_ids": ["HP:0001166", "HP:0001238", "OMIM:999999"],
        "option_ids": ["OMIM:999999"],
        "path_nodes": ["HP:0001166", "OMIM:999999"],
        "path_rels": ["HAS_PHENOTYPE"],
    }
    qgen = QueryGenerator(small(), QueryConfig(hypernyms=2))
    titles = by_kind(qgen.for_item(item, ["encyclopedia"]))["encyclopedia"]
    # Arachnodactyly -> Slender finger -> Abnormality of limbs; Slender finger -> Abnormality of limbs
    assert titles == ["Arachnodactyly", "Slender finger", "Abnormality of limbs"]


def test_cues_follow_the_path_and_term_relation_queries_parse():
    kg, items = synthetic()
    qgen = QueryGenerator(kg)
    diagnosis = next(i for i in items if i["family"] == "diagnosis")
    graph_queries = by_kind(qgen.for_item(diagnosis))["graph"]
    assert graph_queries and all(t.endswith(", diseases") for t in graph_queries)
    for item in items:
        for q in qgen.for_item(item):
            if q.corpus_kind == "graph" and q.source == "graph":
                term, look = parse_lookup(q.text)
                assert look is not None, q.text  # the graph retriever understands the relation
                assert names_in(normalise(item["question"]), [term])


def test_hidden_intermediates_only_with_include_hidden():
    kg, items = synthetic()
    chain = next(i for i in items if i["family"] == "chain")
    options = set(chain["option_ids"])
    hidden = [e for e in chain["entity_ids"] if e not in options and e.startswith("NCBIGene:")]
    assert hidden
    plain = QueryGenerator(kg)
    gene_name = plain.names(hidden[0])[0]
    assert not any(gene_name in q.text for q in plain.for_item(chain))
    oracle = QueryGenerator(kg, QueryConfig(include_hidden=True))
    assert any(gene_name in q.text for q in oracle.for_item(chain))


def test_user_kind_gets_question_style_and_config_is_checked():
    qgen = QueryGenerator(small())
    queries = qgen.for_item(GENE_ITEM, kinds=["casereports"])
    assert [(q.corpus_kind, q.style) for q in queries] == [
        ("casereports", "question"),
        ("casereports", "raw"),
    ]
    with pytest.raises(RetrievalError, match="max_cues"):
        QueryGenerator(small(), QueryConfig(max_cues=0))
    with pytest.raises(RetrievalError, match="missing field 'answer_id'"):
        qgen.for_item({"id": "x", "question": "q", "entity_ids": []})
    with pytest.raises(RetrievalError, match="not in the graph"):
        qgen.for_entity("OMIM:000000")


def rewrite_reply(body: dict[str, Any]) -> list[str]:
    """Keyword drafts come back with the answer in them (a leak); others get rewritten."""
    prompt = body["messages"][-1]["content"]
    draft = prompt.split("Draft query: ", 1)[1].split("\n", 1)[0]
    if "Corpus kind: research" in prompt:
        return [f"{draft} AND FBN1"] * body["n"]
    if "Corpus kind: encyclopedia" in prompt:
        return [""] * body["n"]
    return [f"Query: {draft} review"] * body["n"]


def test_llm_rewrites_are_added_and_leaks_dropped():
    qgen = QueryGenerator(small())
    base = [qgen.for_item(GENE_ITEM)]
    with ChatServer(rewrite_reply) as server:
        gen = build_generator("openai", base_url=server.base_url, model="stand-in", timeout_s=5)
        (queries,) = qgen.rewrite([GENE_ITEM], base, gen)
        n_requests = len(server.requests)
    graph = [q for q in base[0] if q.source == "graph"]
    assert n_requests == len(graph)
    llm = [q for q in queries if q.source == gen.name]
    assert {q.corpus_kind for q in llm} == {"textbook", "guideline", "graph"}
    assert all(q.text.endswith(" review") and not q.text.startswith("Query:") for q in llm)
    titles = [q for q in graph if q.corpus_kind == "encyclopedia"]
    assert qgen.stats["llm_answer_leak"] == 1 and qgen.stats["llm_empty"] == len(titles) == 2
    assert queries[: len(base[0])] == base[0]
    prompt = rewrite_prompt(GENE_ITEM["question"], graph[0])
    assert prompt[0]["role"] == "system" and "Draft query:" in prompt[1]["content"]
