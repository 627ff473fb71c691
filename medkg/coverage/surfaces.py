"""The linker's dictionary: one row per normalised surface key of the graph's names,
synonyms and their variants, with every entity it names in priority order."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from medkg.coverage.composed import composed_forms
from medkg.coverage.linking_config import LinkerConfig
from medkg.coverage.synonym_evidence import synonym_forms
from medkg.coverage.variants import key_variants
from medkg.kg.model import KnowledgeGraph
from medkg.text import surface_key

# Surface-form ranks: lower wins a tie between entities sharing a form.
_NAME, _EXACT_SYN, _OTHER_SYN, _EVIDENCE, _VARIANT, _COMPOSED = 0, 1, 2, 3, 4, 5


def _excluded_by_tree(nodes: pl.DataFrame, branches: tuple[str, ...]) -> list[str]:
    """Ids of MeSH descriptors all of whose C-tree numbers lie under ``branches``."""
    if not branches or "props" not in nodes.columns:
        return []
    trees = nodes.select(
        "id",
        pl.col("props").str.json_path_match("$.tree_numbers").alias("trees"),
    ).filter(pl.col("trees").is_not_null())
    out = []
    for ent, raw in trees.iter_rows():
        c = [t for t in json.loads(raw) if t.startswith("C")]
        if c and all(any(t == b or t.startswith(b + ".") for b in branches) for t in c):
            out.append(ent)
    return out


def surface_table(kg: KnowledgeGraph, config: LinkerConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    """One row per kept surface key: ``key``, ``entity_id`` (the first sense),
    ``acronym``, ``composed`` (only :mod:`medkg.coverage.composed` gave the key), ``rank`` (the
    best form's rank: name 0, EXACT synonym 1, other synonym 2, MONDO/DOID 3, variant 4,
    composed 5), ``senses`` (how many entities share it) and ``candidates`` (all of them,
    best first by name/synonym/variant rank, kind order, prefix priority, id).

    Returns the table and the counts of forms skipped by reason."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    nodes = kg.nodes.filter(pl.col("kind").is_in(list(config.kinds)) & ~pl.col("obsolete"))
    excluded = _excluded_by_tree(nodes, config.mesh_exclude_trees)
    stats_excluded = len(excluded)
    nodes = nodes.filter(~pl.col("id").is_in(excluded))
    names = nodes.select(
        pl.col("id"), pl.col("kind"), pl.col("name").alias("form"), pl.lit(_NAME).alias("rank")
    )
    frames = [names]
    if config.synonyms:
        syn = (
            nodes.select("id", "kind", "synonyms", "synonym_scopes")
            .with_columns(
                pl.col("synonym_scopes").fill_null([]),
                pl.col("synonyms").fill_null([]),
            )
            .filter(pl.col("synonyms").list.len() > 0)
        )
        # scopes may be shorter than synonyms (or empty): pad with nulls before exploding
        syn = syn.with_columns(
            pl.struct("synonyms", "synonym_scopes")
            .map_elements(
                lambda r: [
                    (r["synonym_scopes"][i] if i < len(r["synonym_scopes"]) else None)
                    for i in range(len(r["synonyms"]))
                ],
                return_dtype=pl.List(pl.String()),
            )
            .alias("synonym_scopes")
        ).explode(["synonyms", "synonym_scopes"])
        frames.append(
            syn.select(
                "id",
                "kind",
                pl.col("synonyms").alias("form"),
                pl.when(pl.col("synonym_scopes").is_in(["EXACT"]))
                .then(_EXACT_SYN)
                .otherwise(_OTHER_SYN)
                .alias("rank"),
            )
        )
    if config.synonym_evidence:
        # other terminologies' synonyms of these ids (medkg.coverage.synonym_evidence)
        frames.append(
            synonym_forms()
            .join(nodes.select("id", "kind"), on="id")
            .select("id", "kind", "form", pl.lit(_EVIDENCE).alias("rank"))
        )
    forms = pl.concat(frames).filter(pl.col("form").is_not_null())
    raw = forms.get_column("form").to_list()
    keys = [surface_key(f) for f in raw]
    acronym = [f.strip().isupper() and len(f.strip()) <= 6 and f.strip().isalnum() for f in raw]
    forms = forms.with_columns(
        pl.Series("key", keys, dtype=pl.String()), pl.Series("acronym", acronym)
    )
    stats: dict[str, int] = {"forms": forms.height, "excluded_by_tree": stats_excluded}
    if config.variants:
        # plural/singular, spelling and word-order variants rank after every real form;
        # a variant that is some entity's real key is dropped (the real form decides)
        var_rows: dict[str, list[Any]] = {"id": [], "kind": [], "form": [], "key": []}
        cache: dict[str, list[str]] = {}  # variants depend on the key (the form if it has a comma)
        for ent, kind, form, key, acr in forms.select(
            "id", "kind", "form", "key", "acronym"
        ).iter_rows():
            if acr:
                continue
            memo = form if "," in form else key
            variants = cache.get(memo)
            if variants is None:
                variants = cache[memo] = key_variants(form, key)
            for v in variants:
                var_rows["id"].append(ent)
                var_rows["kind"].append(kind)
                var_rows["form"].append(form)
                var_rows["key"].append(v)
        var = pl.DataFrame(var_rows, schema={"id": pl.String(), "kind": pl.String(),
                                             "form": pl.String(), "key": pl.String()})  # fmt: skip
        var = var.join(forms.select("key").unique(), on="key", how="anti").with_columns(
            pl.lit(_VARIANT).alias("rank"), pl.lit(False).alias("acronym")
        )
        stats["variant_keys"] = var.get_column("key").n_unique()
        forms = pl.concat([forms, var.select(forms.columns)])
    if config.composed:
        # composed forms (medkg.coverage.composed) rank last and never join an existing key
        comp = composed_forms(kg, forms, config.kinds, config.prefix_priority)
        comp = comp.join(forms.select("key").unique(), on="key", how="anti").with_columns(
            pl.lit(_COMPOSED).alias("rank"), pl.lit(False).alias("acronym")
        )
        stats["composed_keys"] = comp.get_column("key").n_unique()
        forms = pl.concat([forms, comp.select(forms.columns)])
    core = pl.col("key").str.strip_chars(" ")
    too_short = core.str.len_chars() < config.min_chars
    numeric = core.str.contains(r"^[0-9 ]+$")
    stop = core.is_in(list(ENGLISH_STOP_WORDS))
    stats["skipped_short"] = forms.filter(too_short).height
    stats["skipped_numeric"] = forms.filter(~too_short & numeric).height
    stats["skipped_stopword"] = forms.filter(~too_short & ~numeric & stop).height
    forms = forms.filter(~too_short & ~numeric & ~stop)

    kind_rank = {k: i for i, k in enumerate(config.kinds)}
    prefix_rank = {p: i for i, p in enumerate(config.prefix_priority)}
    forms = forms.with_columns(
        pl.col("kind").replace_strict(kind_rank, default=len(kind_rank)).alias("kind_rank"),
        pl.col("id")
        .str.split(":")
        .list.first()
        .replace_strict(prefix_rank, default=len(prefix_rank))
        .alias("prefix_rank"),
    )
    best = (
        # "acronym" last: one entity's forms of the same rank that differ only in case
        # ("CCTGA", "ccTGA") were a tie the sort left in any order, so whether the key
        # matched lower-case text depended on it; a form not in capitals wins the tie
        forms.sort(["key", "rank", "kind_rank", "prefix_rank", "id", "acronym"])
        .group_by("key", maintain_order=True)
        .agg(
            pl.col("id").first().alias("entity_id"),
            # acronym handling follows the winning form's spelling
            pl.col("acronym").first(),
            # the best form's rank: a key only composition gave is a "rule" match
            (pl.col("rank").first() == _COMPOSED).alias("composed"),
            # the best form's rank (name, synonym, ..., composed): a mention-filter feature
            pl.col("rank").first().alias("rank"),
            pl.col("id").n_unique().alias("senses"),
            # every sense, best first: the context may pick another (medkg.coverage.senses)
            pl.col("id").unique(maintain_order=True).alias("candidates"),
        )
    )
    ambiguous = pl.col("senses") > config.max_senses
    stats["skipped_ambiguous"] = best.filter(ambiguous).height
    best = best.filter(~ambiguous)
    stats["keys"] = best.height
    stats["keys_shared"] = best.filter(pl.col("senses") > 1).height
    cols = ("key", "entity_id", "acronym", "composed", "rank", "senses", "candidates")
    return best.select(cols), stats


__all__ = ["surface_table"]
