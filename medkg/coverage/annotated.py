"""Read entity-annotated corpora (gold mentions with concept ids) for linking evaluation.

Formats, chosen by suffix unless named (all UTF-8; a byte order mark at the start of the
file is skipped):

* **PubTator** (``.txt``, ``.pubtator``): blocks of ``PMID|t|title``, ``PMID|a|abstract``
  and tab-separated ``PMID start end text type ids`` lines, blank line between documents
  (the NCBI disease, BC5CDR and NLM-Gene corpora). The document text is title + " " +
  abstract, the offsets PubTator uses; relation lines (BC5CDR's ``PMID CID chemical
  disease``) are skipped. Read here, line by line, so an error can name its
  line (the ``bioc`` package's PubTator reader prints and skips malformed lines).
* **BioC** XML (``.xml``) or JSON (``.bioc.json``): read with the ``bioc`` package; the
  text is each passage placed at its ``offset`` (gaps filled with spaces), annotation
  ids from the infon ``identifier`` (or ``MESH``, ``NCBI Gene``, ``Identifier``), the
  type from ``type``. BioC carries no line numbers: errors name the document and
  annotation ids.
* **JSONL** (``.jsonl``): one document a line, ``{"id", "text", "mentions": [{"start",
  "end", "ids": [...] or "id": "...", "type"?}]}``.

Concept ids become CURIEs: ``D012345`` / ``C012345`` (MeSH descriptors and supplementary
concepts) become ``MESH:...``; ``PREFIX:local`` keeps a known prefix (upper-cased:
``OMIM``, ``MESH``, ``HP``, ``ORPHA``, ``DOID``, ``NCBIGene``, ...); a bare number on a gene
mention is an NCBI Gene id. In PubTator ids ``|``
separates the concepts of a composite mention ("breast and ovarian cancer") and ``+`` a
combination of concepts one mention needs; both give a mention several ids, and the
evaluation counts a predicted id that is any of them as right. ``-1`` (or no id) marks a
mention without a concept: it counts for span scores only.

Bad input raises :class:`CorpusError` naming the file and line (or document): offsets
outside the text or reversed, a mention text that differs from the text at its offsets,
an id with an unknown prefix, a document without text, a malformed line, no documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg import xmlsafe
from medkg.io import DatasetError

CORPUS_FORMATS = ("pubtator", "bioc-xml", "bioc-json", "jsonl")
KNOWN_PREFIXES = (
    "MESH", "OMIM", "HP", "ORPHA", "ORPHANET", "DOID", "MONDO", "NCBIGENE", "GENE",
    "DRUGBANK", "ICD10", "ICD10CM", "UMLS", "CHEBI", "DECIPHER",
)  # fmt: skip
# the spelling medkg's graph uses for a prefix (others: upper case)
_CANONICAL = {"NCBIGENE": "NCBIGene", "GENE": "NCBIGene", "ORPHANET": "ORPHA"}
_MESH_BARE = re.compile(r"^[CD]\d{6,9}$")
_NO_CONCEPT = {"", "-1", "-"}
_GENE_TYPES = {"gene", "geneorgeneproduct"}
# UTF-8; a byte order mark at the start (Windows editors write one) is not text
_ENCODING = "utf-8-sig"
_BIOC_ID_INFONS = ("identifier", "Identifier", "MESH", "NCBI Gene", "NCBIGene", "OMIM")


class CorpusError(DatasetError):
    """An annotated corpus cannot be read; names the file and line (or document)."""


@dataclass(frozen=True)
class GoldMention:
    """One annotated mention: span in the document text, corpus type, concept CURIEs."""

    start: int
    end: int
    text: str
    type: str
    ids: tuple[str, ...]
    line: int | None = field(default=None, compare=False)  # where it was read, for errors


@dataclass(frozen=True)
class AnnotatedDocument:
    """A document's text and its gold mentions (sorted by offset)."""

    id: str
    text: str
    mentions: tuple[GoldMention, ...]
    line: int | None = field(default=None, compare=False)  # its first line, for errors


