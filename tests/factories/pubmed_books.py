"""PubMed files holding NCBI Bookshelf records (``PubmedBookArticle``) beside citations,
and what a reader must make of them, derived here from the XML text with
``xml.etree.ElementTree`` and regular expressions, never by medkg.

The fixture ``tests/retrieval/fixtures/pubmed-books-mixed.xml`` is a real citation (PMID
29768149, copied from ``pubmed-29768149.xml``) between three hand-written book records
(made-up PMIDs 90000101-90000103 and text). Their element names and order were checked
against the NLM's DTD ``pubmed_250101.dtd`` as vendored, byte for byte apart from its
MathML include, in populationgenomics/pubmed-proto (``pubmed.dtd``, found with the
``search`` tool): ``PubmedArticleSet ((PubmedArticle | PubmedBookArticle)+,
DeleteCitation?)``, ``PubmedBookArticle (BookDocument, PubmedBookData?)``,
``BookDocument (PMID, ArticleIdList, Book, LocationLabel*, ArticleTitle?,
VernacularTitle?, Pagination?, Language*, AuthorList*, InvestigatorList?,
PublicationType*, Abstract?, Sections?, KeywordList*, ContributionDate?, DateRevised?,
GrantList?, ItemList*, ReferenceList*)``, ``Book (Publisher, BookTitle, PubDate,
BeginningDate?, EndingDate?, AuthorList*, ..., CollectionTitle?, Isbn*, ELocationID*,
Medium?, ReportNumber?)``, ``PubDate ((Year, ((Month, Day?) | Season)?) | MedlineDate)``,
``ContributionDate (Year, ((Month, Day?) | Season)?)``, ``PubmedBookData (History?,
PublicationStatus, ArticleIdList, ObjectList?)``. The three book records were validated
once, by hand, with lxml against those declarations (and the ones they use) transcribed
into a DTD; lxml is no dependency of medkg, so that check is not a test.
"""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "retrieval" / "fixtures"
MIXED = FIXTURES / "pubmed-books-mixed.xml"

#: the revised chapter's title in the update file: words of the small graph
#: (tests/factories/graphs.py), so that linking shows which version was read
REVISED_TITLE = "Marfan syndrome with myopia and aortic root aneurysm (revised)"

_RECORD = re.compile(r"\s*<(PubmedArticle|PubmedBookArticle)>.*?</\1>", re.S)


@dataclass(frozen=True)
class Expected:
    """One record as a reader must give it."""

    kind: str  # the element: PubmedArticle or PubmedBookArticle
    doc_id: str
    title: str
    text: str
    year: int | None
    mesh: int  # number of MeSH headings


def _flat(elem: ET.Element | None) -> str:
    return " ".join("".join(elem.itertext()).split()) if elem is not None else ""


def _year(date: ET.Element | None) -> int | None:
    if date is None:
        return None
    if (date.findtext("Year") or "").isdigit():
        return int(date.findtext("Year") or "")
    found = re.search(r"\d{4}", date.findtext("MedlineDate") or "")
    return int(found.group(0)) if found else None


def expected_records(path: Path) -> list[Expected]:
    """The records of a PubMed file in file order, read with ElementTree: a citation's
    fields from ``MedlineCitation/Article``, a book's from ``BookDocument`` (title:
    ArticleTitle, else Book/BookTitle; year: Book/PubDate, else ContributionDate)."""
    out = []
    for rec in ET.parse(path).getroot():
        if rec.tag == "PubmedArticle":
            base = rec.find("MedlineCitation")
            assert base is not None
            body = base.find("Article")
            title = _flat(base.find("Article/ArticleTitle"))
            year = _year(base.find("Article/Journal/JournalIssue/PubDate"))
        elif rec.tag == "PubmedBookArticle":
            base = body = rec.find("BookDocument")
            assert base is not None
            title = _flat(base.find("ArticleTitle")) or _flat(base.find("Book/BookTitle"))
            year = _year(base.find("Book/PubDate")) or _year(base.find("ContributionDate"))
        else:
            continue
        assert body is not None
        pmid = base.find("PMID")
        assert pmid is not None and pmid.text
        version = pmid.get("Version", "1")
        sections = [
            (f"{s.get('Label')}: " if s.get("Label") else "") + _flat(s)
            for s in body.iterfind("Abstract/AbstractText")
        ]
        out.append(
            Expected(
                rec.tag,
                pmid.text if version == "1" else f"{pmid.text}.v{version}",
                title,
                "\n".join(sections) or title,
                year,
                len(base.findall("MeshHeadingList/MeshHeading")),
            )
        )
    return out


@dataclass(frozen=True)
class BookUpdates:
    """A baseline holding the mixed fixture and an update file that revises a book,
    adds a second version of it and deletes another book; what ``last`` must keep."""

    folder: Path
    kept: list[str]  # ids in corpus order, last occurrence wins, deletions removed
    revised: str  # a book PMID the update file revises
    deleted: str  # a book PMID the update file deletes
    repeated: int  # records superseded by a later one with the same id


def write_book_updates(folder: Path) -> BookUpdates:
    """``pubmed26n0001.xml.gz`` (the mixed fixture) and ``pubmed26n0002.xml.gz`` (a
    revised first book: new title, no abstract; its version 2; a ``DeleteCitation`` of
    the second book) in ``folder``; the expected ids come from the two files' text."""
    raw = MIXED.read_text()
    records = [m.group(0) for m in _RECORD.finditer(raw)]
    books = [r for r in records if "<PubmedBookArticle>" in r]
    head = raw[: raw.index(records[0])]
    revised = re.sub(r"<ArticleTitle([^>]*)>.*?</ArticleTitle>",
                     rf"<ArticleTitle\1>{REVISED_TITLE}</ArticleTitle>", books[0], flags=re.S)  # fmt: skip
    revised = re.sub(r"\s*<Abstract>.*?</Abstract>", "", revised, flags=re.S)
    version2 = revised.replace('<PMID Version="1">', '<PMID Version="2">')
    assert revised != books[0] and version2 != revised
    pmid = re.compile(r'<(?:MedlineCitation|BookDocument)[^>]*>\s*<PMID Version="(\d+)">(\d+)<')
    revised_pmid = pmid.search(books[0])[2]  # type: ignore[index]
    deleted_pmid = pmid.search(books[1])[2]  # type: ignore[index]
    delete = f'\n<DeleteCitation>\n<PMID Version="1">{deleted_pmid}</PMID>\n</DeleteCitation>'
    update = head + revised + version2 + delete + "\n</PubmedArticleSet>\n"
    folder.mkdir(parents=True)
    files = {"pubmed26n0001.xml.gz": raw, "pubmed26n0002.xml.gz": update}
    order: list[str] = []
    for name, text in files.items():
        (folder / name).write_bytes(gzip.compress(text.encode(), mtime=0))
        for v, p in pmid.findall(text):
            order.append(p if v == "1" else f"{p}.v{v}")
    kept = [i for n, i in enumerate(order) if i not in order[n + 1 :] and i != deleted_pmid]
    return BookUpdates(folder, kept, revised_pmid, deleted_pmid, len(order) - len(set(order)))
