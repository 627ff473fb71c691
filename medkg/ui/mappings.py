"""The mapping review queue and the curator's SSSOM file.

Queue: MAPS_TO edges a curator should look at — low confidence (below a threshold; the
confidence of a resolver method is its measured precision) or conflicting (one entity
mapped to several entities of the same source prefix). Each side comes with its evidence:
names, synonyms, definition, cross-references, tree parent, annotation counts.

Decisions go to ``$MEDKG_HOME/mappings/curated.sssom.tsv``: SSSOM TSV with a YAML header,
one row per (subject, object) pair, ``mapping_justification`` =
``semapv:ManualMappingCuration``; a rejected mapping is kept with ``predicate_modifier``
``Not``. The latest decision on a pair replaces the earlier one; the file is rewritten to
a temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from medkg.config import medkg_home
from medkg.ui.graph import GraphIndex

SSSOM_FILE = "curated.sssom.tsv"
SSSOM_COLUMNS = (
    "subject_id",
    "subject_label",
    "predicate_id",
    "predicate_modifier",
    "object_id",
    "object_label",
    "mapping_justification",
    "confidence",
    "author_label",
    "mapping_date",
    "comment",
)
CURIE_MAP = {
    "HP": "http://purl.obolibrary.org/obo/HP_",
    "OMIM": "https://omim.org/entry/",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "ICD10": "http://purl.bioontology.org/ontology/ICD10/",
    "DECIPHER": "https://www.deciphergenomics.org/syndrome/",
    "NCBIGene": "http://identifiers.org/ncbigene/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
}


class MappingReviewError(ValueError):
    """A mapping decision or the curated SSSOM file is malformed."""


def sssom_path() -> Path:
    return medkg_home() / "mappings" / SSSOM_FILE


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


def read_decisions(path: Path | None = None) -> dict[tuple[str, str], dict[str, str]]:
    """Rows of the curated SSSOM file keyed by (subject_id, object_id)."""
    path = path or sssom_path()
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MappingReviewError(f"{path}: not UTF-8 text") from None
    body = [line for line in text.splitlines() if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(body)), delimiter="\t")
    missing = [
        c for c in ("subject_id", "object_id", "predicate_id") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise MappingReviewError(f"{path}: not an SSSOM table (missing column(s) {missing})")
    out = {}
    for number, row in enumerate(reader, 2):
        if not row.get("subject_id") or not row.get("object_id"):
            raise MappingReviewError(f"{path} row {number}: subject_id and object_id are required")
        out[(row["subject_id"], row["object_id"])] = {c: row.get(c) or "" for c in SSSOM_COLUMNS}
    return out


def record_decision(
    index: GraphIndex,
    subject: str,
    obj: str,
    decision: str,
    comment: str = "",
    path: Path | None = None,
) -> Path:
    """Write one curator decision (``accept`` or ``reject``) on a MAPS_TO edge."""
    if decision not in ("accept", "reject"):
        raise MappingReviewError(f"decision {decision!r} must be accept or reject")
    edge = index.edges_out(subject, "MAPS_TO").filter(pl.col("dst") == obj)
    if edge.is_empty():
        raise MappingReviewError(f"no MAPS_TO edge {subject} → {obj} in the graph")
    path = path or sssom_path()
    rows = read_decisions(path)
    rows[(subject, obj)] = {
        "subject_id": subject,
        "subject_label": index.name_of(subject),
        "predicate_id": "skos:exactMatch",
        "predicate_modifier": "" if decision == "accept" else "Not",
        "object_id": obj,
        "object_label": index.name_of(obj),
        "mapping_justification": "semapv:ManualMappingCuration",
        "confidence": "1.0",
        "author_label": os.environ.get("USER", "curator"),
        "mapping_date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "comment": " ".join(f"{comment} (resolver: {edge.row(0, named=True)['method']})".split()),
    }
    header = ["#curie_map:"] + [f"#  {k}: {v}" for k, v in sorted(CURIE_MAP.items())]
    header += [
        "#mapping_set_id: https://w3id.org/medkg/curated-mappings",
        "#license: https://creativecommons.org/publicdomain/zero/1.0/",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SSSOM_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow(rows[key])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text("\n".join(header) + "\n" + buffer.getvalue(), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


__all__ = [
    "MappingReviewError",
    "evidence",
    "read_decisions",
    "record_decision",
    "review_queue",
    "sssom_path",
]
