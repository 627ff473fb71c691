"""The canonical in-memory graph: columnar node and edge tables plus source metadata.

Every loader emits a :class:`KnowledgeGraph`; stores persist and reload it; algorithms
(tree, sampling, coverage) read it. Tables are polars DataFrames with a fixed schema
(:data:`NODE_SCHEMA`, :data:`EDGE_SCHEMA`); anything a source has beyond the fixed
columns travels in ``props`` as a JSON object with sorted keys, so round trips through
Parquet and Neo4j are exact.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from medkg.kg.curie import normalise_curie

# Entity kinds. A generic source may declare others; these are the ones the MET knows.
DISEASE = "Disease"
PHENOTYPE = "Phenotype"
GENE = "Gene"
DRUG = "Drug"
CATEGORY = "Category"
MODIFIER = "Modifier"  # HPO terms outside Phenotypic abnormality (inheritance, onset, ...)
CONCEPT = "Concept"  # other vocabulary concepts (e.g. MeSH behaviour or health-care descriptors)
KINDS = (DISEASE, PHENOTYPE, GENE, DRUG, MODIFIER, CONCEPT, CATEGORY)

# Relation types (Neo4j relationship types; upper snake case).
IS_A = "IS_A"  # child -> parent within one source hierarchy (every DAG edge kept)
HAS_PHENOTYPE = "HAS_PHENOTYPE"  # disease -> phenotype (HPO annotations, NOT kept as negated)
GENE_ASSOCIATED_WITH = "GENE_ASSOCIATED_WITH"  # gene -> disease
GENE_HAS_PHENOTYPE = "GENE_HAS_PHENOTYPE"  # gene -> phenotype
HAS_INHERITANCE = "HAS_INHERITANCE"  # disease -> mode of inheritance (HPO aspect I)
HAS_CLINICAL_COURSE = "HAS_CLINICAL_COURSE"  # disease -> onset/course term (HPO aspect C)
HAS_MODIFIER = "HAS_MODIFIER"  # disease -> clinical modifier (HPO aspect M)
HAS_MEDICAL_HISTORY = "HAS_MEDICAL_HISTORY"  # disease -> past medical history (HPO aspect H)
MAPS_TO = "MAPS_TO"  # cross-source identity or broader match (method + confidence)
REPLACED_BY = "REPLACED_BY"  # obsolete term -> its replacement
MET_PARENT = "MET_PARENT"  # child -> primary parent in the medical entity tree

NODE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "kind": pl.String(),
    "name": pl.String(),
    "definition": pl.String(),
    "synonyms": pl.List(pl.String()),
    "synonym_scopes": pl.List(pl.String()),
    "xrefs": pl.List(pl.String()),
    "obsolete": pl.Boolean(),
    "source": pl.String(),
    "source_version": pl.String(),
    "license": pl.String(),
    "props": pl.String(),
}

EDGE_SCHEMA: dict[str, pl.DataType] = {
    "src": pl.String(),
    "rel": pl.String(),
    "dst": pl.String(),
    # HPO annotation qualifiers
    "negated": pl.Boolean(),
    "frequency": pl.String(),
    "frequency_value": pl.Float64(),
    "onset": pl.String(),
    "evidence": pl.String(),
    "reference": pl.String(),
    # mapping edges
    "method": pl.String(),
    "confidence": pl.Float64(),
    "source": pl.String(),
    "source_version": pl.String(),
    "license": pl.String(),
    "props": pl.String(),
}

# Tree columns computed by medkg.kg.tree and stored with the nodes.
TREE_SCHEMA: dict[str, pl.DataType] = {
    "met_parent": pl.String(),
    "met_placement": pl.String(),
    "depth": pl.Int32(),
    "subtree_size": pl.Int64(),
    "rare": pl.Boolean(),
    "rare_reason": pl.String(),
    "annotation_degree": pl.Int64(),
}

EDGE_KEY = ("src", "rel", "dst", "source")


def props_json(props: Mapping[str, Any] | None) -> str | None:
    """Serialise extra properties deterministically (sorted keys, no whitespace)."""
    if not props:
        return None
    clean = {k: v for k, v in props.items() if v is not None}
    if not clean:
        return None
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def empty_nodes() -> pl.DataFrame:
    return pl.DataFrame(schema=NODE_SCHEMA)


def empty_edges() -> pl.DataFrame:
    return pl.DataFrame(schema=EDGE_SCHEMA)


def nodes_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Build a node table from dict rows; missing columns become null, list columns []."""
    return _frame(rows, NODE_SCHEMA, list_cols=("synonyms", "synonym_scopes", "xrefs"))


