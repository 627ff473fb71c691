"""The before/after table of a bench/gpu_medssr.sh run, as Markdown for bench/README.md.

The GPU machine evaluates without the graph (``--no-link``); here, with the graph in the
store, each held-out question is tagged rare/common/unlinked and with its MET branch by the
coverage linker (the same :class:`~medkg.training.evaluate.GraphTagger` ``medkg train eval``
uses), and the eval files of the initial model and of each finished stage are joined into
one comparison (accuracy with Wilson 95% intervals). Also summarises the pseudo-label report
and each stage's GRPO metrics (mean reward over the first and last quarter of its steps).

Usage: python bench/gpu_medssr_report.py DATA OUT   (the folders of gpu_medssr.sh)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean

from medkg.training.evaluate import (
    EvalResult,
    GraphTagger,
    compare,
    load_benchmark,
    score,
    score_cell,
)


def _results(out: Path) -> list[EvalResult]:
    results = []
    for name in ("eval_before.json", "eval_after.json"):
        path = out / name
        if not path.is_file():
            continue
        for m in json.loads(path.read_text(encoding="utf-8"))["models"]:
            results.append(
                EvalResult(m["model"], m["generator"], m["records"], m["seconds"], m["params"])
            )
    if not results:
        sys.exit(f"{out}: no eval_before.json / eval_after.json")
    return results


def _tag(results: list[EvalResult], data: Path) -> None:
    from medkg.cli.common import store_from_options

    questions = [
        q for name in ("bench_mmlu.jsonl", "bench_synth.jsonl") for q in load_benchmark(data / name)
    ]
    with store_from_options(None, None) as source:  # the configured store (embedded default)
        kg = source.load()
    tags = GraphTagger(kg).tag(questions)
    for r in results:
        for rec in r.records:
            rec["rarity"], rec["branch"] = tags.get(rec["id"], ("unlinked", "unlinked"))


def _markdown(results: list[EvalResult], min_n: int = 20) -> str:
    names = [r.model for r in results]
    lines = [
        "| breakdown | group | n | " + " | ".join(names) + " | Δ last−first |",
        "|---|---|---:|" + "---:|" * len(names) + "---:|",
    ]
    for row in compare(results):
        n = next((c["n"] for c in row["models"] if c), 0)
        if row["breakdown"] == "branch" and n < min_n:
            continue  # small branches: in eval.json, not in the table
        delta = f"{row['delta']:+.3f}" if row["delta"] is not None else "-"
        cells = " | ".join(score_cell(c) for c in row["models"])
        lines.append(f"| {row['breakdown']} | {row['group']} | {n} | {cells} | {delta} |")
    answered = " · ".join(f"{r.model} {score(r.records)['answered']:.2f}" for r in results)
    return "\n".join(lines) + f"\n\nAnswered (an option letter extracted): {answered}\n"


def _metrics(out: Path) -> str:
    lines = []
    for stage in ("self_supervised", "supervised"):
        path = out / f"metrics_{stage}.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        steps = [r for r in rows if "reward" in r]
        if not steps:
            continue
        q = max(1, len(steps) // 4)
        first, last = mean(r["reward"] for r in steps[:q]), mean(r["reward"] for r in steps[-q:])
        acc = [r.get("rewards/accuracy/mean", 0.0) for r in steps]
        secs = [r["step_time"] for r in steps if "step_time" in r]
        lines.append(
            f"- {stage}: {len(steps)} steps, reward {first:.3f} → {last:.3f} (mean of first/last "
            f"{q}), accuracy reward {mean(acc[:q]):.3f} → {mean(acc[-q:]):.3f}"
            + (f", {mean(secs):.1f} s/step" if secs else "")
        )
    return "\n".join(lines)


def _pseudo(out: Path) -> str:
    path = out / "pseudo_report.json"
    if not path.is_file():
        return ""
    rep = json.loads(path.read_text(encoding="utf-8"))
    overall = rep.get("accuracy", {}).get("overall", {})
    return (
        f"- pseudo-labels: {rep.get('kept')} of {rep.get('items')} items kept; label accuracy "
        f"vs the graph {overall.get('label_accuracy')}, kept accuracy "
        f"{overall.get('kept_accuracy')}, mean confidence {overall.get('mean_confidence')}"
    )


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    results = _results(out)
    _tag(results, data)
    print(_markdown(results))
    print(_pseudo(out))
    print(_metrics(out))
    timings = out / "timings.tsv"
    if timings.is_file():
        print("- seconds: " + ", ".join(
            " ".join(x.split("\t")) for x in timings.read_text().splitlines()
        ))  # fmt: skip


if __name__ == "__main__":
    main()
