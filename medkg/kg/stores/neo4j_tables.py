"""Polars tables as Neo4j rows and back: the column types a property can hold, the
deterministic edge keys MERGE writes on, and the column-wise write batches of
:class:`~medkg.kg.stores.neo4j.Neo4jStore`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import polars as pl

from medkg.kg import cypher
from medkg.kg.stores.base import StoreError

# Relationship properties medkg itself uses; an edge column of that name would clash.
RESERVED_EDGE_COLUMNS = frozenset({"key", cypher.TREE_MARK})

SCALAR_TYPES = {
    t.__name__: t
    for t in (
        pl.String, pl.Boolean, pl.Float32, pl.Float64,
        pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32,
    )
}  # fmt: skip


# --------------------------------------------------------------------------- column types
def dtype_name(dtype: pl.DataType) -> str:
    """Name of a column type Neo4j can hold (scalars and lists of them); StoreError otherwise."""
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        return f"List({dtype_name(inner() if isinstance(inner, type) else inner)})"
    name = dtype.base_type().__name__
    if name not in SCALAR_TYPES:
        raise StoreError(f"a {dtype} column cannot be stored as a Neo4j property")
    return name


def dtype_from_name(name: str) -> pl.DataType:
    if name.startswith("List(") and name.endswith(")"):
        return pl.List(dtype_from_name(name[5:-1]))
    try:
        return SCALAR_TYPES[name]()
    except KeyError:
        raise StoreError(f"unknown column type {name!r} in the stored graph's metadata") from None


def frame_schema(frame: pl.DataFrame, what: str) -> list[list[str]]:
    """[[column, type name], ...] in column order; StoreError names a column Neo4j cannot hold."""
    out: list[list[str]] = []
    for col, dtype in frame.schema.items():
        try:
            out.append([col, dtype_name(dtype)])
        except StoreError as exc:
            raise StoreError(f"{what} column {col!r}: {exc}") from None
    return out


def schema_from(columns: Sequence[Sequence[str]]) -> dict[str, pl.DataType]:
    return {col: dtype_from_name(name) for col, name in columns}


def list_columns_with_nulls(frame: pl.DataFrame) -> list[str]:
    """List columns holding a null element (Neo4j arrays cannot)."""
    bad = []
    for col, dtype in frame.schema.items():
        if isinstance(dtype, pl.List) and frame.height:
            has_null = frame.select(
                pl.col(col).list.eval(pl.element().is_null().any()).list.first()
            )
            if has_null.to_series().fill_null(False).any():
                bad.append(col)
    return bad


# --------------------------------------------------------------------------- rows
def _row_json(row: dict[str, Any]) -> str:
    """The text an edge key hashes: the row as compact JSON, keys sorted, UTF-8 kept."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json_rows(frame: pl.DataFrame) -> list[str]:
    """:func:`_row_json` of every row, built by polars' JSON encoder (10x faster than
    ``json.dumps`` per row). It writes strings, integers, booleans, nulls and lists exactly
    as ``json.dumps`` does, floats too except where Python picks an exponent or a
    non-finite name (``1e-05``, ``NaN``): rows holding such a float go through ``json.dumps``."""
    frame = frame.with_columns(pl.col(pl.Float32).cast(pl.Float64))  # Python sees doubles
    columns = sorted(frame.columns)
    if not columns:
        return ["{}"] * frame.height
    texts = frame.select(pl.struct(columns).struct.json_encode()).to_series().to_list()
    odd = pl.repeat(False, frame.height, eager=True)
    for col in frame.select(pl.col(pl.Float64)).columns:
        values = frame.get_column(col).drop_nulls().unique()
        encoded = pl.DataFrame({col: values}).select(pl.struct(col).struct.json_encode())
        prefix = len(json.dumps(col, ensure_ascii=False)) + 2  # {"col":
        differs = [
            v
            for v, text in zip(values.to_list(), encoded.to_series().to_list(), strict=True)
            if text[prefix:-1] != json.dumps(v)
        ]
        if differs:
            col_values = frame.get_column(col)
            odd = (
                odd
                | col_values.is_in(differs).fill_null(False)
                | col_values.is_nan().fill_null(False)
            )
    if odd.any():
        for i in odd.arg_true().to_list():
            texts[i] = _row_json(frame.row(i, named=True))
    return texts


def edge_keys(edges: pl.DataFrame) -> list[str]:
    """Deterministic key per edge row: blake2b-128 over :func:`_row_json` of the row (all
    its columns), with ``-1``, ``-2`` ... appended to exact repeats in row order."""
    blake2b = hashlib.blake2b
    keys = [blake2b(text.encode("utf-8"), digest_size=16).hexdigest() for text in _json_rows(edges)]
    digests = pl.Series("key", keys, dtype=pl.String())
    if not digests.is_duplicated().any():  # the usual case: no window, no second list
        return keys
    n = pl.int_range(pl.len()).over("key")
    keyed = pl.DataFrame({"key": digests}).select(
        pl.when(n == 0).then(pl.col("key")).otherwise(pl.col("key") + "-" + n.cast(pl.String))
    )
    return keyed.to_series().to_list()