def edges_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Build an edge table from dict rows; missing columns become null."""
    return _frame(rows, EDGE_SCHEMA, list_cols=())


def _frame(
    rows: Iterable[Mapping[str, Any]], schema: dict[str, pl.DataType], list_cols: tuple[str, ...]
) -> pl.DataFrame:
    # polars converts a Python list of lists element by element (about 1 s per 20k rows with
    # three list columns); list columns are built from one flat column and a group-by
    # instead, some 20 times faster. Missing values are null, missing lists [].
    rows = rows if isinstance(rows, Sequence) else list(rows)
    n = len(rows)
    series: list[pl.Series] = []
    for c, dtype in schema.items():
        if c in list_cols:
            series.append(_list_series(c, [r.get(c) or [] for r in rows], n))
        elif c == "props":
            values = [r.get(c) for r in rows]
            series.append(
                pl.Series(
                    c, [props_json(v) if isinstance(v, Mapping) else v for v in values], dtype=dtype
                )
            )
        else:
            series.append(pl.Series(c, [r.get(c) for r in rows], dtype=dtype))
    frame = pl.DataFrame(series)
    if "obsolete" in schema:
        frame = frame.with_columns(pl.col("obsolete").fill_null(False))
    return frame


def _list_series(name: str, lists: Sequence[Sequence[str]], n: int) -> pl.Series:
    flat: list[str] = []
    index: list[int] = []
    for i, items in enumerate(lists):
        flat.extend(items)
        index.extend([i] * len(items))
    long = (
        pl.DataFrame({"row": index, name: flat}, schema={"row": pl.UInt32(), name: pl.String()})
        .group_by("row", maintain_order=True)
        .agg(pl.col(name))
    )
    rows = pl.DataFrame({"row": pl.arange(0, n, eager=True, dtype=pl.UInt32())})
    joined = rows.join(long, on="row", how="left").sort("row")
    return joined.get_column(name).fill_null([]).cast(pl.List(pl.String()))


def conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Add missing schema columns as nulls, cast and order columns; extra columns kept last."""
    exprs = []
    for c, dtype in schema.items():
        if c in frame.columns:
            exprs.append(pl.col(c).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(c))
    extra = [c for c in frame.columns if c not in schema]
    return frame.select([*exprs, *extra])


