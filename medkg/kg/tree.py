"""The medical entity tree (MET): one rooted tree over every entity.

Shape: ``MET:root`` → one node per kind (``MET:Disease``, ``MET:Phenotype``, ...) → each
source's hierarchy. IS_A edges stay in the graph as a DAG; the tree adds, per node, one
**primary parent** (``met_parent``) chosen by these documented rules, applied in order:

1. ``hierarchy`` — a node with IS_A parents takes the parent deepest in its own source
   hierarchy (the most specific one); ties go to the smallest id. Obsolete parents, and
   parents whose own primary path runs through a signs-and-symptoms branch (MeSH C23
   "Pathological Conditions, Signs and Symptoms", ICD-10 chapter XVIII), are used only
   when nothing else is there: Huntington disease sits under Nervous System Diseases,
   not under Signs and Symptoms.
2. ``source_root`` — a hierarchy root (IS_A children but no parent) hangs under the kind
   node that dominates its subtree (most frequent kind other than Category; e.g. ICD-10
   chapters under ``MET:Disease``, MeSH D categories under ``MET:Drug``).
3. ``mapping:<method>`` — a node outside any hierarchy (e.g. an OMIM or Orphanet
   disease) hangs under the best MAPS_TO target already in the tree with the same kind
   (or a Category): highest confidence, then prefix rank (MESH, ICD10, ICD10CM, HP, ORPHA,
   ...), then id. Only methods whose measured precision as a parent (see
   :mod:`medkg.kg.resolve`, ``placement_score``) is at least ``PLACEMENT_MIN_PRECISION``
   (0.9) place nodes; nodes with only weaker mappings take the fallbacks. Applied in rounds, so OMIM → ORPHA
   → MeSH chains are placed too.
4. ``fallback:organ_system`` — an unmapped disease with phenotype annotations hangs under
   ``MET:unmapped-<HPO system>``, the top-level HPO organ system (child of HP:0000118)
   most of its non-negated phenotypes fall in (ties: smallest id).
5. ``fallback:unclassified`` — anything else hangs under ``MET:<Kind>-unclassified``.
6. ``obsolete`` — obsolete terms hang under ``MET:obsolete`` so they are never sampled
   as live entities but stay visible.

Each node also gets ``depth`` (root = 0), ``subtree_size`` (itself included), ``rare`` with
``rare_reason``, and ``annotation_degree`` (edges other than IS_A/MAPS_TO/REPLACED_BY).

Rarity (``rare``, ``rare_reason`` on every node) follows the evidence rules of
:mod:`medkg.kg.rarity`.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from typing import Any

import numpy as np
import polars as pl

from medkg.kg.curie import prefix_of
from medkg.kg.hierarchy import break_cycles
from medkg.kg.model import (
    CATEGORY,
    DISEASE,
    HAS_PHENOTYPE,
    IS_A,
    KINDS,
    MAPS_TO,
    MET_PARENT,
    NODE_SCHEMA,
    REPLACED_BY,
    KnowledgeGraph,
    SourceInfo,
    conform,
    nodes_frame,
    stamp,
)
from medkg.kg.rarity import rarity
from medkg.kg.resolve import PLACEMENT_MIN_PRECISION, PREFIX_RANK

ROOT = "MET:root"
OBSOLETE = "MET:obsolete"
PHENOTYPIC_ABNORMALITY = "HP:0000118"
NON_ANNOTATION_RELS = (IS_A, MAPS_TO, REPLACED_BY, MET_PARENT)
# Branches of symptoms and signs (MeSH C23, ICD-10 chapter XVIII): a parent there is used only
# when a node has no other (rule 1).
SIGNS_BRANCH_NAMES = frozenset(
    [
        "pathological conditions, signs and symptoms",
        "signs and symptoms",
        "symptoms, signs and abnormal clinical and laboratory findings, not elsewhere classified",
    ]
)
MET_SOURCE = SourceInfo(name="medkg-MET", version="1", license="CC0-1.0 (tree scaffolding)")


def kind_node(kind: str) -> str:
    return f"MET:{kind}"


def build_tree(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Add scaffold nodes and the tree columns (met_parent, depth, ...) to ``kg``."""
    report: Counter[str] = Counter()
    nodes = kg.nodes.select(list(NODE_SCHEMA))
    edges, removed = break_cycles(kg.edges)
    if removed:
        report["tree.is_a_cycle_edges_removed"] = len(removed)

    ids: list[str] = nodes.get_column("id").to_list()
    kind_of = dict(zip(ids, nodes.get_column("kind").to_list(), strict=True))
    name_of = dict(zip(ids, nodes.get_column("name").to_list(), strict=True))
    obsolete = set(nodes.filter(pl.col("obsolete")).get_column("id").to_list())

    isa = edges.filter(pl.col("rel") == IS_A).select("src", "dst")
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for child, parent in isa.iter_rows():
        parents[child].append(parent)
        children[parent].append(child)

    parent_of: dict[str, str] = {}
    placement: dict[str, str] = {}
    scaffold: dict[str, dict[str, Any]] = {}

    def add_scaffold(node_id: str, name: str, parent: str | None, kind: str = CATEGORY) -> str:
        if node_id not in scaffold:
            scaffold[node_id] = {"id": node_id, "kind": kind, "name": name}
            if parent is not None:
                parent_of[node_id] = parent
            placement[node_id] = "scaffold"
        return node_id

    add_scaffold(ROOT, "Medical entity tree", None)
    present_kinds = sorted(
        set(kind_of.values()), key=lambda k: (KINDS.index(k) if k in KINDS else len(KINDS), k)
    )
    for k in present_kinds:
        add_scaffold(kind_node(k), f"{k} entities", ROOT)

    # 1. hierarchy: parents before children (Kahn over IS_A), deepest parent wins.
    sdepth: dict[str, int] = {}
    indeg = {n: len(parents.get(n, ())) for n in ids}
    queue = deque(sorted(n for n in ids if indeg[n] == 0))
    order: list[str] = []
    while queue:
        n = queue.popleft()
        order.append(n)
        for c in children.get(n, ()):
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    # A node whose primary path runs through a signs-and-symptoms branch is "in signs";
    # a disease with another parent does not hang there (Huntington disease -> Chorea ->
    # Dyskinesias -> Neurologic Manifestations goes through Nervous System Diseases).
    in_signs: dict[str, bool] = {}
    signs_roots = {
        n
        for n in ids
        if name_of.get(n) and (name_of[n] or "").strip().lower() in SIGNS_BRANCH_NAMES
    }
    for n in order:
        plist = parents.get(n)
        if not plist:
            sdepth[n] = 0
            in_signs[n] = n in signs_roots
            continue
        live = [p for p in plist if p not in obsolete] or plist
        best = min(live, key=lambda p: (in_signs.get(p, False), -sdepth.get(p, 0), p))
        sdepth[n] = sdepth.get(best, 0) + 1
        in_signs[n] = n in signs_roots or in_signs.get(best, False)
        if n not in obsolete:
            parent_of[n] = best
            placement[n] = "hierarchy"

    # 2. obsolete terms.
    if obsolete:
        add_scaffold(OBSOLETE, "Obsolete terms", ROOT)
        for n in obsolete:
            parent_of[n] = OBSOLETE
            placement[n] = "obsolete"

    # 3. hierarchy roots under the kind that dominates their subtree.
    roots = [n for n in ids if n not in parent_of and children.get(n)]
    for r in sorted(roots):
        counts: Counter[str] = Counter()
        stack = [r]
        seen = {r}
        while stack:
            x = stack.pop()
            k = kind_of.get(x, CATEGORY)
            if k != CATEGORY:
                counts[k] += 1
            for c in children.get(x, ()):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        if counts:
            dominant = min(
                counts, key=lambda k: (-counts[k], KINDS.index(k) if k in KINDS else 99, k)
            )
        else:
            dominant = kind_of.get(r, CATEGORY)
        parent_of[r] = add_scaffold(kind_node(dominant), f"{dominant} entities", ROOT)
        placement[r] = "source_root"

    # 4. mapping placement, in rounds.
    # Only methods whose measured parent precision reaches the threshold place nodes.
    quality = kg.report.get("resolve.identity_quality", {}).get("methods", {})
    score = {m: q.get("placement_score") for m, q in quality.items()}
    maps = (
        edges.filter(pl.col("rel") == MAPS_TO)
        .with_columns(
            pl.col("method")
            .replace_strict(score, default=None, return_dtype=pl.Float64)
            .fill_null(pl.col("confidence"))
            .alias("_score")
        )
        .filter(pl.col("_score") >= PLACEMENT_MIN_PRECISION)
        .select("src", "dst", "method", "confidence")
    )
    cands: dict[str, list[tuple[float, int, str, str]]] = defaultdict(list)
    for src, dst, method, conf in maps.iter_rows():
        cands[src].append(
            (-(conf or 0.0), PREFIX_RANK.get(prefix_of(dst), 99), dst, method or "unknown")
        )
    for lst in cands.values():
        lst.sort()
    unplaced = {n for n in ids if n not in parent_of}
    changed = True
    rounds = 0
    while changed and unplaced:
        changed = False
        rounds += 1
        for n in sorted(unplaced):
            for _conf, _rank, dst, method in cands.get(n, ()):
                if (
                    dst in parent_of
                    and dst not in obsolete
                    and (kind_of.get(dst) in (kind_of.get(n), CATEGORY))
                ):
                    parent_of[n] = dst
                    placement[n] = f"mapping:{method}"
                    changed = True
                    break
        unplaced = {n for n in unplaced if n not in parent_of}
    report["tree.mapping_rounds"] = rounds

    # 5. organ-system fallback for diseases with phenotypes.
    unplaced_diseases = sorted(n for n in unplaced if kind_of.get(n) == DISEASE)
    if unplaced_diseases:
        systems = _organ_systems(children, parents)
        ann = edges.filter(
            (pl.col("rel") == HAS_PHENOTYPE)
            & ~pl.col("negated").fill_null(False)
            & pl.col("src").is_in(unplaced_diseases)
        ).select("src", "dst")
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for d, p in ann.iter_rows():
            for s in systems.get(p, ()):
                votes[d][s] += 1
        for d in unplaced_diseases:
            if votes.get(d):
                sys_id = min(votes[d], key=lambda s: (-votes[d][s], s))
                group = add_scaffold(
                    f"MET:unmapped-{sys_id.replace(':', '_')}",
                    f"Diseases without a mapping: {name_of.get(sys_id, sys_id)}",
                    add_scaffold(
                        "MET:unmapped-diseases",
                        "Diseases placed by their phenotypes (no mapping)",
                        kind_node(DISEASE),
                    ),
                )
                parent_of[d] = group
                placement[d] = "fallback:organ_system"
        unplaced = {n for n in unplaced if n not in parent_of}

    # 6. everything else by kind.
    for n in sorted(unplaced):
        k = kind_of.get(n, CATEGORY)
        group = add_scaffold(
            f"MET:{k}-unclassified",
            f"{k} entities without a source hierarchy",
            add_scaffold(kind_node(k), f"{k} entities", ROOT),
        )
        parent_of[n] = group
        placement[n] = "fallback:unclassified"

    # Assemble the scaffold nodes and compute depth / subtree size on the tree.
    scaffold_nodes = stamp(nodes_frame(scaffold.values()), MET_SOURCE)
    all_nodes = pl.concat([nodes, conform(scaffold_nodes, NODE_SCHEMA)])
    all_ids: list[str] = all_nodes.get_column("id").to_list()
    index = {n: i for i, n in enumerate(all_ids)}
    parent_idx = np.full(len(all_ids), -1, dtype=np.int64)
    for n, p in parent_of.items():
        parent_idx[index[n]] = index[p]
    depth, subtree = _depth_and_size(parent_idx, index[ROOT])

    rare = rarity(all_nodes, edges)
    degree = _annotation_degree(all_nodes, edges)
    tree_cols = pl.DataFrame(
        {
            "id": all_ids,
            "met_parent": [parent_of.get(n) for n in all_ids],
            "met_placement": [placement.get(n) for n in all_ids],
            "depth": depth,
            "subtree_size": subtree,
        },
        schema={
            "id": pl.String(),
            "met_parent": pl.String(),
            "met_placement": pl.String(),
            "depth": pl.Int32(),
            "subtree_size": pl.Int64(),
        },
    )
    out = (
        all_nodes.join(tree_cols, on="id", how="left")
        .join(rare, on="id", how="left")
        .join(degree, on="id", how="left")
        .with_columns(
            pl.col("rare").fill_null(False),
            pl.col("annotation_degree").fill_null(0).cast(pl.Int64),
        )
    )
    placed_via = out.filter(pl.col("kind") == DISEASE).group_by("met_placement").len()
    summary = _placement_summary(out)
    report_out: dict[str, Any] = {**kg.report, **{k: v for k, v in report.items()}, **summary}
    report_out["tree.disease_placement"] = dict(sorted(placed_via.iter_rows()))
    return KnowledgeGraph(
        nodes=out,
        edges=edges,
        sources=[
            *kg.sources,
            SourceInfo(**{**MET_SOURCE.to_dict(), "counts": {"scaffold_nodes": len(scaffold)}}),
        ],
        report=report_out,
    )


