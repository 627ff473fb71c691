"""Corpus readers on real-format input: PubMed baseline XML (real NLM records), JSONL,
Parquet and text folders; bad input fails naming file and line, or is skipped and counted."""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

from medkg.retrieval.base import RetrievalError
from medkg.retrieval.readers import ReadReport, detect_format, read_documents

FIXTURES = Path(__file__).parent / "fixtures"
PUBMED_XML = FIXTURES / "pubmed-29768149.xml"  # one real citation (NEJM 2018, SYGMA 1)
PUBMED_GZ = FIXTURES / "pubmed21n1298-excerpt.xml.gz"  # 8 records of baseline pubmed21n1298
GZ_PMIDS = [
    "10704411",
    "8454279",
    "15320745",
    "12486199",
    "25205585",
    "25242986",
    "29450256",
    "29426732",
]


def excerpt_text() -> str:
    return gzip.decompress(PUBMED_GZ.read_bytes()).decode("utf-8")


def read(path: Path, **kw: object) -> tuple[list, ReadReport]:
    report = ReadReport()
    docs = list(read_documents(path, report=report, **kw))  # type: ignore[arg-type]
    return docs, report


# ----------------------------------------------------------------------------- PubMed
def test_pubmed_real_citation_fields() -> None:
    (doc,), report = read(PUBMED_XML)
    assert doc.doc_id == "29768149"
    assert doc.title == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    sections = doc.text.split("\n")
    assert [s.split(":")[0] for s in sections] == [
        "BACKGROUND",
        "METHODS",
        "RESULTS",
        "CONCLUSIONS",
    ]
    # inline <sub> markup is flattened, whitespace collapsed
    assert "fast-acting β 2-agonist may be an alternative" in sections[0]
    assert doc.metadata["year"] == 2018
    assert doc.metadata["journal"] == "The New England journal of medicine"
    mesh = {h["name"]: h for h in doc.metadata["mesh"]}
    assert len(mesh) == 23
    assert mesh["Adult"] == {"name": "Adult", "ui": "D000328", "major": False, "qualifiers": []}
    # the descriptor is not starred but its qualifier is: a major topic
    assert mesh["Asthma"]["ui"] == "D001249" and mesh["Asthma"]["major"] is True
    assert mesh["Asthma"]["qualifiers"] == [
        {"name": "drug therapy", "ui": "Q000188", "major": True}
    ]
    assert report.docs == 1 and report.title_only == 0 and report.skipped == []


def test_pubmed_gz_baseline_excerpt() -> None:
    docs, report = read(PUBMED_GZ)
    assert [d.doc_id for d in docs] == GZ_PMIDS  # DeleteCitation PMIDs are not documents
    assert detect_format(PUBMED_GZ) == "pubmed"
    by_id = {d.doc_id: d for d in docs}
    title_only = by_id["25205585"]
    assert title_only.metadata["has_abstract"] is False
    assert title_only.text == title_only.title.strip()
    assert title_only.title.startswith("Comparison of spirometric thresholds")
    assert report.title_only == 1 and report.docs == 8
    assert by_id["10704411"].text.startswith("BACKGROUND: Drugs of abuse have a common property")
    assert by_id["25242986"].metadata["mesh"] == []
    assert "college students (n = 230)" in by_id["29450256"].text  # <i>n</i> flattened
    assert [d.metadata["year"] for d in docs][:4] == [2000, 1993, 2004, 2002]


PUBMED_VERSIONS = FIXTURES / "pubmed21n1298-versions.xml.gz"  # PMID 30271887, versions 1 and 2


def test_pubmed_versioned_citations_are_distinct_documents() -> None:
    # pubmed21n1298 holds versions 1-4 of PMID 30271887 (a revised Wellcome Open Research article):
    # one PMID, several citations. Each version is its own document; version 1 keeps the bare
    # PMID as its id, so the ids of unversioned citations do not change.
    docs, report = read(PUBMED_VERSIONS)
    assert [d.doc_id for d in docs] == ["30271887", "30271887.v2"]
    assert [d.metadata["pmid"] for d in docs] == ["30271887", "30271887"]
    assert [d.metadata["version"] for d in docs] == [1, 2]
    assert all(d.title.startswith("Stage 2 Registered Report: Variation in") for d in docs)
    assert report.docs == 2 and report.skipped == []


