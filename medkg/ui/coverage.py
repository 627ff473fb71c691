"""Coverage audits in the workbench: metrics explained, branches, the tree overlay, and
"generate for this gap" (the coverage-gap sampler + synthesis on one branch).

An audit folder is what `medkg coverage audit` writes (``coverage.json`` + one
``nodes[.NAME].parquet`` per dataset). Every dataset of every audit is coloured on one
fixed scale, the share of a node's subtree that the dataset covers (0 → 1), so two
datasets (or two audits) are always comparable by colour.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.config import medkg_home
from medkg.coverage.audit import read_audit_folder
from medkg.synthesis.review import keep_reviews
from medkg.ui.graph import GraphIndex

# One sequential scale for every dataset (viridis, 6 bins over [0, 1]).
SCALE = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725")
SCALE_EDGES = (0.0, 0.01, 0.05, 0.15, 0.35, 0.65)

# One sentence per metric of coverage.json's summary (flattened keys as the audit writes them).
METRICS = {
    "n_items": "Items in the dataset.",
    "linked_items": "Items in which at least one graph entity was recognised.",
    "linked_item_share": "Share of the items in which at least one graph entity was recognised.",
    "mentions": "Entity mentions found in the items (an entity named twice counts twice).",
    "mentions_unknown_ids": "Mentions of ids that are not nodes of the graph (left out).",
    "distinct_entities": "Different graph entities mentioned at least once.",
    "universe_nodes": "Nodes the audit counts: diseases, phenotypes, genes and drugs of the tree, no scaffolding or obsolete terms.",
    "coverage": "Share of the audited nodes that at least one item mentions.",
    "coverage_rollup": "What a mention covers: the entity named and, as stated, its equivalents.",
    "covered_via_equivalents_only": "Audited nodes counted as covered only because an equivalent entity was mentioned.",
    "rare_diseases.covered_via_equivalents_only": "Rare diseases covered only through a mentioned equivalent.",
    "rare_diseases.nodes": "Diseases the graph flags as rare.",
    "rare_diseases.covered": "Rare diseases mentioned by at least one item.",
    "rare_diseases.coverage": "Share of the rare diseases that at least one item mentions.",
    "rare_diseases.share_of_disease_mentions": "Of all disease mentions, the share naming a rare disease.",
    "rare_diseases.items_mentioning_rare_disease": "Items that mention at least one rare disease.",
    "rare_diseases.share_of_items": "Share of the items that mention at least one rare disease.",
    "concentration.gini": "Inequality of item counts over the audited nodes: 0 = all equally often, 1 = all items on one node.",
    "concentration.gini_mentioned": "The same inequality over the nodes mentioned at least once.",
    "concentration.entropy": "Normalised entropy of the counts over mentioned nodes: 1 = spread evenly, 0 = on one node.",
    "concentration.top1pct_entities": "How many nodes make up the most-mentioned 1%.",
    "concentration.top1pct_share": "Share of all mentions held by the most-mentioned 1% of nodes.",
    "concentration.singletons": "Nodes mentioned by exactly one item.",
}
KIND_SHARE = "Share of the audited {kind} nodes that at least one item mentions."
METHOD_COUNT = "Mentions found by the linker's {method} matcher."


def colour(share: float | None) -> str:
    """The scale colour of a covered share in [0, 1] (grey when not audited)."""
    if share is None:
        return "#cccccc"
    return SCALE[max(0, bisect.bisect_right(SCALE_EDGES, share) - 1)]


def legend() -> list[dict[str, str]]:
    """The scale's bins with their labels, for the page legend."""
    bounds = [*SCALE_EDGES[1:], 1.0]
    return [
        {"colour": c, "label": f"{lo:.0%}–{hi:.0%}" if lo else f"under {hi:.0%}"}
        for c, lo, hi in zip(SCALE, SCALE_EDGES, bounds, strict=True)
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {} if isinstance(value, list) else {prefix[:-1]: value}


def _explanation(key: str) -> str:
    if key in METRICS:
        return METRICS[key]
    parts = key.split(".")
    if parts[0] == "coverage_by_kind" and parts[-1] == "share":
        return KIND_SHARE.format(kind=parts[1])
    if parts[0] == "coverage_by_kind" and parts[-1] == "covered_via_equivalents_only":
        return f"Audited {parts[1]} nodes covered only through a mentioned equivalent."
    if parts[0] == "by_method" and len(parts) == 2:
        return METHOD_COUNT.format(method=parts[1])
    return ""


def compare_metrics(audit: AuditView) -> list[dict[str, Any]]:
    """One row per summary metric: its value in each dataset and one sentence saying what
    it measures. Counts of nodes per kind are left out (the shares say it)."""
    flat = {d["name"]: _flatten(d["summary"]) for d in audit.data["datasets"]}
    keys: list[str] = []
    for values in flat.values():
        keys += [k for k in values if k not in keys]
    rows = []
    for key in keys:
        if key.startswith("coverage_by_kind.") and not key.endswith(".share"):
            continue
        rows.append(
            {
                "key": key,
                "explanation": _explanation(key),
                "values": [flat[n].get(key) for n in flat],
            }
        )
    return rows


@dataclass
class AuditView:
    """One audit folder, read once: coverage.json and the per-node tables."""

    path: Path
    data: dict[str, Any]
    tables: dict[str, pl.DataFrame]
    _shares: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: str | Path) -> AuditView:
        path = Path(folder).expanduser()
        data, tables = read_audit_folder(path)
        return cls(path=path, data=data, tables=tables)

    @property
    def names(self) -> list[str]:
        return list(self.tables)

    def dataset(self, name: str) -> dict[str, Any]:
        for d in self.data["datasets"]:
            if d["name"] == name:
                return dict(d)
        raise ValueError(f"audit {self.path} has no dataset {name!r}; it has {self.names}")

    def shares(self, name: str) -> dict[str, tuple[float, int]]:
        """Per node: (covered share of its subtree, items reaching it)."""
        if name not in self._shares:
            t = self.tables[name].select(
                "id",
                (pl.col("covered_below") / pl.col("subtree_size").clip(lower_bound=1)).alias("s"),
                "rollup_items",
            )
            self._shares[name] = {
                i: (float(s), int(n or 0)) for i, s, n in t.iter_rows() if s is not None
            }
        return self._shares[name]

    def branch(
        self, name: str, node_id: str, index: GraphIndex, limit: int = 200
    ) -> dict[str, Any]:
        """A branch's uncovered entities (in the universe, no item) and its covered ones.

        Counts are concepts, as the audit counts them (``concept_items``): an entity is
        covered when an item names it or one of its exact-mapping equivalents."""
        below = index.subtree_ids(node_id)
        t = self.tables[name].filter(
            pl.col("id").is_in(pl.Series(below, dtype=pl.String()).implode())
        )
        uni = t.filter(pl.col("in_universe")).with_columns(_concept_count(t).alias("n_items"))
        uncovered = uni.filter(pl.col("n_items") == 0).sort(
            ["subtree_size", "id"], descending=[True, False]
        )
        covered = uni.filter(pl.col("n_items") > 0).sort(
            ["n_items", "id"], descending=[True, False]
        )
        return {
            "items": self.branch_items(name, below, limit),
            "universe": uni.height,
            "covered": covered.height,
            "uncovered_count": uncovered.height,
            "uncovered": uncovered.head(limit).select("id", "name", "kind", "rare").to_dicts(),
            "covered_top": covered.head(limit)
            .select("id", "name", "kind", pl.col("n_items").alias("items"))
            .to_dicts(),
            "gaps": [
                {"id": i, "count": int(c)} for i, c in uni.select("id", "n_items").iter_rows()
            ],
        }

    def branch_items(self, name: str, below: list[str], limit: int) -> list[dict[str, Any]]:
        """Items whose mentions fall in the branch (from the audit's mention table), most
        mentions first: item id, the mentioned texts, the entity ids. A mention falls in
        the branch when its entity or one of its exact-mapping equivalents does (the
        mention table's ``equivalents`` column), as the audit counts it."""
        tag = "" if len(self.names) == 1 else f".{re.sub(r'[^A-Za-z0-9_-]', '_', name)}"
        path = self.path / f"mentions{tag}.parquet"
        if not path.is_file():
            return []
        ids = pl.Series(below, dtype=pl.String()).implode()
        scan = pl.scan_parquet(path)
        inside = pl.col("entity_id").is_in(ids)
        if "equivalents" in scan.collect_schema().names():
            inside = inside | pl.col("equivalents").list.eval(pl.element().is_in(ids)).list.any()
        hits = (
            scan.filter(inside)
            .group_by("item_id")
            .agg(
                pl.col("text").unique().sort().alias("texts"),
                pl.col("entity_id").unique().sort().alias("entities"),
                pl.len().alias("n"),
            )
            .sort(["n", "item_id"], descending=[True, False])
            .head(limit)
            .collect()
        )
        return hits.to_dicts()