def _organ_systems(
    children: dict[str, list[str]], parents: dict[str, list[str]]
) -> dict[str, set[str]]:
    """For each HPO term, the top-level organ systems (children of HP:0000118) above it."""
    out: dict[str, set[str]] = {}
    for system in children.get(PHENOTYPIC_ABNORMALITY, ()):
        stack = [system]
        while stack:
            x = stack.pop()
            bucket = out.setdefault(x, set())
            if system in bucket:
                continue
            bucket.add(system)
            stack.extend(children.get(x, ()))
    return out


def _depth_and_size(parent_idx: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    n = parent_idx.size
    child_lists: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parent_idx.tolist()):
        if p >= 0:
            child_lists[p].append(i)
    depth = np.full(n, -1, dtype=np.int32)
    depth[root] = 0
    order = [root]
    for i in order:  # BFS: order grows while we iterate
        d = depth[i] + 1
        for c in child_lists[i]:
            depth[c] = d
            order.append(c)
    if len(order) != n:
        missing = n - len(order)
        raise RuntimeError(f"MET is not a tree: {missing} node(s) do not reach {ROOT}")
    size = np.ones(n, dtype=np.int64)
    for i in reversed(order):
        p = parent_idx[i]
        if p >= 0:
            size[p] += size[i]
    return depth, size


def _annotation_degree(nodes: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    ann = edges.filter(~pl.col("rel").is_in(NON_ANNOTATION_RELS))
    ends = pl.concat([ann.select(pl.col("src").alias("id")), ann.select(pl.col("dst").alias("id"))])
    return (
        ends.group_by("id")
        .len()
        .select("id", pl.col("len").cast(pl.Int64).alias("annotation_degree"))
    )


def _placement_summary(nodes: pl.DataFrame) -> dict[str, Any]:
    hpoa = nodes.filter((pl.col("kind") == DISEASE) & pl.col("source").eq("HPOA"))
    total = hpoa.height
    mapped = hpoa.filter(pl.col("met_placement").str.starts_with("mapping:")).height
    return {
        "tree.hpo_annotated_diseases": total,
        "tree.hpo_annotated_placed_by_mapping": mapped,
        "tree.hpo_annotated_placed_by_mapping_share": round(mapped / total, 4) if total else 0.0,
        "tree.depth_max": int(nodes.select(pl.col("depth").max()).item() or 0),
    }