def normalise_id(raw: str, path: str | Path, line: int | None = None, type_: str = "") -> str:
    """A corpus concept id as a CURIE (see the module docstring); :class:`CorpusError`
    for an unknown prefix. A bare number on a gene mention is an NCBI Gene id (the
    convention of gene corpora such as NLM-Gene and GNormPlus output)."""
    token = raw.strip()
    if _MESH_BARE.match(token):
        return f"MESH:{token}"
    if token.isdigit() and type_.lower() in _GENE_TYPES:
        return f"NCBIGene:{token}"
    prefix, sep, local = token.partition(":")
    if sep and local and prefix.upper() in KNOWN_PREFIXES:
        up = prefix.upper()
        return f"{_CANONICAL.get(up, up)}:{local.strip()}"
    raise CorpusError(
        path, f"concept id {raw!r} has no known prefix (known: {', '.join(KNOWN_PREFIXES)})",
        line=line,
    )  # fmt: skip


def parse_ids(
    field: str, path: str | Path, line: int | None = None, type_: str = ""
) -> tuple[str, ...]:
    """Split a PubTator id field on ``|`` / ``+`` / ``,`` into CURIEs (``-1`` -> none)."""
    if field.strip() in _NO_CONCEPT:
        return ()
    parts = [p for p in re.split(r"[|+,;]", field) if p.strip() not in _NO_CONCEPT]
    return tuple(dict.fromkeys(normalise_id(p, path, line, type_) for p in parts))


def _check_span(
    path: str | Path, doc_id: str, text: str, m: GoldMention, where: int | None, what: str = ""
) -> None:
    if not 0 <= m.start < m.end <= len(text):
        raise CorpusError(
            path, f"document {doc_id}: mention {m.text!r}{what} has offsets {m.start}-{m.end} "
            f"outside its text (0-{len(text)})", line=where,
        )  # fmt: skip
    if m.text and text[m.start : m.end] != m.text:
        raise CorpusError(
            path, f"document {doc_id}: mention {m.text!r}{what} at {m.start}-{m.end} but the "
            f"text there is {text[m.start : m.end]!r}", line=where,
        )  # fmt: skip


def detect_corpus_format(path: str | Path) -> str:
    """The corpus format implied by the file name."""
    name = Path(path).name.lower()
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".xml"):
        return "bioc-xml"
    if name.endswith(".json"):
        return "bioc-json"
    if name.endswith((".txt", ".pubtator")):
        return "pubtator"
    raise CorpusError(
        path, f"cannot tell the corpus format from the name; give one of {CORPUS_FORMATS}"
    )


# ----------------------------------------------------------------------------- PubTator
def _pubtator_block(path: Path, lines: list[tuple[int, str]]) -> AnnotatedDocument:
    pmid: str | None = None
    title: str | None = None
    abstract: str | None = None
    raw: list[tuple[int, list[str]]] = []
    for no, line in lines:
        head = re.match(r"^([^|\t]+)\|([ta])\|(.*)$", line)
        if head:
            if pmid is not None and head.group(1) != pmid:
                raise CorpusError(path, f"document {pmid}: line of document {head.group(1)} "
                                  "without a blank line between them", line=no)  # fmt: skip
            pmid = head.group(1)
            if head.group(2) == "t":
                title = head.group(3)
            else:
                abstract = head.group(3)
            continue
        cols = line.split("\t")
        if len(cols) in (4, 5) and not cols[1].isdigit():
            # a relation line, not a mention: BC5CDR's "PMID CID chemical disease"
            continue
        if len(cols) < 5:
            raise CorpusError(
                path, "malformed line: expected 'PMID|t|text', 'PMID|a|text' or "
                f"'PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>ids', got {line[:80]!r}", line=no,
            )  # fmt: skip
        raw.append((no, cols))
    first = lines[0][0]
    if pmid is None:
        raise CorpusError(path, "annotation lines without a 'PMID|t|' title line", line=first)
    text = " ".join(t for t in (title, abstract) if t is not None)
    if not text.strip():
        raise CorpusError(path, f"document {pmid} is empty (no title or abstract text)", line=first)
    mentions = []
    for no, cols in raw:
        if cols[0] != pmid:
            raise CorpusError(
                path, f"mention of document {cols[0]} inside document {pmid}", line=no
            )
        try:
            start, end = int(cols[1]), int(cols[2])
        except ValueError:
            raise CorpusError(path, f"offsets {cols[1]!r} {cols[2]!r} are not integers",
                              line=no) from None  # fmt: skip
        ids = parse_ids(cols[5] if len(cols) > 5 else "", path, no, cols[4])
        m = GoldMention(start, end, cols[3], cols[4], ids, no)
        _check_span(path, pmid, text, m, no)
        mentions.append(m)
    return AnnotatedDocument(
        pmid, text, tuple(sorted(mentions, key=lambda m: (m.start, m.end))), first
    )


