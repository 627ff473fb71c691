"""Build the graph: load sources → merge → drop dangling edges (counted) → resolve → tree.

The Python API behind ``medkg kg build``::

    from medkg.kg.build import build_graph
    kg = build_graph()                       # every default-enabled bundled source
    kg = build_graph(["hpo", "hpoa"], paths={"hpoa": "new/phenotype.hpoa"})
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.kg.curated import apply_curated_mappings
from medkg.kg.curie import is_known_prefix
from medkg.kg.model import KnowledgeGraph
from medkg.kg.resolve import resolve
from medkg.kg.sources.base import SOURCES, Source, SourceError
from medkg.kg.tree import build_tree

log = logging.getLogger(__name__)

# Merge order: on a duplicate node id the first source wins (and the duplicate is counted);
# sources not named here follow, by name.
MERGE_ORDER = ("hpo", "hpoa", "hpo_genes", "mesh", "mesh_scr", "icd10", "icd10cm", "drugs")


def available_sources() -> dict[str, type[Source]]:
    """All registered sources (built-in and entry points), in merge order."""
    order = {key: i for i, key in enumerate(MERGE_ORDER)}
    return dict(sorted(SOURCES.load_all().items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))


def default_source_keys() -> list[str]:
    return [k for k, cls in available_sources().items() if cls.default_enabled]


def resolve_source_keys(spec: Sequence[str] | None) -> list[str]:
    """Expand a user's source list: None = defaults; ``+icd10cm`` adds to the defaults,
    ``-drugs`` removes; plain names replace the defaults. Unknown names are an error."""
    known = available_sources()
    if not spec:
        return default_source_keys()
    items = [s.strip() for part in spec for s in part.split(",") if s.strip()]
    relative = all(s[0] in "+-" for s in items)
    keys = default_source_keys() if relative else []
    for item in items:
        name = item.lstrip("+-")
        if name not in known:
            raise SourceError(name, f"unknown source {name!r}; choose from {sorted(known)}")
        if item.startswith("-"):
            keys = [k for k in keys if k != name]
        elif name not in keys:
            keys.append(name)
    order = list(known)
    return sorted(keys, key=order.index)


def drop_dangling_edges(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Remove edges whose endpoints are not nodes, counting them by relation."""
    ids = kg.nodes.select("id")
    ok = kg.edges.join(ids.rename({"id": "src"}), on="src", how="semi").join(
        ids.rename({"id": "dst"}), on="dst", how="semi"
    )
    dropped = kg.edges.height - ok.height
    report = dict(kg.report)
    if dropped:
        bad = kg.edges.join(
            ok.select("src", "rel", "dst").unique(), on=["src", "rel", "dst"], how="anti"
        )
        report["build.dangling_edges_dropped"] = dropped
        report["build.dangling_edges_dropped.by_rel"] = dict(
            bad.group_by("rel").len().sort("rel").iter_rows()
        )
        report["build.dangling_edges_dropped.sample"] = [
            f"{s} {r} {d}" for s, r, d in bad.select("src", "rel", "dst").head(5).iter_rows()
        ]
    return KnowledgeGraph(nodes=kg.nodes, edges=ok, sources=kg.sources, report=report)


