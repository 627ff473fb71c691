"""Property tests of the graph's crisp invariants, each against a plain-Python reference:
the CSR integer index, the ancestor closure, cycle breaking and the content hash."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.kg.hierarchy import break_cycles
from medkg.kg.index import CSR, _ancestor_closure, _has_ancestor
from medkg.kg.model import KnowledgeGraph, edges_frame
from tests.factories.graphs import make_small_kg

PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def pairs(draw: st.DrawFn, max_n: int = 12) -> tuple[int, list[tuple[int, int]]]:
    n = draw(st.integers(1, max_n))
    node = st.integers(0, n - 1)
    return n, draw(st.lists(st.tuples(node, node), max_size=40))


@PROPERTY
@given(pairs())
def test_csr_rows_membership_and_transpose_match_a_set_of_pairs(
    graph: tuple[int, list[tuple[int, int]]],
) -> None:
    n, edges = graph
    unique = sorted(set(edges))
    csr = CSR.unique_pairs(
        np.array([s for s, _ in unique], dtype=np.int64),
        np.array([d for _, d in unique], dtype=np.int64),
        n,
    )
    rows: dict[int, list[int]] = defaultdict(list)
    for s, d in unique:
        rows[s].append(d)
    assert csr.nnz == len(unique) and int(csr.degree().sum()) == len(unique)
    everything = np.arange(n)
    back = csr.transpose(n)
    for i in range(n):
        assert csr.row(i).tolist() == sorted(rows[i])
        assert csr.contains(i, everything).tolist() == [j in rows[i] for j in range(n)]
        for j in range(n):
            assert csr.has(i, j) == ((i, j) in set(unique)) == back.has(j, i)


@PROPERTY
@given(pairs())
def test_ancestor_closure_is_reachability(graph: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = graph
    dag = sorted({(s, d) for s, d in edges if s > d})  # child -> parent, parents smaller: a DAG
    parents = CSR.unique_pairs(
        np.array([s for s, _ in dag], dtype=np.int64),
        np.array([d for _, d in dag], dtype=np.int64),
        n,
    )
    up: dict[int, set[int]] = defaultdict(set)
    for s, d in dag:
        up[s].add(d)

    def reach(i: int) -> set[int]:
        seen, todo = {i}, [i]
        while todo:
            for p in up[todo.pop()]:
                if p not in seen:
                    seen.add(p)
                    todo.append(p)
        return seen

    closure = _ancestor_closure(parents, n)
    for i in range(n):
        assert set(closure.row(i).tolist()) == reach(i)
    # the descendant masks read off the closure (SynthesisGraph.descendants_mask)
    for a in range(n):
        assert _has_ancestor(closure, a, n).tolist() == [a in reach(i) for i in range(n)]


def _is_a(edges: list[tuple[int, int]]) -> pl.DataFrame:
    return edges_frame(
        [{"src": f"T:{s}", "rel": "IS_A", "dst": f"T:{d}"} for s, d in edges]
        + [{"src": "T:0", "rel": "HAS_PHENOTYPE", "dst": "T:1"}]  # never touched
    )


def _reaches(edges: set[tuple[str, str]], a: str, b: str) -> bool:
    up: dict[str, set[str]] = defaultdict(set)
    for s, d in edges:
        up[s].add(d)
    seen, todo = {a}, [a]
    while todo:
        for p in up[todo.pop()]:
            if p == b:
                return True
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return a == b


@PROPERTY
@given(pairs(max_n=8), st.randoms(use_true_random=False))
def test_break_cycles_leaves_a_dag_removes_only_cycle_closers_and_ignores_row_order(
    graph: tuple[int, list[tuple[int, int]]], rnd: object
) -> None:
    _, edges = graph
    unique = sorted({(s, d) for s, d in edges if s != d})
    kept, removed = break_cycles(_is_a(unique))
    kept_pairs = {(s, d) for s, r, d in kept.select("src", "rel", "dst").iter_rows() if r == "IS_A"}
    given_pairs = {(f"T:{s}", f"T:{d}") for s, d in unique}
    assert kept_pairs | set(removed) == given_pairs and not kept_pairs & set(removed)
    assert kept.filter(pl.col("rel") == "HAS_PHENOTYPE").height == 1
    # No cycle is left: no kept edge's parent reaches its child.
    assert not any(_reaches(kept_pairs, d, s) for s, d in kept_pairs)
    # Every removed edge closed a cycle: its parent still reaches its child.
    assert all(_reaches(kept_pairs, d, s) for s, d in removed)
    shuffled = list(unique)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert break_cycles(_is_a(shuffled))[1] == removed


def _rows(frame: pl.DataFrame) -> list[str]:
    return sorted(repr(r) for r in frame.rows())


@PROPERTY
@given(st.data())
def test_content_hash_ignores_row_order_and_sees_every_change(data: st.DataObject) -> None:
    kg = make_small_kg()
    node_order = data.draw(st.permutations(range(kg.nodes.height)))
    edge_order = data.draw(st.permutations(range(kg.edges.height)))
    shuffled = KnowledgeGraph.from_frames(kg.nodes[list(node_order)], kg.edges[list(edge_order)])
    assert shuffled.content_hash() == kg.content_hash()
    # Drop some edges and rename one node: equal hashes exactly when the rows are equal.
    keep = data.draw(st.lists(st.booleans(), min_size=kg.edges.height, max_size=kg.edges.height))
    row = data.draw(st.integers(0, kg.nodes.height - 1))
    name = data.draw(st.sampled_from(["Marfan syndrome", "Myopia", "renamed"]))
    nodes = kg.nodes.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(name)).otherwise(pl.col("name"))
        .alias("name")
    )  # fmt: skip
    other = KnowledgeGraph.from_frames(nodes, kg.edges.filter(pl.Series(keep)))
    same_rows = _rows(other.nodes) == _rows(kg.nodes) and _rows(other.edges) == _rows(kg.edges)
    assert (other.content_hash() == kg.content_hash()) == same_rows
