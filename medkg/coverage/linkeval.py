"""Score a linker's mentions against an annotated corpus (:mod:`medkg.coverage.annotated`).

Levels (each with precision, recall and F1):

* ``span`` — a predicted span is right when its start and end equal a gold mention's (the
  concept is not checked); distinct spans are counted, so a composite mention reported as
  one row per concept is one predicted span, and two gold mentions of one span one gold
  span;
* ``mention strict`` — same span and the predicted id is one of the gold mention's ids;
* ``mention via MAPS_TO`` — same span and the predicted id, or one of its exact-mapping
  equivalents (:class:`~medkg.coverage.equivalence.Equivalence`), is a gold id;
* ``document strict`` / ``document via MAPS_TO`` — per document, the set of predicted ids
  against the set of gold ids (a gold id is found when a predicted id is it, or, via
  MAPS_TO, is equivalent to it; a predicted id is right under the same test).

Gold mentions without a concept id count for ``span`` only; a gold line listed twice
(same span, same ids) counts once. Predictions are restricted to
the graph kinds the corpus annotates (``kinds``; an NCBI disease corpus says nothing about
the genes in its text), so precision is over mentions linked to entities of those kinds;
gold mentions likewise, to the types of those kinds (scoring BC5CDR's diseases leaves its
chemicals out; a type :data:`TYPE_KINDS` does not map is always scored).

Breakdowns: per gold mention type (recall only: a prediction has no corpus type), per
predicted entity kind and per linking method (precision over that group's predictions;
recall = the share of gold mentions that group found).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.coverage.annotated import AnnotatedDocument, GoldMention
from medkg.coverage.equivalence import Equivalence
from medkg.errors import UsageError
from medkg.kg.model import DISEASE, DRUG, GENE, PHENOTYPE, KnowledgeGraph

if TYPE_CHECKING:
    from medkg.coverage.linking import LinkerConfig

# corpus mention types (PubTator / BioC conventions) -> graph kinds
TYPE_KINDS: dict[str, str] = {
    "disease": DISEASE, "specificdisease": DISEASE, "diseaseclass": DISEASE,
    "modifier": DISEASE, "compositemention": DISEASE, "diseaseorphenotypicfeature": DISEASE,
    "phenotype": PHENOTYPE, "chemical": DRUG, "chemicalentity": DRUG, "drug": DRUG,
    "gene": GENE, "geneorgeneproduct": GENE,
}  # fmt: skip
LEVELS = ("span", "mention strict", "mention via MAPS_TO", "document strict",
          "document via MAPS_TO")  # fmt: skip


def corpus_kinds(docs: Iterable[AnnotatedDocument]) -> tuple[str, ...]:
    """Graph kinds of the corpus's mention types (Disease for the NCBI disease corpus)."""
    kinds = {TYPE_KINDS.get(m.type.lower()) for d in docs for m in d.mentions}
    return tuple(k for k in (DISEASE, PHENOTYPE, GENE, DRUG) if k in kinds)


@dataclass
class Counts:
    """True positives over predictions and over gold, and the two totals."""

    tp_pred: int = 0
    n_pred: int = 0
    tp_gold: int = 0
    n_gold: int = 0

    def scores(self) -> dict[str, float | int]:
        p = self.tp_pred / self.n_pred if self.n_pred else 0.0
        r = self.tp_gold / self.n_gold if self.n_gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                "predicted": self.n_pred, "gold": self.n_gold,
                "tp_predicted": self.tp_pred, "tp_gold": self.tp_gold}  # fmt: skip


