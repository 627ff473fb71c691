"""Retrieval evaluation: recall@k and MRR on a hand-computed case (fixed rankings per query),
graph-corpus relevance by path, the graph-vs-raw comparison, and items without queries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from medkg.llm import build_generator
from medkg.retrieval.base import Chunk, Hit, RetrievalError, Retriever
from medkg.retrieval.evaluate import evaluate, tables
from medkg.retrieval.evidence import CorpusIndex
from medkg.retrieval.queries import QueryGenerator
from tests.factories.chat import ChatServer
from tests.factories.graphs import small
from tests.factories.items import GENE_ITEM, PHENOTYPE_ITEM


class FixedRetriever(Retriever):
    """Answers each query with a preset ranking of chunk ids (unknown queries: nothing)."""

    key = "fixed-test"

    def __init__(self, chunks: Sequence[Chunk], rankings: dict[str, list[str]]) -> None:
        self.by_id = {c.chunk_id: c for c in chunks}
        self.rankings = rankings
        self.asked: list[str] = []

    def add(self, chunks: Sequence[Chunk]) -> None:
        self.by_id.update({c.chunk_id: c for c in chunks})

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        self.asked.extend(queries)
        return [
            [
                Hit(self.by_id[c], 1.0 / r, r)
                for r, c in enumerate(self.rankings.get(q, [])[:k], start=1)
            ]
            for q in queries
        ]

    def save(self, folder: str | Path) -> Path:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: str | Path) -> Retriever:
        raise NotImplementedError

    @property
    def size(self) -> int:
        return len(self.by_id)


TEXTBOOK = [
    Chunk("tb:a:0", "tb", "a", "", "Marfan syndrome is caused by FBN1 variants."),  # item 1
    Chunk("tb:b:0", "tb", "b", "", "An overview of Marfan syndrome."),  # nobody's
    Chunk("tb:c:0", "tb", "c", "", "Arachnodactyly is common in Marfan syndrome."),  # item 2
]
CARDS = [
    Chunk("kg:OMIM:154700:0", "kg", "OMIM:154700", "Marfan syndrome", "Marfan syndrome (Disease)."),
    Chunk("kg:MESH:D000013:0", "kg", "MESH:D000013", "Congenital", "Congenital Abnormalities."),
]


def graph_query(qgen: QueryGenerator, item: dict, kind: str) -> str:
    (text,) = [q.text for q in qgen.for_item(item) if q.corpus_kind == kind and q.source == "graph"]
    return text


def hand_case() -> tuple[QueryGenerator, list[CorpusIndex]]:
    qgen = QueryGenerator(small())
    tb = {
        graph_query(qgen, GENE_ITEM, "textbook"): ["tb:b:0", "tb:a:0"],  # first relevant: 2
        GENE_ITEM["question"]: ["tb:b:0"],  # miss
        graph_query(qgen, PHENOTYPE_ITEM, "textbook"): ["tb:c:0"],  # 1
        PHENOTYPE_ITEM["question"]: ["tb:b:0", "tb:c:0"],  # 2
    }
    kg = {
        # the Marfan card is on the gene item's path: relevant although it names no gene
        "Marfan syndrome, genes": ["kg:MESH:D000013:0", "kg:OMIM:154700:0"],  # 2
        # the phenotype item's graph query and both raw questions find nothing
    }
    corpora = [
        CorpusIndex("tb", "textbook", FixedRetriever(TEXTBOOK, tb)),
        CorpusIndex("kg", "graph", FixedRetriever(CARDS, kg)),
    ]
    return qgen, corpora


def test_recall_and_mrr_match_the_hand_computed_case():
    qgen, corpora = hand_case()
    report = evaluate([GENE_ITEM, PHENOTYPE_ITEM], corpora, qgen, ks=(2, 1))
    data = report.to_dict()
    assert data["ks"] == [1, 2]
    rows = {(r["corpus"], r["source"]): r for r in data["by_corpus"]}
    assert rows[("tb", "graph")] == {
        "corpus": "tb", "kind": "textbook", "source": "graph", "style": "question", "n": 2,
        "no_query": 0, "recall@1": 0.5, "recall@2": 1.0, "mrr": 0.75,
    }  # fmt: skip
    assert (rows[("tb", "raw")]["recall@1"], rows[("tb", "raw")]["recall@2"]) == (0.0, 0.5)
    assert rows[("tb", "raw")]["mrr"] == 0.25 and rows[("tb", "raw")]["style"] == "raw"
    kg_graph = rows[("kg", "graph")]
    assert (kg_graph["recall@1"], kg_graph["recall@2"], kg_graph["mrr"]) == (0.0, 0.5, 0.25)
    assert kg_graph["style"] == "term_relation"
    assert rows[("kg", "raw")]["recall@2"] == 0.0
    styles = {(r["style"], r["source"]): r for r in data["by_style"]}
    assert styles[("raw", "raw")]["n"] == 4
    assert styles[("raw", "raw")]["recall@2"] == 0.25 and styles[("raw", "raw")]["mrr"] == 0.125
    versus = {r["corpus"]: r for r in data["graph_vs_raw"]}
    assert versus["tb"]["raw_recall@2"] == 0.5 and versus["tb"]["graph_recall@2"] == 1.0
    assert versus["tb"]["delta_recall@2"] == 0.5 and versus["tb"]["graph_wins"] is True
    assert versus["kg"]["graph_wins"] is True and versus["kg"]["raw_mrr"] == 0.0
    assert [t.title.split(" ")[0] for t in tables(report)] == [
        "retrieval",
        "retrieval",
        "graph-expanded",
    ]


def test_support_only_drops_the_path_rule():
    qgen, corpora = hand_case()
    report = evaluate([GENE_ITEM, PHENOTYPE_ITEM], corpora, qgen, ks=(2,), path_relevance=False)
    rows = {(r["corpus"], r["source"]): r for r in report.to_dict()["by_corpus"]}
    assert rows[("kg", "graph")]["recall@2"] == 0.0  # the Marfan card names no gene
    assert rows[("tb", "graph")]["recall@2"] == 1.0  # text corpora are judged the same way
    assert report.counts["path_relevance"] is False


def test_llm_rewrites_are_scored_as_their_own_source():
    qgen, corpora = hand_case()
    with ChatServer(lambda body: ["Marfan syndrome FBN1 review"] * body["n"]) as server:
        gen = build_generator("openai", base_url=server.base_url, model="m", timeout_s=5)
        report = evaluate([GENE_ITEM], corpora, qgen, ks=(1,), generator=gen)
    sources = {(r["corpus"], r["source"]) for r in report.to_dict()["by_corpus"]}
    assert sources == {(c, s) for c in ("tb", "kg") for s in ("graph", "raw")}  # leaks dropped
    assert report.counts["generator"]["llm_answer_leak"] > 0
    with ChatServer(lambda body: ["Marfan syndrome review"] * body["n"]) as server:
        gen = build_generator("openai", base_url=server.base_url, model="m", timeout_s=5)
        report = evaluate([GENE_ITEM], corpora, qgen, ks=(1,), generator=gen)
    rows = {(r["corpus"], r["source"]): r for r in report.to_dict()["by_corpus"]}
    assert rows[("tb", gen.name)]["n"] == 1 and rows[("tb", gen.name)]["recall@1"] == 0.0


def test_items_without_queries_count_as_misses():
    qgen, corpora = hand_case()
    unknown = {**GENE_ITEM, "id": "ghost", "entity_ids": ["XX:1", "NCBIGene:2200"]}
    report = evaluate([GENE_ITEM, PHENOTYPE_ITEM, unknown], corpora, qgen, ks=(1, 2))
    rows = {(r["corpus"], r["source"]): r for r in report.to_dict()["by_corpus"]}
    assert rows[("tb", "graph")]["n"] == 3 and rows[("tb", "graph")]["no_query"] == 1
    assert rows[("tb", "graph")]["recall@2"] == pytest.approx(2 / 3)
    assert rows[("tb", "raw")]["no_query"] == 0  # the raw question is always asked


def test_bad_evaluation_input():
    qgen, corpora = hand_case()
    with pytest.raises(RetrievalError, match="positive"):
        evaluate([GENE_ITEM], corpora, qgen, ks=(0, 5))
    with pytest.raises(RetrievalError, match="no corpora"):
        evaluate([GENE_ITEM], [], qgen)
    with pytest.raises(RetrievalError, match="no items"):
        evaluate([], corpora, qgen)
