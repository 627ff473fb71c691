"""Chunking policy, corpus specs, the corpus registry and streaming a corpus as chunks."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

import pytest

from medkg.kg.stores.embedded import EmbeddedStore
from medkg.retrieval.base import Document, RetrievalError
from medkg.retrieval.corpus import (
    CorpusRegistry,
    CorpusSpec,
    ReadReport,
    chunk_document,
    iter_chunks,
    read_corpus,
)
from tests.factories.graphs import small_graph

FIXTURES = Path(__file__).parent / "fixtures"
PUBMED_GZ = FIXTURES / "pubmed21n1298-excerpt.xml.gz"

SENTENCES = [
    "Marfan syndrome is a disorder of connective tissue.",
    "It is caused by variants in FBN1, which encodes fibrillin-1.",
    "Patients are often tall, with long slender fingers (arachnodactyly).",
    "The most serious complication is dilatation of the aortic root!",
    "Is lens dislocation common? Yes, in about 60% of patients.",
]


def check_invariants(doc: Document, chunks: list, size: int, overlap: int) -> None:
    text = doc.text
    assert [c.chunk_id for c in chunks] == [f"c:{doc.doc_id}:{i}" for i in range(len(chunks))]
    for prev, chunk in zip([None, *chunks], chunks, strict=False):
        assert chunk.text == text[chunk.start : chunk.end]
        assert 0 < len(chunk.text) <= size
        assert chunk.text == chunk.text.strip()
        if prev is not None:
            assert prev.start < chunk.start
            assert text[prev.end : chunk.start].strip() == ""  # no gap but whitespace
            assert prev.end - chunk.start <= overlap
            if not text[chunk.start - 1].isspace():  # half a word only after a hard cut
                assert prev.end - prev.start == size and not text[prev.end].isspace()
                assert not any(ch.isspace() for ch in text[chunk.start : prev.end])
    assert chunks[0].start == len(text) - len(text.lstrip())
    assert chunks[-1].end == len(text.rstrip())


def test_chunks_cut_at_sentence_ends_with_overlap() -> None:
    text = " ".join(SENTENCES * 6)
    doc = Document("D1", "Marfan syndrome", text, {"year": 2020})
    chunks = chunk_document(doc, "c", size=200, overlap=60)
    check_invariants(doc, chunks, 200, 60)
    assert all(c.title == "Marfan syndrome" and c.metadata == {"year": 2020} for c in chunks)
    # every chunk but the last ends a sentence; every later chunk starts at a word
    assert all(c.text[-1] in ".!?)" for c in chunks[:-1])
    assert all(text[c.start - 1] == " " for c in chunks[1:])
    # consecutive chunks share text (the overlap)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))
    assert chunk_document(doc, "c", size=200, overlap=60) == chunks  # deterministic


def test_chunk_without_spaces_is_cut_hard() -> None:
    doc = Document("seq", "", "ACGT" * 30)
    chunks = chunk_document(doc, "c", size=50, overlap=10)
    assert [(c.start, c.end) for c in chunks] == [(0, 50), (40, 90), (80, 120)]


def test_short_and_blank_documents() -> None:
    (only,) = chunk_document(Document("s", "T", "  short text \n"), "c")
    assert (only.text, only.start, only.end, only.chunk_id) == ("short text", 2, 12, "c:s:0")
    assert chunk_document(Document("b", "T", " \n\t"), "c") == []


def test_default_policy_is_1000_with_200_overlap() -> None:
    doc = Document("d", "", " ".join(SENTENCES * 40))
    chunks = chunk_document(doc, "c")
    check_invariants(doc, chunks, 1000, 200)
    assert max(len(c.text) for c in chunks) > 900


def test_random_texts_keep_invariants() -> None:
    rng = random.Random(7)
    words = ["a", "fibrillin", "aortic", "root.", "syndrome,", "x" * 30, "end!\n", "(lens)"]
    for trial in range(60):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 300)))
        size = rng.randint(20, 300)
        overlap = rng.randint(0, size - 1)
        doc = Document(f"r{trial}", "", text)
        check_invariants(doc, chunk_document(doc, "c", size, overlap), size, overlap)


def test_bad_policy() -> None:
    doc = Document("d", "", "text")
    with pytest.raises(RetrievalError, match=r"chunking c:d: overlap must be in \[0, 100\)"):
        chunk_document(doc, "c", size=100, overlap=100)
    with pytest.raises(RetrievalError, match="chunk_size must be a positive integer"):
        chunk_document(doc, "c", size=0, overlap=0)


# ----------------------------------------------------------------------------- specs
def test_spec_checks() -> None:
    spec = CorpusSpec("notes", "lecture-notes", "n.jsonl")  # a user-defined kind
    assert (spec.chunk_size, spec.overlap, spec.is_builtin_kind) == (1000, 200, False)
    with pytest.raises(RetrievalError, match="no ':'"):
        CorpusSpec("pub:med", "research", "x")
    with pytest.raises(RetrievalError, match="kind is empty"):
        CorpusSpec("p", " ", "x")
    with pytest.raises(RetrievalError, match="unknown format 'xml'"):
        CorpusSpec("p", "research", "x", format="xml")
    with pytest.raises(RetrievalError, match=r"corpus 'p': overlap must be"):
        CorpusSpec("p", "research", "x", chunk_size=100, overlap=150)


# ----------------------------------------------------------------------------- registry
def test_registry_add_get_list_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    reg = CorpusRegistry(tmp_path / "reg")
    assert reg.list() == [] and not reg.path.exists()
    pub = reg.add(CorpusSpec("pubmed", "research", "data/pubmed.xml.gz", description="MEDLINE"))
    assert pub.source == str(tmp_path / "data" / "pubmed.xml.gz")  # made absolute
    reg.add(CorpusSpec("books", "textbook", str(tmp_path), options={"suffixes": [".txt"]}))
    assert [s.name for s in reg.list()] == ["books", "pubmed"]
    assert reg.get("pubmed") == pub and "books" in reg and len(reg) == 2
    with pytest.raises(RetrievalError, match="corpus 'pubmed' already exists"):
        reg.add(CorpusSpec("pubmed", "research", "other.xml"))
    reg.add(CorpusSpec("pubmed", "research", "other.xml", chunk_size=500), replace=True)
    assert CorpusRegistry(tmp_path / "reg").get("pubmed").chunk_size == 500  # persisted
    saved = json.loads(reg.path.read_text())
    assert saved["version"] == 1 and [c["name"] for c in saved["corpora"]] == ["books", "pubmed"]
    assert reg.remove("books").kind == "textbook"
    with pytest.raises(
        RetrievalError, match=r"corpora\.json: no corpus 'books'; known: \['pubmed'\]"
    ):
        reg.get("books")


def test_registry_default_folder_is_under_medkg_home(medkg_home: Path) -> None:
    assert CorpusRegistry().path == medkg_home / "retrieval" / "corpora.json"


def test_registry_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = CorpusRegistry(tmp_path)
    reg.add(CorpusSpec("a", "research", "/data/a.jsonl"))
    before = reg.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        reg.add(CorpusSpec("b", "research", "/data/b.jsonl"))
    assert reg.path.read_bytes() == before  # the old registry is whole
    assert [p.name for p in tmp_path.iterdir()] == ["corpora.json"]  # no temporary left


def test_registry_rejects_damaged_file(tmp_path: Path) -> None:
    reg = CorpusRegistry(tmp_path)
    reg.path.write_text("{not json")
    with pytest.raises(RetrievalError, match=r"corpora\.json: unreadable corpus registry"):
        reg.list()
    reg.path.write_text(
        json.dumps({"corpora": [{"name": "a", "kind": "x", "source": "s", "colour": "red"}]})
    )
    with pytest.raises(RetrievalError, match=r"corpus 'a': unknown fields \['colour'\]"):
        reg.list()


# ----------------------------------------------------------------------------- streaming
def test_iter_chunks_pubmed_with_report() -> None:
    spec = CorpusSpec("pubmed", "research", str(PUBMED_GZ), chunk_size=600, overlap=100)
    report = ReadReport()
    chunks = list(iter_chunks(spec, report=report, progress=False))
    assert report.docs == 8 and report.chunks == len(chunks) > 8
    assert report.title_only == 1
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert chunks[0].chunk_id == "pubmed:10704411:0" and chunks[0].corpus == "pubmed"
    assert all(len(c.text) <= 600 and c.metadata["pmid"] == c.doc_id for c in chunks)
    # the progress bar changes nothing
    assert list(iter_chunks(spec, progress=True)) == chunks


def test_iter_chunks_skip_reports_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"id": "1", "text": "one"}\n{"id": 2\n{"id": "3", "text": "three"}\n{"id": "4", "text": ""}\n'
    )
    spec = CorpusSpec("c", "guideline", str(path))
    with pytest.raises(RetrievalError, match=r"c\.jsonl:2: malformed JSON"):
        read_corpus(spec)
    chunks, report = read_corpus(spec, on_error="skip")
    assert [c.chunk_id for c in chunks] == ["c:1:0", "c:3:0"]
    assert report.to_dict()["skipped"] == [
        {"file": str(path), "line": 2, "reason": report.skipped[0].reason}
    ]
    assert report.skipped_lines == [2] and report.chunks == 2
    assert report.docs == 3 and report.empty == 1  # record 4 has no text to chunk


def test_graph_corpus_from_an_embedded_store(tmp_path: Path) -> None:
    EmbeddedStore(tmp_path / "graph").save(small_graph())
    spec = CorpusSpec(
        "kg", "graph", str(tmp_path / "graph"), format="graph", chunk_size=2000, overlap=0
    )
    chunks, report = read_corpus(spec)
    assert report.docs == len(chunks) == 20  # one chunk per card
    marfan = next(c for c in chunks if c.doc_id == "OMIM:154700")
    assert marfan.chunk_id == "kg:OMIM:154700:0" and marfan.title == "Marfan syndrome"
    with pytest.raises(RetrievalError, match="cannot read the graph store"):
        read_corpus(CorpusSpec("kg", "graph", str(tmp_path), format="graph"))
