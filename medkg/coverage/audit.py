"""Long-tail audit of a dataset against the medical entity tree.

Input: the graph's node table (with the MET columns ``met_parent``, ``depth``,
``subtree_size``, ``rare``; see :mod:`medkg.kg.tree`) and a dataset's mention table from
:class:`medkg.coverage.linking.Linker` (``item_id``, ``entity_id``, ...). Output, per node:

* ``items`` — items that mention the node itself; ``mentions`` — its mentions;
* ``concept_items`` — items that mention the node or one of its exact-mapping
  equivalents (the mention table's ``equivalents`` column, see
  :mod:`medkg.coverage.equivalence`): audits count concepts, not surface senses, so a
  mention of a cancer covers its MeSH, ICD-10 and OMIM nodes alike. Without that column
  (or with ``follow_equivalents=False``) it equals ``items``; ``summary.coverage_rollup``
  says which rule applied and ``covered_via_equivalents_only`` how many nodes it added;
* ``rollup_items`` — distinct items that mention the node (or an equivalent) or any node
  below it in the MET (an item mentioning two siblings counts once at their parent);
* ``covered_below`` — nodes of its subtree (itself included) with ``concept_items >= 1``, so
  ``covered_below / subtree_size`` is the share of the branch the dataset touches.

From that: coverage per level (share of nodes at each depth with ≥ 1 item) and per branch
(the subtrees rooted at ``branch_depth``), the rare-disease share of mentions and of
covered diseases, concentration of the item counts over the audited universe (Gini,
normalised entropy, the share held by the top 1 % of entities, the rank–frequency curve),
and the top uncovered branches: maximal subtrees no item reaches (their parent is reached),
largest first. The *universe* is the set of nodes an audit counts — by default every
non-scaffold, non-obsolete node of the linked kinds.

:func:`write_audit` writes ``coverage.json``, ``gaps.json`` (the format
``medkg sample --strategy coverage_gap --gaps`` reads: ``[{"id", "count"}]`` for every
universe node, zero counts included), ``nodes.parquet`` and CSVs (``nodes.csv``,
``branches.csv``, ``levels.csv``, ``uncovered.csv``); every file is written to a temporary
name and renamed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.coverage.rollup import AuditCounts, AuditTree, ancestor_counts, count_mentions
from medkg.errors import MedkgError
from medkg.kg.model import CATEGORY, DISEASE, DRUG, GENE, PHENOTYPE
from medkg.outputs import staged_file

AUDIT_KINDS = (DISEASE, PHENOTYPE, GENE, DRUG)
NODE_COLUMNS = (
    "id",
    "name",
    "kind",
    "met_parent",
    "met_placement",
    "depth",
    "subtree_size",
    "rare",
)
FORMAT = "medkg-coverage-audit/1"


class AuditError(MedkgError, ValueError):
    """The inputs cannot be audited (no tree columns, an empty mention table and no items)."""


@dataclass
class Audit:
    """One dataset's audit: the per-node table and the summaries derived from it."""

    name: str
    n_items: int
    nodes: (
        pl.DataFrame
    )  # NODE_COLUMNS + in_universe, items, mentions, concept_items, rollup_items, covered_below
    summary: dict[str, Any]
    levels: pl.DataFrame
    branches: pl.DataFrame
    uncovered: pl.DataFrame
    rank_frequency: list[int]
    amcs: dict[str, Any] = field(default_factory=dict)
    # `medkg synth inspect`'s report when the dataset is a `medkg synth` folder, else empty
    inspect: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, top: int = 25) -> dict[str, Any]:
        """The JSON form (``coverage.json`` holds one per dataset)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "levels": self.levels.to_dicts(),
            "branches": self.branches.head(top * 4).to_dicts(),
            "top_uncovered": self.uncovered.head(top).to_dicts(),
            "rank_frequency": self.rank_frequency,
            "amcs": self.amcs,
            **({"inspect": self.inspect} if self.inspect else {}),
        }


# ----------------------------------------------------------------------------- tree helpers
def _tree(nodes: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in NODE_COLUMNS if c not in nodes.columns]
    if missing:
        raise AuditError(
            f"the node table has no MET columns {missing}; audit a graph built by `medkg kg build`"
        )
    return nodes.select(NODE_COLUMNS)


def audit_tree(nodes: pl.DataFrame) -> AuditTree:
    """What counting a dataset's mentions needs of the graph (checked for the MET columns);
    small enough to travel to the workers that count corpus shards."""
    return AuditTree.of(_tree(nodes))


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0 = even, → 1 = all on one entity)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * (ranks * x).sum()) / (n * total) - (n + 1.0) / n)


def normalised_entropy(counts: np.ndarray) -> float:
    """Shannon entropy of the count distribution over its non-zero entities, divided by
    its maximum (1 = every mentioned entity equally often)."""
    x = np.asarray(counts, dtype=np.float64)
    x = x[x > 0]
    if x.size <= 1:
        return 0.0
    p = x / x.sum()
    return float(-(p * np.log(p)).sum() / math.log(x.size))


# ----------------------------------------------------------------------------- audit
def audit(
    nodes: pl.DataFrame,
    mentions: pl.DataFrame,
    *,
    name: str = "dataset",
    n_items: int | None = None,
    kinds: Sequence[str] = AUDIT_KINDS,
    branch_depth: int = 2,
    min_branch_size: int = 5,
    follow_equivalents: bool = True,
) -> Audit:
    """Audit one dataset's ``mentions`` against the MET in ``nodes`` (see the module doc).

    ``n_items`` is the number of items linked (items without a mention count here; the
    default is the number of distinct item ids in ``mentions``). With
    ``follow_equivalents`` and an ``equivalents`` column in ``mentions`` (the linker's),
    a mention also covers its entity's exact-mapping equivalents, so one concept named
    in MeSH, ICD-10 and OMIM covers all three sources' branches.
    """
    tree = audit_tree(nodes)  # the MET columns are checked first
    if "item_id" not in mentions.columns or "entity_id" not in mentions.columns:
        raise AuditError("the mention table needs item_id and entity_id columns")
    n_items = mentions.get_column("item_id").n_unique() if n_items is None else n_items
    if n_items == 0:
        raise AuditError(f"dataset {name!r} has no items")
    counts = count_mentions(tree, mentions, follow_equivalents=follow_equivalents)
    return audit_counts(nodes, counts, name=name, n_items=n_items, kinds=kinds,
                        branch_depth=branch_depth, min_branch_size=min_branch_size)  # fmt: skip


def audit_counts(
    nodes: pl.DataFrame,
    counts: AuditCounts,
    *,
    name: str,
    n_items: int,
    kinds: Sequence[str] = AUDIT_KINDS,
    branch_depth: int = 2,
    min_branch_size: int = 5,
) -> Audit:
    """The audit of a dataset from its mention counts (:func:`medkg.coverage.rollup.
    count_mentions`, or the merged counts of a corpus's shards): the same audit
    :func:`audit` gives of the whole mention table, never holding the mentions."""
    tree = _tree(nodes)
    if n_items == 0:
        raise AuditError(f"dataset {name!r} has no items")
    follow = counts.follow
    shape = AuditTree.of(tree)
    parents, max_depth = shape.parents, shape.max_depth
    direct, concept, rollup = counts.entities, counts.concept, counts.rollup
    covered_ids = concept.select("id", pl.col("id").alias("key"))
    below = ancestor_counts(covered_ids, parents, max_depth).rename({"n": "covered_below"})

    universe = pl.col("kind").is_in(list(kinds)) & ~pl.col("met_placement").is_in(
        ["scaffold", "obsolete"]
    )
    # Universe nodes at or below each node: a branch of non-universe nodes only (ICD-10's
    # external causes, Z codes: kind Concept) is not a coverage gap.
    universe_ids = tree.filter(universe).select("id", pl.col("id").alias("key"))
    universe_below = ancestor_counts(universe_ids, parents, max_depth).rename(
        {"n": "universe_below"}
    )
    counted = ("items", "mentions", "concept_items", "rollup_items", "covered_below")
    table = (
        tree.with_columns(universe.alias("in_universe"))
        .join(direct, on="id", how="left")
        .join(concept, on="id", how="left")
        .join(rollup, on="id", how="left")
        .join(below, on="id", how="left")
        .join(universe_below, on="id", how="left")
        .with_columns(
            pl.col(*counted, "universe_below").fill_null(0),
            pl.col("rare").fill_null(False),
        )
        .sort("id")
    )
    uni = table.filter(pl.col("in_universe"))
    item_counts = uni.get_column("items").to_numpy()
    covered = uni.get_column("concept_items").to_numpy() > 0
    mentioned = np.sort(item_counts[item_counts > 0])[::-1]
    top_k = max(1, math.ceil(0.01 * uni.height))
    linked_items = counts.linked_items

    rare_d = uni.filter(pl.col("kind") == DISEASE)
    rare_items = counts.rare_items
    summary: dict[str, Any] = {
        "n_items": n_items,
        "linked_items": linked_items,
        "linked_item_share": linked_items / n_items,
        "mentions": counts.mentions,
        "mentions_unknown_ids": counts.unknown,
        "distinct_entities": int((item_counts > 0).sum()),
        "universe_kinds": list(kinds),
        "universe_nodes": uni.height,
        # coverage counts concepts: a node is covered when it or an exact-mapping
        # equivalent is mentioned (``coverage_rollup`` says which rule applied)
        "coverage_rollup": "entity + exact MAPS_TO equivalents (one hop)"
        if follow
        else "entity only",
        "coverage": float(covered.mean()) if covered.size else 0.0,
        "covered_via_equivalents_only": int(((item_counts == 0) & covered).sum()),
        "coverage_by_kind": {
            k: {
                "nodes": g.height,
                "covered": int((g.get_column("concept_items") > 0).sum()),
                "share": float((g.get_column("concept_items") > 0).mean() or 0.0),  # type: ignore[arg-type]
                "covered_via_equivalents_only": int(
                    ((g.get_column("items") == 0) & (g.get_column("concept_items") > 0)).sum()
                ),
            }
            for (k,), g in uni.group_by("kind", maintain_order=True)
        },
        "rare_diseases": {
            "nodes": int(rare_d.get_column("rare").sum()),
            "covered": int(rare_d.filter(pl.col("rare") & (pl.col("concept_items") > 0)).height),
            "coverage": _share(rare_d.filter(pl.col("rare")).get_column("concept_items") > 0),
            "share_of_disease_mentions": counts.rare_disease_mentions / counts.disease_mentions
            if counts.disease_mentions
            else 0.0,
            "items_mentioning_rare_disease": rare_items,
            "share_of_items": rare_items / n_items,
        },
        "concentration": {
            "gini": gini(item_counts),
            "gini_mentioned": gini(mentioned),
            "entropy": normalised_entropy(item_counts),
            "top1pct_entities": top_k,
            "top1pct_share": float(mentioned[:top_k].sum() / mentioned.sum())
            if mentioned.size
            else 0.0,
            "singletons": int((mentioned == 1).sum()),
        },
        "by_method": dict(sorted(counts.by_method.items())),
    }

    levels = (
        uni.group_by("depth")
        .agg(
            pl.len().alias("nodes"),
            (pl.col("concept_items") > 0).sum().alias("covered"),
            (pl.col("rollup_items") > 0).sum().alias("reached"),
        )
        .with_columns(
            (pl.col("covered") / pl.col("nodes")).alias("coverage"),
            (pl.col("reached") / pl.col("nodes")).alias("reached_share"),
        )
        .sort("depth")
    )
    branches = (
        table.filter(
            (pl.col("depth") == branch_depth) & (pl.col("subtree_size") >= min_branch_size)
        )
        .with_columns((pl.col("covered_below") / pl.col("subtree_size")).alias("coverage"))
        .select(
            "id",
            "name",
            "kind",
            "met_parent",
            "subtree_size",
            "covered_below",
            "coverage",
            "rollup_items",
        )
        .sort(["subtree_size", "id"], descending=[True, False])
    )
    reached = table.filter(pl.col("rollup_items") > 0).select(pl.col("id").alias("met_parent"))
    uncovered = (
        table.filter(
            (pl.col("rollup_items") == 0)
            & pl.col("kind").is_in([*kinds, CATEGORY])
            & ~pl.col("met_placement").is_in(["scaffold", "obsolete"])
            & (pl.col("subtree_size") >= min_branch_size)
            & (pl.col("universe_below") > 0)
        )
        .join(reached, on="met_parent", how="semi")
        .join(
            table.select(pl.col("id").alias("met_parent"), pl.col("name").alias("parent_name")),
            on="met_parent",
            how="left",
        )
        .select("id", "name", "kind", "met_parent", "parent_name", "depth", "subtree_size")
        .sort(["subtree_size", "id"], descending=[True, False])
    )
    return Audit(
        name=name,
        n_items=n_items,
        nodes=table,
        summary=summary,
        levels=levels,
        branches=branches,
        uncovered=uncovered,
        rank_frequency=[int(c) for c in mentioned],
    )


def _share(mask: pl.Series) -> float:
    return float(mask.mean()) if mask.len() else 0.0  # type: ignore[arg-type]


def compare(audits: Sequence[Audit]) -> dict[str, Any]:
    """Side-by-side summary rows and per-branch coverage of several audits."""
    keys = [
        ("items", ("n_items",)),
        ("linked item share", ("linked_item_share",)),
        ("mentions", ("mentions",)),
        ("distinct entities", ("distinct_entities",)),
        ("coverage of the universe", ("coverage",)),
        ("nodes covered via equivalents only", ("covered_via_equivalents_only",)),
        ("rare-disease coverage", ("rare_diseases", "coverage")),
        ("rare share of disease mentions", ("rare_diseases", "share_of_disease_mentions")),
        ("items naming a rare disease", ("rare_diseases", "share_of_items")),
        ("Gini (universe)", ("concentration", "gini")),
        ("Gini (mentioned)", ("concentration", "gini_mentioned")),
        ("normalised entropy", ("concentration", "entropy")),
        ("top-1% entity share", ("concentration", "top1pct_share")),
    ]
    rows = []
    for label, path in keys:
        row: dict[str, Any] = {"metric": label}
        for a in audits:
            value: Any = a.summary
            for p in path:
                value = value[p]
            row[a.name] = value
        rows.append(row)
    for direction in ("forward", "backward"):
        if all(direction in a.amcs for a in audits):
            rows.append(
                {"metric": f"AMCS {direction}", **{a.name: a.amcs[direction] for a in audits}}
            )
    branch = None
    for a in audits:
        part = a.branches.select("id", "name", "subtree_size", pl.col("coverage").alias(a.name))
        branch = (
            part
            if branch is None
            else branch.join(part.select("id", a.name), on="id", how="full", coalesce=True)
        )
    return {"datasets": [a.name for a in audits], "summary": rows,
            "branches": branch.to_dicts() if branch is not None else []}  # fmt: skip


# ----------------------------------------------------------------------------- output
def _atomic_write(path: Path, write: Any) -> None:
    with staged_file(path) as tmp:
        write(tmp)


def write_json(path: Path, data: Any) -> None:
    _atomic_write(
        path,
        lambda p: p.write_text(json.dumps(data, indent=1, default=_json_default), "utf-8"),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def gaps_entries(a: Audit) -> list[dict[str, Any]]:
    """The ``gaps.json`` entries: every universe node with its item count (counting the
    items that mention an exact-mapping equivalent: a concept covered in one source is
    no gap in another)."""
    uni = a.nodes.filter(pl.col("in_universe")).select("id", "concept_items")
    return [{"id": i, "count": c} for i, c in uni.iter_rows()]


def write_audit(
    audits: Sequence[Audit], out: str | Path, *, extra: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write the audit files of one or more datasets into ``out``.

    With one dataset the files are ``coverage.json``, ``gaps.json``, ``nodes.parquet``
    and ``nodes.csv``/``branches.csv``/``levels.csv``/``uncovered.csv``; with several,
    per-dataset files carry the dataset name (``gaps.<name>.json``, ``nodes.<name>.csv``
    ...) and ``coverage.json`` holds all of them plus the comparison.
    """
    if not audits:
        raise AuditError("nothing to write: no audits")
    check_names([a.name for a in audits])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    single = len(audits) == 1
    for a in audits:
        tag = "" if single else f".{_safe(a.name)}"
        files = {
            f"gaps{tag}.json": lambda p, a=a: p.write_text(json.dumps(gaps_entries(a)), "utf-8"),
            f"nodes{tag}.parquet": lambda p, a=a: a.nodes.write_parquet(p),
            f"nodes{tag}.csv": lambda p, a=a: a.nodes.filter(pl.col("in_universe")).write_csv(p),
            f"branches{tag}.csv": lambda p, a=a: a.branches.write_csv(p),
            f"levels{tag}.csv": lambda p, a=a: a.levels.write_csv(p),
            f"uncovered{tag}.csv": lambda p, a=a: a.uncovered.write_csv(p),
        }
        for fname, writer in files.items():
            _atomic_write(out / fname, writer)
            written[fname] = out / fname
    data: dict[str, Any] = {
        "format": FORMAT,
        **(extra or {}),
        "datasets": [a.to_dict() for a in audits],
    }
    if not single:
        data["comparison"] = compare(audits)
    write_json(out / "coverage.json", data)
    written["coverage.json"] = out / "coverage.json"
    return written


def check_name(name: str) -> str:
    """A dataset name becomes part of file names in the audit folder: refuse names that
    would leave it (path separators, a leading dot) or are empty."""
    if not name or name.startswith(".") or any(c in name for c in "/\\\0") or len(name) > 200:
        raise AuditError(
            f"dataset name {name!r} cannot name a file: use letters, digits, '-', '_' or '.' "
            "(not first), no path separators"
        )
    return name


def check_names(names: Sequence[str]) -> list[str]:
    """The names of the datasets of one audit: they must differ, and so must the tags they
    give their files (``gaps.<tag>.json`` ...: ``x.y`` and ``x_y`` both tag ``x_y``, and
    one dataset's files would replace the other's)."""
    names = list(names)
    if len(set(names)) != len(names):
        raise AuditError(f"dataset names must differ, got {names}")
    if len(names) > 1:
        seen: dict[str, str] = {}
        for name in names:
            tag = _safe(name)
            if tag in seen:
                raise AuditError(
                    f"dataset names {seen[tag]!r} and {name!r} give the same file names "
                    f"(.{tag}: gaps.{tag}.json, nodes.{tag}.csv ...); rename one (--name)"
                )
            seen[tag] = name
    return names


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def read_audit_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """``coverage.json`` and each dataset's node table from a folder :func:`write_audit` wrote."""
    folder = Path(folder)
    path = folder / "coverage.json"
    if not path.is_file():
        raise AuditError(f"{path} not found; run `medkg coverage audit` first")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuditError(f"{path}: not valid JSON: {exc}") from None
    if data.get("format") != FORMAT:
        raise AuditError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
    datasets = data["datasets"]
    tables = {}
    for d in datasets:
        tag = "" if len(datasets) == 1 else f".{_safe(d['name'])}"
        nodes_path = folder / f"nodes{tag}.parquet"
        if not nodes_path.is_file():
            raise AuditError(f"{nodes_path} not found (written by `medkg coverage audit`)")
        tables[d["name"]] = pl.read_parquet(nodes_path)
    return data, tables


__all__ = [
    "AUDIT_KINDS",
    "Audit",
    "AuditError",
    "ancestor_counts",
    "audit",
    "audit_counts",
    "audit_tree",
    "check_name",
    "check_names",
    "compare",
    "gaps_entries",
    "gini",
    "normalised_entropy",
    "read_audit_folder",
    "write_audit",
]
