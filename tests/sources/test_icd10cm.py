"""ICD-10-CM: the bundled tabular XML (checked against the release's own code list), a
real-format excerpt with 7th characters, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from medkg.kg.model import CATEGORY, CONCEPT, DISEASE, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError, bundled_file
from medkg.kg.sources.icd10cm import ICD10CMSource, seventh_character_code
from tests.factories.sources import FIXTURES, assert_well_formed, node, parents

EXCERPT = FIXTURES / "icd10c-tabular-April-1-2026-excerpt.xml"
EXCERPT_CODES = FIXTURES / "code-list-April-2026-excerpt.txt"


@pytest.fixture(scope="module")
def bundled() -> KnowledgeGraph:
    return ICD10CMSource().load()


def _as_code_list_entry(node_id: str) -> str:
    """ICD10CM:S00.00XA -> S0000XA; a single-category section B10-B10 -> B10 (as listed)."""
    code = node_id.split(":", 1)[1]
    m = re.fullmatch(r"(\w{3})-(\w{3})", code)
    if m and m.group(1) == m.group(2):
        return m.group(1)
    return code.replace(".", "")


def test_registered_but_optional():
    assert SOURCES["icd10cm"] is ICD10CMSource
    assert ICD10CMSource.default_enabled is False


def test_bundled_matches_the_release_code_list(bundled: KnowledgeGraph):
    assert_well_formed(bundled, "ICD-10-CM")
    listed = bundled_file("simple_icd_10_cm", "data/code-list-April-2026.txt")
    expected = {line.strip() for line in listed.read_text(encoding="utf-8").splitlines()}
    expected.discard("")
    got = {_as_code_list_entry(i) for i in bundled.nodes.get_column("id").to_list()}
    assert got == expected  # every chapter, section, code and 7th-character code; no extra
    assert bundled.nodes.height >= 98_000
    assert bundled.report == {
        "icd10cm.duplicate_codes_kept_first": 0,
        "icd10cm.seventh_character_codes_not_in_code_list": 76,  # S06.xx7/8 take only A
        "icd10cm.seventh_character_codes_unchecked": 0,
    }


def test_bundled_version_licence_and_facts(bundled: KnowledgeGraph):
    info = bundled.sources[0]
    assert info.version == "2026 (2026-04-01)"
    assert "public domain" in info.license
    assert info.counts["nodes.Category"] == 22 + 297  # chapters + sections
    cholera = node(bundled, "ICD10CM:A00.0")
    assert cholera["synonyms"] == ["Classical cholera"]
    assert cholera["synonym_scopes"] == ["RELATED"]
    assert parents(bundled, "ICD10CM:A00.0") == {"ICD10CM:A00"}
    assert parents(bundled, "ICD10CM:A00") == {"ICD10CM:A00-A09"}
    assert parents(bundled, "ICD10CM:A00-A09") == {"ICD10CM:1"}
    chapter = node(bundled, "ICD10CM:1")
    assert chapter["name"] == "Certain infectious and parasitic diseases"
    assert json.loads(chapter["props"])["code_range"] == "A00-B99"
    # A one-category section and its category are two nodes.
    assert node(bundled, "ICD10CM:B10-B10")["kind"] == CATEGORY
    assert parents(bundled, "ICD10CM:B10") == {"ICD10CM:B10-B10"}
    encounter = node(bundled, "ICD10CM:S00.00XA")
    assert encounter["name"] == "Unspecified superficial injury of scalp, initial encounter"
    assert encounter["kind"] == DISEASE
    assert parents(bundled, "ICD10CM:S00.00XA") == {"ICD10CM:S00.00"}
    # external causes (with their 7th-character codes) and Z codes classify no condition
    for code in ("ICD10CM:V00.01XA", "ICD10CM:W01", "ICD10CM:Y93.A1", "ICD10CM:Z00.00"):
        assert node(bundled, code)["kind"] == CONCEPT, code
    assert node(bundled, "ICD10CM:U07.1")["kind"] == DISEASE
    assert bundled.node("ICD10CM:S06.1X7A") is not None
    assert bundled.node("ICD10CM:S06.1X7D") is None


def test_excerpt_with_its_code_list():
    kg = ICD10CMSource(EXCERPT, code_list=EXCERPT_CODES).load()
    assert_well_formed(kg, "ICD-10-CM")
    assert kg.sources[0].version == "2026 (2026-04-01)"  # <version> + date in the file name
    expected = {
        line.strip() for line in EXCERPT_CODES.read_text(encoding="utf-8").splitlines() if line
    }
    assert {_as_code_list_entry(i) for i in kg.nodes.get_column("id").to_list()} == expected
    assert kg.report["icd10cm.seventh_character_codes_not_in_code_list"] == 2
    assert parents(kg, "ICD10CM:S06.1X7A") == {"ICD10CM:S06.1X7"}
    assert node(kg, "ICD10CM:S06.1")["synonyms"] == [
        "Diffuse traumatic cerebral edema",
        "Focal traumatic cerebral edema",
    ]
    props = json.loads(node(kg, "ICD10CM:S00.01XS")["props"])
    assert props == {
        "chapter": "19",
        "extension": "sequela",
        "item_type": "seventh_character",
        "seventh_character": "S",
    }


def test_excerpt_without_a_code_list_is_flagged_unchecked():
    kg = ICD10CMSource(EXCERPT).load()
    assert kg.report["icd10cm.seventh_character_codes_unchecked"] == 1
    assert kg.node("ICD10CM:S06.1X7D") is not None  # nothing to exclude it


def test_seventh_characters_can_be_left_out():
    kg = ICD10CMSource(EXCERPT, seventh_characters=False).load()
    assert_well_formed(kg, "ICD-10-CM")
    assert kg.nodes.filter(kg.nodes["props"].str.contains("seventh_character")).is_empty()
    assert kg.node("ICD10CM:S00.00") is not None


def test_seventh_character_padding():
    assert seventh_character_code("S00.00", "A") == "S00.00XA"
    assert seventh_character_code("S02.0", "B") == "S02.0XXB"
    assert seventh_character_code("T71", "A") == "T71.XXXA"
    assert seventh_character_code("S06.1X7", "A") == "S06.1X7A"


def test_malformed_xml_names_file_and_line(tmp_path: Path):
    lines = EXCERPT.read_text(encoding="utf-8").splitlines()
    lines[12] = lines[12].replace("</name>", "</nam>")  # line 13: <name>A00.0</nam>
    bad = tmp_path / "icd10c-tabular.xml"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SourceError, match="malformed XML") as err:
        ICD10CMSource(bad).load()
    assert (err.value.path, err.value.line) == (str(bad), 13)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "file is empty"),
        ("<ICD10CM.tabular><version>2026</version></ICD10CM.tabular>", "no <chapter> elements"),
        ("<ICD10CM.tabular><chapter><name>1</name><section id='A00-A09'><diag><desc>x</desc>"
         "</diag></section></chapter></ICD10CM.tabular>", "<diag> without <name>"),
    ],
)  # fmt: skip
def test_bad_input_names_the_file(tmp_path: Path, content: str | None, message: str):
    path = tmp_path / "tabular.xml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SourceError, match=message) as err:
        ICD10CMSource(path).load()
    assert err.value.path == str(path)


def test_non_utf8_code_list_names_its_line(tmp_path: Path):
    codes = tmp_path / "code-list.txt"
    codes.write_bytes(b"1\r\nA00-A09\r\nS0000XA caf\xe9\r\n")
    with pytest.raises(SourceError, match="not UTF-8") as err:
        ICD10CMSource(EXCERPT, code_list=codes).load()
    assert (err.value.path, err.value.line) == (str(codes), 3)
