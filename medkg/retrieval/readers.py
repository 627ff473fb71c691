"""Corpus readers: stream :class:`~medkg.retrieval.base.Document` s from files.

Formats (:data:`READERS`, chosen by :func:`detect_format` unless named):

``jsonl``
    One JSON object a line with an id, a title and a text field (names configurable).
``parquet``
    The same fields as columns, streamed in record batches.
``text``
    A folder of ``.txt``/``.md`` files, one document each: id = the path relative to the
    folder, title = the first non-blank line (Markdown ``#`` marks dropped) or the file
    stem when that line is longer than a title, text = the whole file.
``pubmed``
    PubMed/MEDLINE baseline XML (``.xml`` or ``.xml.gz``), streamed with
    ``xml.etree.ElementTree.iterparse`` and cleared record by record, so memory stays flat
    on a 40 MB baseline file. Both kinds of record of a ``PubmedArticleSet`` are read:
    journal citations (``PubmedArticle``) and NCBI Bookshelf books and chapters
    (``PubmedBookArticle``, counted in :attr:`ReadReport.books`). PMID is the id
    (``PMID.vN`` for version N > 1 of a versioned record), ArticleTitle the title (a
    book's BookTitle when it has none), the AbstractText sections (with their Label) the
    text; MeSH headings (none for books) and the publication year go to the metadata. A
    record without an abstract gives a title-only document (its text is the title) and is
    counted.

Bad input (a malformed JSON line, a record without its id or text, bytes that are not
UTF-8, malformed XML) raises :class:`~medkg.retrieval.base.RetrievalError` naming the file
and line (for XML the parser's line) with ``on_error="fail"``; with ``on_error="skip"`` the
record is left out and recorded in the :class:`ReadReport`. An XML parser cannot resume
after a syntax error, so a skip there ends that file (recorded as such). A corpus that
yields no document at all is an error naming its source.
"""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from medkg import xmlsafe
from medkg.retrieval.base import Document, RetrievalError

ON_ERROR = ("fail", "skip")
TEXT_SUFFIXES = (".txt", ".md")
MAX_TITLE_CHARS = 200  # a longer first line is a paragraph, not a title

_WS = re.compile(r"\s+")
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def where(path: str | Path, line: int | None = None) -> str:
    """``file:line`` (or the file alone) for error messages."""
    return f"{path}:{line}" if line is not None else str(path)


@dataclass(frozen=True)
class Skip:
    """One record left out: the file, its line (row for Parquet; None when unknown), why."""

    file: str
    line: int | None
    reason: str


@dataclass
class ReadReport:
    """What reading (and chunking) one corpus did; nothing is dropped without a count.

    ``title_only``: documents whose text is only their title (PubMed citations without an
    abstract); ``books``: PubMed book records (``PubmedBookArticle``) read as documents;
    ``empty``: records with no text, left out (or read but giving no chunk);
    ``skipped``: bad
    records left out with ``on_error="skip"``; ``bytes_read``: position in the source
    (compressed bytes for ``.gz``), for progress bars.
    """

    source: str = ""
    docs: int = 0
    chunks: int = 0
    title_only: int = 0
    books: int = 0
    empty: int = 0
    skipped: list[Skip] = field(default_factory=list)
    bytes_read: int = 0
    #: ids a PubMed update file deletes (its ``DeleteCitation`` list, in file order): kept
    #: out of :meth:`to_dict`; a corpus that keeps the latest versions drops them
    #: (:mod:`medkg.coverage.record_ids`)
    deleted: list[str] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def skipped_lines(self) -> list[int]:
        return [s.line for s in self.skipped if s.line is not None]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("bytes_read")
        out.pop("deleted")
        out["skipped_count"] = self.skipped_count
        return out


class _Problems:
    """Apply the on_error policy: raise a RetrievalError or record a Skip."""

    def __init__(self, on_error: str, report: ReadReport) -> None:
        if on_error not in ON_ERROR:
            raise RetrievalError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.skip = on_error == "skip"
        self.report = report

    def __call__(self, path: Path, line: int | None, reason: str) -> None:
        if not self.skip:
            raise RetrievalError(f"{where(path, line)}: {reason}")
        self.report.skipped.append(Skip(str(path), line, reason))


Reader = Callable[..., Iterator[Document]]
READERS: dict[str, Reader] = {}


def reader(fmt: str) -> Callable[[Reader], Reader]:
    """Register a reader function under a format name."""

    def deco(fn: Reader) -> Reader:
        READERS[fmt] = fn
        return fn

    return deco


