"""The mapping review queue and the curator's SSSOM file.

Queue: MAPS_TO edges a curator should look at — low confidence (below a threshold; the
confidence of a resolver method is its measured precision) or conflicting (one entity
mapped to several entities of the same source prefix). Each side comes with its evidence:
names, synonyms, definition, cross-references, tree parent, annotation counts.

Decisions go to the curated SSSOM file of :mod:`medkg.kg.curated`
(``$MEDKG_HOME/mappings/curated.sssom.tsv``), which `medkg kg build` applies to the next
graph.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.curated import CuratedMappingError, read_curated, write_curated
from medkg.kg.equivalents import BROAD_METHODS
from medkg.ui.graph import GraphIndex


class MappingReviewError(CuratedMappingError):
    """A mapping decision is malformed or names no MAPS_TO edge of the graph."""


def review_queue(index: GraphIndex, threshold: float = 0.7) -> pl.DataFrame:
    """Low-confidence or conflicting MAPS_TO edges: src, dst, method, confidence, why."""
    edges = index.edges_of("MAPS_TO").select("src", "dst", "method", "confidence")
    if edges.is_empty():
        return edges.with_columns(pl.lit("").alias("why"))
    prefix = pl.col("dst").str.split(":").list.first()
    edges = edges.with_columns(
        (pl.len().over("src", prefix) > 1).alias("conflict"),
        (pl.col("confidence").fill_null(0.0) < threshold).alias("low"),
    )
    queue = edges.filter(pl.col("conflict") | pl.col("low")).with_columns(
        pl.when(pl.col("conflict") & pl.col("low"))
        .then(pl.lit("conflicting, low confidence"))
        .when(pl.col("conflict"))
        .then(pl.lit("conflicting: maps to several entities of one source"))
        .otherwise(pl.lit("low confidence"))
        .alias("why")
    )
    return queue.sort(
        ["conflict", "confidence", "src", "dst"],
        descending=[True, False, False, False],
        nulls_last=False,
    ).drop("conflict", "low")


def evidence(index: GraphIndex, node_id: str) -> dict[str, Any]:
    """One side of a mapping as a curator judges it."""
    node = index.node(node_id) or {"id": node_id, "name": "(not in the graph)"}
    parent = node.get("met_parent")
    return {
        "id": node_id,
        "name": node.get("name"),
        "kind": node.get("kind"),
        "source": f"{node.get('source', '')} {node.get('source_version', '')}".strip(),
        "definition": node.get("definition") or "",
        "synonyms": list(node.get("synonyms") or [])[:10],
        "xrefs": list(node.get("xrefs") or [])[:10],
        "parent": {"id": parent, "name": index.name_of(parent)} if parent else None,
        "phenotypes": index.edges_out(node_id, "HAS_PHENOTYPE").height,
        "genes": [
            index.name_of(g)
            for g in index.edges_in(node_id, "GENE_ASSOCIATED_WITH").get_column("src").to_list()[:8]
        ],
    }


def record_decision(
    index: GraphIndex, subject: str, obj: str, decision: str, comment: str, path: Path
) -> Path:
    """Write one curator decision (``accept`` or ``reject``) on a MAPS_TO edge to the
    curated SSSOM file at ``path`` (the latest decision on a pair replaces the earlier)."""
    if decision not in ("accept", "reject"):
        raise MappingReviewError(f"decision {decision!r} must be accept or reject")
    edge = index.edges_out(subject, "MAPS_TO").filter(pl.col("dst") == obj)
    if edge.is_empty():
        raise MappingReviewError(f"no MAPS_TO edge {subject} → {obj} in the graph")
    rows = read_curated(path)
    found = edge.row(0, named=True)
    props = found.get("props") or ""
    # What is accepted is the edge as it stands: a broad match stays broad, never an identity.
    if found["method"] in BROAD_METHODS or '"match":"broad"' in props:
        predicate = "skos:broadMatch"
    elif '"match":"close"' in props:
        predicate = "skos:closeMatch"
    else:
        predicate = "skos:exactMatch"
    rows[(subject, obj)] = {
        "subject_id": subject,
        "subject_label": index.name_of(subject),
        "predicate_id": predicate,
        "predicate_modifier": "" if decision == "accept" else "Not",
        "object_id": obj,
        "object_label": index.name_of(obj),
        "mapping_justification": "semapv:ManualMappingCuration",
        "confidence": "1.0",
        "author_label": os.environ.get("USER", "curator"),
        "mapping_date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "comment": " ".join(f"{comment} (resolver: {found['method']})".split()),
    }
    return write_curated(path, rows)


__all__ = ["MappingReviewError", "evidence", "record_decision", "review_queue"]
