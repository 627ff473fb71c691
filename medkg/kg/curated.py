"""Curator decisions on MAPS_TO edges, kept as SSSOM TSV and applied to the next build.

The file (default ``$MEDKG_HOME/mappings/curated.sssom.tsv``, written by ``medkg ui``) has a
YAML header of ``#`` lines (curie map, mapping set id, licence) and one row per
(subject_id, object_id) pair with ``mapping_justification`` =
``semapv:ManualMappingCuration``; a rejection has ``predicate_modifier`` ``Not``.

:func:`apply_curated_mappings` runs between identity resolution and the tree: a rejected
pair loses its MAPS_TO edge (so the tree no longer places a node through it), an accepted
pair gets ``method="curated"`` and confidence 1.0 (added when the resolver did not make
it); pairs naming ids that are not in the graph are counted, never applied silently.
The ``predicate_id`` says what was accepted: ``skos:exactMatch`` (the same concept),
``skos:broadMatch`` (the object is broader: the edge keeps ``props.match = "broad"``, so
an accepted broad match never becomes an identity) or ``skos:closeMatch``
(``props.match = "close"``); any other predicate is an error naming the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from medkg.config import medkg_home
from medkg.errors import MedkgError
from medkg.kg.model import MAPS_TO, KnowledgeGraph, edges_frame
from medkg.outputs import write_text

SSSOM_FILE = "curated.sssom.tsv"
SSSOM_COLUMNS = ("subject_id", "subject_label", "predicate_id", "predicate_modifier",
                 "object_id", "object_label", "mapping_justification", "confidence",
                 "author_label", "mapping_date", "comment")  # fmt: skip
CURIE_MAP = {
    "HP": "http://purl.obolibrary.org/obo/HP_",
    "OMIM": "https://omim.org/entry/",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "ICD10": "http://purl.bioontology.org/ontology/ICD10/",
    "DECIPHER": "https://www.deciphergenomics.org/syndrome/",
    "NCBIGene": "http://identifiers.org/ncbigene/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
}
# Accepted predicate -> props.match of the curated edge (None: an identity).
PREDICATE_MATCH: dict[str, str | None] = {
    "skos:exactMatch": None,
    "skos:broadMatch": "broad",
    "skos:closeMatch": "close",
}
CURATED = {
    "source": "medkg-curated",
    "source_version": "1",
    "license": "CC0-1.0 (curator decisions)",
}


class CuratedMappingError(MedkgError, ValueError):
    """The curated SSSOM file is malformed (names the file and row)."""


def curated_path(home: Path | None = None) -> Path:
    return (home or medkg_home()) / "mappings" / SSSOM_FILE


def read_curated(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Rows of a curated SSSOM file keyed by (subject_id, object_id); {} when absent."""
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CuratedMappingError(f"{path}: not UTF-8 text") from None
    numbered = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if not line.startswith("#")
    ]
    body = [line for _, line in numbered]
    reader = csv.DictReader(io.StringIO("\n".join(body)), delimiter="\t")
    needed = ("subject_id", "object_id", "predicate_id")
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise CuratedMappingError(f"{path}: not an SSSOM table (missing column(s) {missing})")
    out = {}
    for row in reader:
        # the file line (comment lines count), not the row among the table's lines
        number = numbered[reader.line_num - 1][0]
        if not row.get("subject_id") or not row.get("object_id"):
            raise CuratedMappingError(
                f"{path} line {number}: subject_id and object_id are required"
            )
        if row.get("predicate_modifier") not in (None, "", "Not"):
            raise CuratedMappingError(
                f"{path} line {number}: predicate_modifier must be empty or Not, "
                f"got {row['predicate_modifier']!r}"
            )
        if row.get("predicate_id") not in PREDICATE_MATCH:
            raise CuratedMappingError(
                f"{path} line {number}: predicate_id must be one of {sorted(PREDICATE_MATCH)}, "
                f"got {row.get('predicate_id')!r}"
            )
        # a curator's own columns (SSSOM has many optional ones) are kept for the next write
        extra = [c for c in reader.fieldnames or [] if c not in SSSOM_COLUMNS]
        out[(row["subject_id"], row["object_id"])] = {
            c: row.get(c) or "" for c in (*SSSOM_COLUMNS, *extra)
        }
    return out


