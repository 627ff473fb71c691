"""The before/after tables of a bench/gpu_graph_keyed.sh run, as Markdown.

Reads OUT/eval_letters_{before,after}.json and OUT/eval_generate_{before,after}.json
(whichever exist) and prints, per scoring, raw and permutation-consistent accuracy with
Wilson 95% intervals per eval set, family and rarity (the CPU bench's table), the answer
letters given, and the GRPO stage's reward over its first and last quarter of steps.

Usage: python bench/gpu_graph_keyed_report.py OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).parent))

from bench_before_after import table

from medkg.training.evaluate import EvalResult, letter_distribution


def load(path: Path) -> list[EvalResult]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        EvalResult(m["model"], m["generator"], m["records"], m["seconds"], m["params"])
        for m in data["models"]
    ]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    out = Path(sys.argv[1])
    for scoring in ("letters", "generate"):
        results = [
            r
            for label in ("before", "after")
            if (out / f"eval_{scoring}_{label}.json").is_file()
            for r in load(out / f"eval_{scoring}_{label}.json")
        ]
        if not results:
            continue
        print(f"### {scoring} ({', '.join(r.model for r in results)})\n")
        print(table(results))
        for r in results:
            print(f"- {r.model} letters given: {letter_distribution(r.records)['predicted']}")
        print()
    metrics = out / "metrics.jsonl"
    if metrics.is_file():
        rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
        steps = [r for r in rows if "reward" in r]
        if steps:
            q = max(1, len(steps) // 4)
            acc = [r.get("rewards/accuracy/mean", 0.0) for r in steps]
            print(
                f"- graph-keyed GRPO: {len(steps)} steps, reward "
                f"{mean(r['reward'] for r in steps[:q]):.3f} -> "
                f"{mean(r['reward'] for r in steps[-q:]):.3f}, accuracy reward "
                f"{mean(acc[:q]):.3f} -> {mean(acc[-q:]):.3f} (first/last {q})"
            )


if __name__ == "__main__":
    main()
