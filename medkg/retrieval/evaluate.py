"""Retrieval evaluation on synthetic items: recall@k and MRR per corpus and query style.

For each item, corpus and query source (``graph``: the graph-expanded queries of the
corpus's style; ``raw``: the question text; a generator's name: its rewrites), the queries
of that source are run and, when there are several, fused by reciprocal-rank fusion as the
evidence packs are (:func:`medkg.retrieval.evidence.fuse`). A chunk is *relevant* when it
supports the gold answer (:func:`medkg.retrieval.evidence.supports`: an answer name with a
question-entity name) or, in a corpus of kind ``graph``, when its document id is an entity
on the item's path (its card holds the path's facts; ``path_relevance=False`` drops this
rule, leaving support alone, which is stricter: a cue's card counts only when it names the
answer too).

``recall@k`` is the share of (item, corpus) pairs with at least one relevant chunk in the
top ``k`` (answer recall, as DPR reports top-k retrieval accuracy: the full set of relevant
chunks of a corpus is not known); ``mrr`` is the mean of 1/rank of the first relevant chunk
within the largest ``k`` (0 when none). An item for which a source wrote no query (no cue
entity in the graph) counts as a miss and is reported in ``no_query``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from medkg.retrieval.base import RetrievalError
from medkg.retrieval.evidence import (
    CorpusIndex,
    Progress,
    QueryRun,
    fuse,
    item_queries,
    run_queries,
    support_names,
)
from medkg.retrieval.queries import QueryGenerator, style_for

DEFAULT_KS = (1, 5, 10)


@dataclass
class Score:
    """Recall@k and MRR over ``n`` (item, corpus) pairs for one group."""

    n: int = 0
    hits_at: dict[int, int] = field(default_factory=dict)  # k -> pairs with a relevant chunk
    rr_sum: float = 0.0
    no_query: int = 0

    def add(self, first_rank: int | None, ks: Sequence[int], queried: bool = True) -> None:
        self.n += 1
        self.no_query += not queried
        for k in ks:
            self.hits_at[k] = self.hits_at.get(k, 0) + int(
                first_rank is not None and first_rank <= k
            )
        if first_rank is not None:
            self.rr_sum += 1.0 / first_rank

    def to_dict(self, ks: Sequence[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "no_query": self.no_query}
        for k in ks:
            out[f"recall@{k}"] = self.hits_at.get(k, 0) / self.n if self.n else 0.0
        out["mrr"] = self.rr_sum / self.n if self.n else 0.0
        return out


@dataclass
class EvalReport:
    """Scores per (corpus, source) and per (style, source), with the graph-vs-raw comparison."""

    ks: tuple[int, ...]
    by_corpus: dict[tuple[str, str], Score]  # (corpus, source) -> score
    by_style: dict[tuple[str, str], Score]  # (style, source) -> score
    kinds: dict[str, str]  # corpus -> kind
    counts: dict[str, Any] = field(default_factory=dict)

    def comparison(self) -> list[dict[str, Any]]:
        """Per corpus (and over all): graph-expanded vs raw recall@max(k) and MRR."""
        k = max(self.ks)
        rows = []
        for corpus in self.kinds:
            g = self.by_corpus.get((corpus, "graph"))
            r = self.by_corpus.get((corpus, "raw"))
            if g is None or r is None:
                continue
            gd, rd = g.to_dict(self.ks), r.to_dict(self.ks)
            rows.append(
                {
                    "corpus": corpus,
                    "kind": self.kinds[corpus],
                    "n": gd["n"],
                    f"raw_recall@{k}": rd[f"recall@{k}"],
                    f"graph_recall@{k}": gd[f"recall@{k}"],
                    f"delta_recall@{k}": gd[f"recall@{k}"] - rd[f"recall@{k}"],
                    "raw_mrr": rd["mrr"],
                    "graph_mrr": gd["mrr"],
                    "graph_wins": gd[f"recall@{k}"] > rd[f"recall@{k}"],
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        ks = self.ks
        return {
            "ks": list(ks),
            "by_corpus": [
                {"corpus": c, "kind": self.kinds[c], "source": s, **score.to_dict(ks)}
                | {"style": _style(self.kinds[c], s)}
                for (c, s), score in self.by_corpus.items()
            ],
            "by_style": [
                {"style": st, "source": s, **score.to_dict(ks)}
                for (st, s), score in self.by_style.items()
            ],
            "graph_vs_raw": self.comparison(),
            "counts": dict(self.counts),
        }


def check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """Sorted unique cut-offs; each must be a positive integer."""
    out = tuple(sorted(set(ks)))
    if not out or out[0] < 1:
        raise RetrievalError(f"k values must be positive integers, got {list(ks)}")
    return out


def _style(kind: str, source: str) -> str:
    return "raw" if source == "raw" else style_for(kind)


def relevant_runs(
    runs: Sequence[QueryRun],
    rows: Sequence[Mapping[str, Any]],
    kinds: Mapping[str, str],
    path_relevance: bool = True,
) -> list[QueryRun]:
    """The runs with each hit's label set to its relevance (support, or for the graph
    corpus a document on the item's path)."""
    out = []
    for run in runs:
        if not path_relevance or kinds[run.corpus] != "graph":
            out.append(run)
            continue
        path = set(rows[run.item].get("path_nodes", ()))
        labels = [s or h.chunk.doc_id in path for h, s in zip(run.hits, run.support, strict=True)]
        out.append(replace(run, support=labels))
    return out


