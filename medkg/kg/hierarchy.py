"""Hierarchy utilities shared by loaders and the tree builder."""

from __future__ import annotations

from collections import defaultdict

import polars as pl

from medkg.kg.model import IS_A


def break_cycles(
    edges: pl.DataFrame, rel: str = IS_A
) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Remove ``rel`` edges that close a cycle; return the kept edges and the removed pairs.

    Deterministic: an iterative depth-first search over children in sorted id order,
    starting from nodes in sorted order; an edge to a node still on the stack (a back
    edge) is removed. Every other edge, and every other relation, is kept.
    """
    sub = edges.filter(pl.col("rel") == rel).select("src", "dst")
    if sub.is_empty():
        return edges, []
    parents: dict[str, list[str]] = defaultdict(list)
    for child, parent in sub.iter_rows():
        parents[child].append(parent)
    for plist in parents.values():
        plist.sort()
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    removed: list[tuple[str, str]] = []
    for start in sorted(parents):
        if state.get(start):
            continue
        state[start] = 1
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack[-1]
            plist = parents.get(node, [])
            if i < len(plist):
                stack[-1] = (node, i + 1)
                nxt = plist[i]
                s = state.get(nxt, 0)
                if s == 1:
                    removed.append((node, nxt))
                elif s == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    if not removed:
        return edges, []
    drop = pl.DataFrame(
        {"src": [s for s, _ in removed], "dst": [d for _, d in removed]},
        schema={"src": pl.String(), "dst": pl.String()},
    ).with_columns(pl.lit(rel).alias("rel"), pl.lit(True).alias("_drop"))
    kept = (
        edges.join(drop, on=["src", "rel", "dst"], how="left", nulls_equal=False)
        .filter(pl.col("_drop").is_null())
        .drop("_drop")
    )
    return kept, removed
