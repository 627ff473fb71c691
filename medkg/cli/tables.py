"""rich tables of evaluation results (rendering stays in the CLI; the library returns data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from medkg.retrieval.evaluate import EvalReport
from medkg.training.evaluate import (
    METRICS,
    EvalResult,
    compare,
    letter_distribution,
    score_cell,
)


def retrieval_tables(report: EvalReport) -> list[Any]:
    """rich tables: scores per corpus and source, per style, and graph vs raw."""
    data = report.to_dict()
    metrics = [*(f"recall@{k}" for k in report.ks), "mrr"]
    per_corpus = Table(title="retrieval by corpus and query source")
    for col in ("corpus", "kind", "source", "style", "n", *metrics):
        per_corpus.add_column(
            col, justify="left" if col in ("corpus", "kind", "source", "style") else "right"
        )
    for row in data["by_corpus"]:
        per_corpus.add_row(
            row["corpus"], row["kind"], row["source"], row["style"], str(row["n"]),
            *(f"{row[m]:.3f}" for m in metrics),
        )  # fmt: skip
    per_style = Table(title="retrieval by query style")
    for col in ("style", "source", "n", *metrics):
        per_style.add_column(col, justify="left" if col in ("style", "source") else "right")
    for row in data["by_style"]:
        per_style.add_row(
            row["style"], row["source"], str(row["n"]), *(f"{row[m]:.3f}" for m in metrics)
        )
    k = max(report.ks)
    versus = Table(title=f"graph-expanded queries vs the raw question (recall@{k})")
    for col in ("corpus", "kind", "n", "raw", "graph", "delta", "raw MRR", "graph MRR"):
        versus.add_column(col, justify="left" if col in ("corpus", "kind") else "right")
    for row in data["graph_vs_raw"]:
        delta = row[f"delta_recall@{k}"]
        colour = "green" if delta > 0 else "red" if delta < 0 else "white"
        versus.add_row(
            row["corpus"], row["kind"], str(row["n"]), f"{row[f'raw_recall@{k}']:.3f}",
            f"{row[f'graph_recall@{k}']:.3f}", f"[{colour}]{delta:+.3f}[/]",
            f"{row['raw_mrr']:.3f}", f"{row['graph_mrr']:.3f}",
        )  # fmt: skip
    return [per_corpus, per_style, versus]


def comparison_table(results: Sequence[EvalResult], title: str = "accuracy (95% CI)") -> Any:
    """A rich table of :func:`compare`'s rows: raw and permutation-consistent accuracy."""
    metrics = [m for m in METRICS if m == "raw" or any(
        "consistent" in r.breakdown()["overall"] for r in results)]  # fmt: skip
    table = Table(title=title)
    table.add_column("breakdown")
    table.add_column("group")
    table.add_column("n", justify="right")
    for r in results:
        for m in metrics:
            table.add_column(f"{r.model} {m}", justify="right")
    if len(results) > 1:
        for m in metrics:
            table.add_column(f"Δ {m}", justify="right")
    for row in compare(results):
        n = next((c["n"] for c in row["models"] if c), 0)
        cells = [score_cell(c, m) for c in row["models"] for m in metrics]
        extra = []
        if len(results) > 1:
            for key in ("delta", "delta_consistent")[: len(metrics)]:
                extra.append(f"{row[key]:+.3f}" if row[key] is not None else "-")
        table.add_row(row["breakdown"], row["group"], str(n), *cells, *extra)
    return table


def letter_table(results: Sequence[EvalResult]) -> Any:
    """A rich table of each model's answer letters against the gold letters (every ask)."""
    table = Table(title="answer letters over every order asked (gold | given)")
    dists = [letter_distribution(r.records) for r in results]
    letters = sorted({k for d in dists for k in d["gold"]} | {
        k for d in dists for k in d["predicted"] if k != "none"})  # fmt: skip
    table.add_column("model")
    for letter in [*letters, "none"]:
        table.add_column(letter, justify="right")
    for r, d in zip(results, dists, strict=True):
        total = sum(d["gold"].values()) or 1
        table.add_row(
            f"{r.model} gold", *[f"{d['gold'].get(k, 0) / total:.2f}" for k in letters], "-"
        )
        table.add_row(
            f"{r.model} given",
            *[f"{d['predicted'].get(k, 0) / total:.2f}" for k in [*letters, "none"]],
        )
    return table


__all__ = ["comparison_table", "letter_table", "retrieval_tables"]
