"""ICD-10-CM (U.S. clinical modification) from the tabular XML bundled with ``simple-icd-10-cm``.

The file nests ``<chapter>`` (``<name>1</name>``), ``<section id="A00-A09">`` and
``<diag>`` (``<name>A00.0</name><desc>..</desc>``, ``<inclusionTerm><note>..``, nested
``<diag>``, and ``<sevenChrDef><extension char="A">initial encounter</extension>``).
Identifiers:

* chapters: ``ICD10CM:<chapter number>`` (``ICD10CM:1`` ... ``ICD10CM:22``, as in the
  package's own code list);
* sections: ``ICD10CM:<first>-<last>`` (``ICD10CM:A00-A09``); a section holding a single
  category (``<section id="B10">``) becomes ``ICD10CM:B10-B10`` so it cannot collide
  with the category ``ICD10CM:B10``;
* codes: the dotted code (``ICD10CM:A00.0``), including the codes completed by a 7th
  character: a leaf under a ``sevenChrDef`` yields one code per extension, padded with
  the placeholder ``X`` to six characters (``S00.00`` + ``A`` -> ``ICD10CM:S00.00XA``,
  name "<leaf name>, initial encounter", ``IS_A`` the leaf). A few combinations are
  excluded by rules the XML does not encode (``S06.1X7`` takes ``A`` only); like
  simple-icd-10-cm, the loader keeps only those in the release's code list
  (``code_list`` option; the bundled list for the bundled XML). Pass
  ``seventh_characters=False`` to keep only the tabular codes.

Chapters and sections are kind ``Category``; codes kind ``Disease`` (conditions in the
broad sense, injuries included), except external causes (V00-Y99), factors influencing
health status (Z00-Z99) and U50-U99, which are kind ``Concept`` as for WHO
ICD-10 (:func:`medkg.kg.sources.icd10.code_kind`). Inclusion terms become synonyms with scope ``RELATED`` (they name
conditions classified to the code: synonyms or narrower terms). The version joins the
file's ``<version>`` and the release date in its name (``2026 (2026-04-01)``). Provenance
``source`` is ``"ICD-10-CM"`` (registry key ``icd10cm``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import polars as pl

from medkg.kg.model import CATEGORY, IS_A, KnowledgeGraph, SourceInfo, stamp
from medkg.kg.sources.base import Source, SourceError, bundled_file, read_text_utf8, register_source
from medkg.kg.sources.frames import is_bundled, kind_rel_counts, node_table
from medkg.kg.sources.icd10 import code_kind, parse_xml

PREFIX = "ICD10CM"
SOURCE_NAME = "ICD-10-CM"
BUNDLED = "data/icd10c-tabular-April-1-2026.xml"
BUNDLED_CODE_LIST = "data/code-list-April-2026.txt"
SYNONYM_SCOPE = "RELATED"
LICENSE = (
    "ICD-10-CM: U.S. CDC / National Center for Health Statistics (public domain, "
    "U.S. government work); file packaged by simple-icd-10-cm (MIT)"
)
URL = "https://www.cdc.gov/nchs/icd/icd-10-cm/"
CITATION = (
    "Centers for Disease Control and Prevention, National Center for Health Statistics. "
    "ICD-10-CM Tabular List of Diseases and Injuries."
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
_FILE_DATE = re.compile(r"([A-Za-z]+)-(\d{1,2})-(\d{4})")
_TRAILING_RANGE = re.compile(r"\s*\(([A-Z0-9]{3}(?:-[A-Z0-9]{3})?)\)\s*$")

# Document-order rows: (id, kind, name, synonyms, props JSON, parent id or None).
_Row = tuple[str, str, str | None, list[str], str, str | None]


@lru_cache(maxsize=4096)
def _props(item_type: str, chapter: str, **extra: str) -> str:
    """props JSON as :func:`medkg.kg.model.props_json` writes it, cached: ~100 distinct values
    cover the ~100,000 rows."""
    fields = {"chapter": chapter, "item_type": item_type, **extra}
    return (
        "{"
        + ",".join(
            f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}"
            for k, v in sorted(fields.items())
        )
        + "}"
    )


def _split_range(text: str) -> tuple[str, str | None]:
    """``"Intestinal infectious diseases (A00-A09)"`` -> name, ``"A00-A09"``."""
    m = _TRAILING_RANGE.search(text)
    return (text[: m.start()].strip(), m.group(1)) if m else (text.strip(), None)


def seventh_character_code(code: str, char: str) -> str:
    """``S00.00`` + ``A`` -> ``S00.00XA``: pad with ``X`` to six characters, then the 7th."""
    base = code if "." in code else f"{code}."
    return f"{base.ljust(7, 'X')}{char}"


@register_source("icd10cm")
class ICD10CMSource(Source):
    """ICD-10-CM tabular list: chapters, sections, codes and 7th-character codes."""

    option_names = frozenset(("code_list", "seventh_characters", "version"))

    title = "ICD-10-CM tabular list (simple-icd-10-cm XML)"
    default_enabled = False

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file("simple_icd_10_cm", BUNDLED)

    def _load(self) -> KnowledgeGraph:  # Source.load pauses the GC around this
        root = parse_xml(self.path)
        chapters = root.findall("chapter")
        if not chapters:
            raise SourceError(
                self.path,
                f"no <chapter> elements under <{root.tag}>: not an ICD-10-CM tabular file",
            )
        info = SourceInfo(
            name=SOURCE_NAME,
            version=self._version(root),
            license=LICENSE,
            path=str(self.path),
            url=URL,
            citation=CITATION,
        )
        expand = bool(self.options.get("seventh_characters", True))
        valid_codes = self._code_list() if expand else None
        rows: list[_Row] = []
        excluded = sum(self._chapter(chapter, rows, expand, valid_codes) for chapter in chapters)

        ids, kinds, names, synonyms, props, parents = (list(col) for col in zip(*rows, strict=True))
        table = node_table(
            {
                "id": ids,
                "kind": kinds,
                "name": names,
                "props": props,
                "synonyms": synonyms,
                "synonym_scopes": [[SYNONYM_SCOPE] * len(s) for s in synonyms],
            }
        ).with_columns(pl.Series("parent", parents, dtype=pl.String()))
        # A repeated code keeps its first occurrence (counted): a newer file may repeat one.
        first = table["id"].is_first_distinct()
        duplicates = table.height - int(first.sum())
        table = table.filter(first)
        edges = stamp(
            table.filter(pl.col("parent").is_not_null()).select(
                pl.col("id").alias("src"), pl.lit(IS_A).alias("rel"), pl.col("parent").alias("dst")
            ),
            info,
        )
        nodes = stamp(table.drop("parent"), info)
        report = {
            "icd10cm.duplicate_codes_kept_first": duplicates,
            "icd10cm.seventh_character_codes_not_in_code_list": excluded,
            "icd10cm.seventh_character_codes_unchecked": int(expand and valid_codes is None),
        }
        info = SourceInfo(**{**info.to_dict(), "counts": kind_rel_counts(nodes, edges)})
        return KnowledgeGraph.from_frames(nodes, edges, [info], report)

    def _chapter(
        self, chapter: ET.Element, rows: list[_Row], expand: bool, valid_codes: set[str] | None
    ) -> int:
        """Append the rows of one chapter; return how many 7th-character codes were excluded."""
        excluded = 0
        number = (chapter.findtext("name") or "").strip()
        if not number:
            raise SourceError(self.path, "<chapter> without <name>")
        chapter_id = f"{PREFIX}:{number}"
        name, code_range = _split_range(chapter.findtext("desc") or "")
        extra = {"code_range": code_range} if code_range else {}
        rows.append(
            (chapter_id, CATEGORY, name or None, [], _props("chapter", number, **extra), None)
        )
        for section in chapter.findall("section"):
            sid = (section.get("id") or "").strip()
            if not sid:
                raise SourceError(self.path, f"<section> without id in chapter {number}")
            span = sid if "-" in sid else f"{sid}-{sid}"
            section_id = f"{PREFIX}:{span}"
            sname, _ = _split_range(section.findtext("desc") or "")
            rows.append(
                (section_id, CATEGORY, sname or None, [], _props("section", number), chapter_id)
            )
            stack: list[tuple[ET.Element, str, list[tuple[str, str]] | None]] = [
                (diag, section_id, None) for diag in reversed(section.findall("diag"))
            ]
            while stack:
                diag, parent, seven = stack.pop()
                code, desc = "", None
                synonyms: list[str] = []
                children: list[ET.Element] = []
                for child in diag:  # one pass over the children instead of a find per field
                    tag = child.tag
                    if tag == "diag":
                        children.append(child)
                    elif tag == "name":
                        code = (child.text or "").strip()
                    elif tag == "desc":
                        desc = (child.text or "").strip() or None
                    elif tag == "inclusionTerm":
                        synonyms.extend(
                            t for n in child if n.tag == "note" and (t := (n.text or "").strip())
                        )
                    elif tag == "sevenChrDef":
                        seven = [
                            (e.get("char", ""), (e.text or "").strip())
                            for e in child
                            if e.tag == "extension"
                        ]
                if not code:
                    raise SourceError(self.path, f"<diag> without <name> under {parent}")
                node_id = f"{PREFIX}:{code}"
                kind = code_kind(code)
                rows.append((node_id, kind, desc, synonyms, _props("diag", number), parent))
                if children:
                    stack.extend((child, node_id, seven) for child in reversed(children))
                elif seven and expand:
                    for char, meaning in seven:
                        full = seventh_character_code(code, char)
                        if valid_codes is not None and full.replace(".", "") not in valid_codes:
                            excluded += 1
                            continue
                        rows.append(
                            (
                                f"{PREFIX}:{full}",
                                kind,
                                f"{desc}, {meaning}" if desc else meaning,
                                [],
                                _props(
                                    "seventh_character",
                                    number,
                                    extension=meaning,
                                    seventh_character=char,
                                ),
                                node_id,
                            )
                        )
        return excluded

    def _code_list(self) -> set[str] | None:
        """Valid codes (undotted) from the release's code list, to drop 7th-character codes a
        special rule excludes (S06.xx7/8 take only ``A``), as simple-icd-10-cm does.

        The ``code_list`` option names the file; the bundled XML uses the bundled list;
        otherwise there is no check (counted in the report).
        """
        option = self.options.get("code_list")
        if option is not None:
            path = Path(option)
        elif is_bundled(self.path, self.default_path):
            path = bundled_file("simple_icd_10_cm", BUNDLED_CODE_LIST)
        else:
            return None
        return {line.strip() for line in read_text_utf8(path).splitlines() if line.strip()}

    def _version(self, root: ET.Element) -> str:
        """``<version>`` plus the release date in the file name: ``2026 (2026-04-01)``."""
        if "version" in self.options:
            return str(self.options["version"])
        year = (root.findtext("version") or "").strip() or "unknown"
        m = _FILE_DATE.search(self.path.name)
        if m and m.group(1).lower() in _MONTHS:
            return f"{year} ({m.group(3)}-{_MONTHS[m.group(1).lower()]:02d}-{int(m.group(2)):02d})"
        return year
