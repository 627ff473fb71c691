"""MeSH supplementary records from the OMIM-derived block (MeSH 2013 on, C56xxxx) yield to
their OMIM entry, else to the descriptor they are mapped to (``mesh_scr_defer_from``); the
records of the earlier block, and every record with the option off, stay. Hand-made graph in
the real node/edge format, with the real UIs and names of MeSH 2024 and OMIM."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.senses import scr_number
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp

INFO = SourceInfo(name="hand-made", version="1", license="CC0-1.0")
TEXT = "Inherited C9 deficiency, familial breast cancer and diastrophic dysplasia."


def graph() -> KnowledgeGraph:
    d = "Disease"
    nodes = nodes_frame([
        {"id": "MESH:D000081208", "kind": d, "name": "Hereditary Complement Deficiency Diseases"},
        {"id": "MESH:C565165", "kind": d, "name": "C9 Deficiency",
         "synonyms": ["Complement Component 9 Deficiency"]},
        {"id": "OMIM:613825", "kind": d, "name": "Complement component 9 deficiency"},
        {"id": "MESH:D001943", "kind": d, "name": "Breast Neoplasms"},
        {"id": "MESH:C562840", "kind": d, "name": "Breast Cancer, Familial"},
        {"id": "MESH:D010009", "kind": d, "name": "Osteochondrodysplasias"},
        {"id": "MESH:C536170", "kind": d, "name": "Diastrophic dysplasia"},
        {"id": "OMIM:222600", "kind": d, "name": "Diastrophic dysplasia"},
    ])  # fmt: skip
    edges = edges_frame([
        {"src": "MESH:C565165", "rel": "IS_A", "dst": "MESH:D000081208"},
        {"src": "MESH:C562840", "rel": "IS_A", "dst": "MESH:D001943"},
        {"src": "MESH:C536170", "rel": "IS_A", "dst": "MESH:D010009"},
        {"src": "OMIM:613825", "rel": "MAPS_TO", "dst": "MESH:C565165", "method": "synonym_exact"},
        {"src": "OMIM:222600", "rel": "MAPS_TO", "dst": "MESH:C536170", "method": "name_exact"},
    ])  # fmt: skip
    return KnowledgeGraph.from_frames(stamp(nodes, INFO), stamp(edges, INFO), [INFO])


def linked(lk: Linker) -> dict[str, str]:
    return {r["text"]: r["entity_id"] for r in lk.link_text(TEXT).iter_rows(named=True)}


def test_late_records_yield_to_omim_then_to_their_heading(tmp_path: Path) -> None:
    lk = Linker.from_graph(graph(), LinkerConfig(kinds=("Disease",)))
    got = linked(lk)
    assert got == {
        "Inherited C9 deficiency": "OMIM:613825",  # the OMIM entry the record came from
        "familial breast cancer": "MESH:D001943",  # no equivalent: the mapped descriptor
        "diastrophic dysplasia": "MESH:C536170",  # earlier block (C536...): stays MeSH first
    }
    assert lk.scr_headings == {"MESH:C562840": "MESH:D001943", "MESH:C565165": "MESH:D000081208"}
    # the equivalents still name the record
    row = lk.link_text("C9 deficiency").row(0, named=True)
    assert row["equivalents"] == ["MESH:C565165"]
    assert linked(Linker.load(lk.save(tmp_path / "lk"))) == got


def test_off_keeps_the_preferred_source() -> None:
    lk = Linker.from_graph(graph(), LinkerConfig(kinds=("Disease",), mesh_scr_defer_from=None))
    assert lk.scr_headings == {}
    assert linked(lk) == {
        "Inherited C9 deficiency": "MESH:C565165",
        "familial breast cancer": "MESH:C562840",
        "diastrophic dysplasia": "MESH:C536170",
    }


@pytest.mark.parametrize(
    ("ident", "number"),
    [("MESH:C565165", 565165), ("MESH:D001943", None), ("OMIM:613825", None), ("MESH:C", None)],
)
def test_scr_number(ident: str, number: int | None) -> None:
    assert scr_number(ident) == number