def test_pubmed_medline_date_year(tmp_path: Path) -> None:
    text = PUBMED_XML.read_text(encoding="utf-8")
    text = re.sub(
        r"<PubDate>.*?</PubDate>",
        "<PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate>",
        text,
        count=1,
        flags=re.S,
    )
    path = tmp_path / "medline-date.xml"
    path.write_text(text, encoding="utf-8")
    (doc,), _ = read(path)
    assert doc.metadata["year"] == 1998


def corrupt_excerpt(tmp_path: Path) -> tuple[Path, int]:
    """The excerpt with the third title's end tag misspelt; returns the file and that line."""
    lines = excerpt_text().split("\n")
    n = [i for i, ln in enumerate(lines) if "</ArticleTitle>" in ln][2]
    lines[n] = lines[n].replace("</ArticleTitle>", "</ArticleTitel>")
    path = tmp_path / "broken.xml.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode("utf-8")))
    return path, n + 1


def test_pubmed_malformed_xml_fails_with_the_parser_line(tmp_path: Path) -> None:
    path, line = corrupt_excerpt(tmp_path)
    with pytest.raises(RetrievalError, match=rf"broken\.xml\.gz:{line}: malformed XML: mismatched"):
        read(path)


def test_pubmed_malformed_xml_skip_keeps_earlier_records(tmp_path: Path) -> None:
    path, line = corrupt_excerpt(tmp_path)
    docs, report = read(path, on_error="skip")
    assert [d.doc_id for d in docs] == GZ_PMIDS[:2]
    assert report.skipped_lines == [line]
    assert "rest of file not read" in report.skipped[0].reason
    assert report.skipped[0].file == str(path)


def test_pubmed_non_utf8_bytes_fail_with_line(tmp_path: Path) -> None:
    raw = PUBMED_XML.read_bytes().replace(b"mild asthma, as-needed", b"mild \xff asthma", 1)
    line = raw[: raw.index(b"\xff")].count(b"\n") + 1
    path = tmp_path / "latin.xml"
    path.write_bytes(raw)
    with pytest.raises(RetrievalError, match=rf"latin\.xml:{line}: malformed XML"):
        read(path)


def test_pubmed_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(PUBMED_GZ.read_bytes()[:6000])
    with pytest.raises(RetrievalError, match=r"cut\.xml\.gz"):
        read(path)
    docs, report = read(path, on_error="skip")
    assert report.skipped_count == 1 and len(docs) < 8


def synthetic_baseline(path: Path, n: int) -> Path:
    """A baseline-shaped file of ``n`` copies of the real citation with fresh PMIDs."""
    text = excerpt_text()
    head = text[: text.index("<PubmedArticle>")]
    article = re.search(r"<PubmedArticle>.*?</PubmedArticle>", text, re.S).group(0)  # type: ignore[union-attr]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(head)
        for i in range(n):
            fh.write(
                re.sub(r"<PMID Version=\"1\">\d+", f'<PMID Version="1">{i + 1}', article, count=1)
            )
        fh.write("</PubmedArticleSet>\n")
    return path


def test_pubmed_memory_stays_flat(tmp_path: Path) -> None:
    def peak(n: int) -> int:
        path = synthetic_baseline(tmp_path / f"big{n}.xml.gz", n)
        tracemalloc.start()
        count = sum(1 for _ in read_documents(path))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        return top

    small, big = peak(30), peak(300)
    assert big < 1.5 * small, (small, big)  # 10x the records, about the same peak


# ----------------------------------------------------------------------------- JSONL
def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def bad_jsonl(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "bad.jsonl",
        [
            json.dumps({"id": "a", "title": "A", "text": "alpha", "year": 2020}).encode(),
            b'{"id": "b", "title": "B", "text": "unterminated',
            b"",
            json.dumps({"id": "c", "title": "C"}).encode(),
            b'{"id": "d", "title": "D", "text": "caf\xe9"}',
            json.dumps({"id": "e", "text": "epsilon"}).encode(),
            b"[1, 2]",
        ],
    )


def test_jsonl_reads_fields_and_metadata(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [json.dumps({"pmid": 7, "headline": "T", "body": "text", "src": "x"}).encode()],
    )
    (doc,), _ = read(path, id_field="pmid", title_field="headline", text_field="body")
    assert (doc.doc_id, doc.title, doc.text, doc.metadata) == ("7", "T", "text", {"src": "x"})


def test_jsonl_bad_line_fails_naming_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match=r"bad\.jsonl:2: malformed JSON"):
        read(bad_jsonl(tmp_path))


