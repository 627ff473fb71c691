"""The `medkg` command: one typer app, one module per command group."""

from __future__ import annotations

import typer

from medkg.cli import coverage, kg, neo4j, retrieve, synth, train
from medkg.cli.common import DEBUG, configure_logging
from medkg.cli.run import run
from medkg.cli.sample import sample
from medkg.cli.ui import ui

app = typer.Typer(
    name="medkg",
    help="Knowledge-graph-centric data engine for medical AI.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log what medkg does (INFO records) to stderr."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help="Log DEBUG records, and show the full traceback of medkg's own errors too.",
    ),
) -> None:
    """Knowledge-graph-centric data engine for medical AI."""
    DEBUG["on"] = debug
    configure_logging(verbose=verbose, debug=debug)


app.add_typer(kg.app, name="kg", help="Build, inspect, search and export the entity graph.")
app.command("run", help="The main job: build the graph from the bundled sources and report it.")(
    run
)
app.command("sample", help="Draw entities from the tree with a seeded sampling strategy.")(sample)
app.add_typer(
    synth.app,
    name="synth",
    help="Synthesise verified multiple-choice QA items from the graph and export them; "
    "`synth inspect` reports on a dataset.",
)
app.add_typer(
    coverage.app,
    name="coverage",
    help="AMCS, entity linking and the long-tail audit of datasets against the entity tree.",
)
app.add_typer(
    retrieve.app,
    name="retrieve",
    help="Corpora, retrievers, multi-corpora queries and evidence packs for synthetic items.",
)
app.add_typer(
    train.app,
    name="train",
    help="Pseudo-labels, rewards, staged GRPO/DPO/SFT with TRL, and benchmark evaluation.",
)
app.command("ui", help="The curator workbench: a local web app over the store.")(ui)
app.add_typer(neo4j.app, name="neo4j", help="Run a local Neo4j Community server (no Docker).")

if __name__ == "__main__":
    app()
