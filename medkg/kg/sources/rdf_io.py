"""RDF reading for the OWL source: formats, vocabulary IRIs, and one streaming pass over
the triples with errors that name the file and line."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException

from medkg import xmlsafe
from medkg.kg.sources.base import SourceError, check_readable

# File extension -> rdflib parser name (a trailing .gz is stripped first).
FORMAT_BY_SUFFIX: dict[str, str] = {
    ".owl": "xml",
    ".rdf": "xml",
    ".xml": "xml",
    ".rdfxml": "xml",
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".ntriples": "nt",
    ".n3": "n3",
    ".jsonld": "json-ld",
    ".json-ld": "json-ld",
}
FORMAT_ALIASES: dict[str, str] = {
    "rdfxml": "xml",
    "rdf/xml": "xml",
    "xml": "xml",
    "owl": "xml",
    "ttl": "turtle",
    "turtle": "turtle",
    "nt": "nt",
    "ntriples": "nt",
    "n-triples": "nt",
    "n3": "n3",
    "json-ld": "json-ld",
    "jsonld": "json-ld",
}

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_OBO = "http://purl.obolibrary.org/obo/"
_OIO = "http://www.geneontology.org/formats/oboInOwl#"
_DCTERMS = "http://purl.org/dc/terms/"
_DC = "http://purl.org/dc/elements/1.1/"

RDF_TYPE = _RDF + "type"
OWL_CLASS = _OWL + "Class"
OWL_THING = _OWL + "Thing"
OWL_ONTOLOGY = _OWL + "Ontology"
LABEL = _RDFS + "label"
PREF_LABEL = _SKOS + "prefLabel"
SUBCLASS_OF = _RDFS + "subClassOf"
EQUIVALENT_CLASS = _OWL + "equivalentClass"
DEPRECATED = _OWL + "deprecated"
COMMENT = _RDFS + "comment"
IAO_DEFINITION = _OBO + "IAO_0000115"
SKOS_DEFINITION = _SKOS + "definition"
IAO_REPLACED_BY = _OBO + "IAO_0100001"
HAS_DBXREF = _OIO + "hasDbXref"
CONSIDER = _OIO + "consider"
ALT_ID = _OIO + "hasAlternativeId"
NAMESPACE = _OIO + "hasOBONamespace"
IN_SUBSET = _OIO + "inSubset"
SYNONYM_SCOPES: dict[str, str] = {
    _OIO + "hasExactSynonym": "EXACT",
    _OIO + "hasNarrowSynonym": "NARROW",
    _OIO + "hasBroadSynonym": "BROAD",
    _OIO + "hasRelatedSynonym": "RELATED",
    _SKOS + "altLabel": "RELATED",
}
SCOPE_ORDER = {"EXACT": 0, "NARROW": 1, "BROAD": 2, "RELATED": 3}

_CLASS_PREDICATES = frozenset(
    {
        LABEL,
        PREF_LABEL,
        SUBCLASS_OF,
        EQUIVALENT_CLASS,
        DEPRECATED,
        COMMENT,
        IAO_DEFINITION,
        SKOS_DEFINITION,
        IAO_REPLACED_BY,
        HAS_DBXREF,
        CONSIDER,
        ALT_ID,
        NAMESPACE,
        IN_SUBSET,
        *SYNONYM_SCOPES,
    }
)
ONTOLOGY_PREDICATES = {
    "version_iri": _OWL + "versionIRI",
    "version_info": _OWL + "versionInfo",
    "license": _DCTERMS + "license",
    "license_dc": _DC + "license",
    "title": _DCTERMS + "title",
    "citation": _DCTERMS + "bibliographicCitation",
}
# owl:Axiom annotations of an annotation assertion (MONDO's xref sources).
ANNOTATED_SOURCE = _OWL + "annotatedSource"
ANNOTATED_PROPERTY = _OWL + "annotatedProperty"
ANNOTATED_TARGET = _OWL + "annotatedTarget"
OIO_SOURCE = _OIO + "source"
AXIOM_PREDICATES = frozenset({ANNOTATED_SOURCE, ANNOTATED_PROPERTY, ANNOTATED_TARGET, OIO_SOURCE})
WANTED_PREDICATES = _CLASS_PREDICATES | frozenset(ONTOLOGY_PREDICATES.values()) | AXIOM_PREDICATES
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def guess_rdf_format(path: Path) -> str:
    """rdflib parser name for a file, from its extension (``.gz`` allowed)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in (".ofn", ".omn", ".owx", ".obo"):
        hint = (
            "use the 'obo' source"
            if suffix == ".obo"
            else "convert it to RDF/XML or Turtle (e.g. robot convert)"
        )
        raise SourceError(path, f"{suffix} is not an RDF serialisation medkg reads; {hint}")
    try:
        return FORMAT_BY_SUFFIX[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMAT_BY_SUFFIX))
        raise SourceError(
            path,
            f"cannot tell the RDF format from the extension {suffix!r} (known: {known}); pass format=",
        ) from None


