"""Edge keys: the vectorised encoder gives exactly the keys of the definition (blake2b-128
over ``json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, ``-n``
on repeats), so databases saved before keep their keys."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import polars as pl

from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.neo4j_tables import edge_keys


def reference_keys(edges: pl.DataFrame) -> list[str]:
    """The key definition, written out row by row (the implementation before vectorising)."""
    seen: Counter[str] = Counter()
    keys = []
    for row in edges.iter_rows(named=True):
        blob = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = hashlib.blake2b(blob.encode("utf-8"), digest_size=16).hexdigest()
        keys.append(key if seen[key] == 0 else f"{key}-{seen[key]}")
        seen[key] += 1
    return keys


def test_keys_of_the_small_graph_follow_the_definition(small_kg: KnowledgeGraph) -> None:
    assert edge_keys(small_kg.edges) == reference_keys(small_kg.edges)


def test_awkward_values_follow_the_definition() -> None:
    every_char = "".join(chr(c) for c in range(0, 0xD800, 7)) + "\u2028\U0001f600\x7f"
    floats = [0.1, 1e-05, -1e-07, 3e-05, 1e16, 1e22, float("nan"), float("inf"), -0.0, 2.0, None]
    n = len(floats)
    edges = pl.DataFrame(
        {
            "src": ["a", 'q"uote\\', every_char, "é", "a", *["x"] * (n - 5)],
            "rel": ["IS_A"] * n,
            "dst": ["b"] * n,
            "confidence": floats,
            "weight": pl.Series([1.5, 0.1, None, 1e-6, *[0.25] * (n - 4)], dtype=pl.Float32),
            "evidence": [["x", "y"], [], None, ["\n"], ["x", "y"], *[[]] * (n - 5)],
            "negated": [True, False, None, True, True, *[None] * (n - 5)],
            "rank": [1, None, -(2**62), 0, 1, *[7] * (n - 5)],
        },
        schema_overrides={"evidence": pl.List(pl.String)},
    )
    dup = pl.concat([edges, edges.head(2), edges.head(1)])  # exact repeats get -1, -2
    keys = edge_keys(dup)
    assert keys == reference_keys(dup)
    assert keys[-1] == keys[0] + "-2" and keys[n] == keys[0] + "-1"
    assert edge_keys(dup.head(0)) == []