def _concept_count(nodes: pl.DataFrame) -> pl.Expr:
    """Items per node counted by concept (audits since concept counting); older audit
    tables without ``concept_items`` fall back to the per-entity ``items``."""
    return pl.col("concept_items" if "concept_items" in nodes.columns else "items")


def branches_side_by_side(audit: AuditView, limit: int = 60) -> list[dict[str, Any]]:
    """The audit's branches, one row each, with every dataset's covered share and items
    (largest branches first), so datasets compare on one scale."""
    rows: dict[str, dict[str, Any]] = {}
    for d in audit.data["datasets"]:
        for b in d.get("branches", []):
            row = rows.setdefault(b["id"], {"id": b["id"], "name": b.get("name", ""),
                                            "subtree_size": b.get("subtree_size", 0), "by": {}})  # fmt: skip
            row["by"][d["name"]] = {"share": b.get("coverage"), "items": b.get("rollup_items", 0)}
    ordered = sorted(rows.values(), key=lambda r: (-(r["subtree_size"] or 0), r["id"]))
    return ordered[:limit]


def synthesis_backends(kg: Any) -> Any:
    """The default synthesis backends with the graph view built once (reused per request)."""
    from medkg.synthesis.pipeline import SynthBackends

    base = SynthBackends.default()
    graph = base.graph_from_kg(kg)
    return SynthBackends(base.families, base.build_sampler, lambda _kg: graph, base.verify_item)


