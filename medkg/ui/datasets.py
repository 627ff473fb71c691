"""A `medkg synth` dataset as the workbench pages it: lazily, never loaded whole.

Rows come from ``items.parquet`` through a polars lazy scan: a page is
``scan → filter → slice(offset, size) → collect``, so a 100,000-item dataset costs the
columns and row groups a page needs (bench/bench_ui.py). Filters: family, rare, template,
branch (the item's answer or seed entity lies in a tree branch), difficulty, review status,
inspect warnings (items of families whose `medkg synth inspect` baselines beat chance by
more than its margin, or whose seed holds more than 0.5% of its family; computed once per
dataset, cached by the hash of its manifest).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from medkg.errors import MedkgError
from medkg.synthesis.inspect import baselines
from medkg.synthesis.items import QAItem
from medkg.synthesis.review import DECISIONS, read_review
from medkg.ui.graph import GraphIndex

PAGE_SIZE = 50
MAX_SEED_SHARE = 0.005  # a seed holding more of its family's items is a warning (issue #12)
INSPECT_COLUMNS = ("id", "family", "question", "options", "option_ids", "answer_index",
                   "answer_id", "template", "seed_entity")  # fmt: skip
TABLE_COLUMNS = (
    "id",
    "family",
    "question",
    "answer",
    "answer_id",
    "rare",
    "difficulty",
    "template",
    "seed_entity",
)


class DatasetError(MedkgError, ValueError):
    """The folder is not a readable medkg dataset; the message says why."""


@dataclass
class ItemFilter:
    """The filters of the items table (empty = no filter)."""

    family: str = ""
    rare: str = ""  # "", "yes", "no"
    template: str = ""
    branch: str = ""  # a tree node id
    min_difficulty: float | None = None
    max_difficulty: float | None = None
    review: str = ""  # "", "unreviewed", or one of DECISIONS
    text: str = ""
    warnings: str = ""  # "yes": only items with an inspect warning

    def as_query(self) -> dict[str, str]:
        raw = {k: v for k, v in self.__dict__.items() if v not in ("", None)}
        return {k: str(v) for k, v in raw.items()}


@dataclass(frozen=True)
class InspectWarnings:
    """What `medkg synth inspect` warns about in one dataset: families whose trivial
    baselines beat chance by more than its margin (with the reasons), and the seeds that
    hold more than :data:`MAX_SEED_SHARE` of their family's items."""

    flagged_families: dict[str, list[str]]  # family -> "longest 0.61 vs chance 0.20", ...
    heavy_seeds: dict[str, dict[str, float]]  # family -> seed -> share of the family

    def condition(self) -> pl.Expr:
        """The items this warns about, as a filter on the items table."""
        seed = _seed_column()
        pairs = [f"{fam}\x00{s}" for fam, seeds in self.heavy_seeds.items() for s in seeds]
        return pl.col("family").is_in(
            pl.Series(sorted(self.flagged_families), dtype=pl.String()).implode()
        ) | pl.concat_str([pl.col("family"), seed], separator="\x00").is_in(
            pl.Series(pairs, dtype=pl.String()).implode()
        )


def _seed_column() -> pl.Expr:
    """An item's seed as inspect counts it: ``seed_entity``, else its answer."""
    seed = pl.col("seed_entity")
    return pl.when(seed.is_null() | (seed == "")).then(pl.col("answer_id")).otherwise(seed)


@lru_cache(maxsize=8)
def _inspect_warnings(items_path: str, manifest_hash: str) -> InspectWarnings:
    """Inspect's baselines and seed shares per family of one items table (cached per
    manifest hash: the manifest lists the files' hashes, so it names the dataset)."""
    frame = pl.read_parquet(items_path, columns=list(INSPECT_COLUMNS))
    frame = frame.with_columns(_seed_column().alias("seed"))
    flagged: dict[str, list[str]] = {}
    heavy: dict[str, dict[str, float]] = {}
    for (family,), part in frame.group_by("family", maintain_order=True):
        n = part.height
        shares = part.group_by("seed").len().filter(pl.col("len") / n > MAX_SEED_SHARE)
        if not shares.is_empty():
            heavy[family] = {s: c / n for s, c in sorted(shares.iter_rows())}
        items = [_qa_item(r) for r in part.iter_rows(named=True)]
        reasons = [f"{name} {e['accuracy']:.2f} vs chance {e['chance']:.2f}"
                   for name, e in baselines(items).items() if e["flag"]]  # fmt: skip
        if reasons:
            flagged[family] = reasons
    return InspectWarnings(dict(sorted(flagged.items())), dict(sorted(heavy.items())))