def _lang_rank(lang: str | None) -> int:
    if lang is None or lang == "":
        return 1
    lang = lang.lower()
    if lang == "en":
        return 0
    if lang.startswith("en-"):
        return 0
    return 2


def best_literal(values: Iterable[Any]) -> str | None:
    """English or untagged first, then alphabetically (deterministic across serialisations)."""
    ranked = sorted((_lang_rank(getattr(v, "language", None)), str(v).strip()) for v in values)
    for _rank, text in ranked:
        if text:
            return text
    return None


def is_true(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def parse_triples(path: Path, fmt: str) -> list[tuple[Any, Any, Any]]:
    """Parse the file with rdflib into a list of triples.

    Triples are captured as the parser emits them instead of being indexed in an rdflib
    store, which halves parse time on large files (the loader makes one pass anyway).
    Syntax errors become :class:`SourceError` with the line where one is known.
    """
    import rdflib  # lazily: only this source needs it

    class TripleCapture(rdflib.Graph):
        def __init__(self) -> None:
            super().__init__()
            self.captured: list[tuple[Any, Any, Any]] = []

        def add(self, triple: Any) -> TripleCapture:
            self.captured.append(triple)
            return self

        def addN(self, quads: Any) -> TripleCapture:
            self.captured.extend((s, p, o) for s, p, o, _ in quads)
            return self

    data = check_readable(path).read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except OSError as exc:
            raise SourceError(path, f"not a valid gzip file: {exc}") from exc
    if not data.strip():
        raise SourceError(path, "file is empty")
    head = data[:4096].lstrip()
    if head.startswith((b"Prefix(", b"Ontology(")):
        raise SourceError(path, "this is OWL functional syntax; convert it to RDF/XML or Turtle", 1)
    if fmt == "xml" and b"<Ontology" in head and b'xmlns="http://www.w3.org/2002/07/owl#"' in head:
        raise SourceError(path, "this is OWL/XML, not RDF/XML; convert it to RDF/XML or Turtle")
    if fmt in ("xml", "trix"):
        try:  # before rdflib's expat expands anything (an entity bomb stalls it for minutes)
            xmlsafe.check_no_entities(data, allow_shortcuts=True)
        except xmlsafe.UnsafeXMLError as exc:
            raise SourceError(path, str(exc)) from None
    graph = TripleCapture()
    try:
        graph.parse(source=io.BytesIO(data), format=fmt, publicID=path.resolve().as_uri())
    except SAXParseException as exc:
        raise SourceError(
            path, f"RDF/XML syntax error: {exc.getMessage()}", exc.getLineNumber()
        ) from exc
    except SyntaxError as exc:  # rdflib's notation3.BadSyntax (Turtle, N3)
        lines = getattr(exc, "lines", None)
        why = getattr(exc, "_why", None) or str(exc)
        line = lines + 1 if isinstance(lines, int) else None
        raise SourceError(path, f"{fmt} syntax error: {why}", line) from exc
    except Exception as exc:  # rdflib raises assorted types (ParserError, ValueError, ...)
        message = str(exc).strip() or type(exc).__name__
        line = _first_bad_ntriples_line(data) if fmt == "nt" else None
        raise SourceError(path, f"{fmt} parse error: {message}", line) from exc
    return graph.captured


def _first_bad_ntriples_line(data: bytes) -> int | None:
    """N-Triples errors do not carry a line number: re-check line by line (error path only)."""
    from rdflib.plugins.parsers.ntriples import W3CNTriplesParser

    class Discard:
        def triple(self, *_: Any) -> None:
            pass

    parser = W3CNTriplesParser(Discard())  # type: ignore[arg-type]
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        try:
            parser.parsestring(raw)
        except Exception:
            return number
    return None
