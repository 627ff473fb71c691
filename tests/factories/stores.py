"""Store checks shared by the conformance suite and the bulk-import test."""

from __future__ import annotations

from polars.testing import assert_frame_equal

from medkg.kg.model import KnowledgeGraph


def assert_same_graph(got: KnowledgeGraph, want: KnowledgeGraph) -> None:
    got_nodes, got_edges = got.canonical()
    want_nodes, want_edges = want.canonical()
    assert_frame_equal(got_nodes, want_nodes)
    assert_frame_equal(got_edges, want_edges)
    assert got.content_hash() == want.content_hash()
    assert [s.to_dict() for s in got.sources] == [s.to_dict() for s in want.sources]
    assert got.report == want.report