Batch = tuple[str, dict[str, Any]]
"""One write transaction: query text and its parameters."""


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def column_batches(
    frame: pl.DataFrame,
    size: int,
    aligned: dict[str, str],
    columns: Sequence[str],
    query: Callable[[list[str]], str],
) -> Iterator[Batch]:
    """Cut ``frame`` into batches of ``size`` rows sent as columns, not as one map per row.

    Each batch carries ``aligned`` (parameter name -> column, e.g. ``{"ids": "id"}``) as
    lists and :data:`medkg.kg.cypher.COLUMNS` as one list per property column that holds a
    value in the batch; ``query(present columns)`` gives the Cypher for that batch. A
    column that is null throughout a batch is not sent: the property stays absent either way.
    """
    for start in range(0, frame.height, size):
        part = frame.slice(start, size)
        nulls = part.select(pl.col(c).null_count() for c in columns).row(0) if columns else ()
        present = [c for c, n in zip(columns, nulls, strict=True) if n < part.height]
        params: dict[str, Any] = {p: part.get_column(c).to_list() for p, c in aligned.items()}
        params[cypher.COLUMNS] = [part.get_column(c).to_list() for c in present]
        yield query(present), params


def batch_rows(batch: Batch) -> int:
    """Rows in a batch: the length of its first parameter (ids or keys)."""
    return len(next(iter(batch[1].values())))


def key_batches(query: str, param: str, values: Sequence[Any], size: int) -> Iterator[Batch]:
    for chunk in chunks(values, size):
        yield query, {param: list(chunk)}


def rows_frame(
    rows: Iterable[dict[str, Any]],
    schema: dict[str, pl.DataType],
    absent_empty: Collection[str] = (),
) -> pl.DataFrame:
    """Property maps as a frame of ``schema``; a column in ``absent_empty`` (a list column
    saved by the offline importer, which cannot write ``[]``) reads an absent value as ``[]``."""
    cols: dict[str, list[Any]] = {c: [] for c in schema}
    for row in rows:
        for c in schema:
            cols[c].append(row.get(c))
    for c in absent_empty:
        if c in cols:
            cols[c] = [[] if v is None else v for v in cols[c]]
    return pl.DataFrame(cols, schema=schema)


def stored_schema(
    meta: dict[str, Any], table: str
) -> tuple[dict[str, pl.DataType], frozenset[str]]:
    """A saved table's column types and its list columns stored without empty lists, from
    the meta node (``table`` is ``nodes`` or ``edges``)."""
    schema = schema_from(json.loads(meta["node_columns" if table == "nodes" else "edge_columns"]))
    absent = json.loads(meta.get("absent_empty_lists") or "{}").get(table, [])
    return schema, frozenset(absent)


def tree_link_rows(nodes: pl.DataFrame) -> pl.DataFrame:
    """(id, met_parent) of the entities whose MET parent is in the graph: the MET_PARENT
    links a save draws (an absent parent draws none)."""
    if "met_parent" not in nodes.columns:
        return pl.DataFrame(schema={"id": pl.String(), "met_parent": pl.String()})
    return nodes.select("id", "met_parent").filter(
        pl.col("met_parent").is_not_null()
        & pl.col("met_parent").is_in(nodes.get_column("id").implode())
    )


def storable_tables(
    nodes: pl.DataFrame, edges: pl.DataFrame
) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Everything that could refuse a graph in Neo4j, checked before the first write:
    (node column types, edge column types, relationship types), or StoreError."""
    node_columns = frame_schema(nodes, "node")
    edge_columns = frame_schema(edges, "edge")
    clash = RESERVED_EDGE_COLUMNS & set(edges.columns)
    if clash:
        raise StoreError(f"edge column(s) {sorted(clash)} clash with Neo4j store properties")
    for frame, what in ((nodes, "node"), (edges, "edge")):
        bad = list_columns_with_nulls(frame)
        if bad:
            raise StoreError(
                f"{what} list column(s) {bad} hold null elements; Neo4j cannot store them"
            )
    rel_values = edges.get_column("rel").unique().to_list()
    if None in rel_values:
        raise StoreError("edges with a null rel cannot be stored in Neo4j")
    kinds = sorted({k for k in nodes.get_column("kind").unique().to_list() if k is not None})
    rels = sorted(rel_values)
    try:
        for name in (*kinds, *rels):
            cypher.validate_name(name)
        for col in (*nodes.columns, *edges.columns):
            cypher.property_key(col)
    except ValueError as exc:
        raise StoreError(f"cannot store the graph in Neo4j: {exc}") from None
    return node_columns, edge_columns, rels


__all__ = [
    "RESERVED_EDGE_COLUMNS",
    "SCALAR_TYPES",
    "Batch",
    "batch_rows",
    "chunks",
    "column_batches",
    "dtype_from_name",
    "dtype_name",
    "edge_keys",
    "frame_schema",
    "key_batches",
    "list_columns_with_nulls",
    "rows_frame",
    "schema_from",
    "storable_tables",
    "stored_schema",
    "tree_link_rows",
]
