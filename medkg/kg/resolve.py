"""Cross-source resolution: MAPS_TO edges with method and confidence, never silent merges.

Entities from different sources that denote the same (or a broader) concept are linked
by ``MAPS_TO`` edges; both nodes stay. Methods:

==================  ========================================================================
method              rule
==================  ========================================================================
``xref``            a node's xref is the id of another node in the graph
``name_exact``      normalised preferred names are equal
``synonym_exact``   a normalised name equals a synonym (or two synonyms are equal)
``name_stem``       the name without its subtype designator ("type 2A", ", autosomal
                    recessive", "due to ...") names a broader entity (``props.match = "broad"``)
``name_contains``   the longest specific disease name contained, as whole words, in the name
                    (``props.match = "broad"``)
==================  ========================================================================

**Confidence is measured precision.** Each method's edges are checked against the gold
mappings of :mod:`medkg.kg.identity` (curated Biomappings HP-MeSH rows and a hand-checked
sample of this resolver's output, both in ``kg/data/gold/``); every edge of a method gets
that method's precision as its confidence, and the figures (edges, judged, correct,
precision, 95% lower bound) go to ``report["resolve.identity_quality"]`` (``medkg kg stats``).
A second figure, ``placement_precision``, judges every edge as a tree parent (is the target
the same concept or a true broader one?): a synonym match to a broader MeSH descriptor is a
wrong identity but a good parent.
A method with too few judged edges keeps its prior (:data:`PRIOR_CONFIDENCE`), reported as
unmeasured. Measured on the bundled build (2026-12): name_exact 206/206, name_stem 39/40,
name_contains 33/40, synonym_exact 49/72 (MeSH entry terms are often narrower concepts).
The tree places a node through a mapping only when its method's ``placement_score`` (the
placement precision, else the confidence) is at least :data:`PLACEMENT_MIN_PRECISION`.

Edges point from the entity being placed to the entity it maps to, ordered by prefix
rank (MESH, MESHX, ICD10, ICD10CM, HP, ORPHA, OMIM, DECIPHER, then others): ``ORPHA:558
MAPS_TO MESH:D008382``. Only Disease, Phenotype and Category nodes are name-matched
(gene symbols and drug brand names collide too often). A name shared by two entities
with the same prefix is not a mapping: such collisions are counted. A node that maps
to several targets with one prefix by the same method gets ``props.ambiguous = n`` on
each edge and is counted as a conflict.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from typing import Any, TypeVar

import polars as pl

from medkg.kg.curie import prefix_of
from medkg.kg.identity import gold_summary, measure
from medkg.kg.model import (
    CATEGORY,
    DISEASE,
    MAPS_TO,
    PHENOTYPE,
    KnowledgeGraph,
    SourceInfo,
    edges_frame,
    stamp,
)

# MESHX: MeSH entries whose descriptor id the bundled dictionary got wrong (see sources/mesh.py).
PREFIX_RANK = {
    "MESH": 0,
    "MESHX": 1,
    "ICD10": 2,
    "ICD10CM": 3,
    "HP": 4,
    "ORPHA": 5,
    "OMIM": 6,
    "DECIPHER": 7,
}
MATCHED_KINDS = (DISEASE, PHENOTYPE, CATEGORY)
# Prefixes whose hierarchy is a good place for a disease that has none.
HIERARCHY_PREFIXES = ("MESH", "MESHX", "ICD10", "ICD10CM")
# Words too generic to stand alone as the "contained" broader disease.
GENERIC_HEADS = frozenset(
    [
        "syndrome",
        "syndromes",
        "disease",
        "diseases",
        "disorder",
        "disorders",
        "deficiency",
        "deficiencies",
        "defect",
        "defects",
        "anomaly",
        "anomalies",
        "abnormality",
        "abnormalities",
        "congenital",
        "abnormalities",
        "infection",
        "infections",
        "neoplasm",
        "neoplasms",
        "tumor",
        "tumors",
        "tumour",
        "cancer",
        "disease",
        "susceptibility",
        "susceptibility",
        "familial",
        "hereditary",
        "rare",
        "diseases",
        "genetic",
        "diseases",
        "inborn",
        "pain",
        "fever",
        "weakness",
        "injury",
        "injuries",
        "wounds",
        "and",
        "injuries",
    ]
)
# Priors for methods that the gold sets do not judge often enough (identity.MIN_JUDGED).
PRIOR_CONFIDENCE = {
    "xref": 0.95,  # curated cross-references of the source ontology
    "name_exact": 0.95,
    "synonym_exact": 0.85,
    "name_stem": 0.6,
    "name_contains": 0.4,
}
# Tree placement uses a mapping only at or above this measured precision (see tree.py).
PLACEMENT_MIN_PRECISION = 0.9
RESOLVER = SourceInfo(name="medkg-resolve", version="1", license="CC0-1.0 (derived mappings)")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_POSSESSIVE = re.compile(r"(\w)'s\b")
_DESIGNATOR = re.compile(
    r"(?:[,;]?\s+(?:type|group|subtype|form|class|complementation group)\s+[0-9a-z]{1,4}"
    r"|[,;]?\s+[0-9]+[a-z]?|[,;]?\s+[ivx]{1,5}|[,;]?\s+[a-z])$"
)
_ENUMERATION = re.compile(r",[^,]*,.*\band\b|,.*,\s*and\b")
_QUALIFIER = re.compile(
    r"[,;]\s*(?:autosomal (?:dominant|recessive)|x-linked(?: dominant| recessive)?|"
    r"infantile|juvenile|adult|neonatal|congenital|early[- ]onset|late[- ]onset|familial|"
    r"with .*|without .*|due to .*|associated with .*|included|formerly.*)$"
)


def normalise_name(text: str) -> str:
    """Lower-case, strip accents and possessives, punctuation to single spaces."""
    if text.isascii():  # most names: nothing to decompose (saves ~2/3 of the time)
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _POSSESSIVE.sub(r"\1", text)
    return _NON_ALNUM.sub(" ", text).strip()


PolarsText = TypeVar("PolarsText", pl.Series, pl.Expr)


def unaccented_name_key(texts: PolarsText) -> PolarsText:
    """:func:`normalise_name` in polars for text whose accents are gone already (a Series
    or an expression): lower case, possessive "'s" dropped, punctuation to single spaces."""
    return (
        texts.str.to_lowercase()
        .str.replace_all(r"(\w)'s\b", "$1")
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
    )


def normalise_names(texts: pl.Series) -> pl.Series:
    """:func:`normalise_name` over a column: ASCII names in polars, the others in Python."""
    col = texts.cast(pl.String()).fill_null("")
    fast = unaccented_name_key(col)
    non_ascii = ~col.str.contains(r"^[\x00-\x7F]*$")
    if not non_ascii.any():
        return fast
    slow = [normalise_name(t) for t in col.filter(non_ascii).to_list()]
    out = fast.to_list()
    for i, value in zip(non_ascii.arg_true().to_list(), slow, strict=True):
        out[i] = value
    return pl.Series(texts.name, out, dtype=pl.String())


def stem_candidates(name: str) -> list[str]:
    """Broader names: drop subtype designators, trailing qualifiers, invert 'X, Y' forms."""
    text = name.lower().strip()
    out: list[str] = []
    seen = {normalise_name(text)}

    def add(candidate: str) -> None:
        key = normalise_name(candidate)
        if key and key not in seen:
            seen.add(key)
            out.append(key)

    current = text
    for _ in range(4):
        stripped = _QUALIFIER.sub("", current)
        stripped = _DESIGNATOR.sub("", stripped).strip(" ,;")
        if stripped == current:
            break
        add(stripped)
        current = stripped
    for base in (text, current):
        head, sep, tail = base.partition(",")
        # "A, B, and C" lists a syndrome's features: its head names one feature, not a parent
        if sep and not _ENUMERATION.search(base):
            add(f"{tail.strip()} {head.strip()}")
            add(head)
        for marker in (" due to ", " with ", " without ", " associated with "):
            if marker in base:
                add(base.split(marker, 1)[0])
    return out


def _name_table(kg: KnowledgeGraph) -> pl.DataFrame:
    """One row per (node, normalised name or synonym) for the kinds that are name-matched."""
    nodes = kg.nodes.filter(pl.col("kind").is_in(MATCHED_KINDS) & ~pl.col("obsolete"))
    names = nodes.select("id", "kind", pl.col("name").alias("text"), pl.lit("name").alias("via"))
    syns = (
        nodes.select("id", "kind", "synonyms", "synonym_scopes")
        .explode(["synonyms", "synonym_scopes"])
        .filter(
            pl.col("synonyms").is_not_null()
            & ~pl.col("synonym_scopes").fill_null("").is_in(["BROAD", "NARROW"])
        )
        .select("id", "kind", pl.col("synonyms").alias("text"), pl.lit("synonym").alias("via"))
    )
    table = pl.concat([names, syns])
    table = table.with_columns(
        normalise_names(table.get_column("text")).alias("key"),
        pl.col("id").str.extract(r"^([^:]+)").alias("prefix"),
    ).filter(pl.col("key").str.len_chars() >= 3)
    # A name that is also a synonym of the same node counts once, as the name.
    return table.sort(["id", "key", "via"]).unique(["id", "key"], keep="first", maintain_order=True)


def placement_score(quality: dict[str, Any], confidence: float | None) -> float | None:
    """What the tree compares with PLACEMENT_MIN_PRECISION: the measured share of a method's
    edges whose target is the same or a broader concept, else its confidence."""
    measured = quality.get("placement_precision")
    return measured if measured is not None else confidence


def _rank(prefix: str) -> int:
    return PREFIX_RANK.get(prefix, len(PREFIX_RANK))


def resolve(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Return ``kg`` with MAPS_TO edges added and a resolution report."""
    report: Counter[str] = Counter()
    node_ids = set(kg.nodes.get_column("id").to_list())
    rows: list[dict[str, Any]] = []

    # 1. xrefs that name a node of the graph.
    xrefs = kg.nodes.select("id", "xrefs").explode("xrefs").drop_nulls("xrefs")
    for src, dst in xrefs.iter_rows():
        if dst in node_ids and dst != src:
            rows.append({"src": src, "dst": dst, "method": "xref"})
            report["xref"] += 1

    # 2. exact names and synonyms.
    table = _name_table(kg)
    by_key: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for node_id, key, via, prefix in table.select("id", "key", "via", "prefix").iter_rows():
        by_key[key].append((node_id, via, prefix))
    exact: dict[tuple[str, str], tuple[str, int]] = {}
    for members in by_key.values():
        if len(members) < 2:
            continue
        for i, (a, via_a, pa) in enumerate(members):
            for b, via_b, pb in members[i + 1 :]:
                if a == b:
                    continue
                if pa == pb:
                    report["same_prefix_name_collision"] += 1
                    continue
                src, dst = (a, b) if (_rank(pa), a) > (_rank(pb), b) else (b, a)
                # strength: name-name 2, name-synonym 1, synonym-synonym 0 (keep the best)
                strength = (via_a == "name") + (via_b == "name")
                method = "name_exact" if strength == 2 else "synonym_exact"
                prev = exact.get((src, dst))
                if prev is None or strength > prev[1]:
                    exact[(src, dst)] = (method, strength)
    for (src, dst), (method, _strength) in exact.items():
        rows.append({"src": src, "dst": dst, "method": method})
        report[method] += 1

    # 3. broader matches for diseases that reached no hierarchy source exactly.
    reached = {(r["src"]) for r in rows if prefix_of(r["dst"]) in HIERARCHY_PREFIXES}
    hier_names = table.filter(
        pl.col("prefix").is_in(HIERARCHY_PREFIXES) & (pl.col("kind") != CATEGORY)
    )
    hier_index: dict[str, list[str]] = defaultdict(list)
    for node_id, key in hier_names.select("id", "key").iter_rows():
        hier_index[key].append(node_id)
    for ids in hier_index.values():
        ids.sort(key=lambda i: (_rank(prefix_of(i)), i))
    max_words = max((k.count(" ") + 1 for k in hier_index), default=1)
    diseases = kg.nodes.filter(
        (pl.col("kind") == DISEASE)
        & ~pl.col("id").str.extract(r"^([^:]+)").is_in(HIERARCHY_PREFIXES)
    )
    for node_id, name in diseases.select("id", "name").iter_rows():
        if node_id in reached or not name:
            continue
        target = None
        for cand in stem_candidates(name):
            if cand in hier_index and cand not in GENERIC_HEADS:
                target, method = hier_index[cand][0], "name_stem"
                break
        if target is None:
            words = normalise_name(name).split()
            best: tuple[int, str] | None = None
            for n in range(min(max_words, len(words)), 0, -1):
                for i in range(len(words) - n + 1):
                    gram = " ".join(words[i : i + n])
                    if gram in GENERIC_HEADS or (n == 1 and len(gram) < 5):
                        continue
                    if gram in hier_index:
                        best = (n, hier_index[gram][0])
                        break
                if best:
                    break
            if best:
                target, method = best[1], "name_contains"
        if target is not None and target != node_id:
            rows.append(
                {
                    "src": node_id,
                    "dst": target,
                    "method": method,
                    "props": {"match": "broad"},
                }
            )
            report[method] += 1

    edges = edges_frame(rows)
    edges = edges.unique(["src", "dst", "method"], keep="first", maintain_order=True)
    # Conflicts: one source node mapped by one method to several targets with one prefix.
    amb = (
        edges.with_columns(pl.col("dst").str.extract(r"^([^:]+)").alias("_p"))
        .group_by(["src", "method", "_p"])
        .agg(pl.len().alias("_n"))
        .filter(pl.col("_n") > 1)
    )
    if amb.height:
        edges = (
            edges.with_columns(pl.col("dst").str.extract(r"^([^:]+)").alias("_p"))
            .join(amb, on=["src", "method", "_p"], how="left")
            .with_columns(
                pl.when(pl.col("_n").is_not_null())
                .then(
                    pl.concat_str(
                        [pl.lit('{"ambiguous":'), pl.col("_n").cast(pl.String()), pl.lit("}")]
                    )
                )
                .otherwise(pl.col("props"))
                .alias("props")
            )
            .drop("_p", "_n")
        )
    edges = edges.with_columns(pl.lit(MAPS_TO).alias("rel"))
    quality = measure(kg.nodes, pl.concat([kg.edges.select(edges.columns), edges]))
    confidence = {
        m: q["precision"] if q.get("precision") is not None else PRIOR_CONFIDENCE.get(m)
        for m, q in quality.items()
    }
    edges = stamp(
        edges.with_columns(
            pl.col("method")
            .replace_strict(confidence, default=None, return_dtype=pl.Float64)
            .alias("confidence")
        ),
        RESOLVER,
    )
    by_pair = (
        edges.with_columns(
            pl.col("src").str.extract(r"^([^:]+)").alias("from"),
            pl.col("dst").str.extract(r"^([^:]+)").alias("to"),
        )
        .group_by(["from", "to", "method"])
        .len()
        .sort(["from", "to", "method"])
    )
    summary: dict[str, Any] = {
        "resolve.edges": edges.height,
        "resolve.by_method": dict(sorted(report.items())),
        "resolve.by_prefix_pair": {f"{f}->{t}:{m}": n for f, t, m, n in by_pair.iter_rows()},
        "resolve.conflicts_ambiguous_sources": amb.select("src").n_unique() if amb.height else 0,
        "resolve.same_prefix_name_collisions": report.get("same_prefix_name_collision", 0),
        "resolve.identity_quality": {
            "methods": {
                m: {
                    **q,
                    "confidence": confidence.get(m),
                    "measured": q["precision"] is not None,
                    "placement_score": placement_score(q, confidence.get(m)),
                }
                for m, q in quality.items()
            },
            "gold": gold_summary(),
            "placement_min_precision": PLACEMENT_MIN_PRECISION,
        },
    }
    merged = KnowledgeGraph(
        nodes=kg.nodes,
        edges=pl.concat([kg.edges, edges.select(kg.edges.columns)]),
        sources=[
            *kg.sources,
            SourceInfo(**{**RESOLVER.to_dict(), "counts": {"MAPS_TO": edges.height}}),
        ],
        report={**kg.report, **summary},
    )
    return merged
