"""Mappings in and out as SSSOM TSV (https://mapping-commons.github.io/sssom/).

:func:`read_sssom` reads an SSSOM TSV file (YAML front matter with a ``curie_map``, then a
tab-separated table) with ``sssom-pydantic`` and returns a :class:`MappingTable`: one row per
mapping, CURIEs normalised to medkg's prefixes (``mesh:D008382`` → ``MESH:D008382``,
``orphanet:558`` → ``ORPHA:558``), negated mappings (``predicate_modifier: Not``) kept
with ``negated = True``, and the file line of each row.

Bad input is an error naming the file and line, never a partial result:

* a malformed row (missing required column, a value that is not a CURIE, a confidence
  outside 0..1) or a CURIE whose prefix the ``curie_map`` does not declare;
* a contradiction: one subject-predicate-object triple both asserted and negated.

A subject mapped ``exactMatch`` to several objects of one prefix is not an error (SSSOM
allows it) but is counted (``one_to_many_exact``).

:func:`mapping_source` turns such a table into ``MAPS_TO`` edges (``medkg kg import
FILE.sssom.tsv`` / ``medkg kg mappings import``): they join the resolver's and xrefs'
edges and the tree uses them by the same rules. :func:`write_sssom` exports a graph's
``MAPS_TO`` edges as SSSOM (``medkg kg mappings export``), written to a temporary file
and renamed.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from medkg.kg.curie import normalise_curie
from medkg.kg.model import (
    MAPS_TO,
    KnowledgeGraph,
    SourceInfo,
    edges_frame,
    empty_nodes,
    props_json,
    stamp,
)
from medkg.kg.sources.base import SourceError, check_readable
from medkg.outputs import write_text

EXACT = "skos:exactMatch"
BROAD = "skos:broadMatch"
NARROW = "skos:narrowMatch"
CLOSE = "skos:closeMatch"
RELATED = "skos:relatedMatch"
# Confidence of an imported mapping that states none: a manual curation is taken at the
# resolver's xref level; anything else is declared, not measured, and stays below the
# tree's placement threshold (see medkg.kg.resolve.PLACEMENT_MIN_PRECISION).
DECLARED_CONFIDENCE = {"semapv:ManualMappingCuration": 0.95}
UNDECLARED_CONFIDENCE = 0.5
METHOD = "sssom"

MAPPING_SCHEMA: dict[str, pl.DataType] = {
    "subject_id": pl.String(),
    "subject_label": pl.String(),
    "predicate_id": pl.String(),
    "negated": pl.Boolean(),
    "object_id": pl.String(),
    "object_label": pl.String(),
    "justification": pl.String(),
    "confidence": pl.Float64(),
    "line": pl.Int64(),
}


@dataclass
class MappingTable:
    """The rows of one SSSOM file and what was noticed while reading it."""

    path: Path
    frame: pl.DataFrame
    mapping_set_id: str | None = None
    license: str | None = None
    version: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def read_sssom(path: str | os.PathLike[str]) -> MappingTable:
    """Read and check an SSSOM TSV file; errors name the file and line."""
    from sssom_pydantic.io import (
        ParseError,
        read_unprocessed_iterable,
        record_to_semantic_mapping,
    )

    file = check_readable(Path(path))
    rows: list[dict[str, Any]] = []
    try:
        with read_unprocessed_iterable(file) as t:
            for reported, record in t.records:
                # sssom-pydantic numbers data rows from the column-header line: +1 is the file line
                line = reported + 1
                if isinstance(record, ParseError):
                    raise SourceError(file, _first_line(record.exception), line)
                try:
                    mapping = record_to_semantic_mapping(record, t.converter, line_number=line)
                except ValueError as exc:
                    raise SourceError(file, _first_line(exc), line) from exc
                rows.append(
                    {
                        "subject_id": _curie(file, line, mapping.subject.curie),
                        "subject_label": mapping.subject.name,
                        "predicate_id": mapping.predicate.curie,
                        "negated": mapping.predicate_modifier is not None,
                        "object_id": _curie(file, line, mapping.object.curie),
                        "object_label": mapping.object.name,
                        "justification": mapping.justification.curie,
                        "confidence": mapping.confidence,
                        "line": line,
                    }
                )
            mapping_set = t.mapping_set
    except SourceError:
        raise
    except yaml.YAMLError as exc:  # the front matter is YAML behind "#"
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark is not None else None
        raise SourceError(
            file, f"bad SSSOM front matter (YAML): {_first_line(exc)}", where
        ) from exc
    except (ValueError, KeyError) as exc:  # front matter: unknown keys, bad values
        raise SourceError(file, f"bad SSSOM front matter or header: {_first_line(exc)}") from exc
    frame = pl.DataFrame(rows, schema=MAPPING_SCHEMA)
    counts = _check_conflicts(file, frame)
    license_ = str(mapping_set.license) if getattr(mapping_set, "license", None) else None
    return MappingTable(
        path=file,
        frame=frame,
        mapping_set_id=str(mapping_set.id) if getattr(mapping_set, "id", None) else None,
        license=license_,
        version=getattr(mapping_set, "version", None),
        counts={"rows": frame.height, **counts},
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = text.splitlines()
    return " ".join(lines[:3]) if len(lines) > 1 else lines[0]


def _curie(file: Path, line: int, value: str) -> str:
    try:
        return normalise_curie(value)
    except ValueError as exc:
        raise SourceError(file, str(exc), line) from exc


def _check_conflicts(file: Path, frame: pl.DataFrame) -> dict[str, int]:
    """Raise on a pair both asserted and negated; count one-to-many exact matches."""
    seen: dict[tuple[str, str, str], tuple[bool, int]] = {}
    for subject, predicate, obj, negated, line in frame.select(
        "subject_id", "predicate_id", "object_id", "negated", "line"
    ).iter_rows():
        prev = seen.get((subject, predicate, obj))
        if prev is not None and prev[0] != negated:
            raise SourceError(
                file,
                f"conflicting mappings: {subject} {predicate} {obj} is asserted and negated "
                f"(lines {min(prev[1], line)} and {max(prev[1], line)})",
                line,
            )
        seen.setdefault((subject, predicate, obj), (negated, line))
    targets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for subject, obj in (
        frame.filter(~pl.col("negated") & (pl.col("predicate_id") == EXACT))
        .select("subject_id", "object_id")
        .iter_rows()
    ):
        targets[(subject, obj.partition(":")[0])].add(obj)
    many = sum(1 for objs in targets.values() if len(objs) > 1)
    return {"negated": int(frame.get_column("negated").sum()), "one_to_many_exact": many}


def mapping_source(table: MappingTable, name: str | None = None) -> KnowledgeGraph:
    """``MAPS_TO`` edges from a mapping table: asserted exact/broad/close mappings.

    ``skos:narrowMatch`` rows are turned around (the narrower entity maps to the broader,
    as the resolver's broad matches do); ``relatedMatch`` and negated rows carry no
    identity and are counted, not loaded.
    """
    info = SourceInfo(
        name=name or (table.path.name.split(".")[0]),
        version=table.version or "unknown",
        license=table.license or "unknown",
        path=str(table.path),
        url=table.mapping_set_id or "",
    )
    rows: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    for r in table.frame.iter_rows(named=True):
        if r["negated"]:
            skipped["negated"] += 1
            continue
        predicate = r["predicate_id"]
        src, dst = r["subject_id"], r["object_id"]
        if predicate == NARROW:
            src, dst = dst, src
        elif predicate not in (EXACT, BROAD, CLOSE):
            skipped[f"predicate {predicate}"] += 1
            continue
        confidence = r["confidence"]
        if confidence is None:
            confidence = DECLARED_CONFIDENCE.get(r["justification"], UNDECLARED_CONFIDENCE)
        match = "exact" if predicate == EXACT else ("close" if predicate == CLOSE else "broad")
        rows.append(
            {
                "src": src,
                "rel": MAPS_TO,
                "dst": dst,
                "method": METHOD,
                "confidence": float(confidence),
                "props": props_json(
                    {"match": match, "justification": r["justification"], "line": r["line"]}
                ),
            }
        )
    edges = edges_frame(rows).unique(["src", "dst"], keep="first", maintain_order=True)
    counts = {**table.counts, "edges": edges.height}
    info = SourceInfo(**{**info.to_dict(), "counts": counts})
    report = {f"{info.name}.rows_not_loaded.{k}": v for k, v in sorted(skipped.items())}
    if table.counts.get("one_to_many_exact"):
        report[f"{info.name}.subjects_with_several_exact_targets"] = table.counts[
            "one_to_many_exact"
        ]
    return KnowledgeGraph.from_frames(
        empty_nodes(),
        stamp(edges, info),
        [info],
        report,
    )


# Methods whose edges state identity; the others are broader matches (props.match = broad).
_JUSTIFICATION = {
    "xref": "semapv:ManualMappingCuration",
    "sssom": "semapv:MappingReview",
}
PREFIX_IRIS = {
    "HP": "http://purl.obolibrary.org/obo/HP_",
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
    "DOID": "http://purl.obolibrary.org/obo/DOID_",
    "ORPHA": "http://www.orpha.net/ORDO/Orphanet_",
    "OMIM": "https://omim.org/entry/",
    "OMIMPS": "https://omim.org/phenotypicSeries/PS",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "ICD10": "https://icd.who.int/browse10/2019/en#/",
    "ICD10CM": "https://icd.codes/icd10cm/",
    "DECIPHER": "https://www.deciphergenomics.org/syndrome/",
    "NCBIGene": "https://www.ncbi.nlm.nih.gov/gene/",
    "DRUGBANK": "https://go.drugbank.com/drugs/",
    "UMLS": "https://uts.nlm.nih.gov/uts/umls/concept/",
    "NCIT": "http://purl.obolibrary.org/obo/NCIT_",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "semapv": "https://w3id.org/semapv/vocab/",
}


def graph_mappings(kg: KnowledgeGraph) -> pl.DataFrame:
    """The graph's MAPS_TO edges as SSSOM columns (one row per edge, sorted); the predicate
    is the edge's ``props.match`` (broad, close, else exact)."""
    names = kg.nodes.select(pl.col("id"), pl.col("name"))
    maps = kg.edges.filter(pl.col("rel") == MAPS_TO).select(
        "src", "dst", "method", "confidence", "props", "source"
    )
    match = pl.col("props").fill_null("")
    broad = match.str.contains('"match":"broad"', literal=True)
    close = match.str.contains('"match":"close"', literal=True)
    names = names.with_columns(pl.col("name").str.replace_all(r"[\t\r\n]+", " "))
    return (
        maps.join(names.rename({"id": "src", "name": "subject_label"}), on="src", how="left")
        .join(names.rename({"id": "dst", "name": "object_label"}), on="dst", how="left")
        .select(
            pl.col("src").alias("subject_id"),
            "subject_label",
            pl.when(broad)
            .then(pl.lit(BROAD))
            .when(close)
            .then(pl.lit(CLOSE))
            .otherwise(pl.lit(EXACT))
            .alias("predicate_id"),
            pl.col("dst").alias("object_id"),
            "object_label",
            pl.col("method")
            .replace_strict(_JUSTIFICATION, default="semapv:LexicalMatching")
            .alias("mapping_justification"),
            pl.col("confidence"),
            pl.concat_str([pl.lit("medkg "), pl.col("method")]).alias("mapping_tool"),
            pl.col("source").alias("comment"),
        )
        .sort(["subject_id", "object_id", "mapping_tool"])
    )


def write_sssom(kg: KnowledgeGraph, path: str | os.PathLike[str], mapping_set_id: str) -> int:
    """Write the graph's MAPS_TO edges as SSSOM TSV (temp file, then rename); rows written."""
    rows = graph_mappings(kg)
    prefixes = sorted(
        {c.partition(":")[0] for c in rows.get_column("subject_id").to_list()}
        | {c.partition(":")[0] for c in rows.get_column("object_id").to_list()}
    )
    curie_map = {p: PREFIX_IRIS.get(p, f"https://w3id.org/medkg/id/{p}/") for p in prefixes}
    curie_map.update({"skos": PREFIX_IRIS["skos"], "semapv": PREFIX_IRIS["semapv"]})
    header = ["#curie_map:"]
    header += [f"#  {p}: {iri}" for p, iri in sorted(curie_map.items())]
    header += [
        f"#mapping_set_id: {mapping_set_id}",
        "#license: https://creativecommons.org/publicdomain/zero/1.0/",
        "#comment: MAPS_TO edges of a medkg graph; confidence is the measured precision of "
        "each method (medkg kg stats, identity quality).",
    ]
    body = rows.with_columns(pl.col("confidence").round(4)).write_csv(
        separator="\t", null_value="", quote_style="never"
    )
    write_text(path, "\n".join(header) + "\n" + body)
    return rows.height
