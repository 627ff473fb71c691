"""`kg stats` on Neo4j without loading the graph.

:func:`medkg.kg.build.stats` reads a few node columns (kind, source, depth, placement;
rarity and annotation degree of diseases, phenotypes and genes) and the relationship
counts. :func:`stats_view` gets those as grouped counts and expands them into narrow
frames, so ``stats()`` runs unchanged on them and gives the same figures as on the whole
graph, at a fraction of the transfer and memory. The grouped counts come from one of two
places, both read in one read transaction:

* **the save-time summary** (:func:`stats_summary`): every save (online or offline import)
  records in the meta node the groups computed from the graph it wrote, with the number
  of MET tree links. They are used when Neo4j's count store (constant-time counts) still
  shows exactly the entities per kind and relationships per type that save recorded;
* **aggregations in Cypher** otherwise (a graph saved before the summary existed, or
  changed outside medkg): entities grouped by the columns above in one label scan, per-kind
  scans for the detail columns, relationship counts from the count store.

Both give the same groups for the same graph (the tests check them against each other and
against the embedded store). The summary trusts property values to be what medkg wrote,
as :meth:`Neo4jStore.load` does; medkg's only other writer, the coverage write-back, adds
``coverage_*`` properties that no statistic reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph, SourceInfo

if TYPE_CHECKING:
    from medkg.kg.stores.neo4j import Neo4jStore

GROUP_COLUMNS = {
    "kind": pl.String(),
    "source": pl.String(),
    "depth": pl.Int64(),
    "met_placement": pl.String(),
}
DETAIL_COLUMNS = {"rare": pl.Boolean(), "rare_reason": pl.String(), "annotation_degree": pl.Int64()}
DETAIL_KINDS = ("Disease", "Phenotype", "Gene")
"""Kinds whose rarity / annotation degree `kg stats` reads (see medkg.kg.build.stats)."""
SUMMARY_VERSION = 1

Rows = list[dict[str, Any]]
Run = Callable[..., Rows]
"""``run(query, **params)``: rows of one query inside the current read transaction."""


# --------------------------------------------------------------------------- save time
def _column(nodes: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    """``name`` as the database returns it: absent columns are nulls, rare_reason its rule."""
    if name not in nodes.columns:
        return pl.lit(None, dtype=dtype).alias(name)
    if name == "rare_reason":  # split(n.rare_reason, ':')[0] in Cypher
        return pl.col(name).str.split(":").list.first().alias(name)
    return pl.col(name).cast(dtype).alias(name)


def _group_rows(frame: pl.DataFrame, schema: dict[str, Any]) -> Rows:
    counted = frame.group_by(list(schema)).len("n").sort(list(schema), nulls_last=True)
    return counted.to_dicts()


def stats_summary(nodes: pl.DataFrame) -> dict[str, Any]:
    """The grouped counts :func:`stats_view` needs, computed from the node table that is
    being saved: the same rows as :func:`medkg.kg.cypher.stats_node_groups` and
    :func:`medkg.kg.cypher.stats_kind_details` return on the saved database."""
    narrow = nodes.select(_column(nodes, c, t) for c, t in GROUP_COLUMNS.items())
    details = {}
    for kind in DETAIL_KINDS:
        part = nodes.filter(pl.col("kind") == kind)
        if part.height:
            cols = part.select(_column(part, c, t) for c, t in DETAIL_COLUMNS.items())
            details[kind] = _group_rows(cols, DETAIL_COLUMNS)
    return {
        "version": SUMMARY_VERSION,
        "groups": _group_rows(narrow, GROUP_COLUMNS),
        "details": details,
    }


# --------------------------------------------------------------------------- the view
def _expand(rows: Rows, schema: dict[str, Any]) -> pl.DataFrame:
    """One row per counted item: each group row repeated ``n`` times (groups sorted)."""
    groups = pl.DataFrame(rows, schema={**schema, "n": pl.Int64()}, orient="row")
    if groups.is_empty():
        return pl.DataFrame(schema=schema)
    groups = groups.sort(list(schema), nulls_last=True)
    index = pl.int_range(groups.height, eager=True).repeat_by(groups.get_column("n")).explode()
    return groups.drop("n").gather(index)


def _nodes(groups: Rows, details: dict[str, Rows], joint: Callable[[], Rows]) -> pl.DataFrame:
    """Entities as narrow rows. stats() reads rarity and degree only per kind, never jointly
    with source, depth or placement, so each kind's detail rows are set beside that kind's
    rows; if a kind's counts disagree (labels out of step with ``kind``), the exact joint
    grouping ``joint()`` is used instead."""
    base = _expand(groups, GROUP_COLUMNS)
    parts = []
    for (kind,), part in base.partition_by("kind", as_dict=True, maintain_order=True).items():
        if kind in DETAIL_KINDS:
            detail = _expand(details.get(kind, []), DETAIL_COLUMNS)
            if detail.height != part.height:
                return _expand(joint(), {**GROUP_COLUMNS, **DETAIL_COLUMNS})
        else:
            detail = pl.DataFrame(
                {c: pl.Series(c, [None] * part.height, dtype=t) for c, t in DETAIL_COLUMNS.items()}
            )
        parts.append(pl.concat([part, detail], how="horizontal"))
    return pl.concat(parts) if parts else pl.DataFrame(schema={**GROUP_COLUMNS, **DETAIL_COLUMNS})


def _stored_counts(run: Run, counts: dict[str, Any], rel_types: list[str]) -> dict[str, Any]:
    """Entities, entities per kind label and relationships per type, from the count store."""
    kinds = sorted(k for k in counts.get("nodes_by_kind", {}) if cypher.NAME_RE.match(k))
    row = run(cypher.count_store_counts(kinds, rel_types))[0]
    return {
        "entities": row["entities"],
        "kinds": {kind: row[f"kind{i}"] for i, kind in enumerate(kinds)},
        "rels": {rel: row[f"rel{i}"] for i, rel in enumerate(rel_types)},
    }


def _edge_counts(rels: dict[str, int], tree_links: int) -> dict[str, int]:
    """Edge-table rows per type: every relationship, less the MET tree links."""
    out = {rel: n - (tree_links if rel == cypher.TREE_REL else 0) for rel, n in rels.items()}
    return {rel: n for rel, n in out.items() if n}


def _summary_holds(meta: dict[str, Any], stored: dict[str, Any]) -> bool:
    """True when the count store shows the entities and relationships the save recorded."""
    counts = json.loads(meta["counts"])
    kinds = {k: n for k, n in counts.get("nodes_by_kind", {}).items() if cypher.NAME_RE.match(k)}
    return (
        stored.get("entities") == counts.get("nodes")
        and stored["kinds"] == kinds
        and _edge_counts(stored["rels"], int(meta["tree_links"])) == counts.get("edges_by_rel")
    )


def _read_groups(store: Neo4jStore, use_summary: bool) -> tuple[dict[str, Any], Rows, Any, Any]:
    """(meta, group rows, detail rows per kind, edge counts), all in one read transaction."""

    def work(run: Run) -> tuple[dict[str, Any], Rows, Any, Any]:
        meta = store.check_complete(run(cypher.read_meta(), meta_id=cypher.META_ID))
        rel_types = [r["rel"] for r in run(cypher.relationship_types())]
        stored = _stored_counts(run, json.loads(meta["counts"]), rel_types)
        summary = json.loads(meta.get("stats_summary") or "{}")
        if (
            use_summary
            and summary.get("version") == SUMMARY_VERSION
            and _summary_holds(meta, stored)
        ):
            edges = _edge_counts(stored["rels"], int(meta["tree_links"]))
            return meta, summary["groups"], summary["details"], edges
        groups = run(cypher.stats_node_groups())
        present = {g["kind"] for g in groups}
        details = {
            kind: run(cypher.stats_kind_details(kind), kind=kind)
            for kind in DETAIL_KINDS
            if kind in present
        }
        rels = dict(stored["rels"])
        if rels.get(cypher.TREE_REL):  # tree links carry no key: count the keyed ones
            keyed = run(cypher.count_keyed_relationships(cypher.TREE_REL))
            rels[cypher.TREE_REL] = keyed[0]["n"]
        return meta, groups, details, _edge_counts(rels, 0)

    return store.read(work, "counting entities and relationships")


def stats_view(store: Neo4jStore, use_summary: bool = True) -> KnowledgeGraph:
    """A graph with only the columns `kg stats` reads, from grouped counts (see the module
    docstring); ``use_summary=False`` always aggregates in Cypher."""
    meta, groups, details, edge_counts = _read_groups(store, use_summary)
    nodes = _nodes(
        groups,
        details,
        lambda: store.read(
            lambda run: run(cypher.stats_node_groups(detail=True)), "counting entities"
        ),
    )
    node_columns = {name for name, _type in json.loads(meta["node_columns"])}
    if "met_parent" in node_columns:  # the tree exists: stats() reports its figures
        nodes = nodes.with_columns(pl.lit("", dtype=pl.String()).alias("met_parent"))
    edge_rows = [{"rel": rel, "n": n} for rel, n in sorted(edge_counts.items())]
    return KnowledgeGraph(
        nodes=nodes,
        edges=_expand(edge_rows, {"rel": pl.String()}),
        sources=[SourceInfo(**s) for s in json.loads(meta["sources"])],
        report=json.loads(meta["report"]),
    )


__all__ = [
    "DETAIL_COLUMNS",
    "DETAIL_KINDS",
    "GROUP_COLUMNS",
    "SUMMARY_VERSION",
    "stats_summary",
    "stats_view",
]
