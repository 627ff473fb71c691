"""`medkg run`: the main job, end to end on the default store.

Today: build the graph from the bundled sources, save it, write and print its stats.
(Synthesis and the coverage audit join this pipeline as they land.)
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from medkg.cli.common import (
    PathOption,
    StoreOption,
    console,
    handle_errors,
    out,
    store_from_options,
)
from medkg.cli.kg import _print_stats, build_with_progress


@handle_errors
def run(
    out_dir: Path = typer.Option(Path("medkg-out"), "--out", help="Folder for the run's reports."),
    sources: list[str] = typer.Option(None, "--sources", "-s", help="As for `medkg kg build`."),
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """Build the graph from the bundled sources, save it, and report its stats."""
    from medkg.kg.build import stats

    start = time.perf_counter()
    kg, timings = build_with_progress(sources, {})
    with store_from_options(store, path) as target:
        console.print(f"saving to {target.describe_location()} ...")
        report = target.save(kg)
    summary = stats(kg)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".stats.json.tmp-{os.getpid()}"
    tmp.write_text(
        json.dumps(
            {
                "store": report.location,
                "content_hash": report.content_hash,
                "seconds": timings,
                "stats": summary,
            },
            indent=2,
            default=str,
        )
    )
    tmp.replace(out_dir / "graph_stats.json")
    _print_stats(summary)
    out.print(
        f"[green]done[/] in {time.perf_counter() - start:.1f}s: {report.nodes:,} nodes, "
        f"{report.edges:,} edges in {report.location}; stats in {out_dir / 'graph_stats.json'}"
    )
