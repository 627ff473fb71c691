"""`medkg neo4j start|stop|status` (placeholder until the Neo4j runner lands)."""

import typer

app = typer.Typer(no_args_is_help=True)
