"""`medkg synth`: sample entities, make verified QA items, dedup, decontaminate, export;
`medkg synth inspect DATASET`: the dataset's quality report (spread, giveaways)."""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from medkg.cli.common import (
    EngineOption,
    JsonOption,
    PathOption,
    RayAddressOption,
    StoreOption,
    WorkersOption,
    config_option,
    console,
    engine_from_options,
    handle_errors,
    out,
    parse_params,
    print_json,
    progress_bars,
    split_values,
    store_from_options,
)
from medkg.errors import UsageError
from medkg.synthesis.pipeline import SynthConfig

_option = functools.partial(config_option, SynthConfig)

app = typer.Typer(
    invoke_without_command=True,
    help="Synthesise verified multiple-choice QA items from the graph and export them "
    "(`medkg synth --n N --out DIR`); `medkg synth inspect DIR` reports on a dataset.",
)


def _parse_weights(values: list[str] | None) -> dict[str, float] | None:
    pairs = split_values(values)
    if not pairs:
        return None
    weights: dict[str, float] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            weights[key.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--family-weights needs FAMILY=SHARE, got {pair!r}") from None
        if not sep or not key.strip():
            raise UsageError(f"--family-weights needs FAMILY=SHARE, got {pair!r}")
    return weights


@app.callback()
@handle_errors
def synth(
    ctx: typer.Context,
    n: int = _option("n", "--n", "-n"),
    seed: int = _option("seed"),
    families: list[str] = _option(
        "families", "--families", "-F", extra_help="Comma-separated or repeated."
    ),
    family_weights: list[str] = _option(
        "family_weights", extra_help="FAMILY=SHARE, comma-separated."
    ),
    rare_share: float = _option("rare_share"),
    strategy: str = _option("strategy"),
    strategy_param: list[str] = _option(
        "strategy_params", "--strategy-param", extra_help="KEY=VALUE (repeatable)."
    ),
    max_per_seed: int = _option("max_per_seed"),
    n_options: int = _option("n_options"),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Folder to write the dataset into (replaced atomically)."
    ),
    formats: list[str] = typer.Option(
        None, "--formats", help="Export formats: jsonl,parquet,hf,trl (default: all)."
    ),
    decontam: list[str] = _option("decontam_files", "--decontam"),
    decontam_mmlu: bool = _option("decontam_mmlu"),
    decontam_field: str = _option("decontam_field"),
    decontam_id_field: str = _option("decontam_id_field"),
    decontam_mode: str = _option("decontam_mode"),
    decontam_ngram: int = _option("decontam_ngram"),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Keep duplicates (not advised)."),
    near_dup_threshold: float = _option("near_dup_threshold"),
    allow_partial: bool = _option("allow_partial"),
    rebalance: bool = _option("rebalance", "--rebalance/--no-rebalance"),
    shards_per_family: int = _option("shards_per_family"),
    paraphrase: str = typer.Option(
        None,
        "--paraphrase",
        help="LLM path: rewrite stems with this generator (local or openai); rewrites that fail "
        "the re-check against the graph are dropped and the template stem kept.",
    ),
    paraphrase_share: float = typer.Option(
        1.0, "--paraphrase-share", help="Share of items to paraphrase (seeded choice)."
    ),
    generator_option: list[str] = typer.Option(
        None,
        "--generator-option",
        help="Generator option KEY=VALUE (e.g. model=/path, base_url=http://host:8000/v1).",
    ),
    engine: str = EngineOption,
    ray_address: str = RayAddressOption,
    workers: int = WorkersOption,
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Synthesise N verified multiple-choice items from the graph and export them to --out.

    With ``--engine ray`` every family's first pass (or, with ``--shards-per-family K``,
    each of its K seed ranges) runs as a shard on a Ray worker and is checked against
    global deduplication and decontamination afterwards: the dataset is byte-identical
    to the local one of the same options."""
    if ctx.invoked_subcommand is not None:
        return
    if out_dir is None:
        raise UsageError("--out is required: the folder to write the dataset into")
    from medkg.outputs import check_folder_target
    from medkg.synthesis.export import FORMATS, KIND, LEGACY
    from medkg.synthesis.pipeline import SynthBackends, synthesize, validate_config
    from medkg.synthesis.review import keep_reviews

    config = SynthConfig(
        n=n,
        seed=seed,
        families=split_values(families),
        family_weights=_parse_weights(family_weights),
        rare_share=rare_share,
        strategy=strategy,
        strategy_params=parse_params(strategy_param),
        max_per_seed=max_per_seed,
        n_options=n_options,
        dedup=not no_dedup,
        near_dup_threshold=near_dup_threshold,
        decontam_files=list(decontam or []),
        decontam_mmlu=decontam_mmlu,
        decontam_field=decontam_field,
        decontam_id_field=decontam_id_field,
        decontam_mode=decontam_mode,
        decontam_ngram=decontam_ngram,
        allow_partial=allow_partial,
        rebalance=rebalance,
        shards_per_family=shards_per_family,
    )
    chosen = split_values(formats) or list(FORMATS)
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown:
        raise UsageError(f"unknown export format(s) {unknown}; choose from {list(FORMATS)}")
    # Options and the output folder are checked before anything is loaded or generated.
    validate_config(config, SynthBackends.default())
    check_folder_target(out_dir, KIND, LEGACY)
    keep_reviews(out_dir)  # a curator's review.jsonl would go with the replaced folder
    # local: the plain one-process run (the same dataset, no replay to pay for)
    runner = None if engine == "local" else engine_from_options(engine, ray_address, workers)
    start = time.perf_counter()
    with store_from_options(store, path) as source:
        if not source.exists():
            raise UsageError(
                f"no graph in {source.describe_location()}: run `medkg kg build` first"
            )
        console.print(f"loading the graph from {source.describe_location()} ...")
        kg = source.load()
    loaded = time.perf_counter() - start
    generator = None
    if paraphrase:  # build (no I/O yet) before the synthesis work, so bad options fail first
        from medkg.llm import build_generator

        generator = build_generator(paraphrase, **parse_params(generator_option))
    with contextlib.ExitStack() as stack:
        bar = (
            None
            if as_json
            else stack.enter_context(
                progress_bars({"synthesise": "synthesising", "shards": "synthesis shards"})
            )
        )
        result = synthesize(kg, config, progress=bar, engine=runner)
    if generator is not None:
        from medkg.synthesis.paraphrase import apply_paraphrase

        console.print(f"paraphrasing with {generator.name} ...")
        apply_paraphrase(result, kg, generator, share=paraphrase_share)
    made = time.perf_counter() - start - loaded
    report = result.export(out_dir, chosen)
    summary = {
        "out": str(report.path),
        "items": len(result.items),
        "requested": config.n,
        "partial": result.partial,
        "shortfall": result.shortfall,
        "counts": result.counts,
        "distribution": result.distribution,
        "rejects": result.rejects,
        "warnings": result.warnings,
        "files": sorted(report.files),
        "seconds": {"load": round(loaded, 2), "synthesis": round(made, 2)},
        "engine": result.sharding or {"engine": "local"},
    }
    if as_json:
        print_json(summary)
        return
    print_summary(result)
    out.print(
        f"[green]wrote[/] {len(result.items):,} items to {report.path} "
        f"({', '.join(chosen)} + manifest.json) in {made:.1f}s"
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def print_summary(result: Any) -> None:
    dist = result.distribution
    table = Table(title="items by family")
    for col in ("family", "items", "share", "requested", "rare", "draws", "rejected", "dupes"):
        table.add_column(col, justify="left" if col == "family" else "right")
    for name, fam in dist["families"].items():
        funnel = result.counts["funnel"][name]
        table.add_row(
            name,
            f"{fam['count']:,}",
            f"{fam['realised_share']:.3f}",
            f"{fam['requested_share']:.3f}",
            f"{result.counts['by_family_rare'][name]['rare']:,}",
            f"{funnel['draws']:,}",
            f"{funnel['rejected'] + funnel['invalid']:,}",
            f"{funnel['duplicate']:,}",
        )
    out.print(table)
    moved = result.counts.get("rebalanced") or {}
    if moved:
        parts = [
            f"{name} {delta:+,} {stratum}"
            for name, per in moved.items()
            for stratum, delta in per.items()
        ]
        out.print(
            "rebalanced (a family's shortfall moved to families with room in the same "
            f"stratum): {', '.join(parts)}"
        )
    rare = dist["rare"]
    line = f"rare share {rare['realised']:.3f}"
    if "requested" in rare:
        ok = "[green]ok[/]" if rare["within_tolerance"] else "[red]outside tolerance[/]"
        line += f" (requested {rare['requested']:.3f}, ±{rare['tolerance']}: {ok})"
    out.print(line)
    if result.rejects:
        rejects = Table(title="rejects by reason")
        rejects.add_column("reason")
        rejects.add_column("count", justify="right")
        for reason, count in sorted(result.rejects.items(), key=lambda kv: (-kv[1], kv[0])):
            rejects.add_row(reason, f"{count:,}")
        out.print(rejects)
    dedup = result.counts["dedup"]
    out.print(f"duplicates removed: {dedup['exact']:,} exact, {dedup['near']:,} near")
    decontam = result.counts["decontam"]
    if decontam.get("enabled", True):
        out.print(
            f"decontamination ({decontam['mode']}): {decontam['matched']:,} item(s) matched "
            f"{decontam['benchmark_questions']}"
        )


@app.command("inspect")
@handle_errors
def inspect(
    dataset: Path = typer.Argument(..., help="A dataset folder (or its items.jsonl)."),
    as_json: bool = JsonOption,
) -> None:
    """Quality report of a dataset: spread over seeds, near duplicates, templates, answer
    letters and trivial-heuristic baselines against chance, per family."""
    from medkg.synthesis.inspect import inspect_dataset

    report = inspect_dataset(dataset)
    if as_json:
        print_json(report)
        return
    print_inspect(report)


def print_inspect(report: dict[str, Any]) -> None:
    """The inspect report as two rich tables (spread, baselines)."""
    table = Table(title=f"spread and structure ({report['items']:,} items)")
    cols = ("family", "items", "seeds", "eff. N", "max seed", "top 1%", "near dup", "templates",
            "letters p")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col == "family" else "right")
    for name, fam in report["families"].items():
        sp, nd = fam["spread"], fam["near_duplicates"]
        table.add_row(
            name,
            f"{fam['items']:,}",
            f"{sp['distinct_seeds']:,}",
            f"{sp['effective_n']:,.0f}",
            f"{sp['max_seed_share']:.2%}",
            f"{sp['top1pct_seed_share']:.1%}",
            f"{nd['near_share']:.1%}",
            str(fam["templates"]["distinct"]),
            f"{fam['letters']['chi2_p']:.3f}",
        )
    out.print(table)
    names = sorted({b for fam in report["families"].values() for b in fam["baselines"]})
    base = Table(title=f"trivial baselines: accuracy (chance); red = above chance + "
                 f"{report['baseline_margin']}")  # fmt: skip
    base.add_column("family")
    for b in names:
        base.add_column(b, justify="right")
    for name, fam in report["families"].items():
        cells = []
        for b in names:
            e = fam["baselines"].get(b)
            if e is None:
                cells.append("-")
                continue
            text = f"{e['accuracy']:.3f} ({e['chance']:.2f})"
            cells.append(f"[red]{text}[/]" if e["flag"] else text)
        base.add_row(name, *cells)
    out.print(base)
    if report["flagged"]:
        out.print(f"[yellow]flagged:[/] {', '.join(report['flagged'])}")
    else:
        out.print("[green]no trivial baseline above chance + margin[/]")