@dataclass(frozen=True)
class SourceInfo:
    """What a source is: its name, release, licence, where its file came from, and counts."""

    name: str
    version: str
    license: str
    path: str = ""
    url: str = ""
    citation: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KnowledgeGraph:
    """Columnar node and edge tables with the metadata of the sources that produced them."""

    nodes: pl.DataFrame = field(default_factory=empty_nodes)
    edges: pl.DataFrame = field(default_factory=empty_edges)
    sources: list[SourceInfo] = field(default_factory=list)
    # Repairs and drops a loader or the resolver made, by reason, so nothing is silent.
    report: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_frames(
        cls,
        nodes: pl.DataFrame,
        edges: pl.DataFrame,
        sources: Iterable[SourceInfo] = (),
        report: Mapping[str, Any] | None = None,
    ) -> KnowledgeGraph:
        return cls(
            nodes=conform(nodes, NODE_SCHEMA),
            edges=conform(edges, EDGE_SCHEMA),
            sources=list(sources),
            report=dict(report or {}),
        )

    def merge(self, *others: KnowledgeGraph) -> KnowledgeGraph:
        """Concatenate graphs.

        A node id present in several graphs keeps one row: a real node beats a stub
        (``props.stub``, made by loaders for targets they reference but do not define),
        then the first graph wins. Dropped duplicates are counted in the report; numeric
        report entries with the same key are added up.
        """
        graphs = [self, *others]
        nodes = pl.concat(
            [conform(g.nodes, {**NODE_SCHEMA, **_extra_schema(graphs)}) for g in graphs],
            how="vertical",
        )
        edges = pl.concat([conform(g.edges, EDGE_SCHEMA) for g in graphs], how="vertical")
        n_before = nodes.height
        is_stub = pl.col("props").fill_null("").str.contains('"stub":true', literal=True)
        nodes = (
            nodes.with_row_index("_order")
            .sort([is_stub, pl.col("_order")])
            .unique(subset="id", keep="first")
            .sort("_order")
            .drop("_order")
        )
        report: dict[str, Any] = {}
        for g in graphs:
            for key, value in g.report.items():
                prev = report.get(key)
                if isinstance(prev, int | float) and isinstance(value, int | float):
                    report[key] = prev + value
                else:
                    report[key] = value
        dropped = n_before - nodes.height
        if dropped:
            report["merge.duplicate_node_ids_dropped"] = (
                report.get("merge.duplicate_node_ids_dropped", 0) + dropped
            )
        sources: list[SourceInfo] = []
        for g in graphs:
            sources.extend(g.sources)
        return KnowledgeGraph(nodes=nodes, edges=edges, sources=sources, report=report)

    # ----------------------------------------------------------------- queries
    @property
    def has_tree(self) -> bool:
        return "met_parent" in self.nodes.columns

    def node(self, node_id: str) -> dict[str, Any] | None:
        hit = self.nodes.filter(pl.col("id") == node_id)
        return hit.row(0, named=True) if hit.height else None

    def counts(self) -> dict[str, Any]:
        """Counts by kind, source and relation."""
        by_kind = dict(self.nodes.group_by("kind").len().sort("kind").iter_rows())
        by_source = dict(self.nodes.group_by("source").len().sort("source").iter_rows())
        by_rel = dict(self.edges.group_by("rel").len().sort("rel").iter_rows())
        return {
            "nodes": self.nodes.height,
            "edges": self.edges.height,
            "nodes_by_kind": by_kind,
            "nodes_by_source": by_source,
            "edges_by_rel": by_rel,
        }

    # ----------------------------------------------------------------- identity
    def canonical(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Node and edge tables in a canonical row order (for hashing and comparisons)."""
        nodes = self.nodes.sort("id")
        # Every column takes part: two rows may differ only in evidence or props.
        sortable = [c for c, t in self.edges.schema.items() if not isinstance(t, pl.List)]
        keys = [*EDGE_KEY, *(c for c in sortable if c not in EDGE_KEY)]
        edges = self.edges.sort(keys, nulls_last=True)
        return nodes, edges

    def content_hash(self) -> str:
        """SHA-256 over the canonical NDJSON of nodes and edges (independent of row order)."""
        nodes, edges = self.canonical()
        h = hashlib.sha256()
        for frame in (nodes, edges):
            buf = io.BytesIO()
            frame.write_ndjson(buf)
            h.update(buf.getvalue())
        return h.hexdigest()

    def source_versions(self) -> dict[str, str]:
        return {s.name: s.version for s in self.sources}


def _extra_schema(graphs: list[KnowledgeGraph]) -> dict[str, pl.DataType]:
    extra: dict[str, pl.DataType] = {}
    for g in graphs:
        for c, dtype in g.nodes.schema.items():
            if c not in NODE_SCHEMA and c not in extra:
                extra[c] = dtype
    return extra


def provenance(info: SourceInfo) -> dict[str, str]:
    """The provenance columns every loader stamps on what it emits."""
    return {"source": info.name, "source_version": info.version, "license": info.license}


def stamp(frame: pl.DataFrame, info: SourceInfo) -> pl.DataFrame:
    """Set source, source_version and licence columns on a table from one source."""
    return frame.with_columns(
        pl.lit(info.name).alias("source"),
        pl.lit(info.version).alias("source_version"),
        pl.lit(info.license).alias("license"),
    )


__all__ = [
    "CATEGORY",
    "CONCEPT",
    "DISEASE",
    "DRUG",
    "EDGE_SCHEMA",
    "GENE",
    "GENE_ASSOCIATED_WITH",
    "GENE_HAS_PHENOTYPE",
    "HAS_CLINICAL_COURSE",
    "HAS_INHERITANCE",
    "HAS_MEDICAL_HISTORY",
    "HAS_MODIFIER",
    "HAS_PHENOTYPE",
    "IS_A",
    "KINDS",
    "MAPS_TO",
    "MET_PARENT",
    "MODIFIER",
    "NODE_SCHEMA",
    "PHENOTYPE",
    "REPLACED_BY",
    "TREE_SCHEMA",
    "KnowledgeGraph",
    "SourceInfo",
    "conform",
    "edges_frame",
    "nodes_frame",
    "normalise_curie",
    "props_json",
    "provenance",
    "stamp",
]