def report_prefixes(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Count node ids per prefix, and name the prefixes medkg does not know (kept as written)."""
    counts = dict(
        kg.nodes.group_by(pl.col("id").str.extract(r"^([^:]+)").alias("prefix"))
        .len()
        .sort("prefix")
        .iter_rows()
    )
    unknown = {p: n for p, n in counts.items() if not is_known_prefix(p)}
    report = {**kg.report, "build.nodes_by_prefix": counts}
    if unknown:
        report["build.unknown_prefixes_kept"] = unknown
    return KnowledgeGraph(nodes=kg.nodes, edges=kg.edges, sources=kg.sources, report=report)


def load_sources(
    keys: Iterable[str],
    paths: Mapping[str, str | os.PathLike[str]] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    timings: dict[str, float] | None = None,
) -> list[KnowledgeGraph]:
    """Load each source (with its user path/options, if any); its seconds go to
    ``timings["load.<key>"]`` when given."""
    known = available_sources()
    graphs = []
    for key in keys:
        start = time.perf_counter()
        if key not in known:
            raise SourceError(key, f"unknown source {key!r}; choose from {sorted(known)}")
        source = SOURCES.build(key, (paths or {}).get(key), **dict((options or {}).get(key, {})))
        graphs.append(source.load())
        seconds = time.perf_counter() - start
        log.info("loaded source %s: %d nodes, %d edges in %.2f s", key, graphs[-1].nodes.height,
                 graphs[-1].edges.height, seconds)  # fmt: skip
        if timings is not None:
            timings[f"load.{key}"] = seconds
    return graphs


def assemble(
    graphs: Sequence[KnowledgeGraph],
    timings: dict[str, float] | None = None,
    curated: Path | None = None,
) -> KnowledgeGraph:
    """Merge loaded sources, drop dangling edges, resolve identities, apply a curator's
    mapping decisions (``curated``: an SSSOM file, see :mod:`medkg.kg.curated`) and build
    the MET."""
    if not graphs:
        raise SourceError("build", "no sources selected")
    t = time.perf_counter()
    kg = graphs[0].merge(*graphs[1:])
    kg = drop_dangling_edges(kg)
    kg = report_prefixes(kg)
    t_merge = time.perf_counter()
    kg = resolve(kg)
    if curated is not None:
        kg = apply_curated_mappings(kg, curated)
    t_resolve = time.perf_counter()
    kg = build_tree(kg)
    t_tree = time.perf_counter()
    log.info("assembled graph: %d nodes, %d edges (merge %.2f s, resolve %.2f s, tree %.2f s)",
             kg.nodes.height, kg.edges.height, t_merge - t, t_resolve - t_merge, t_tree - t_resolve)  # fmt: skip
    if timings is not None:
        timings.update(
            {"merge": t_merge - t, "resolve": t_resolve - t_merge, "tree": t_tree - t_resolve}
        )
    return kg


def build_graph(
    sources: Sequence[str] | None = None,
    paths: Mapping[str, str | os.PathLike[str]] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Sequence[KnowledgeGraph] = (),
    timings: dict[str, float] | None = None,
) -> KnowledgeGraph:
    """Load the chosen sources (default: every bundled default source) and assemble them."""
    keys = resolve_source_keys(sources)
    graphs = load_sources(keys, paths, options, timings)
    return assemble([*graphs, *extra], timings)


RELEASE_DROP_LIMIT = 0.10
"""A replacement release file may lose at most this share of the bundled release's nodes or
edges (in total, or of any node kind or relation with at least 100 rows) without --force."""
_MIN_GROUP = 100


def has_bundled_release(key: str) -> bool:
    """Whether source ``key`` ships a release file of its own (a ``--file`` for it is then
    compared with that release); ``obo``, ``owl`` and ``tables`` load only what they are given."""
    try:
        available_sources()[key].default_path()
    except SourceError:
        return False
    return True


def release_diff(bundled: KnowledgeGraph, replacement: KnowledgeGraph) -> dict[str, Any]:
    """Counts of the bundled release against a replacement: totals, nodes by kind, edges by
    relation (bundled, replacement, change), and the drops over :data:`RELEASE_DROP_LIMIT`."""
    old, new = bundled.counts(), replacement.counts()
    rows: dict[str, tuple[int, int]] = {
        "nodes": (old["nodes"], new["nodes"]),
        "edges": (old["edges"], new["edges"]),
    }
    for group, prefix in (("nodes_by_kind", "nodes:"), ("edges_by_rel", "edges:")):
        for name in sorted(set(old.get(group, {})) | set(new.get(group, {}))):
            rows[prefix + str(name)] = (old[group].get(name, 0), new[group].get(name, 0))
    drops = [
        name
        for name, (a, b) in rows.items()
        if (a >= _MIN_GROUP or name in ("nodes", "edges"))
        and a
        and (a - b) / a > RELEASE_DROP_LIMIT
    ]
    return {
        "counts": {
            k: {"bundled": a, "replacement": b, "change": b - a} for k, (a, b) in rows.items()
        },
        "drops": drops,
    }


def check_release(key: str, path: str | os.PathLike[str], diff: dict[str, Any],
                  force: bool) -> None:  # fmt: skip
    """Refuse a replacement release that loses more than the limit, unless ``force``."""
    if not diff["drops"] or force:
        return
    counts = diff["counts"]
    worst = ", ".join(
        f"{name} {counts[name]['bundled']:,} -> {counts[name]['replacement']:,}"
        for name in diff["drops"][:4]
    )
    raise SourceError(
        path,
        f"this {key} release has far fewer rows than the bundled one ({worst}; more than "
        f"{RELEASE_DROP_LIMIT:.0%} lost): truncated or the wrong file? Pass --force to use it",
    )


def stats(kg: KnowledgeGraph) -> dict[str, Any]:
    """Counts by kind, source and relation, tree depth, rare share and long-tail summary."""
    out: dict[str, Any] = kg.counts()
    nodes = kg.nodes
    out["sources"] = {
        s.name: {"version": s.version, "license": s.license, **_identity(s.counts)}
        for s in kg.sources
    }
    if kg.has_tree:
        out["tree_depth"] = dict(nodes.group_by("depth").len().sort("depth").iter_rows())
        diseases = nodes.filter(pl.col("kind") == "Disease")
        rare = diseases.filter(pl.col("rare"))
        out["rare"] = {
            "rare_diseases": rare.height,
            "diseases": diseases.height,
            "rare_share": round(rare.height / diseases.height, 4) if diseases.height else 0.0,
            "by_reason": _count_reasons(rare),
            "not_rare_by_reason": _count_reasons(diseases.filter(~pl.col("rare"))),
        }
        out["placement"] = dict(
            nodes.group_by("met_placement").len().sort("met_placement").iter_rows()
        )
        out["hpo_annotated_diseases_placed_by_mapping"] = {
            "count": kg.report.get("tree.hpo_annotated_placed_by_mapping"),
            "of": kg.report.get("tree.hpo_annotated_diseases"),
            "share": kg.report.get("tree.hpo_annotated_placed_by_mapping_share"),
        }
        out["long_tail"] = long_tail_summary(nodes)
    if "resolve.identity_quality" in kg.report:
        out["identity_quality"] = kg.report["resolve.identity_quality"]
    out["report"] = kg.report
    return out


def _count_reasons(nodes: pl.DataFrame) -> dict[str, int]:
    """Nodes per rare_reason rule (the part before the first colon)."""
    return dict(
        nodes.group_by(pl.col("rare_reason").fill_null("none").str.replace(r":.*$", ""))
        .len()
        .sort("rare_reason")
        .iter_rows()
    )


def _identity(counts: dict[str, int]) -> dict[str, Any]:
    """A source's identifier check verdicts (``ids_confirmed``, ``mesh_ids_repaired`` ...),
    as its loader recorded them in the manifest counts; empty for unchecked sources."""
    ids = {k: v for k, v in counts.items() if k.startswith(("ids_", "mesh_ids_", "drugbank_ids_"))}
    return {"identity": ids} if ids else {}


def long_tail_summary(nodes: pl.DataFrame) -> dict[str, Any]:
    """Annotation-degree distribution of diseases and phenotypes: quantiles, Gini, tail share."""
    out: dict[str, Any] = {}
    for kind in ("Disease", "Phenotype", "Gene"):
        deg = nodes.filter(pl.col("kind") == kind).get_column("annotation_degree").sort()
        if deg.is_empty():
            continue
        values = np.sort(deg.cast(pl.Float64).to_numpy())
        n = values.size
        total = values.sum()
        # Gini over the sorted degrees: 2*sum(i*x_i)/(n*sum x) - (n+1)/n, i = 1..n
        ranks = np.arange(1, n + 1)
        gini = float(2 * (ranks * values).sum() / (n * total) - (n + 1) / n) if total > 0 else 0.0
        out[kind] = {
            "n": n,
            "median": float(np.median(values)),
            "p90": float(np.quantile(values, 0.9)),
            "max": int(values.max()),
            "zero_share": round(float((values == 0).mean()), 4),
            "le3_share": round(float((values <= 3).mean()), 4),
            "gini": round(gini, 4),
        }
    return out
