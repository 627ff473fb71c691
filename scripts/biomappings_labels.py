"""The labels biomappings' manually curated mappings give one prefix's ids (cross-checks of
the evidence tables made by ``make_mesh_evidence.py`` and ``make_drugbank_evidence.py``)."""

from __future__ import annotations

import zipfile
from pathlib import Path

POSITIVE = "biomappings/resources/positive.sssom.tsv"


def curated_labels(wheel: Path, prefix: str) -> dict[str, str]:
    """Local id -> label of every ``prefix:`` subject or object in the biomappings wheel's
    positive (curated) mappings; the first label seen wins."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(POSITIVE).decode("utf-8")
    labels: dict[str, str] = {}
    for line in text.splitlines():
        cells = line.split("\t")
        if line.startswith("#") or len(cells) < 5:
            continue
        for curie, label in ((cells[0], cells[1]), (cells[3], cells[4])):
            if curie.startswith(f"{prefix}:"):
                labels.setdefault(curie.removeprefix(f"{prefix}:"), label)
    return labels
