"""Identity quality: each mapping method's precision, measured against gold mappings.

Gold sets are SSSOM files in ``medkg/kg/data/gold/`` (and any a caller passes):

* ``biomappings_hp_mesh.sssom.tsv`` — the curated HP-MeSH rows of Biomappings 0.6.0
  (positive and negative), copied unchanged;
* ``hand_checked.sssom.tsv`` — a seeded random sample of the resolver's own mappings on the
  bundled build, each judged by reading both names (and the disease's synonyms) and marked
  correct (``skos:exactMatch`` / ``skos:broadMatch``: the target is the same concept or a
  true broader one) or wrong (``predicate_modifier: Not``), with a comment saying why;
* ``hand_checked_xref.sssom.tsv`` — every ``xref`` edge of the bundled build (a census of
  the 38 HP -> ICD-10 cross-references of hp.obo), judged the same way from the HPO
  definition and the ICD-10 title and inclusion terms.

An edge ``src -> dst`` is *judged* by a gold row on the same subject whose object is ``dst``
or, because MeSH ids in the bundled dictionary may be re-assigned, an object of the same
vocabulary with ``dst``'s name (MESH and MESHX count as one vocabulary). A positive row makes
it correct, a negated row wrong, with the predicate read strictly: an identity method's
edge (``xref``, ``name_exact``, ``synonym_exact``) is correct only under a positive
``exactMatch`` (a ``broadMatch``, or any negated row, makes it wrong; so does a positive
``exactMatch`` of its subject to another concept of the same vocabulary); a broad
method's edge (``name_stem``, ``name_contains``) is correct under a positive ``exactMatch`` or
``broadMatch`` and wrong under a positive ``narrowMatch`` (the target is narrower) or a
negated ``broadMatch`` (a negated ``exactMatch`` says nothing about a broader match). A row
judges both directions, read from the object's side with broad and narrow swapped
(``A broadMatch B`` is ``B narrowMatch A``). Precision = correct / judged; a method with fewer than
:data:`MIN_JUDGED` judged edges keeps its prior confidence, marked unmeasured.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.mappings import MappingTable, read_sssom
from medkg.kg.model import MAPS_TO

GOLD_DIR = Path(__file__).parent / "data" / "gold"
MIN_JUDGED = 20
IDENTITY_METHODS = ("xref", "name_exact", "synonym_exact")
EXACT = "skos:exactMatch"
BROAD = "skos:broadMatch"
NARROW = "skos:narrowMatch"
# A row read from its object's side: "A broadMatch B" is "B narrowMatch A".
_REVERSED = {BROAD: NARROW, NARROW: BROAD}
_FAMILY = {"MESHX": "MESH"}
_COUNTS = ("edges", "judged", "correct", "placement_judged", "placement_correct")


def family(curie: str) -> str:
    """The vocabulary of an id (MESHX, medkg's local MeSH namespace, counts as MESH)."""
    prefix = curie.partition(":")[0]
    return _FAMILY.get(prefix, prefix)


@dataclass(frozen=True)
class GoldRow:
    obj: str
    label: str
    predicate: str
    negated: bool
    source: str


def gold_files() -> list[Path]:
    return sorted(GOLD_DIR.glob("*.sssom.tsv"))


@functools.lru_cache(maxsize=4)
def _gold_tables(paths: tuple[Path, ...]) -> tuple[MappingTable, ...]:
    return tuple(read_sssom(p) for p in paths)


def load_gold(paths: Iterable[Path] | None = None) -> dict[str, list[GoldRow]]:
    """Gold rows by subject, both directions (a mapping A-B judges edges A->B and B->A)."""
    from medkg.kg.resolve import normalise_name

    out: dict[str, list[GoldRow]] = defaultdict(list)
    for table in _gold_tables(tuple(paths) if paths is not None else tuple(gold_files())):
        for r in table.frame.iter_rows(named=True):
            predicate = r["predicate_id"]
            for a, b, label, pred in (
                (r["subject_id"], r["object_id"], r["object_label"], predicate),
                (r["object_id"], r["subject_id"], r["subject_label"],
                 _REVERSED.get(predicate, predicate)),
            ):  # fmt: skip
                out[a].append(
                    GoldRow(
                        b,
                        normalise_name(label or ""),
                        pred,
                        r["negated"],
                        table.path.name,
                    )
                )
    return dict(out)


def judge(
    src: str,
    dst: str,
    dst_name: str,
    method: str,
    gold: Mapping[str, list[GoldRow]],
    placement: bool = False,
) -> bool | None:
    """True/False when gold decides the edge, None when it says nothing about it.

    With ``placement``, the question is whether ``dst`` is a valid tree parent (the same
    concept or a true broader one), whatever the method: every edge is read as a broad one.
    """
    if placement:
        method = "placement"
    rows = gold.get(src)
    if not rows:
        return None
    fam = family(dst)
    same = [
        g
        for g in rows
        if g.obj == dst or (family(g.obj) == fam and g.label and g.label == dst_name)
    ]
    if same:
        positive = {g.predicate for g in same if not g.negated}
        negative = {g.predicate for g in same if g.negated}
        if method in IDENTITY_METHODS:
            if EXACT in positive:
                return True
            return False if (negative or positive) else None
        # the target is a good parent when it is the same concept or a broader one
        if positive & {EXACT, BROAD}:
            return True
        return False if (BROAD in negative or NARROW in positive) else None
    if method in IDENTITY_METHODS and any(
        not g.negated and g.predicate == EXACT and family(g.obj) == fam for g in rows
    ):
        return False
    return None


def measure(
    nodes: pl.DataFrame,
    edges: pl.DataFrame,
    gold: Mapping[str, list[GoldRow]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per method: edges, judged, correct, precision (None when too few judged)."""
    from medkg.kg.resolve import normalise_names

    gold = load_gold() if gold is None else gold
    maps = edges.filter(pl.col("rel") == MAPS_TO).select("src", "dst", "method")
    targets = nodes.select("id", "name").join(
        maps.select(pl.col("dst").alias("id")).unique(), on="id", how="semi"
    )
    key_of = dict(
        zip(
            targets.get_column("id").to_list(),
            normalise_names(targets.get_column("name")).to_list(),
            strict=True,
        )
    )
    stats: dict[str, dict[str, Any]] = {}
    for src, dst, method in maps.iter_rows():
        s = stats.setdefault(method, dict.fromkeys(_COUNTS, 0))
        s["edges"] += 1
        if src not in gold:
            continue
        for prefix, placement in (("", False), ("placement_", True)):
            verdict = judge(src, dst, key_of.get(dst, ""), method, gold, placement)
            if verdict is not None:
                s[prefix + "judged"] += 1
                s[prefix + "correct"] += int(verdict)
    for s in stats.values():
        for prefix in ("", "placement_"):
            judged, correct = s[prefix + "judged"], s[prefix + "correct"]
            enough = judged >= MIN_JUDGED
            s[prefix + "precision"] = round(correct / judged, 4) if enough else None
            s[prefix + "precision_low95"] = (
                round(wilson_low(correct, judged), 4) if enough else None
            )
    return dict(sorted(stats.items()))


def wilson_low(correct: int, n: int, z: float = 1.96) -> float:
    """Lower end of the Wilson score interval (95%) of a proportion."""
    if n == 0:
        return 0.0
    p = correct / n
    centre = p + z * z / (2 * n)
    margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
    return (centre - margin) / (1 + z * z / n)


def gold_summary(paths: Iterable[Path] | None = None) -> dict[str, int]:
    """Rows per gold file (for the stats report)."""
    chosen = tuple(paths) if paths is not None else tuple(gold_files())
    return {t.path.name: t.frame.height for t in _gold_tables(chosen)}