@dataclass
class LinkingScores:
    """The evaluation: overall levels and the breakdowns (see the module docstring)."""

    documents: int
    kinds: tuple[str, ...]
    overall: dict[str, dict[str, float | int]]
    by_type: dict[str, dict[str, dict[str, float | int]]] = field(default_factory=dict)
    by_kind: dict[str, dict[str, dict[str, float | int]]] = field(default_factory=dict)
    by_method: dict[str, dict[str, dict[str, float | int]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "kinds": list(self.kinds), "overall": self.overall,
                "by_type": self.by_type, "by_kind": self.by_kind, "by_method": self.by_method}  # fmt: skip


def _ok(pred: str, gold: Sequence[str], equiv: Equivalence | None) -> bool:
    if pred in gold:
        return True
    return equiv is not None and any(equiv.same(pred, g) for g in gold)


def score_linking(
    docs: Sequence[AnnotatedDocument],
    predictions: pl.DataFrame,
    kind_of: Mapping[str, str],
    equivalence: Equivalence,
    kinds: Sequence[str] | None = None,
) -> LinkingScores:
    """Score a mention table (``item_id`` = document id, ``start``, ``end``,
    ``entity_id``, ``method``) against the gold documents."""
    kinds = tuple(kinds) if kinds else corpus_kinds(docs)
    wanted = set(kinds)
    preds: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    for d, s, e, ent, meth in predictions.select(
        "item_id", "start", "end", "entity_id", "method"
    ).iter_rows():
        if kind_of.get(ent) in wanted:
            preds[d].append((s, e, ent, meth))

    unmapped_ok = wanted | {""}  # a type that maps to no kind: the caller named its kind
    modes: dict[str, Equivalence | None] = {"strict": None, "via MAPS_TO": equivalence}
    overall = {lv: Counts() for lv in LEVELS}
    groups: dict[str, dict[str, dict[str, Counts]]] = {
        "type": defaultdict(lambda: {lv: Counts() for lv in LEVELS[:3]}),
        "kind": defaultdict(lambda: {lv: Counts() for lv in LEVELS[:3]}),
        "method": defaultdict(lambda: {lv: Counts() for lv in LEVELS[:3]}),
    }
    for doc in docs:
        dp = preds.get(doc.id, [])
        # gold of the scored kinds only (a chemical is no miss of a disease evaluation),
        # a line listed twice once
        first: dict[tuple[int, int, tuple[str, ...]], GoldMention] = {}
        for m in doc.mentions:
            if TYPE_KINDS.get(m.type.lower(), "") in unmapped_ok:
                first.setdefault((m.start, m.end, m.ids), m)
        scored = list(first.values())
        gold_at: dict[tuple[int, int], list[tuple[str, ...]]] = defaultdict(list)
        for m in scored:
            gold_at[(m.start, m.end)].append(m.ids)
        # predictions; at span level a span counts once in each group (a composite
        # mention is one row per concept on one span)
        span_seen: set[tuple[str, int, int]] = set()
        for s, e, ent, meth in dp:
            gold = gold_at.get((s, e))
            kind = kind_of[ent]
            hits = {"span": gold is not None}
            for mode, eq in modes.items():
                hits[f"mention {mode}"] = bool(gold) and any(
                    ids and _ok(ent, ids, eq) for ids in gold or []
                )
            for lv, hit in hits.items():
                for name, c in (("", overall[lv]), ("k" + kind, groups["kind"][kind][lv]),
                                ("m" + meth, groups["method"][meth][lv])):  # fmt: skip
                    if lv == "span":
                        if (name, s, e) in span_seen:
                            continue
                        span_seen.add((name, s, e))
                    c.n_pred += 1
                    c.tp_pred += hit
        # gold mentions
        by_span: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
        for s, e, ent, meth in dp:
            by_span[(s, e)].append((ent, meth))
        gold_spans: set[tuple[int, int]] = set()
        for m in scored:
            found = by_span.get((m.start, m.end), [])
            levels: dict[str, list[str]] = {"span": [meth for _, meth in found]}
            for mode, eq in modes.items():
                levels[f"mention {mode}"] = [
                    meth for ent, meth in found if m.ids and _ok(ent, m.ids, eq)
                ]
            for lv, methods in levels.items():
                if lv != "span" and not m.ids:
                    continue
                if lv == "span":  # two gold mentions of one span are one gold span
                    if (m.start, m.end) in gold_spans:
                        continue
                    gold_spans.add((m.start, m.end))
                overall[lv].n_gold += 1
                overall[lv].tp_gold += bool(methods)
                t = groups["type"][m.type][lv]
                t.n_gold += 1
                t.tp_gold += bool(methods)
                for meth in set(methods):
                    groups["method"][meth][lv].tp_gold += 1
                for ent, _meth in found:
                    if lv == "span" or _ok(ent, m.ids, modes[lv[8:]]):
                        groups["kind"][kind_of[ent]][lv].tp_gold += 1
                        break
        # documents
        gold_ids = {i for m in scored for i in m.ids}
        pred_ids = {ent for _, _, ent, _ in dp}
        for mode, eq in modes.items():
            c = overall[f"document {mode}"]
            c.n_pred += len(pred_ids)
            c.tp_pred += sum(_ok(p, tuple(gold_ids), eq) for p in pred_ids)
            c.n_gold += len(gold_ids)
            c.tp_gold += sum(any(_ok(p, (g,), eq) for p in pred_ids) for g in gold_ids)
    # a group's recall is over all gold mentions of the level
    for name in ("kind", "method"):
        for counts in groups[name].values():
            for lv, c in counts.items():
                c.n_gold = overall[lv].n_gold
    for counts in groups["type"].values():
        for c in counts.values():
            c.n_pred = 0

    def render(
        g: dict[str, dict[str, Counts]], recall_only: bool = False
    ) -> dict[str, dict[str, dict[str, float | int]]]:
        drop = ("precision", "f1", "predicted", "tp_predicted") if recall_only else ()
        return {
            k: {lv: {m: x for m, x in c.scores().items() if m not in drop} for lv, c in v.items()}
            for k, v in sorted(g.items())
        }

    return LinkingScores(
        documents=len(docs), kinds=kinds,
        overall={lv: c.scores() for lv, c in overall.items()},
        by_type=render(groups["type"], recall_only=True), by_kind=render(groups["kind"]),
        by_method=render(groups["method"]),
    )  # fmt: skip


def split_halves(
    docs: Sequence[AnnotatedDocument],
) -> tuple[list[AnnotatedDocument], list[AnnotatedDocument]]:
    """The corpus split in two by a hash of each document id: a *look* half (the first
    half in SHA-256 order of the ids; errors may be inspected there while developing
    rules) and a *check* half (only scored), so a reader can see whether a change
    generalises. Deterministic and independent of file order."""
    import hashlib

    order = sorted(docs, key=lambda d: hashlib.sha256(d.id.encode()).hexdigest())
    half = (len(order) + 1) // 2
    return order[:half], order[half:]


def evaluate_linker(
    kg: KnowledgeGraph,
    docs: Sequence[AnnotatedDocument],
    config: LinkerConfig | None = None,
    kinds: Sequence[str] | None = None,
) -> tuple[LinkingScores, pl.DataFrame]:
    """Link every document's text with a :class:`~medkg.coverage.linking.Linker` built from
    ``kg`` (by default over the corpus's kinds) and score it; returns the scores and the
    mention table."""
    from medkg.coverage.linking import Linker, LinkerConfig

    kinds = tuple(kinds) if kinds else corpus_kinds(docs)
    if not kinds:
        raise UsageError(
            "the corpus's mention types map to no graph kind; name them with --kinds "
            f"(known types: {', '.join(sorted(TYPE_KINDS))})"
        )
    config = config or LinkerConfig()
    if set(config.kinds) != set(kinds):
        config = replace(config, kinds=kinds)
    linker = Linker.from_graph(kg, config)
    mentions = linker.link([(d.id, d.text) for d in docs])
    kind_of = dict(kg.nodes.select("id", "kind").iter_rows())
    scores = score_linking(docs, mentions, kind_of, Equivalence.from_graph(kg), kinds)
    return scores, mentions


__all__ = [
    "LEVELS",
    "TYPE_KINDS",
    "Counts",
    "LinkingScores",
    "corpus_kinds",
    "evaluate_linker",
    "score_linking",
    "split_halves",
]
