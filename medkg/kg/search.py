"""Name and synonym search over a node table (the embedded store's `kg search`).

Vectorised with polars: names and synonyms are normalised once per call (or once for
many calls, with :func:`search_keys`) (lower case, accents and possessive "'s" dropped,
punctuation to spaces) and scored:

====  ==========================================================
1.0   the query equals the preferred name
0.9   the query equals a synonym
0.8   the name starts with the query
0.7   a synonym starts with the query
0.6   every query word occurs in the name
0.5   every query word occurs in a synonym
====  ==========================================================

Ties are broken by annotation degree (better-known entities first), then id.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from medkg.kg.resolve import unaccented_name_key


def _norm(expr: pl.Expr) -> pl.Expr:
    """:func:`medkg.kg.resolve.normalise_name` in polars (accents dropped, possessive "'s"
    dropped); the query goes through it too, so a name always finds itself."""
    return unaccented_name_key(expr.str.normalize("NFKD").str.replace_all(r"\p{Mn}", ""))


def _normalise_query(text: str) -> str:
    return str(pl.select(_norm(pl.lit(text, dtype=pl.String()))).item() or "")


def _keyed(nodes: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """One row per name and per synonym, with its normalised ``key``."""
    lf = nodes.lazy()
    cols = ["id", "kind", "name", "synonyms"]
    if "annotation_degree" in lf.collect_schema().names():
        cols.append("annotation_degree")
    base = lf.select(cols)
    names = base.select(
        pl.exclude("synonyms"), pl.col("name").alias("text"), pl.lit(True).alias("is_name")
    )
    syns = (
        base.explode("synonyms")
        .filter(pl.col("synonyms").is_not_null())
        .select(
            pl.exclude("synonyms"), pl.col("synonyms").alias("text"), pl.lit(False).alias("is_name")
        )
    )
    return pl.concat([names, syns]).with_columns(_norm(pl.col("text")).alias("key"))


def search_keys(nodes: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The normalised names and synonyms of ``nodes``, computed once for many searches
    (pass as ``keys=`` to :func:`search_nodes`)."""
    return _keyed(nodes).collect()


def search_nodes(
    nodes: pl.LazyFrame | pl.DataFrame,
    text: str,
    limit: int = 20,
    kind: str | None = None,
    *,
    keys: pl.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Rank nodes whose name or synonyms match ``text``; return id, kind, name, score, matched.

    ``keys`` (from :func:`search_keys` over the same nodes) skips re-normalising every
    name on each call."""
    query = _normalise_query(text)
    if not query:
        return []
    words = query.split()
    keyed = keys.lazy() if keys is not None else _keyed(nodes)
    if kind:
        keyed = keyed.filter(pl.col("kind") == kind)
    degree = "annotation_degree" in keyed.collect_schema().names()
    all_words = pl.all_horizontal([pl.col("key").str.contains(rf"\b{w}\b") for w in words])
    # Every match (equal, prefix, all words) contains every query word: prefilter on the
    # longest, the most selective (a question's first word, "in", is in most names).
    anchor = max(words, key=len)
    scored = (
        keyed.filter(pl.col("key").str.contains(anchor, literal=True))
        .with_columns(
            pl.when(pl.col("key") == query)
            .then(1.0)
            .when(pl.col("key").str.starts_with(query))
            .then(0.8)
            .when(all_words)
            .then(0.6)
            .otherwise(None)
            .alias("base")
        )
        .filter(pl.col("base").is_not_null())
        .with_columns(
            (pl.col("base") - pl.when(pl.col("is_name")).then(0.0).otherwise(0.1)).alias("score")
        )
        .sort("score", descending=True)
        .group_by("id", maintain_order=True)
        .first()
    )
    sort_cols = ["score", "annotation_degree", "id"] if degree else ["score", "id"]
    desc = [True, True, False] if degree else [True, False]
    out = (
        scored.sort(sort_cols, descending=desc)
        .head(limit)
        .select("id", "kind", "name", pl.col("score").round(2), pl.col("text").alias("matched"))
        .collect()
    )
    return out.to_dicts()