def detect_format(path: str | Path) -> str:
    """The format of a source from its suffix (a folder is ``text``)."""
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        return "text"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".xml", ".xml.gz")):
        return "pubmed"
    if name.endswith(TEXT_SUFFIXES):
        return "text"
    raise RetrievalError(f"{path}: cannot tell the corpus format; name one of {sorted(READERS)}")


def read_documents(
    path: str | Path,
    fmt: str | None = None,
    *,
    on_error: str = "fail",
    report: ReadReport | None = None,
    **options: Any,
) -> Iterator[Document]:
    """Stream the documents of a corpus source; ``options`` go to the format's reader
    (e.g. ``text_field="abstract"`` for JSONL/Parquet). Counts go to ``report``."""
    path = Path(path)
    if not path.exists():
        raise RetrievalError(f"{path}: corpus source not found")
    fmt = fmt or detect_format(path)
    read = READERS.get(fmt)
    if read is None:
        raise RetrievalError(f"{path}: unknown corpus format {fmt!r}; known: {sorted(READERS)}")
    report = report if report is not None else ReadReport()
    report.source = report.source or str(path)
    problems = _Problems(on_error, report)
    try:
        docs = read(path, problems, report, **options)
    except TypeError as exc:  # an option the reader does not take
        raise RetrievalError(f"{path}: format {fmt!r}: {exc}") from None
    seen: set[str] = set()  # one id twice would give two chunks the same id
    for doc in docs:
        if doc.doc_id in seen:
            problems(path, None, f"duplicate document id {doc.doc_id!r}")
            continue
        seen.add(doc.doc_id)
        report.docs += 1
        yield doc
    if not seen:
        raise RetrievalError(f"{path}: corpus is empty (no documents); {_skip_note(report)}")


def _skip_note(report: ReadReport) -> str:
    lines = report.skipped_lines[:10]
    return f"{report.skipped_count} records skipped (lines {lines}), {report.empty} empty"


def _record_doc(
    path: Path,
    line: int,
    rec: Any,
    fields: tuple[str, str, str],
    problems: _Problems,
) -> Document | None:
    id_field, title_field, text_field = fields
    if not isinstance(rec, dict):
        problems(path, line, f"record is a {type(rec).__name__}, not an object")
        return None
    doc_id, text = rec.get(id_field), rec.get(text_field)
    if doc_id is None or doc_id == "":
        problems(path, line, f"id field {id_field!r} missing")
        return None
    if text is None:
        problems(path, line, f"text field {text_field!r} missing (record {doc_id})")
        return None
    if not isinstance(text, str):
        problems(path, line, f"text field {text_field!r} is a {type(text).__name__}, not text")
        return None
    title = rec.get(title_field)
    meta = {k: v for k, v in rec.items() if k not in fields}
    return Document(str(doc_id), "" if title is None else str(title), text, meta)


def record_fields(
    id_field: str = "id", title_field: str = "title", text_field: str = "text"
) -> tuple[str, str, str]:
    """The id, title and text field names of a record reader (JSONL, Parquet)."""
    return id_field, title_field, text_field


@reader("jsonl")
def read_jsonl(
    path: Path, problems: _Problems, report: ReadReport, **fields: str
) -> Iterator[Document]:
    """JSON Lines records (``fields``: see :func:`record_fields`); other keys of a record go
    to the document's metadata."""
    return _jsonl_docs(path, problems, report, record_fields(**fields))


