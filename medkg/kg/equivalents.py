"""Facts across equivalent entities, read through high-precision MAPS_TO edges.

Sources attach facts to their own ids: FBN1 is associated with ``OMIM:154700`` only, so
``ORPHA:558`` (the same Marfan syndrome) shows no gene. Nodes are never merged (see
:mod:`medkg.kg.resolve`); instead a reader follows *equivalence* edges — MAPS_TO edges
that state identity (``props.match`` neither broad nor close — an imported
``skos:closeMatch`` says "similar", not "the same" —, method not a name-stem/contains match)
with a confidence, i.e. a measured precision, of at least :data:`EQUIVALENCE_MIN_PRECISION`
— and shows the equivalent's facts as such (``via``), never as the node's own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

from medkg.kg.model import IS_A, MAPS_TO, MET_PARENT, REPLACED_BY

EQUIVALENCE_MIN_PRECISION = 0.95
BROAD_METHODS = frozenset(["name_stem", "name_contains"])
# props.match values that do not state identity (see medkg.kg.mappings.mapping_source).
NOT_IDENTITY_MATCHES = ('"match":"broad"', '"match":"close"')
STRUCTURAL_RELS = frozenset([IS_A, MAPS_TO, MET_PARENT, REPLACED_BY])


def is_equivalence(method: str | None, confidence: float | None, props: str | None) -> bool:
    """Whether a MAPS_TO edge states identity precisely enough to share facts."""
    if method in BROAD_METHODS or any(m in (props or "") for m in NOT_IDENTITY_MATCHES):
        return False
    return confidence is not None and confidence >= EQUIVALENCE_MIN_PRECISION


def equivalent_ids(relations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The equivalents among a node's relations (``GraphStore.neighbours`` rows)."""
    out: dict[str, dict[str, Any]] = {}
    for r in relations:
        if r.get("rel") == MAPS_TO and is_equivalence(
            r.get("method"), r.get("confidence"), r.get("props")
        ):
            prev = out.get(r["other"])
            if prev is None or (r.get("confidence") or 0) > (prev.get("confidence") or 0):
                out[r["other"]] = {
                    "id": r["other"],
                    "name": r.get("other_name"),
                    "method": r.get("method"),
                    "confidence": r.get("confidence"),
                }
    return sorted(out.values(), key=lambda e: e["id"])


def facts_via_equivalents(store: Any, node_id: str) -> list[dict[str, Any]]:
    """For each equivalent of ``node_id``: its id, method, confidence and its own facts
    (relations other than IS_A / MAPS_TO / REPLACED_BY / MET_PARENT, the node itself left
    out), read from a :class:`~medkg.kg.stores.base.GraphStore`."""
    out = []
    for eq in equivalent_ids(store.neighbours(node_id)):
        facts = [
            r
            for r in store.neighbours(eq["id"])
            if r.get("rel") not in STRUCTURAL_RELS and r.get("other") != node_id
        ]
        if facts:
            out.append({**eq, "facts": facts})
    return out


def equivalence_map(edges: pl.DataFrame) -> dict[str, list[str]]:
    """Equivalents of every node of a graph (both directions), for in-memory readers such as
    synthesis: ``{"ORPHA:558": ["MESH:D008382", "OMIM:154700"], ...}``."""
    maps = edges.filter(pl.col("rel") == MAPS_TO).select(
        "src", "dst", "method", "confidence", "props"
    )
    out: dict[str, set[str]] = defaultdict(set)
    for src, dst, method, confidence, props in maps.iter_rows():
        if is_equivalence(method, confidence, props):
            out[src].add(dst)
            out[dst].add(src)
    return {k: sorted(v) for k, v in sorted(out.items())}
