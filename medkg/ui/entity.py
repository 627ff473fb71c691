"""What an entity page shows, read from a :class:`GraphIndex` (no HTML here).

Phenotypes are sorted by how often patients have them (the HPO frequency, most frequent
first) and the frequency is said in words ("Very frequent (80–99%)", "12 of 20
patients"); genes, inheritance and clinical course are listed with the entity holding
them, so facts held only by an equivalent entity (a MAPS_TO neighbour, e.g. FBN1 on
OMIM:154700 for ORPHA:558) appear marked as such instead of missing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl

from medkg.ui.graph import GraphIndex

# HPO frequency terms (the "Frequency" subontology, HP:0040279) and their defined ranges.
FREQUENCY_RANGES = {
    "HP:0040280": "100%",
    "HP:0040281": "80–99%",
    "HP:0040282": "30–79%",
    "HP:0040283": "5–29%",
    "HP:0040284": "1–4%",
    "HP:0040285": "0%",
}
_FRACTION = re.compile(r"^(\d+)/(\d+)$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
FACT_RELS = {
    "genes": ("GENE_ASSOCIATED_WITH", "in"),
    "inheritance": ("HAS_INHERITANCE", "out"),
    "course": ("HAS_CLINICAL_COURSE", "out"),
}
SHOWN_ELSEWHERE = {"HAS_PHENOTYPE", "MAPS_TO", *(rel for rel, _ in FACT_RELS.values())}


def frequency_words(index: GraphIndex, code: str | None, value: float | None) -> str:
    """An annotation's frequency in plain words."""
    if code:
        if code in FREQUENCY_RANGES:
            return f"{index.name_of(code) or code} ({FREQUENCY_RANGES[code]})"
        m = _FRACTION.match(code)
        if m:
            return f"{m.group(1)} of {m.group(2)} patients"
        m = _PERCENT.match(code)
        if m:
            return f"{m.group(1)}% of patients"
        return code
    if value is not None:
        return f"about {value:.0%} of patients"
    return "frequency not recorded"