def _jsonl_docs(
    path: Path, problems: _Problems, report: ReadReport, fields: tuple[str, str, str]
) -> Iterator[Document]:
    with path.open("rb") as fh:
        for line, raw in enumerate(fh, 1):
            report.bytes_read += len(raw)
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                problems(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
                continue
            if not text:
                continue
            try:
                rec = json.loads(text)
            except json.JSONDecodeError as exc:
                problems(path, line, f"malformed JSON: {exc.msg} (column {exc.colno})")
                continue
            doc = _record_doc(path, line, rec, fields, problems)
            if doc is not None:
                yield doc


@reader("parquet")
def read_parquet(
    path: Path, problems: _Problems, report: ReadReport, batch_size: int = 4096, **fields: str
) -> Iterator[Document]:
    """Parquet rows, streamed in batches (line numbers in messages are 1-based row numbers)."""
    return _parquet_docs(path, problems, report, batch_size, record_fields(**fields))


def _parquet_docs(
    path: Path,
    problems: _Problems,
    report: ReadReport,
    batch_size: int,
    fields: tuple[str, str, str],
) -> Iterator[Document]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise RetrievalError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    for needed in (fields[0], fields[2]):
        if needed not in names:
            raise RetrievalError(f"{path}: column {needed!r} missing; columns: {names}")
    total_rows = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size
    row = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for rec in batch.to_pylist():
            row += 1
            doc = _record_doc(path, row, rec, fields, problems)
            if doc is not None:
                yield doc
        report.bytes_read = size * row // total_rows


@reader("text")
def read_text_folder(
    path: Path, problems: _Problems, report: ReadReport, suffixes: tuple[str, ...] = TEXT_SUFFIXES
) -> Iterator[Document]:
    """One document per text file below a folder (or a single file), in path order."""
    if path.is_dir():
        files = sorted(
            (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes),
            key=lambda p: p.relative_to(path).as_posix(),
        )
        root = path
    else:
        files, root = [path], path.parent
    for file in files:
        raw = file.read_bytes()
        report.bytes_read += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            problems(file, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
            continue
        if not text.strip():
            report.empty += 1
            continue
        first = next(ln for ln in text.splitlines() if ln.strip())
        title = first.strip().lstrip("#").strip() if file.suffix.lower() == ".md" else first.strip()
        if not title or len(title) > MAX_TITLE_CHARS:
            title = file.stem
        doc_id = file.relative_to(root).as_posix()
        yield Document(doc_id, title, text, {"path": doc_id})


# ----------------------------------------------------------------------------- PubMed XML
@reader("pubmed")
def read_pubmed_xml(path: Path, problems: _Problems, report: ReadReport) -> Iterator[Document]:
    """The records of a PubMed baseline or update file (citations and books, in file
    order); the PMIDs of an update file's ``DeleteCitation`` list go to ``report.deleted``
    (ids as records get them)."""
    raw = path.open("rb")
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(path) else raw  # type: ignore[assignment]
    ordinal = 0
    numbers = dict.fromkeys(_RECORDS, 0)  # per kind: what an error about a record names
    try:
        events = xmlsafe.iterparse(stream, events=("start", "end"))
        root: ET.Element | None = None
        for event, elem in events:
            if root is None:
                root = elem
            if event == "end" and elem.tag == "DeleteCitation":
                # <!ELEMENT DeleteCitation (PMID+)>, after the last PubmedArticle
                report.deleted += [_doc_id(_text(p), _version(p))
                                   for p in elem.iterfind("PMID") if _text(p)]  # fmt: skip
                continue
            if event != "end" or elem.tag not in _RECORDS:
                continue
            ordinal += 1
            numbers[elem.tag] += 1
            doc = _RECORDS[elem.tag](path, numbers[elem.tag], elem, problems, report)
            report.bytes_read = raw.tell()
            root.clear()  # drop the finished record (and the husks of earlier ones)
            if doc is not None:
                yield doc
    except xmlsafe.UnsafeXMLError as exc:
        problems(path, None, f"{exc}; rest of file not read")
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]  # expat's message without its own position
        problems(path, line, f"malformed XML: {reason} (column {column}); rest of file not read")
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
        problems(path, None, f"cannot read compressed XML after record {ordinal}: {exc}")
    finally:
        stream.close()
        raw.close()


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _text(elem: ET.Element | None) -> str:
    """All text of an element (inline markup such as <i> or <sub> flattened), whitespace collapsed."""
    if elem is None:
        return ""
    return _WS.sub(" ", "".join(elem.itertext())).strip()


def _record_pmid(
    path: Path, ordinal: int, record: ET.Element, body: str, problems: _Problems
) -> tuple[ET.Element, str, int] | None:
    """``(body element, PMID, version)`` of a PubMed record (``body``: ``MedlineCitation``
    or ``BookDocument``), or None after telling ``problems`` it has none. A revised article
    (Wellcome Open Research, F1000Research...) has one record per version under the same
    PMID, often in the same file: versions after the first get their own id (``_doc_id``)
    so that none is lost as a duplicate."""
    element = record.find(body)
    pmid_elem = element.find("PMID") if element is not None else None
    pmid = _text(pmid_elem)
    if element is None or pmid_elem is None or not pmid:
        problems(path, None, f"{record.tag} number {ordinal} has no {body}/PMID")
        return None
    return element, pmid, _version(pmid_elem)


def _citation(
    path: Path, ordinal: int, article: ET.Element, problems: _Problems, report: ReadReport
) -> Document | None:
    found = _record_pmid(path, ordinal, article, "MedlineCitation", problems)
    if found is None:
        return None
    citation, pmid, version = found
    doc_id = _doc_id(pmid, version)
    art = citation.find("Article")
    title = _first_text(art, "ArticleTitle", "VernacularTitle") if art is not None else ""
    meta: dict[str, Any] = {
        "pmid": pmid,
        "version": version,
        "year": _pub_year(art),
        "journal": _text(art.find("Journal/Title")) if art is not None else "",
        "mesh": [_heading(h) for h in citation.iterfind("MeshHeadingList/MeshHeading")],
    }
    return _record_document(doc_id, title, _abstract(art), meta, report)


def _book(
    path: Path, ordinal: int, article: ET.Element, problems: _Problems, report: ReadReport
) -> Document | None:
    """A ``PubmedBookArticle``: an NCBI Bookshelf book or chapter (DTD pubmed_250101:
    ``BookDocument (PMID, ArticleIdList, Book, LocationLabel*, ArticleTitle?,
    VernacularTitle?, ..., Abstract?, ..., ContributionDate?, ...)``). A chapter has its
    ArticleTitle; a whole book has only its ``Book/BookTitle``. Books carry no MeSH
    headings and no journal."""
    found = _record_pmid(path, ordinal, article, "BookDocument", problems)
    if found is None:
        return None
    book, pmid, version = found
    book_title = _text(book.find("Book/BookTitle"))
    title = _first_text(book, "ArticleTitle") or book_title or _first_text(book, "VernacularTitle")
    meta: dict[str, Any] = {
        "pmid": pmid,
        "version": version,
        "year": _year_of(book.find("Book/PubDate")) or _year_of(book.find("ContributionDate")),
        "journal": "",
        "book": book_title,
        "mesh": [],
    }
    doc = _record_document(_doc_id(pmid, version), title, _abstract(book), meta, report)
    if doc is not None:
        report.books += 1
    return doc


#: the records of a ``PubmedArticleSet`` (``(PubmedArticle | PubmedBookArticle)+``), by tag
_RECORDS: dict[str, Callable[..., Document | None]] = {
    "PubmedArticle": _citation,
    "PubmedBookArticle": _book,
}


def _first_text(parent: ET.Element, *tags: str) -> str:
    """The text of the first of ``tags`` under ``parent`` that has any."""
    return next((t for t in (_text(parent.find(tag)) for tag in tags) if t), "")


def _abstract(parent: ET.Element | None) -> str:
    """The ``Abstract/AbstractText`` sections under ``parent``, one a line, each with its
    Label (``BACKGROUND: ...``) when it has one."""
    if parent is None:
        return ""
    sections = []
    for sec in parent.iterfind("Abstract/AbstractText"):
        body = _text(sec)
        if body:
            label = sec.get("Label")
            sections.append(f"{label}: {body}" if label else body)
    return "\n".join(sections)


def _record_document(
    doc_id: str, title: str, abstract: str, meta: dict[str, Any], report: ReadReport
) -> Document | None:
    """A PubMed record's document: its abstract, or its title alone (counted); a record
    with neither is counted empty and left out."""
    if not abstract and not title:
        report.empty += 1
        return None
    if not abstract:
        report.title_only += 1
    return Document(doc_id, title, abstract or title, {**meta, "has_abstract": bool(abstract)})


def _version(pmid: ET.Element) -> int:
    """The version of a ``<PMID Version="N">`` element (1 when absent or not a number)."""
    text = pmid.get("Version", "1")
    return int(text) if text.isdigit() else 1


def _doc_id(pmid: str, version: int) -> str:
    """A citation's id: its PMID, with ``.vN`` for a version N other than 1."""
    return pmid if version == 1 else f"{pmid}.v{version}"


def _pub_year(art: ET.Element | None) -> int | None:
    if art is None:
        return None
    issue = art.find("Journal/JournalIssue/PubDate")
    # the issue's Year, else the electronic date's, else the issue's MedlineDate range
    return (
        _year_of(issue, medline_date=False) or _year_of(art.find("ArticleDate")) or _year_of(issue)
    )


def _year_of(date: ET.Element | None, medline_date: bool = True) -> int | None:
    """The year of a date element: its ``Year``, else (with ``medline_date``) the first
    year in a ``MedlineDate`` such as ``1998 Dec-1999 Jan``."""
    if date is None:
        return None
    year = _text(date.find("Year"))
    if year.isdigit():
        return int(year)
    match = _YEAR.search(_text(date.find("MedlineDate"))) if medline_date else None
    return int(match.group(1)) if match else None


def _heading(heading: ET.Element) -> dict[str, Any]:
    desc = heading.find("DescriptorName")
    qualifiers = [
        {"name": _text(q), "ui": q.get("UI", ""), "major": q.get("MajorTopicYN") == "Y"}
        for q in heading.iterfind("QualifierName")
    ]
    major = desc is not None and desc.get("MajorTopicYN") == "Y"
    return {
        "name": _text(desc),
        "ui": desc.get("UI", "") if desc is not None else "",
        # a heading is a major topic when its descriptor or one of its qualifiers is starred
        "major": major or any(q["major"] for q in qualifiers),
        "qualifiers": qualifiers,
    }