def first_relevant_rank(runs: Sequence[QueryRun], k: int) -> int | None:
    """Rank of the first relevant chunk in the fused top ``k`` of ``runs``."""
    for rank, (_, _, relevant) in enumerate(fuse(runs, k), start=1):
        if relevant:
            return rank
    return None


def score_runs(
    runs: Sequence[QueryRun],
    rows: Sequence[Mapping[str, Any]],
    corpora: Sequence[CorpusIndex],
    ks: Sequence[int] = DEFAULT_KS,
    sources: Sequence[str] = ("graph", "raw"),
    path_relevance: bool = True,
) -> EvalReport:
    """Score labelled runs (see the module doc); ``sources`` are always reported, a
    generator's source when it has runs."""
    ks = check_ks(ks)
    kinds = {c.name: c.kind for c in corpora}
    grouped: dict[tuple[int, str, str], list[QueryRun]] = {}
    for run in relevant_runs(runs, rows, kinds, path_relevance):
        grouped.setdefault((run.item, run.corpus, run.query.source), []).append(run)
    all_sources = list(dict.fromkeys([*sources, *(s for _, _, s in grouped)]))
    by_corpus: dict[tuple[str, str], Score] = {}
    by_style: dict[tuple[str, str], Score] = {}
    for corpus in kinds:
        for source in all_sources:
            if source not in sources and not any(
                c == corpus and s == source for _, c, s in grouped
            ):
                continue
            style = _style(kinds[corpus], source)
            for i in range(len(rows)):
                group = grouped.get((i, corpus, source), [])
                rank = first_relevant_rank(group, max(ks)) if group else None
                for table, key in ((by_corpus, (corpus, source)), (by_style, (style, source))):
                    table.setdefault(key, Score()).add(rank, ks, queried=bool(group))
    counts = {"items": len(rows), "runs": len(runs), "path_relevance": path_relevance}
    return EvalReport(ks, by_corpus, by_style, kinds, counts)


def evaluate(
    rows: Sequence[Mapping[str, Any]],
    corpora: Sequence[CorpusIndex],
    qgen: QueryGenerator,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    generator: Any = None,
    path_relevance: bool = True,
    progress: Progress | None = None,
) -> EvalReport:
    """Generate queries for ``rows``, retrieve the top max(``ks``) per corpus, and score."""
    if not corpora:
        raise RetrievalError("no corpora to evaluate: index one with `medkg retrieve index`")
    if not rows:
        raise RetrievalError("no items to evaluate")
    ks = check_ks(ks)
    queries = item_queries(rows, qgen, corpora, generator=generator, progress=progress)
    names = [support_names(r, qgen) for r in rows]
    runs = run_queries(rows, queries, corpora, max(ks), names=names, progress=progress)
    report = score_runs(runs, rows, corpora, ks, path_relevance=path_relevance)
    report.counts["generator"] = dict(sorted(qgen.stats.items()))
    return report


__all__ = [
    "DEFAULT_KS",
    "EvalReport",
    "Score",
    "evaluate",
    "first_relevant_rank",
    "relevant_runs",
    "score_runs",
]
