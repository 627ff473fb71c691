"""kg.index.graph_index: one integer index per graph snapshot, shared by its callers."""

from __future__ import annotations

import gc

import numpy as np

from medkg.kg import index as kg_index
from medkg.kg.index import SynthesisGraph, graph_index
from tests.factories.graphs import synthetic_kg


def test_one_index_per_snapshot() -> None:
    kg = synthetic_kg()
    first = graph_index(kg)
    assert graph_index(kg) is first
    assert graph_index(kg, content_hash="") is first  # "" = any hash will do
    assert first.content_hash == kg.content_hash()
    # the same views as a build of its own (the reference)
    fresh = SynthesisGraph.from_kg(kg)
    assert first.ids == fresh.ids
    assert np.array_equal(first.dis_pheno.indices, fresh.dis_pheno.indices)
    assert np.array_equal(first.anc.indptr, fresh.anc.indptr)


def test_a_new_table_is_a_new_snapshot() -> None:
    kg = synthetic_kg()
    before = graph_index(kg)
    kg.nodes = kg.nodes.clone()  # a replaced table: the cached index is not reused
    after = graph_index(kg)
    assert after is not before and after.ids == before.ids


def test_a_hashless_index_is_not_served_when_the_hash_is_asked_for() -> None:
    kg = synthetic_kg()
    hashless = graph_index(kg, content_hash="")
    assert hashless.content_hash == ""
    full = graph_index(kg)
    assert full is not hashless and full.content_hash == kg.content_hash()


def test_the_index_is_forgotten_with_the_graph() -> None:
    kg = synthetic_kg()
    graph_index(kg, content_hash="")
    key = id(kg)
    assert key in kg_index._INDEXES
    del kg
    gc.collect()
    assert key not in kg_index._INDEXES
