"""Small real corpora for the sharded-corpus tests: MMLU questions written as JSONL and
Parquet files, and an excerpt of a real MEDLINE update file; the check that a corpus
audit from per-shard counts equals the audit of its whole mention table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from medkg.coverage.audit import audit, write_audit
from medkg.coverage.linking import Linker
from medkg.coverage.pipeline import DatasetSpec, run_audit
from medkg.coverage.sharded import CorpusSource
from medkg.engines import Engine
from medkg.io import mmlu_medical_items
from medkg.kg.model import KnowledgeGraph
from medkg.retrieval.shards import ShardItems, plan_shards

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


def write_mixed_corpus(folder: Path) -> list[tuple[str, str]]:
    """:func:`write_corpus` plus the real MEDLINE excerpt as ``pubmed.xml.gz`` (its 8
    citations: PMIDs as ids); returns the MMLU records' (id, text) pairs."""
    expected = write_corpus(folder)
    (folder / "pubmed.xml.gz").write_bytes(PUBMED.read_bytes())
    return expected


def write_keyed_jsonl(path: Path, keys: list[str], texts: list[str]) -> None:
    """A JSONL file of records ``{"key": ..., "q": ...}`` (ids from ``--id-field key``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps({"key": k, "q": t}) + "\n" for k, t in zip(keys, texts, strict=True))
    )


def rollups_by_sets(
    mentions: list[dict], parent: dict[str, str | None], known: set[str]
) -> dict[str, dict[str, int]]:
    """Per node, from the mention rows (``item_id``, ``entity_id``, ``equivalents``) with
    Python sets: ``items`` (distinct items naming it), ``concept_items`` (naming it or an
    equivalent) and ``rollup_items`` (distinct items whose concepts lie at or below it,
    walking ``parent`` up). An independent reference for the audit's counts."""
    items: dict[str, set[str]] = {}
    concept: dict[str, set[str]] = {}
    rollup: dict[str, set[str]] = {}
    for row in mentions:
        if row["entity_id"] not in known:
            continue
        items.setdefault(row["entity_id"], set()).add(row["item_id"])
        for node in {row["entity_id"], *[e for e in row["equivalents"] or [] if e in known]}:
            concept.setdefault(node, set()).add(row["item_id"])
            at: str | None = node
            while at is not None:
                rollup.setdefault(at, set()).add(row["item_id"])
                at = parent.get(at)
    return {
        "items": {k: len(v) for k, v in items.items()},
        "concept_items": {k: len(v) for k, v in concept.items()},
        "rollup_items": {k: len(v) for k, v in rollup.items()},
    }


AUDIT_FILES = ("coverage.json", "gaps.json", "nodes.parquet", "nodes.csv", "branches.csv",
               "levels.csv", "uncovered.csv")  # fmt: skip


def _corpus_audit(kg: KnowledgeGraph, folder: Path, out: Path, shard_size: int,
                  engine: Engine | None) -> Path:  # fmt: skip
    corpus = CorpusSource(tuple(plan_shards(str(folder), shard_size)), ShardItems(("q",)))
    run_audit(kg, [DatasetSpec("d", str(folder), ("q",), None, corpus)], out=out,
              amcs_reference=None, report=False, engine=engine)  # fmt: skip
    return out


def _whole_table_audit(kg: KnowledgeGraph, mentions: pl.DataFrame, n_items: int,
                       out: Path) -> None:  # fmt: skip
    """The audit of the whole mention table at once (the path before per-shard counts)."""
    extra = {"graph_hash": kg.content_hash(), "linker": Linker.from_graph(kg).config.to_dict(),
             "amcs_reference": None, "model": None}  # fmt: skip
    write_audit([audit(kg.nodes, mentions, name="d", n_items=n_items)], out, extra=extra)


def check_rolled_up_audit(
    kg: KnowledgeGraph, tmp_path: Path, shard_size: int, engine: Engine | None = None
) -> None:
    """Audit :func:`write_mixed_corpus` shard by shard (on ``engine``) and check its files
    are byte for byte those of the audit of its whole mention table at once, and its
    per-node counts those of :func:`rollups_by_sets` over that table."""
    folder = tmp_path / "corpus"
    write_mixed_corpus(folder)
    rolled = _corpus_audit(kg, folder, tmp_path / "rolled", shard_size, engine)
    mentions = pl.read_parquet(rolled / "mentions.parquet")  # the corpus's whole table
    summary = json.loads((rolled / "coverage.json").read_text())["datasets"][0]["summary"]
    assert summary["n_items"] == 408  # 400 MMLU records + 8 citations
    _whole_table_audit(kg, mentions, 408, tmp_path / "whole")
    for name in AUDIT_FILES:
        assert (rolled / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    # the per-node counts against Python sets over the same table
    nodes = pl.read_parquet(rolled / "nodes.parquet")
    parent = dict(kg.nodes.select("id", "met_parent").iter_rows())
    ref = rollups_by_sets(mentions.to_dicts(), parent, set(parent))
    assert ref["rollup_items"], "the corpus mentions no graph node"
    for column, expected in ref.items():
        got = {i: n for i, n in nodes.select("id", column).iter_rows() if n}
        assert got == expected, column
