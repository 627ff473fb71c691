"""`medkg train run STAGES.yaml`, `medkg train dpo-pairs` and `medkg train tiny-model`:
staged training with TRL, HeteroRAG preference pairs, and a tiny random-init model for demos
and tests. Registered on the `medkg train` app by medkg/cli/train.py."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.table import Table

from medkg.cli.common import (
    JsonOption,
    console,
    fail,
    generation_bar,
    handle_errors,
    out,
    print_json,
)
from medkg.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


def training_errors(fn: F) -> F:
    """A stage that cannot start or a generator that fails: one message, exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from medkg.llm.base import GeneratorError
        from medkg.training.stages import StageError

        try:
            return fn(*args, **kwargs)
        except (StageError, GeneratorError) as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def parse_vars(values: list[str] | None) -> dict[str, str]:
    """``NAME=VALUE`` pairs (repeatable ``--var``); values stay text (the recipe reads them)."""
    pairs: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var expects NAME=VALUE, got {item!r}")
        pairs[name.strip()] = value  # as typed: no JSON round trip ("1.10" stays "1.10")
    return pairs


@training_errors
@handle_errors
def run(
    stages_yaml: Path = typer.Argument(..., help="The recipe: a YAML file listing the stages."),
    var: list[str] = typer.Option(
        None, "--var", help="NAME=VALUE for ${NAME} in the recipe (repeatable)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Validate the whole recipe and print its stages; train nothing."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Run a staged-training recipe (GRPO/DPO/SFT with TRL); finished stages are skipped."""
    from medkg.training.recipe import load_recipe
    from medkg.training.stages import read_done, run_recipe

    recipe = load_recipe(stages_yaml, parse_vars(var))
    if check:
        rows: list[dict[str, Any]] = [
            {
                "stage": s.name,
                "trainer": s.trainer,
                "from": s.init_from or str(s.model),
                "dataset": str(s.dataset),
                "lora": s.lora is not None,
                "output_dir": str(s.output_dir),
                "done": read_done(s.output_dir) is not None,
            }
            for s in recipe.stages
        ]
        if as_json:
            print_json({"recipe": str(recipe.path), "stages": rows})
            return
        table = Table("stage", "trainer", "from", "lora", "done", "output")
        for row in rows:
            table.add_row(*(str(row[k]) for k in ("stage", "trainer", "from", "lora", "done")),
                          row["output_dir"])  # fmt: skip
        out.print(table)
        out.print(f"[green]{recipe.path}: {len(rows)} stage(s) valid[/]")
        return
    with contextlib.redirect_stdout(sys.stderr):  # trainer chatter must not mix with results
        results = run_recipe(recipe, log=lambda m: console.print(m))
    if as_json:
        print_json({"recipe": str(recipe.path), "stages": [r.to_dict() for r in results]})
        return
    table = Table("stage", "status", "steps", "seconds", "final model")
    for r in results:
        table.add_row(r.name, r.status, str(r.global_step), f"{r.seconds:.1f}", str(r.final_dir))
    out.print(table)


@training_errors
@handle_errors
def dpo_pairs(
    items: Path = typer.Argument(
        ..., help="Items with evidence packs: `medkg retrieve attach` output or its items.jsonl."
    ),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write (replaced atomically)."),
    generator: str = typer.Option(
        "local", "--generator", "-g", help="The policy model (spec, see `medkg train --help`)."
    ),
    pair_type: list[str] = typer.Option(
        None, "--pair-type", help="knowledge, robustness (default both); cross_modal needs a hook."
    ),
    max_evidence: int = typer.Option(3, "--max-evidence", help="Evidence chunks in a prompt."),
    noise: int = typer.Option(1, "--noise", help="Noisy chunks tried per item."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Tokens per answer."),
    seed: int = typer.Option(0, "--seed", help="Seed for noise draws and sampling."),
    as_json: bool = JsonOption,
) -> None:
    """Build Heterogeneous Knowledge Preference Tuning pairs (TRL DPO format) for a dpo stage."""
    from medkg.cli.train import build_from_spec
    from medkg.training.dpo import PairConfig, build_pairs, read_evidence_items, write_pairs

    config = PairConfig(
        pair_types=tuple(pair_type or ("knowledge", "robustness")),
        max_evidence=max_evidence,
        noise_per_item=noise,
        max_new_tokens=max_new_tokens,
        seed=seed,
    )
    config.validate()
    from medkg.outputs import check_folder_target
    from medkg.training.dpo import KIND, LEGACY

    check_folder_target(out_dir, KIND, LEGACY)
    rows = read_evidence_items(items)
    _, gen = build_from_spec(generator)
    console.print(f"answering {len(rows):,} items with {gen.name} ...")
    try:
        with generation_bar([gen], "answering variants", show=not as_json):
            result = build_pairs(rows, gen, config)
    finally:
        gen.close()
    write_pairs(result, out_dir, extra={"items": str(items)})
    if as_json:
        print_json(result.report)
        return
    table = Table("pair type", "pairs", "both right", "both wrong", "reversed")
    for kind, o in result.report["outcomes"].items():
        table.add_row(kind, str(o["pair"]), str(o["both_right"]), str(o["both_wrong"]),
                      str(o["reversed"]))  # fmt: skip
    out.print(table)
    out.print(f"[green]wrote[/] {out_dir}")


@handle_errors
def tiny_model(
    out_dir: Path = typer.Argument(..., help="Model folder to write (config, weights, tokenizer)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random weights."),
    vocab_size: int = typer.Option(400, "--vocab-size", help="BPE vocabulary size."),
    as_json: bool = JsonOption,
) -> None:
    """Write a tiny RANDOM-INIT model (2-layer Llama, local BPE tokenizer) for demos and tests.

    It loads like any model folder (`--generator OUT_DIR`, `model: OUT_DIR` in a recipe) and
    trains in milliseconds per step on CPU, but its answers are noise: use it to run the
    pipeline end to end, never to report results.
    """
    from medkg.training.tiny import build_tiny_model

    folder = build_tiny_model(out_dir, seed=seed, vocab_size=vocab_size)
    n_params = _count_parameters(folder)
    if as_json:
        print_json({"model": str(folder), "seed": seed, "parameters": n_params,
                    "random_init": True})  # fmt: skip
        return
    out.print(f"[green]wrote[/] a random-init tiny model ({n_params:,} parameters) to {folder}")


def _count_parameters(folder: Path) -> int:
    """Parameters in the folder's safetensors weights (read from the header, no tensors)."""
    import math

    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        names = f.keys()  # a safe_open is not iterable itself
        return sum(math.prod(f.get_slice(name).get_shape()) for name in names)


__all__ = ["dpo_pairs", "parse_vars", "run", "tiny_model", "training_errors"]
