"""WHO ICD-10 2019: the bundled XML, a real-format excerpt, and bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import CATEGORY, CONCEPT, DISEASE, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.icd10 import ICD10Source
from tests.factories.sources import FIXTURES, assert_well_formed, node, parents


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return ICD10Source().load()


def test_registered_and_enabled_by_default():
    assert SOURCES["icd10"] is ICD10Source
    assert ICD10Source.default_enabled


def test_bundled_counts_and_provenance(bundled: KnowledgeGraph):
    assert_well_formed(bundled, "ICD-10")
    info = bundled.sources[0]
    assert info.version == "2019"
    assert "World Health Organization" in info.license
    assert info.path.endswith("icd_10_v2019.xml")
    # 22 chapters, 274 blocks, 2,050 categories, 10,196 subcategories in the 2019 file.
    assert bundled.nodes.height == 12_542
    assert info.counts["nodes.Category"] == 22 + 274
    # Codes that classify no condition are Concept: counted here from the raw XML.
    codes = [
        item.findtext("name") or ""
        for item in ET.parse(info.path).getroot().iter("item")
        if item.get("type") in ("category", "subcategory")
    ]
    concept = [c for c in codes if c[0] in "VWXYZ" or (c[0] == "U" and int(c[1:3]) >= 50)]
    assert len(codes) == 2_050 + 10_196
    assert info.counts["nodes.Concept"] == len(concept) > 2_000
    assert info.counts["nodes.Disease"] == len(codes) - len(concept)
    # Every item but the 22 chapters has exactly one parent.
    assert bundled.edges.height == 12_542 - 22
    assert bundled.report == {}


def test_bundled_hierarchy_follows_the_xml_nesting(bundled: KnowledgeGraph):
    assert parents(bundled, "ICD10:A00.0") == {"ICD10:A00"}
    assert parents(bundled, "ICD10:A00") == {"ICD10:A00-A09"}
    assert parents(bundled, "ICD10:A00-A09") == {"ICD10:I"}
    assert parents(bundled, "ICD10:I") == set()
    assert parents(bundled, "ICD10:C00-C75") == {"ICD10:C00-C97"}  # nested blocks
    assert parents(bundled, "ICD10:B18.00") == {"ICD10:B18.0"}  # five-character code
    assert parents(bundled, "ICD10:U07.1") == {"ICD10:U07"}  # COVID-19, chapter XXII


def test_bundled_names_kinds_and_props(bundled: KnowledgeGraph):
    cholera = node(bundled, "ICD10:A00.0")
    assert cholera["name"] == "Cholera due to Vibrio cholerae 01, biovar cholerae"
    assert cholera["kind"] == DISEASE
    assert json.loads(cholera["props"]) == {"chapter": "I", "item_type": "subcategory"}
    # external causes, Z codes and drug resistance classify no condition; COVID-19 does
    for code in ("ICD10:V01", "ICD10:W00", "ICD10:X59", "ICD10:Y98", "ICD10:Z00", "ICD10:U82"):
        assert node(bundled, code)["kind"] == CONCEPT, code
    for code in ("ICD10:S00", "ICD10:T78.2", "ICD10:U07.1", "ICD10:R50"):
        assert node(bundled, code)["kind"] == DISEASE, code
    chapter = node(bundled, "ICD10:XXII")
    assert chapter["name"] == "Codes for special purposes"
    assert chapter["kind"] == CATEGORY
    assert json.loads(node(bundled, "ICD10:C00-C97")["props"])["item_type"] == "block"
    chapters = bundled.nodes.filter(pl.col("props").str.contains('"item_type":"chapter"'))
    assert chapters.height == 22


def test_excerpt_exactly(tmp_path: Path):
    kg = ICD10Source(FIXTURES / "icd10_v2019_excerpt.xml").load()
    assert_well_formed(kg, "ICD-10")
    assert kg.nodes.get_column("id").to_list() == [
        "ICD10:I", "ICD10:A00-A09", "ICD10:A00", "ICD10:A00.0", "ICD10:A00.1", "ICD10:A00.9",
        "ICD10:B15-B19", "ICD10:B18", "ICD10:B18.0", "ICD10:B18.00", "ICD10:B18.09",
        "ICD10:II", "ICD10:C00-C97", "ICD10:C00-C75", "ICD10:C00-C14", "ICD10:C00", "ICD10:C00.0",
    ]  # fmt: skip
    assert kg.edges.height == 15
    assert parents(kg, "ICD10:C00-C14") == {"ICD10:C00-C75"}
    assert kg.sources[0].version == "2019"  # from the root tag icd_10_v2019


def test_version_option_and_root_tag(tmp_path: Path):
    text = (FIXTURES / "icd10_v2019_excerpt.xml").read_text(encoding="utf-8")
    newer = tmp_path / "icd10_newer.xml"
    newer.write_text(text.replace("icd_10_v2019", "icd_10_v2021"), encoding="utf-8")
    assert ICD10Source(newer).load().sources[0].version == "2021"
    assert ICD10Source(newer, version="2021-01").load().sources[0].version == "2021-01"


def test_duplicate_code_is_kept_once_and_counted(tmp_path: Path):
    text = (FIXTURES / "icd10_v2019_excerpt.xml").read_text(encoding="utf-8")
    dup = tmp_path / "dup.xml"
    dup.write_text(text.replace("<name>A00.9</name>", "<name>A00.1</name>"), encoding="utf-8")
    kg = ICD10Source(dup).load()
    assert_well_formed(kg, "ICD-10")
    assert kg.report == {"icd10.duplicate_codes_kept_first": 1}
    assert node(kg, "ICD10:A00.1")["name"] == "Cholera due to Vibrio cholerae 01, biovar eltor"


def test_malformed_xml_names_file_and_line():
    path = FIXTURES / "icd10_malformed.xml"
    with pytest.raises(SourceError) as err:
        ICD10Source(path).load()
    assert err.value.path == str(path)
    assert err.value.line == 10  # the mismatched </descripton>
    assert str(err.value).startswith(f"{path}:10: malformed XML")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "file is empty"),
        ("<icd_10_v2019>\n</icd_10_v2019>\n", "no <item> elements"),
        ('<icd_10_v2019><item type="chapter"><description>x</description></item></icd_10_v2019>',
         "without <name>"),
        ('<icd_10_v2019><item type="volume"><name>I</name></item></icd_10_v2019>',
         "unknown type 'volume'"),
    ],
)  # fmt: skip
def test_bad_input_names_the_file(tmp_path: Path, content: str | None, message: str):
    path = tmp_path / "icd.xml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message) as err:
        ICD10Source(path).load()
    assert err.value.path == str(path)
