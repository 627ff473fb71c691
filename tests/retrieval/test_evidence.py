"""Evidence packs: support labels on hand-made chunks, query usefulness, RRF fusion of a
corpus's queries, the written dataset (TRL SFT/DPO rows) and byte-identical reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medkg.retrieval import retrievers  # noqa: F401 - registers bm25
from medkg.retrieval.base import Chunk, Hit, Query, RetrievalError, build_retriever
from medkg.retrieval.evidence import (
    CorpusIndex,
    QueryRun,
    SupportNames,
    attach_evidence,
    fuse,
    read_item_rows,
    source_manifest,
    support_names,
    supports,
    write_evidence_dataset,
)
from medkg.retrieval.queries import QueryGenerator
from tests.factories.graphs import small
from tests.factories.items import GENE_ITEM, PHENOTYPE_ITEM

MARFAN = SupportNames(answer=("FBN1",), cues=("Marfan syndrome", "Marfan's Syndrome"))

RESEARCH = [
    (
        "1",
        "FBN1 and Marfan",
        "Mutations in FBN1 cause Marfan syndrome, a connective tissue disease.",
    ),
    ("2", "Stature", "Patients with Marfan syndrome are tall and have long limbs."),
    ("3", "Fibrillin", "FBN1 encodes fibrillin-1, a large glycoprotein of microfibrils."),
    ("4", "Marfanoid habitus", "A marfanoid habitus without FBN1 variants suggests another cause."),
]
ENCYCLOPEDIA = [
    ("Marfan_syndrome", "Marfan syndrome", "A disorder of connective tissue due to FBN1 variants."),
    ("Congenital", "Congenital abnormalities", "Congenital abnormalities are present at birth."),
]


def corpus(name: str, kind: str, docs: list[tuple[str, str, str]]) -> CorpusIndex:
    retriever = build_retriever("bm25", corpus=name)
    retriever.add([Chunk(f"{name}:{d}:0", name, d, t, x) for d, t, x in docs])
    return CorpusIndex(name, kind, retriever)


def corpora() -> list[CorpusIndex]:
    return [corpus("pm", "research", RESEARCH), corpus("wiki", "encyclopedia", ENCYCLOPEDIA)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mutations in FBN1 cause Marfan syndrome.", True),
        ("fbn1 and MARFAN'S SYNDROME", True),  # any case, a synonym, punctuation ignored
        ("Patients with Marfan syndrome are tall.", False),  # no answer
        ("FBN1 encodes fibrillin-1.", False),  # no question entity
        ("A marfanoid habitus without FBN1 variants.", False),  # whole words only
        ("FBN12 in Marfan syndrome", False),
    ],
)
def test_supports_needs_answer_and_question_entity_on_whole_words(text, expected):
    assert supports(text, MARFAN) is expected


def test_support_names_include_equivalents_and_hidden_entities():
    qgen = QueryGenerator(small())
    names = support_names(GENE_ITEM, qgen)
    assert names.answer == ("FBN1",)
    assert "Marfan's Syndrome" in names.cues  # the MeSH twin's synonym
    assert "TGFB2" not in names.cues  # a distractor is no question entity
    names = support_names(PHENOTYPE_ITEM, qgen)
    assert {"Arachnodactyly", "Spider fingers", "Long slender fingers"} <= set(names.answer)


def test_fuse_rewards_chunks_found_by_several_queries():
    def hits(*ids: str) -> list[Hit]:
        return [Hit(Chunk(i, "c", i, "", ""), 1.0, r) for r, i in enumerate(ids, 1)]

    q1, q2 = Query("a", "title", "encyclopedia"), Query("b", "title", "encyclopedia")
    runs = [
        QueryRun(0, "c", q1, hits("x", "y"), [False, True]),
        QueryRun(0, "c", q2, hits("z", "y"), [False, True]),
    ]
    fused = fuse(runs, 3)
    assert [h.chunk.chunk_id for h, _, _ in fused] == ["y", "x", "z"]
    hit, run, sup = fused[0]
    assert (hit.rank, run.query.text, sup) == (2, "a", True)  # ties go to the earlier query
    assert len(fuse(runs, 1)) == 1


def test_packs_and_usefulness_labels():
    qgen = QueryGenerator(small())
    result = attach_evidence([GENE_ITEM], corpora(), qgen, k=2)
    (row,) = result.rows
    assert row["question"] == GENE_ITEM["question"]
    by_corpus: dict[str, list[dict]] = {}
    for ev in row["evidence"]:
        by_corpus.setdefault(ev["corpus"], []).append(ev)
    assert [e["rank"] for e in by_corpus["pm"]] == [1, 2]
    assert [e["doc_id"] for e in by_corpus["wiki"]] == ["Marfan_syndrome", "Congenital"]
    assert [e["supports"] for e in by_corpus["wiki"]] == [True, False]
    assert by_corpus["wiki"][0]["query"] == "Marfan syndrome"
    assert by_corpus["wiki"][0]["facts"] == ("OMIM:154700 name Marfan syndrome",)
    assert all(e["style"] != "raw" for e in row["evidence"])  # packs use corpus-styled queries
    useful = {(r.corpus, r.query.text): r.useful for r in result.runs}
    assert useful[("wiki", "Marfan syndrome")] is True
    assert useful[("wiki", "Congenital Abnormalities")] is False
    assert useful[("pm", '("Marfan syndrome" OR "Marfan\'s Syndrome")')] is True
    assert result.counts["items_with_support"] == 1
    assert result.counts["by_corpus"]["wiki"] == {"queries": 3, "useful": 2}


def test_written_dataset_is_complete_trl_shaped_and_byte_identical(tmp_path: Path):
    rows = [GENE_ITEM, PHENOTYPE_ITEM]
    outs = []
    for name in ("a", "b"):
        result = attach_evidence(rows, corpora(), QueryGenerator(small()), k=2)
        manifest = write_evidence_dataset(result, tmp_path / name, {"source": {"seed": 1}})
        outs.append(tmp_path / name)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == [
        ".medkg-output.json",
        "items.jsonl",
        "manifest.json",
        "queries.jsonl",
        "queries_negative.jsonl",
        "queries_positive.jsonl",
        "query_dpo.jsonl",
        "query_sft.jsonl",
    ]
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    assert set(manifest["files"]) == set(files) - {"manifest.json", ".medkg-output.json"}
    assert manifest["k"] == 2 and [c["name"] for c in manifest["corpora"]] == ["pm", "wiki"]
    assert manifest["corpora"][0]["backend"] == "bm25"
    items = [json.loads(x) for x in (outs[0] / "items.jsonl").read_text().splitlines()]
    assert [i["id"] for i in items] == ["gene-marfan", "phenotype-marfan"]
    queries = [json.loads(x) for x in (outs[0] / "queries.jsonl").read_text().splitlines()]
    pos = (outs[0] / "queries_positive.jsonl").read_text().splitlines()
    neg = (outs[0] / "queries_negative.jsonl").read_text().splitlines()
    assert len(pos) == sum(q["useful"] for q in queries) and len(pos) + len(neg) == len(queries)
    sft = [json.loads(x) for x in (outs[0] / "query_sft.jsonl").read_text().splitlines()]
    assert sft and all(r["prompt"][0]["role"] == "system" for r in sft)
    assert all(r["completion"][0]["role"] == "assistant" for r in sft)
    assert all(r["completion"][0]["content"] != GENE_ITEM["question"] for r in sft)  # no raw
    dpo = [json.loads(x) for x in (outs[0] / "query_dpo.jsonl").read_text().splitlines()]
    pair = next(r for r in dpo if r["item_id"] == "gene-marfan")
    assert pair["corpus_kind"] == "encyclopedia"
    assert pair["chosen"] == [{"role": "assistant", "content": "Marfan syndrome"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "Congenital Abnormalities"}]
    assert (
        "Question: Which gene is associated with Marfan syndrome?" in pair["prompt"][1]["content"]
    )


def test_bad_inputs_are_named(tmp_path: Path):
    qgen = QueryGenerator(small())
    with pytest.raises(RetrievalError, match="no corpora"):
        attach_evidence([GENE_ITEM], [], qgen)
    with pytest.raises(RetrievalError, match="unique"):
        attach_evidence([GENE_ITEM], [*corpora(), corpora()[0]], qgen)
    bad = tmp_path / "items.jsonl"
    bad.write_text(json.dumps(GENE_ITEM) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(RetrievalError, match=r"items\.jsonl:2: not a JSON object"):
        read_item_rows(tmp_path)
    bad.write_text(json.dumps({"question": "q"}) + "\n", encoding="utf-8")
    with pytest.raises(RetrievalError, match=r":1: item lacks \['answer_id', 'entity_ids'\]"):
        read_item_rows(bad)
    with pytest.raises(RetrievalError, match=r"no items\.jsonl"):
        read_item_rows(tmp_path / "missing")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    result = attach_evidence([GENE_ITEM], corpora(), qgen, k=1)
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_evidence_dataset(result, taken)
    assert (taken / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_item_fields_of_the_wrong_type_are_named(tmp_path: Path):
    # a string where the list of entity ids belongs was read character by character: the
    # item silently had no cue (no graph query) and no support names
    path = tmp_path / "items.jsonl"
    for field, value in (
        ("entity_ids", "HP:0001166,OMIM:154700"),
        ("entity_ids", [["HP:0001166"]]),
        ("option_ids", "OMIM:154700"),
        ("path_nodes", 7),
        ("question", ["Which gene?"]),
        ("answer_id", None),
    ):
        path.write_text(
            json.dumps(GENE_ITEM) + "\n" + json.dumps({**GENE_ITEM, field: value}) + "\n",
            encoding="utf-8",
        )
        with pytest.raises(RetrievalError, match=rf"items\.jsonl:2: {field} must be"):
            read_item_rows(path)


def test_unreadable_source_manifest_is_named(tmp_path: Path):
    (tmp_path / "items.jsonl").write_text(json.dumps(GENE_ITEM) + "\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text('{"graph_hash": "ab', encoding="utf-8")
    with pytest.raises(RetrievalError, match=r"manifest\.json"):
        source_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"graph_hash": "ab12", "seed": 3}', encoding="utf-8")
    info = source_manifest(tmp_path)
    assert (info["graph_hash"], info["seed"]) == ("ab12", 3)