def _props(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return {"props": raw}
    return value if isinstance(value, dict) else {"props": value}


def _id_entry(index: GraphIndex, node_id: str, via: str) -> dict[str, Any]:
    node = index.node(node_id)
    if node is None:
        return {"id": node_id, "via": via, "in_graph": False}
    return {
        "id": node_id,
        "via": via,
        "in_graph": True,
        "name": node["name"],
        "source": f"{node['source']} {node['source_version']}",
        "license": node["license"],
    }


def phenotypes(
    index: GraphIndex, node_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(present phenotypes most frequent first, excluded "NOT" phenotypes)."""
    edges = index.edges_out(node_id, "HAS_PHENOTYPE")
    if edges.is_empty():
        return [], []
    # One row per phenotype: the best-known frequency of its annotations.
    rows = (
        edges.with_columns(pl.col("negated").fill_null(False))
        .sort(["frequency_value", "dst"], descending=[True, False], nulls_last=True)
        .unique(subset=["dst", "negated"], keep="first", maintain_order=True)
    )
    present: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for r in rows.iter_rows(named=True):
        entry = {
            "id": r["dst"],
            "name": index.name_of(r["dst"]),
            "frequency": frequency_words(index, r["frequency"], r["frequency_value"]),
            "value": r["frequency_value"],
            "onset": index.name_of(r["onset"]) if r["onset"] else "",
            "evidence": r["evidence"] or "",
            "reference": r["reference"] or "",
        }
        excluded_freq = r["frequency"] == "HP:0040285"
        (excluded if r["negated"] or excluded_freq else present).append(entry)
    return present, excluded


def _facts(
    index: GraphIndex, node_id: str, held_by: str, via: str
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for key, (rel, direction) in FACT_RELS.items():
        edges = index.edges_in(node_id, rel) if direction == "in" else index.edges_out(node_id, rel)
        end = "src" if direction == "in" else "dst"
        out[key] = [
            {
                "id": r[end],
                "name": index.name_of(r[end]),
                "held_by": held_by,
                "via": via,
                "detail": "; ".join(f"{k}: {v}" for k, v in _props(r["props"]).items()),
                "source": r["source"],
            }
            for r in edges.iter_rows(named=True)
        ]
    return out


def mappings(index: GraphIndex, node_id: str) -> list[dict[str, Any]]:
    """MAPS_TO edges in both directions with method and confidence (a measured precision)."""
    rows = []
    for direction, edges in (
        ("out", index.edges_out(node_id, "MAPS_TO")),
        ("in", index.edges_in(node_id, "MAPS_TO")),
    ):
        for r in edges.iter_rows(named=True):
            other = r["dst"] if direction == "out" else r["src"]
            ref = index.ref(other)
            rows.append(
                {
                    "id": other,
                    "name": ref.name if ref else "",
                    "kind": ref.kind if ref else "",
                    "direction": direction,
                    "method": r["method"] or "",
                    "confidence": r["confidence"],
                    "source": r["source"],
                }
            )
    rows.sort(key=lambda m: (-(m["confidence"] or 0.0), m["id"]))
    return rows


def other_relations(index: GraphIndex, node_id: str, limit: int = 25) -> list[dict[str, Any]]:
    """Every other relation, grouped by type and direction, first ``limit`` of each."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for direction, edges in (("out", index.edges_out(node_id)), ("in", index.edges_in(node_id))):
        edges = edges.filter(~pl.col("rel").is_in(list(SHOWN_ELSEWHERE)))
        for r in edges.iter_rows(named=True):
            other = r["dst"] if direction == "out" else r["src"]
            g = groups.setdefault(
                (r["rel"], direction),
                {"rel": r["rel"], "direction": direction, "count": 0, "entries": []},
            )
            g["count"] += 1
            if len(g["entries"]) < limit:
                g["entries"].append({"id": other, "name": index.name_of(other)})
    return [groups[k] for k in sorted(groups)]


def entity_page(index: GraphIndex, node_id: str, children_limit: int = 50) -> dict[str, Any] | None:
    """Everything the entity page shows, or None for an unknown id."""
    node = index.node(node_id)
    if node is None:
        return None
    maps = mappings(index, node_id)
    facts = _facts(index, node_id, node_id, "")
    equivalents = []
    for m in maps:
        if m["id"] not in index:
            continue
        via = f"{m['method']} {m['confidence']:.2f}" if m["confidence"] is not None else m["method"]
        theirs = _facts(index, m["id"], m["id"], via)
        for key, rows in theirs.items():
            mine = {r["id"] for r in facts[key]}
            facts[key].extend(r for r in rows if r["id"] not in mine)
        present, _ = phenotypes(index, m["id"])
        equivalents.append({**m, "phenotypes": len(present)})
    present, excluded = phenotypes(index, node_id)
    n_children, children = index.met_children(node_id, limit=children_limit)
    path = index.met_path(node_id)
    scopes = node.get("synonym_scopes") or []
    synonyms = [
        {"text": s, "scope": scopes[i] if i < len(scopes) else ""}
        for i, s in enumerate(node.get("synonyms") or [])
    ]
    source = index.sources.get(node["source"])
    ids = [
        {
            "id": node_id,
            "via": "primary id",
            "in_graph": True,
            "name": node["name"],
            "source": f"{node['source']} {node['source_version']}",
            "license": node["license"],
            "source_url": getattr(source, "url", "") if source else "",
        }
    ]
    ids += [_id_entry(index, x, "cross-reference") for x in node.get("xrefs") or []]
    listed = {i["id"]: i for i in ids}
    for m in maps:
        via = f"equivalent ({m['method']}, {m['confidence'] or 0:.2f})"
        if m["id"] in listed:
            listed[m["id"]]["via"] += f"; {via}"
        else:
            listed[m["id"]] = _id_entry(index, m["id"], via)
            ids.append(listed[m["id"]])
    return {
        "node": node,
        "props": _props(node.get("props")),
        "synonyms": synonyms,
        "ids": ids,
        "ancestors": path[1:][::-1],
        "children_count": n_children,
        "children": children,
        "phenotypes": present,
        "excluded": excluded,
        "facts": facts,
        "mappings": maps,
        "equivalents": equivalents,
        "relations": other_relations(index, node_id),
    }


def neighbourhood(index: GraphIndex, node_id: str, per_rel: int = 12) -> dict[str, Any]:
    """Cytoscape elements: the node, its tree parent, and up to ``per_rel`` neighbours per
    relation and direction (so a hub stays readable)."""
    if node_id not in index:
        return {"nodes": [], "edges": []}
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []

    def add(nid: str, role: str) -> None:
        ref = index.ref(nid)
        if ref is not None and nid not in nodes:
            nodes[nid] = {"data": {"id": nid, "label": ref.name, "kind": ref.kind, "role": role}}

    add(node_id, "centre")
    for direction, table in (("out", index.edges_out(node_id)), ("in", index.edges_in(node_id))):
        counts: dict[str, int] = {}
        for r in table.select("src", "rel", "dst").iter_rows(named=True):
            counts[r["rel"]] = counts.get(r["rel"], 0) + 1
            if counts[r["rel"]] > per_rel:
                continue
            other = r["dst"] if direction == "out" else r["src"]
            add(other, "neighbour")
            if other in nodes:
                edges.append(
                    {
                        "data": {
                            "id": f"{r['src']}|{r['rel']}|{r['dst']}",
                            "source": r["src"],
                            "target": r["dst"],
                            "rel": r["rel"],
                        }
                    }
                )
    parent = index.parents[index.row[node_id]]
    if parent:
        add(parent, "parent")
        edges.append(
            {
                "data": {
                    "id": f"{node_id}|MET|{parent}",
                    "source": node_id,
                    "target": parent,
                    "rel": "tree parent",
                }
            }
        )
    unique = {e["data"]["id"]: e for e in edges}
    return {"nodes": list(nodes.values()), "edges": list(unique.values())}


__all__ = ["entity_page", "frequency_words", "mappings", "neighbourhood", "phenotypes"]
