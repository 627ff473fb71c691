"""Checks every source loader's output must pass, and the hand-listed MeSH sample."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from medkg.kg.curie import normalise_curie
from medkg.kg.model import EDGE_SCHEMA, IS_A, NODE_SCHEMA, KnowledgeGraph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


def assert_well_formed(kg: KnowledgeGraph, source: str) -> None:
    """Schema, provenance on every row, unique normalised ids, IS_A endpoints present,
    and SourceInfo.counts agreeing with the tables."""
    assert dict(kg.nodes.schema) == NODE_SCHEMA
    assert dict(kg.edges.schema) == EDGE_SCHEMA
    [info] = kg.sources
    assert info.name == source
    assert kg.nodes.height > 0
    for frame in (kg.nodes, kg.edges):
        for col in ("source", "source_version", "license"):
            assert frame.get_column(col).null_count() == 0, col
        if frame.is_empty():
            continue
        assert frame.get_column("source").unique().to_list() == [source]
        assert frame.get_column("source_version").unique().to_list() == [info.version]
        assert frame.get_column("license").unique().to_list() == [info.license]
    ids = kg.nodes.get_column("id")
    assert ids.null_count() == 0
    assert ids.n_unique() == kg.nodes.height, "duplicate node ids"
    assert all(normalise_curie(i) == i for i in ids.to_list())
    for col in ("synonyms", "synonym_scopes", "xrefs", "obsolete", "kind", "name"):
        assert kg.nodes.get_column(col).null_count() == 0, col
    lengths = kg.nodes.select(
        pl.col("synonyms").list.len().alias("s"), pl.col("synonym_scopes").list.len().alias("c")
    )
    assert lengths.filter(pl.col("s") != pl.col("c")).is_empty(), "a synonym without its scope"
    is_a = kg.edges.filter(pl.col("rel") == IS_A)
    for end in ("src", "dst"):
        dangling = is_a.select(pl.col(end).alias("id")).join(
            kg.nodes.select("id"), on="id", how="anti"
        )
        assert dangling.is_empty(), (
            f"IS_A {end} not a node: {dangling.head(5).to_series().to_list()}"
        )
    assert is_a.filter(pl.col("src") == pl.col("dst")).is_empty(), "self loop"
    assert is_a.unique(["src", "dst"]).height == is_a.height, "duplicate IS_A edge"
    counts = info.counts
    assert counts["nodes"] == kg.nodes.height
    assert counts["edges"] == kg.edges.height
    for kind, n in kg.nodes.group_by("kind").len().iter_rows():
        assert counts[f"nodes.{kind}"] == n
    for rel, n in kg.edges.group_by("rel").len().iter_rows():
        assert counts[f"edges.{rel}"] == n


def parents(kg: KnowledgeGraph, node_id: str) -> set[str]:
    """The IS_A parents of a node."""
    return set(
        kg.edges.filter((pl.col("rel") == IS_A) & (pl.col("src") == node_id))
        .get_column("dst")
        .to_list()
    )


def node(kg: KnowledgeGraph, node_id: str) -> dict:
    row = kg.node(node_id)
    assert row is not None, f"{node_id} missing"
    return row


WELL_KNOWN = FIXTURES / "mesh_well_known.tsv"


def well_known(dictionary: str | None = None) -> dict[str, str]:
    """UI -> true MeSH name of the hand-listed sample (optionally one dictionary's rows)."""
    rows: dict[str, str] = {}
    for line in WELL_KNOWN.read_text(encoding="utf-8").splitlines():
        if line.startswith(("#", "ui\t")) or not line.strip():
            continue
        ui, name, where = line.split("\t")
        if dictionary in (None, where):
            rows[ui] = name
    return rows