def read_pubtator(path: str | Path) -> Iterator[AnnotatedDocument]:
    """Documents of a PubTator file (see the module docstring)."""
    path = Path(path)
    block: list[tuple[int, str]] = []
    with path.open(encoding=_ENCODING) as fh:
        for no, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                block.append((no, line))
            elif block:
                yield _pubtator_block(path, block)
                block = []
    if block:
        yield _pubtator_block(path, block)


# ----------------------------------------------------------------------------- JSONL
def _json_offset(value: Any) -> int:
    """A JSON offset as an int: an integer (or its digits as a string); a fraction or a
    boolean is a ValueError, not a character position to round."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def read_jsonl(path: str | Path) -> Iterator[AnnotatedDocument]:
    """Documents of a JSONL corpus: ``{"id", "text", "mentions": [...]}`` per line."""
    path = Path(path)
    with path.open(encoding=_ENCODING) as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(path, f"malformed JSON: {exc.msg}", line=no) from None
            if not isinstance(rec, dict):
                raise CorpusError(path, "a line must be a JSON object", line=no)
            text = rec.get("text")
            doc_id = str(rec.get("id", no))
            if not isinstance(text, str) or not text.strip():
                raise CorpusError(path, f"document {doc_id} has no text", line=no, field="text")
            mentions = []
            listed = rec.get("mentions") or []
            if not isinstance(listed, list):
                raise CorpusError(path, f"document {doc_id}: 'mentions' must be a list of "
                                  f"objects, got {listed!r:.40}", line=no)  # fmt: skip
            for k, m in enumerate(listed):
                try:
                    start, end = _json_offset(m["start"]), _json_offset(m["end"])
                except (KeyError, TypeError, ValueError):
                    raise CorpusError(path, f"document {doc_id}: mention {k} needs integer "
                                      "'start' and 'end'", line=no) from None  # fmt: skip
                raw_ids = m.get("ids", m.get("id", []))
                if isinstance(raw_ids, str):
                    raw_ids = [raw_ids]
                elif raw_ids is None:
                    raw_ids = []
                elif not isinstance(raw_ids, list):
                    raise CorpusError(path, f"document {doc_id}: mention {k} has ids {raw_ids!r}; "
                                      "give a string or a list of strings", line=no)  # fmt: skip
                mtype = str(m.get("type", ""))
                ids = tuple(
                    dict.fromkeys(
                        normalise_id(str(i), path, no, mtype)
                        for i in raw_ids
                        if str(i) not in _NO_CONCEPT
                    )
                )
                g = GoldMention(start, end, str(m.get("text", "")), str(m.get("type", "")), ids, no)
                _check_span(path, doc_id, text, g, no, f" (number {k})")
                mentions.append(g)
            yield AnnotatedDocument(
                doc_id, text, tuple(sorted(mentions, key=lambda g: (g.start, g.end))), no
            )


# ----------------------------------------------------------------------------- BioC
def _bioc_ids(infons: dict[str, Any], path: Path, where: str) -> tuple[str, ...]:
    for key in _BIOC_ID_INFONS:
        if infons.get(key):
            try:
                return parse_ids(str(infons[key]), path, None, str(infons.get("type", "")))
            except CorpusError as exc:
                raise CorpusError(path, f"{where}: {exc.args[0].split(': ', 1)[1]}") from None
    return ()


def read_bioc(path: str | Path, fmt: str = "bioc-xml") -> Iterator[AnnotatedDocument]:
    """Documents of a BioC XML or JSON collection, read with the ``bioc`` package."""
    import bioc
    from bioc import biocjson

    path = Path(path)
    try:
        if fmt == "bioc-xml":  # DTD entities are refused before lxml sees the file
            with path.open("rb") as raw:
                xmlsafe.check_no_entities(raw)
        with path.open(encoding=_ENCODING) as fh:
            collection = bioc.load(fh) if fmt == "bioc-xml" else biocjson.load(fh)
    except (ValueError, KeyError, TypeError, SyntaxError) as exc:  # XMLSyntaxError: a SyntaxError
        raise CorpusError(path, f"not a BioC {fmt[5:].upper()} collection: {exc}") from None
    for doc in collection.documents:
        pieces: list[str] = []
        length = 0
        annotations = []
        for passage in doc.passages:
            ptext = passage.text or ""
            if passage.offset > length:
                pieces.append(" " * (passage.offset - length))
                length = passage.offset
            elif passage.offset < length:
                raise CorpusError(path, f"document {doc.id}: passage at offset {passage.offset} "
                                  f"overlaps the text before it (ends at {length})")  # fmt: skip
            pieces.append(ptext)
            length += len(ptext)
            annotations.extend(passage.annotations)
        annotations.extend(doc.annotations)
        text = "".join(pieces)
        if not text.strip():
            raise CorpusError(path, f"document {doc.id} is empty (no passage text)")
        mentions = []
        for ann in annotations:
            where = f"document {doc.id}, annotation {ann.id}"
            ids = _bioc_ids(ann.infons, path, where)
            for loc in ann.locations:
                g = GoldMention(loc.offset, loc.offset + loc.length,
                                ann.text if len(ann.locations) == 1 else "",
                                ann.infons.get("type", ""), ids)  # fmt: skip
                _check_span(path, doc.id, text, g, None, f" (annotation {ann.id})")
                mentions.append(g)
        yield AnnotatedDocument(
            str(doc.id), text, tuple(sorted(mentions, key=lambda g: (g.start, g.end)))
        )


def read_corpus(path: str | Path, fmt: str | None = None) -> list[AnnotatedDocument]:
    """Every document of an annotated corpus (format from the name unless given)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "corpus file not found")
    fmt = fmt or detect_corpus_format(path)
    if fmt not in CORPUS_FORMATS:
        raise CorpusError(path, f"unknown corpus format {fmt!r}; one of {CORPUS_FORMATS}")
    try:
        if fmt == "pubtator":
            docs = list(read_pubtator(path))
        elif fmt == "jsonl":
            docs = list(read_jsonl(path))
        else:
            docs = list(read_bioc(path, fmt))
    except UnicodeDecodeError as exc:
        raise CorpusError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not docs:
        raise CorpusError(path, "no documents")
    seen: dict[str, int | None] = {}
    for d in docs:
        if d.id in seen:
            where = f" (first at line {seen[d.id]})" if seen[d.id] is not None else ""
            raise CorpusError(path, f"document id {d.id} appears twice{where}", line=d.line)
        seen[d.id] = d.line
    return docs


__all__ = [
    "CORPUS_FORMATS",
    "AnnotatedDocument",
    "CorpusError",
    "GoldMention",
    "detect_corpus_format",
    "normalise_id",
    "parse_ids",
    "read_bioc",
    "read_corpus",
    "read_jsonl",
    "read_pubtator",
]
