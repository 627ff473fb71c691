"""The canonical model: frame builders, CURIEs, merge accounting, content hash."""

from typing import Any

import polars as pl
import pytest

from medkg.kg.curie import CurieError, normalise_curie
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame


def test_nodes_frame_lists_missing_values_and_props():
    rows: list[dict[str, Any]] = [
        {"id": "A:1", "name": "a", "synonyms": ["x", "y"], "synonym_scopes": ["EXACT", "RELATED"]},
        {
            "id": "A:2",
            "name": "b",
            "xrefs": ["B:1"],
            "obsolete": True,
            "props": {"k": 1, "z": None},
        },
        {"id": "A:3", "name": "c"},
    ]
    f = nodes_frame(rows)
    assert f.get_column("synonyms").to_list() == [["x", "y"], [], []]
    assert f.get_column("xrefs").to_list() == [[], ["B:1"], []]
    assert f.get_column("obsolete").to_list() == [False, True, False]
    assert f.get_column("props").to_list() == [None, '{"k":1}', None]
    assert f.schema["synonyms"] == pl.List(pl.String())
    assert nodes_frame(iter(rows)).equals(f)
    assert edges_frame([]).height == 0 and "confidence" in edges_frame([]).columns


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MIM:154700", "OMIM:154700"),
        ("Orphanet:558", "ORPHA:558"),
        ("MSH:D008382", "MESH:D008382"),
        ("ICD-10:Q87.4", "ICD10:Q87.4"),
        ("hp:0001166", "HP:0001166"),
        ("http://purl.obolibrary.org/obo/MONDO_0007947", "MONDO:0007947"),
        ("http://www.orpha.net/ORDO/Orphanet_558", "ORPHA:558"),
        ("FOO:bar", "FOO:bar"),
    ],
)
def test_normalise_curie(raw, expected):
    assert normalise_curie(raw) == expected


def test_normalise_curie_rejects_non_curies():
    for bad in ("154700", ":x", "1A:2", "OMIM:"):
        with pytest.raises(CurieError):
            normalise_curie(bad)


def _kg(
    name: str, ids: list[str], stub: bool = False, report: dict | None = None
) -> KnowledgeGraph:
    info = SourceInfo(name=name, version="1", license="x")
    nodes = nodes_frame(
        [
            {
                "id": i,
                "kind": "Disease",
                "name": f"{name} {i}",
                "source": name,
                "props": {"stub": True} if stub else None,
            }
            for i in ids
        ]
    )
    return KnowledgeGraph.from_frames(nodes, edges_frame([]), [info], report or {})


def test_merge_counts_duplicates_and_prefers_real_nodes_over_stubs():
    a = _kg("A", ["X:1", "X:2"], stub=True)
    b = _kg("B", ["X:2", "X:3"])
    merged = a.merge(b)
    assert merged.nodes.height == 3
    assert merged.report["merge.duplicate_node_ids_dropped"] == 1
    # X:2 is a stub in A and real in B: the real one wins
    x2 = merged.node("X:2")
    assert x2 is not None and x2["source"] == "B"


def test_merge_adds_up_numeric_report_counts():
    a = _kg("A", ["X:1"], report={"obo.dangling": 2, "note": "a"})
    b = _kg("B", ["X:2"], report={"obo.dangling": 3})
    assert a.merge(b).report["obo.dangling"] == 5


def test_content_hash_ignores_row_order():
    kg = _kg("A", ["X:1", "X:2", "X:3"])
    shuffled = KnowledgeGraph(nodes=kg.nodes.reverse(), edges=kg.edges, sources=kg.sources)
    assert shuffled.content_hash() == kg.content_hash()
    other = _kg("A", ["X:1", "X:2"])
    assert other.content_hash() != kg.content_hash()


def test_source_load_refuses_a_graph_without_provenance(tmp_path):
    from medkg.kg.sources.base import Source, SourceError

    class Careless(Source):
        key = "careless"

        def _load(self) -> KnowledgeGraph:
            return KnowledgeGraph.from_frames(
                nodes_frame([{"id": "X:1", "name": "x"}]), edges_frame([])
            )

    with pytest.raises(SourceError, match="loader bug: 1 node\\(s\\) without source"):
        Careless(tmp_path / "f").load()


def test_content_hash_is_independent_of_edge_order_when_rows_differ_only_in_evidence():
    # Real case: two HPO annotations sharing src, rel, dst, onset, frequency and reference.
    nodes = nodes_frame(
        [{"id": "D:1", "name": "d", "source": "s"}, {"id": "P:1", "name": "p", "source": "s"}]
    )
    rows: list[dict[str, Any]] = [
        {
            "src": "D:1",
            "rel": "HAS_PHENOTYPE",
            "dst": "P:1",
            "reference": "PMID:1",
            "evidence": "PCS",
            "source": "s",
        },
        {
            "src": "D:1",
            "rel": "HAS_PHENOTYPE",
            "dst": "P:1",
            "reference": "PMID:1",
            "evidence": "TAS",
            "props": {"sex": "female"},
            "source": "s",
        },
    ]
    a = KnowledgeGraph.from_frames(nodes, edges_frame(rows))
    b = KnowledgeGraph.from_frames(nodes, edges_frame(rows[::-1]))
    assert a.content_hash() == b.content_hash()
