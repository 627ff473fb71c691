"""XML parsing that refuses DTD entity declarations (billion laughs, external entities).

Every XML reader in medkg goes through here: :func:`parse` and :func:`iterparse` are
``defusedxml``'s ElementTree functions (entity declarations and external references
raise), and :func:`check_no_entities` scans only the prolog of a document (the DTD comes
before the root element) for parsers that cannot take a defused parser, such as rdflib's
RDF/XML reader. A refused document raises :class:`UnsafeXMLError` at once, before any
expansion, so an 807-byte entity bomb fails in milliseconds instead of stalling.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any
from xml.parsers import expat

import defusedxml
import defusedxml.ElementTree as DET

from medkg.errors import InputError

ParseError = DET.ParseError
_CHUNK = 64 * 1024


class UnsafeXMLError(InputError):
    """An XML document declares DTD entities or references external ones."""


def _refusal(exc: defusedxml.DefusedXmlException) -> UnsafeXMLError:
    what = type(exc).__name__
    detail = {
        "EntitiesForbidden": "it declares DTD entities",
        "ExternalReferenceForbidden": "it references an external entity",
        "DTDForbidden": "it has a DTD",
        "NotSupportedError": "it uses an unsupported XML feature",
    }.get(what, what)
    return UnsafeXMLError(
        f"refusing to read XML: {detail} ({exc}); entity declarations can expand without "
        "bound or read local files, so medkg does not process them"
    )


def parse(source: str | Any) -> Any:
    """``ElementTree.parse`` without DTD entities (raises :class:`UnsafeXMLError`)."""
    try:
        return DET.parse(source)
    except defusedxml.DefusedXmlException as exc:
        raise _refusal(exc) from None


def iterparse(source: IO[bytes] | str, events: tuple[str, ...] = ("end",)) -> Iterator[Any]:
    """``ElementTree.iterparse`` without DTD entities (raises :class:`UnsafeXMLError`)."""
    try:
        yield from DET.iterparse(source, events=events)
    except defusedxml.DefusedXmlException as exc:
        raise _refusal(exc) from None


class _RootReached(Exception):
    pass


MAX_ENTITY_CHARS = 512
"""Longest replacement text a namespace-shortcut entity may have in an RDF/XML prolog."""


def check_no_entities(data: bytes | IO[bytes], allow_shortcuts: bool = False) -> None:
    """Raise :class:`UnsafeXMLError` when the document's DTD declares entities. Only the
    prolog is parsed (the DTD precedes the root element), so the check is instant.

    With ``allow_shortcuts`` (RDF/XML from ontology editors, which abbreviate namespace
    IRIs as ``<!ENTITY obo "http://purl.obolibrary.org/obo/">``), plain internal entities
    are accepted: replacement text without entity or parameter references and at most
    :data:`MAX_ENTITY_CHARS` characters, so nothing nests or amplifies. External,
    parameter and nested entities are always refused. Malformed XML is left to the real
    parser to report."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    parser = expat.ParserCreate()
    problem: list[str] = []

    def entity(name: str, is_parameter: int, value: str | None, _base: Any,
               system_id: str | None, _public: Any, _notation: Any) -> None:  # fmt: skip
        why = None
        if not allow_shortcuts:
            why = f"it declares the DTD entity {name!r}"
        elif is_parameter:
            why = f"it declares the parameter entity %{name}"
        elif value is None:
            why = f"the entity {name!r} is external ({system_id})"
        elif "&" in value or "%" in value:
            why = f"the entity {name!r} refers to other entities (nested expansion)"
        elif len(value) > MAX_ENTITY_CHARS:
            why = f"the entity {name!r} is {len(value):,} characters (limit {MAX_ENTITY_CHARS})"
        if why:
            problem.append(why)
            raise _RootReached

    def start(*_: Any) -> None:
        raise _RootReached

    parser.EntityDeclHandler = entity
    parser.StartElementHandler = start
    try:
        while chunk := stream.read(_CHUNK):
            parser.Parse(chunk, False)
    except _RootReached:
        pass
    except expat.ExpatError:
        return
    if problem:
        line = parser.CurrentLineNumber
        raise UnsafeXMLError(
            f"refusing to read XML (line {line}): {problem[0]}; entity declarations can expand "
            "without bound or read local files, so medkg does not process them"
        )


__all__ = ["ParseError", "UnsafeXMLError", "check_no_entities", "iterparse", "parse"]