def _header(path: Path) -> list[str]:
    """The ``#`` header to write: the existing file's curie map and metadata lines kept as
    written (a curator may have added prefixes), medkg's prefixes and fields added."""
    old = (
        [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
        if path.is_file()
        else []
    )
    prefixes: dict[str, str] = {}
    meta: list[str] = []
    in_map = False
    for line in old:
        body = line[1:]
        if body.strip() == "curie_map:":
            in_map = True
        elif in_map and body.startswith((" ", "\t")) and ":" in body:
            key, _, value = body.strip().partition(":")
            prefixes[key.strip()] = value.strip()
        else:
            in_map = False
            meta.append(line)
    for key, value in CURIE_MAP.items():
        prefixes.setdefault(key, value)
    for field, value in (
        ("mapping_set_id", "https://w3id.org/medkg/curated-mappings"),
        ("license", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ):
        if not any(m[1:].startswith(f"{field}:") for m in meta):
            meta.append(f"#{field}: {value}")
    return ["#curie_map:"] + [f"#  {k}: {v}" for k, v in sorted(prefixes.items())] + meta


def write_curated(path: Path, rows: Mapping[tuple[str, str], Mapping[str, str]]) -> Path:
    """Write all rows (sorted by pair) with the SSSOM header, to a temporary name + rename.
    Columns and header lines medkg does not write (a curator's own) are kept."""
    header = _header(path)
    columns = list(SSSOM_COLUMNS)
    for row in rows.values():  # the curator's own columns, after medkg's (see read_curated)
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows):
        writer.writerow({c: rows[key].get(c, "") for c in columns})
    write_text(path, "\n".join(header) + "\n" + buffer.getvalue())
    return path


def _match_props(predicate: str) -> dict[str, str] | None:
    match = PREDICATE_MATCH.get(predicate)
    return {"match": match} if match else None


def apply_curated_mappings(kg: KnowledgeGraph, path: Path | None) -> KnowledgeGraph:
    """The graph with the curator's MAPS_TO decisions applied (see the module docstring);
    ``kg.report["curated_mappings"]`` counts what was applied and what was not."""
    rows = read_curated(path) if path is not None else {}
    if not rows:
        return kg
    ids = set(kg.nodes.get_column("id").to_list())
    rejected = [(s, o) for (s, o), r in rows.items() if r["predicate_modifier"] == "Not"]
    accepted = [(s, o) for (s, o), r in rows.items() if r["predicate_modifier"] != "Not"]
    unknown = [(s, o) for s, o in rows if s not in ids or o not in ids]
    pairs = pl.DataFrame(
        {"src": [s for s, _ in rows], "dst": [o for _, o in rows],
         "_reject": [rows[k]["predicate_modifier"] == "Not" for k in rows]},
        schema={"src": pl.String(), "dst": pl.String(), "_reject": pl.Boolean()},
    )  # fmt: skip
    edges = kg.edges
    maps = edges.filter(pl.col("rel") == MAPS_TO)
    decided = maps.join(pairs, on=["src", "dst"], how="inner")
    kept = edges.join(decided.select("src", "rel", "dst"), on=["src", "rel", "dst"], how="anti")
    known_accepted = [(s, o) for s, o in accepted if s in ids and o in ids]
    new = edges_frame(
        [{"src": s, "rel": MAPS_TO, "dst": o, "method": "curated", "confidence": 1.0,
          "props": _match_props(rows[(s, o)]["predicate_id"]), **CURATED}
         for s, o in known_accepted]
    )  # fmt: skip
    existing = set(
        zip(maps.get_column("src").to_list(), maps.get_column("dst").to_list(), strict=True)
    )
    report: dict[str, Any] = {
        "file": str(path),
        "accepted": len(known_accepted),
        "accepted_new_edges": sum(1 for k in known_accepted if k not in existing),
        "rejected_edges_removed": decided.filter(pl.col("_reject")).height,
        "rejected": len(rejected),
        "ids_not_in_graph": len(unknown),
    }
    out = KnowledgeGraph(
        nodes=kg.nodes,
        edges=pl.concat([kept, new.select(kept.columns)], how="vertical_relaxed"),
        sources=kg.sources,
        report={**kg.report, "curated_mappings": report},
    )
    return out


__all__ = [
    "PREDICATE_MATCH",
    "CuratedMappingError",
    "apply_curated_mappings",
    "curated_path",
    "read_curated",
    "write_curated",
]