def test_jsonl_skip_counts_lines(tmp_path: Path) -> None:
    docs, report = read(bad_jsonl(tmp_path), on_error="skip")
    assert [d.doc_id for d in docs] == ["a", "e"]
    assert docs[0].metadata == {"year": 2020} and docs[1].title == ""
    assert report.skipped_lines == [2, 4, 5, 7]
    reasons = [s.reason for s in report.skipped]
    assert reasons[1] == "text field 'text' missing (record c)"
    assert reasons[2].startswith("not UTF-8 text (byte 0xe9)")
    assert "not an object" in reasons[3]
    assert report.to_dict()["skipped_count"] == 4


def test_duplicate_ids_fail_or_are_skipped(tmp_path: Path) -> None:
    rec = json.dumps({"id": "a", "text": "alpha"}).encode()
    path = write_jsonl(
        tmp_path / "dup.jsonl", [rec, json.dumps({"id": "b", "text": "b"}).encode(), rec]
    )
    with pytest.raises(RetrievalError, match=r"dup\.jsonl: duplicate document id 'a'"):
        read(path)
    docs, report = read(path, on_error="skip")
    assert [d.doc_id for d in docs] == ["a", "b"] and report.skipped_count == 1


def test_jsonl_missing_text_fails(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [b'{"id": "x", "body": "t"}'])
    with pytest.raises(RetrievalError, match=r"m\.jsonl:1: text field 'text' missing"):
        read(path)


def test_empty_corpus_is_an_error(tmp_path: Path) -> None:
    empty = write_jsonl(tmp_path / "empty.jsonl", [b"", b"  "])
    with pytest.raises(RetrievalError, match=r"empty\.jsonl: corpus is empty"):
        read(empty)
    all_bad = write_jsonl(tmp_path / "allbad.jsonl", [b"{", b"nope"])
    with pytest.raises(RetrievalError, match=r"allbad\.jsonl: corpus is empty.*2 records skipped"):
        read(all_bad, on_error="skip")


def test_reader_options_and_sources_are_checked(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match="unexpected keyword argument 'txt_field'"):
        read(bad_jsonl(tmp_path), txt_field="body")
    with pytest.raises(RetrievalError, match="not found"):
        read(tmp_path / "missing.jsonl")
    with pytest.raises(RetrievalError, match="cannot tell the corpus format"):
        detect_format(tmp_path / "x.docx")
    with pytest.raises(RetrievalError, match="on_error must be one of"):
        read(bad_jsonl(tmp_path), on_error="ignore")


# ----------------------------------------------------------------------------- Parquet
def test_parquet_rows_and_null_text(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pl.DataFrame(
        {"id": ["p1", "p2", "p3"], "title": ["One", None, "Three"], "text": ["a", None, "c"]}
    ).write_parquet(path)
    with pytest.raises(RetrievalError, match=r"c\.parquet:2: text field 'text' missing"):
        read(path)
    docs, report = read(path, on_error="skip", batch_size=1)
    assert [(d.doc_id, d.title, d.text) for d in docs] == [("p1", "One", "a"), ("p3", "Three", "c")]
    assert report.skipped_lines == [2]
    with pytest.raises(RetrievalError, match=r"column 'body' missing"):
        read(path, text_field="body")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(RetrievalError, match="not a readable Parquet file"):
        read(tmp_path / "junk.parquet")


# ----------------------------------------------------------------------------- text folders
def test_text_folder(tmp_path: Path) -> None:
    root = tmp_path / "book"
    (root / "ch1").mkdir(parents=True)
    (root / "ch1" / "marfan.md").write_text("# Marfan syndrome\n\nA disorder of fibrillin.\n")
    (root / "a.txt").write_text("\n\nAortic root\nDilatation of the aortic root.\n")
    (root / "long.txt").write_text("x " * 150 + "\nmore")
    (root / "blank.txt").write_text("  \n")
    (root / "notes.csv").write_text("ignored")
    docs, report = read(root)
    assert [d.doc_id for d in docs] == ["a.txt", "ch1/marfan.md", "long.txt"]
    assert [d.title for d in docs] == ["Aortic root", "Marfan syndrome", "long"]
    assert docs[1].text == "# Marfan syndrome\n\nA disorder of fibrillin.\n"
    assert report.empty == 1 and report.docs == 3
    (root / "bad.txt").write_bytes(b"line one\nline two \xff\n")
    with pytest.raises(RetrievalError, match=r"bad\.txt:2: not UTF-8 text"):
        read(root)