def _qa_item(row: dict[str, Any]) -> QAItem:
    """The fields of an item inspect's baselines read (the rest left empty)."""
    return QAItem(family=row["family"], question=row["question"], options=row["options"],
                  option_ids=row["option_ids"], answer_index=row["answer_index"],
                  answer_id=row["answer_id"], entity_ids=[], path_nodes=[], path_rels=[],
                  distractor_ids=[], hops=0, rare=False, difficulty=0.0, rationale={},
                  template=row["template"] or "", seed_entity=row["seed_entity"] or "",
                  id=row["id"])  # fmt: skip


@dataclass
class Dataset:
    """A dataset folder written by `medkg synth` (``manifest.json`` + ``items.parquet``)."""

    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: str | Path) -> Dataset:
        """Check that ``folder`` is a medkg dataset (DatasetError naming what is missing)."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise DatasetError(f"{path} is not a folder")
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise DatasetError(f"{path} is not a medkg dataset: it has no manifest.json")
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{manifest_path}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or "n_items" not in manifest:
            raise DatasetError(f"{manifest_path} is not a `medkg synth` manifest (no n_items)")
        items = path / "items.parquet"
        if not items.is_file():
            raise DatasetError(
                f"{path} has no items.parquet (export with --formats including parquet)"
            )
        try:
            schema = pl.scan_parquet(items).collect_schema()
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise DatasetError(f"{items}: not a readable Parquet file ({exc})") from None
        missing = [c for c in ("id", "family", "question", "options") if c not in schema]
        if missing:
            raise DatasetError(f"{items} lacks column(s) {missing}: not a medkg items table")
        return cls(path=path, manifest=manifest)

    @property
    def name(self) -> str:
        return self.path.name

    def scan(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path / "items.parquet")

    def facets(self) -> dict[str, list[str]]:
        """Distinct families and templates (two small column reads)."""
        lf = self.scan()
        return {
            c: sorted(v for v in lf.select(pl.col(c).unique()).collect().to_series().to_list() if v)
            for c in ("family", "template")
        }

    def _filtered(self, f: ItemFilter, index: GraphIndex | None) -> pl.LazyFrame:
        lf = self.scan()
        if f.family:
            lf = lf.filter(pl.col("family") == f.family)
        if f.template:
            lf = lf.filter(pl.col("template") == f.template)
        if f.rare in ("yes", "no"):
            lf = lf.filter(pl.col("rare") == (f.rare == "yes"))
        if f.min_difficulty is not None:
            lf = lf.filter(pl.col("difficulty") >= f.min_difficulty)
        if f.max_difficulty is not None:
            lf = lf.filter(pl.col("difficulty") <= f.max_difficulty)
        if f.text:
            lf = lf.filter(pl.col("question").str.contains(f.text, literal=True))
        if f.branch and index is not None:
            below = pl.Series(index.subtree_ids(f.branch), dtype=pl.String()).implode()
            lf = lf.filter(pl.col("answer_id").is_in(below) | pl.col("seed_entity").is_in(below))
        if f.warnings == "yes":
            lf = lf.filter(self.inspect_warnings().condition())
        if f.review:
            decisions = self.decisions()
            if f.review == "unreviewed":
                lf = lf.filter(
                    ~pl.col("id").is_in(pl.Series(list(decisions), dtype=pl.String()).implode())
                )
            elif f.review in DECISIONS:
                chosen = [i for i, d in decisions.items() if d["decision"] == f.review]
                lf = lf.filter(pl.col("id").is_in(pl.Series(chosen, dtype=pl.String()).implode()))
        return lf

    def page(
        self, f: ItemFilter, offset: int = 0, size: int = PAGE_SIZE, index: GraphIndex | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """(rows matching the filters, the rows of one page with their review decision)."""
        lf = self._filtered(f, index)
        total = int(lf.select(pl.len()).collect().item())
        cols = [c for c in TABLE_COLUMNS if c in self.scan().collect_schema()]
        rows = lf.select(cols).slice(max(offset, 0), size).collect().to_dicts()
        decisions = self.decisions()
        for r in rows:
            r["review"] = decisions.get(r["id"], {}).get("decision", "")
        return total, rows

    def item(self, item_id: str) -> dict[str, Any] | None:
        hit = self.scan().filter(pl.col("id") == item_id).collect()
        if hit.is_empty():
            return None
        row = hit.row(0, named=True)
        if isinstance(row.get("provenance"), str):
            with contextlib.suppress(json.JSONDecodeError):
                row["provenance"] = json.loads(row["provenance"])
        return row

    def has_item(self, item_id: str) -> bool:
        return bool(self.scan().filter(pl.col("id") == item_id).select(pl.len()).collect().item())

    def decisions(self) -> dict[str, dict[str, Any]]:
        return read_review(self.path)

    def inspect_warnings(self) -> InspectWarnings:
        """What `medkg synth inspect` warns about here (computed once per manifest hash;
        over every item, reviewed or not: the figures of the dataset as generated)."""
        items = self.path / "items.parquet"
        missing = [c for c in INSPECT_COLUMNS if c not in self.scan().collect_schema()]
        if missing:
            raise DatasetError(f"{items} lacks column(s) {missing} that inspect reads")
        digest = hashlib.sha256((self.path / "manifest.json").read_bytes()).hexdigest()
        return _inspect_warnings(str(items.resolve()), digest)


def distractor_reasons(item: dict[str, Any], index: GraphIndex | None) -> list[dict[str, Any]]:
    """Each option with its entity and why it is wrong, when the item records a reason
    (``provenance.distractor_reasons`` keyed by entity id); otherwise the reason is blank."""
    raw = item.get("provenance")
    prov: dict[str, Any] = raw if isinstance(raw, dict) else {}
    reasons = prov.get("distractor_reasons") or prov.get("distractors") or {}
    if not isinstance(reasons, dict):
        reasons = {}
    out = []
    option_ids = item.get("option_ids") or []
    for i, text in enumerate(item.get("options") or []):
        oid = option_ids[i] if i < len(option_ids) else ""
        out.append(
            {
                "letter": "ABCDEFGH"[i],
                "text": text,
                "id": oid,
                "correct": i == item.get("answer_index"),
                "reason": str(reasons.get(oid, "")),
                "in_graph": bool(index is not None and oid in index),
            }
        )
    return out


def graph_path(item: dict[str, Any], index: GraphIndex | None) -> list[dict[str, Any]]:
    """The item's justifying path as node steps with names, each with the relation to the
    next node and its direction in the graph (``→`` src to dst, ``←`` the edge points back,
    ``?`` no such edge in the graph)."""
    nodes = item.get("path_nodes") or []
    rels = item.get("path_rels") or []
    steps: list[dict[str, Any]] = []
    for i, nid in enumerate(nodes):
        rel = rels[i] if i < len(rels) and i + 1 < len(nodes) else ""
        arrow = ""
        if rel and index is not None:
            nxt = nodes[i + 1]
            if not index.edges_out(nid, rel).filter(pl.col("dst") == nxt).is_empty():
                arrow = "→"
            elif not index.edges_out(nxt, rel).filter(pl.col("dst") == nid).is_empty():
                arrow = "←"
            else:
                arrow = "?"
        name = index.name_of(nid) if index else ""
        steps.append({"node": nid, "name": name, "rel": rel, "arrow": arrow})
    return steps


__all__ = [
    "PAGE_SIZE",
    "Dataset",
    "DatasetError",
    "InspectWarnings",
    "ItemFilter",
    "distractor_reasons",
    "graph_path",
]
