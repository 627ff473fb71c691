"""NCBI Bookshelf records (``PubmedBookArticle``) in PubMed files: read as documents like
citations, counted, refused or skipped without a PMID, and kept, superseded and deleted
like citations by ``--repeated-ids last``. Expected values come from the XML text
(tests/factories/pubmed_books.py: the fixture, its DTD check and the reference reader).
Ray: tests/engines/test_pubmed_books_ray.py."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus
from medkg.engines import LocalEngine
from medkg.errors import InputError
from medkg.retrieval.base import RetrievalError
from medkg.retrieval.readers import ReadReport, read_documents
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.graphs import small_graph
from tests.factories.pubmed_books import MIXED, REVISED_TITLE, expected_records, write_book_updates


def test_a_mixed_file_gives_its_books_as_documents_like_its_citations() -> None:
    want = expected_records(MIXED)
    # hand-checked against the fixture: a chapter, the NEJM citation, a whole book, a
    # chapter without abstract (its PubDate is a MedlineDate range)
    assert [(w.kind[6:], w.doc_id) for w in want] == [
        ("BookArticle", "90000101"),
        ("Article", "29768149"),
        ("BookArticle", "90000102"),
        ("BookArticle", "90000103"),
    ]
    assert [w.year for w in want] == [1993, 2018, 2019, 2010]
    report = ReadReport()
    docs = list(read_documents(MIXED, report=report))
    got = [(d.doc_id, d.title, d.text, d.metadata["year"], len(d.metadata["mesh"])) for d in docs]
    assert got == [(w.doc_id, w.title, w.text, w.year, w.mesh) for w in want]
    books = [w for w in want if w.kind == "PubmedBookArticle"]
    assert report.books == len(books) == 3 and report.docs == len(want)
    assert report.title_only == sum(w.text == w.title for w in want) == 1
    assert report.to_dict()["books"] == 3 and not report.skipped
    # a whole book (no ArticleTitle) is titled by its BookTitle, inline markup flattened
    whole = docs[2]
    assert whole.title == whole.metadata["book"] and "<i>" not in whole.title
    for doc in docs:
        is_book = doc.doc_id in {w.doc_id for w in books}
        assert (doc.metadata["mesh"] == []) is is_book
        assert doc.metadata["has_abstract"] is (doc.text != doc.title)


def test_a_book_year_falls_back_to_its_contribution_date(tmp_path: Path) -> None:
    """PubDate always exists (DTD) but a MedlineDate need not name a year."""
    path = tmp_path / "books.xml"
    path.write_text(MIXED.read_text().replace("<MedlineDate>2010-2012<", "<MedlineDate>Spring<"))
    want = expected_records(path)
    assert want[-1].year == 2011  # its ContributionDate
    docs = list(read_documents(path))
    assert [d.metadata["year"] for d in docs] == [w.year for w in want]


def test_a_book_without_pmid_is_refused_or_skipped_naming_file_and_record(tmp_path: Path) -> None:
    path = tmp_path / "books.xml"
    text = MIXED.read_text()
    pmid = '<PMID Version="1">90000102</PMID>'
    assert text.count(pmid) == 1  # the second book
    path.write_text(text.replace(pmid, '<PMID Version="1"></PMID>'))
    with pytest.raises(
        RetrievalError,
        match=rf"{re.escape(str(path))}: PubmedBookArticle number 2 has no BookDocument/PMID",
    ):
        list(read_documents(path))
    report = ReadReport()
    docs = list(read_documents(path, on_error="skip", report=report))
    assert [d.doc_id for d in docs] == ["90000101", "29768149", "90000103"]
    assert report.books == 2 and report.skipped_count == 1
    assert report.skipped[0].file == str(path) and "PubmedBookArticle number 2" in (
        report.skipped[0].reason
    )


def test_book_ids_and_deletions_reach_the_repeated_ids_pass(tmp_path: Path) -> None:
    """The pre-pass of ``--repeated-ids last`` reads a book's id and a DeleteCitation
    naming a book as it does a citation's."""
    up = write_book_updates(tmp_path / "pubmed")
    update = plan_shards(str(up.folder), 100)[-1]
    ids, deleted = ShardItems().ids(update)
    assert ids == [up.revised, f"{up.revised}.v2"] and deleted == [up.deleted]


def test_last_policy_keeps_the_latest_book_and_drops_a_deleted_one(tmp_path: Path) -> None:
    up = write_book_updates(tmp_path / "pubmed")
    linker = Linker.from_graph(small_graph())
    out = tmp_path / "m.parquet"
    res = link_corpus(linker, plan_shards(str(up.folder), 2), ShardItems(), LocalEngine(), out,
                      repeated_ids="last")  # fmt: skip
    assert (res.items, res.superseded, res.deleted) == (len(up.kept), up.repeated, 1)
    m = pl.read_parquet(out)
    linked = set(m.get_column("item_id"))
    assert up.deleted not in linked and linked <= set(up.kept)
    # the update's version of the revised chapter is the one linked: spans index its title
    for start, end, text in (
        m.filter(pl.col("item_id") == up.revised).select("start", "end", "text").iter_rows()
    ):
        assert REVISED_TITLE[start:end] == text
    assert {"marfan syndrome", "myopia"} <= {
        t.lower() for t in m.filter(pl.col("item_id") == up.revised)["text"]
    }
    # the default policy refuses the repeated book PMID, naming both records
    with pytest.raises(InputError, match=rf"item id '{up.revised}' appears twice in the corpus: "
                       r"\S*pubmed26n0001\.xml\.gz: citation 1 and "
                       r"\S*pubmed26n0002\.xml\.gz: citation 1\."):  # fmt: skip
        link_corpus(linker, plan_shards(str(up.folder), 100), ShardItems(), LocalEngine(),
                    tmp_path / "e.parquet")  # fmt: skip