def families_for(kg: Any, backends: Any, ids: list[str]) -> list[str]:
    """Question families that can start from at least one of ``ids`` (their seed masks)."""
    in_branch = kg.nodes.select(pl.col("id").is_in(pl.Series(ids, dtype=pl.String()).implode()))
    mask = in_branch.to_series().to_numpy().astype(bool)
    graph = backends.graph_from_kg(kg)
    return [
        name
        for name, family in backends.families.items()
        if (np.asarray(family(graph).eligible(), dtype=bool) & mask).any()
    ]


def generate_for_gap(
    kg: Any,
    gaps: list[dict[str, Any]],
    branch: str,
    n: int,
    seed: int,
    out_root: Path | None = None,
    backends: Any = None,
) -> tuple[Path, dict[str, Any]]:
    """Run the coverage-gap sampler + synthesis over one branch's gap entries (weight
    1/(items+1), so uncovered entities first) with the families that can start from the
    branch, and export the items to ``$MEDKG_HOME/ui/generated/<branch>-n<N>-s<seed>``."""
    from medkg.synthesis.pipeline import SynthConfig, synthesize

    if not gaps:
        raise ValueError(f"branch {branch} has no audited entities to generate for")
    if not 1 <= n <= 500:
        raise ValueError("the number of items must be between 1 and 500")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", branch)
    out = (out_root or medkg_home() / "ui" / "generated") / f"{safe}-n{n}-s{seed}"
    keep_reviews(out)  # before the work: a regenerated folder replaces its review.jsonl
    backends = backends or synthesis_backends(kg)
    families = families_for(kg, backends, [g["id"] for g in gaps])
    if not families:
        raise ValueError(
            f"no question family can start from an entity of branch {branch} "
            f"(families start from diseases, genes, phenotypes, drugs or categories)"
        )
    config = SynthConfig(
        n=n,
        seed=seed,
        families=families,
        strategy="coverage_gap",
        strategy_params={"gaps": gaps},
        allow_partial=True,
    )
    result = synthesize(kg, config, backends=backends)
    if not result.items:
        raise ValueError(
            f"no item could be made for branch {branch}: {result.warnings or result.rejects}"
        )
    report = result.export(out, ["jsonl", "parquet"])
    return report.path, {
        "items": len(result.items),
        "families": families,
        "warnings": result.warnings,
        "rejects": result.rejects,
    }


__all__ = [
    "METRICS",
    "SCALE",
    "AuditView",
    "colour",
    "compare_metrics",
    "generate_for_gap",
    "legend",
]
