"""Small real corpora for the sharded-corpus tests: MMLU questions written as JSONL and
Parquet files, and an excerpt of a real MEDLINE update file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medkg.io import mmlu_medical_items

FIXTURES = Path(__file__).resolve().parents[1] / "retrieval" / "fixtures"
PUBMED = FIXTURES / "pubmed21n1298-excerpt.xml.gz"


def write_corpus(folder: Path) -> list[tuple[str, str]]:
    """Real MMLU questions as a corpus of three files: two JSONL (one with a blank line)
    and a Parquet file; returns the (id, text) pairs a reader must give, built here with
    json / pyarrow on the records as written, in path order."""
    items = mmlu_medical_items()[:400]
    folder.mkdir()
    (folder / "sub").mkdir()
    a, b, c = items[:150], items[150:280], items[280:]
    with (folder / "a.jsonl").open("w") as fh:
        for n, it in enumerate(a):
            fh.write(json.dumps({"q": it.text}) + "\n")
            if n == 10:
                fh.write("\n")  # a blank line: no item, but it counts in line numbers
    (folder / "sub" / "b.jsonl").write_text("".join(json.dumps({"q": i.text}) + "\n" for i in b))
    pq.write_table(pa.table({"q": [i.text for i in c]}), folder / "c.parquet", row_group_size=45)
    (folder / "notes.txt").write_text("not part of the corpus")

    def jsonl(name: str) -> list[tuple[str, str]]:
        lines = (folder / name).read_text().split("\n")
        return [(f"{name}:{n}", json.loads(ln)["q"]) for n, ln in enumerate(lines, 1) if ln]

    rows = pq.read_table(folder / "c.parquet").column("q").to_pylist()
    parquet = [(f"c.parquet:{n}", t) for n, t in enumerate(rows, 1)]
    return jsonl("a.jsonl") + parquet + jsonl("sub/b.jsonl")  # path order
