"""`medkg neo4j start|stop|status|import`: a local Neo4j Community server without Docker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
out = Console()
err = Console(stderr=True)


@app.command()
def start(
    port: int = typer.Option(
        0, help="Bolt port on 127.0.0.1 (default 0: a free one, printed as NEO4J_URI)."
    ),
    data_dir: Path | None = typer.Option(
        None,
        help="Where the databases live (default $MEDKG_HOME/neo4j/default); kept across restarts.",
    ),
    user: str = typer.Option("neo4j", help="User name when --password-env is given."),
    password_env: str | None = typer.Option(
        None,
        "--password-env",
        help="Use the password in this environment variable (e.g. NEO4J_PASSWORD) instead of "
        "the one generated on the first start; authentication is always on.",
    ),
    heap: str = typer.Option("1g", help="Java heap (-Xmx)."),
    pagecache: str = typer.Option("256m", help="Neo4j page cache size."),
    timeout: float = typer.Option(120.0, help="Seconds to wait for the server."),
    as_json: bool = typer.Option(False, "--json", help="Print the server record as JSON."),
) -> None:
    """Fetch Neo4j (first run), start it in the background and print NEO4J_URI."""
    from medkg.kg import neo4j_server

    auth: tuple[str, str] | None = None
    if password_env:
        secret = os.environ.get(password_env, "")
        if not secret:
            err.print(f"[red]environment variable {password_env} is empty or unset[/red]")
            raise typer.Exit(2)
        auth = (user, secret)
    try:
        with err.status("Preparing Neo4j ...") as spinner:
            info = neo4j_server.start(
                data_dir=data_dir,
                port=port,
                auth=auth,
                heap=heap,
                pagecache=pagecache,
                timeout=timeout,
                progress=lambda stage, _done, _total: spinner.update(f"{stage} ..."),
            )
    except neo4j_server.Neo4jServerError as exc:
        err.print(f"[red]{exc}[/red]", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(json.dumps(info.to_dict()))
        return
    err.print(
        f"[green]Neo4j {info.version} is up[/green] at {info.uri} (pid {info.pid}, "
        f"{info.startup_seconds:.1f} s); data in {info.data_dir}"
    )
    err.print("Point medkg at it with:")
    for line in info.export_lines():
        out.print(line, markup=False, highlight=False)


@app.command()
def stop(
    as_json: bool = typer.Option(False, "--json", help="Print what was stopped as JSON."),
) -> None:
    """Stop the server started by `medkg neo4j start`."""
    from medkg.kg import neo4j_server

    with err.status("Stopping Neo4j ..."):
        info = neo4j_server.stop()
    if as_json:
        out.print_json(
            json.dumps({"stopped": info is not None, **(info.to_dict() if info else {})})
        )
        return
    if info is None:
        err.print("No medkg Neo4j server is running.")
    else:
        err.print(f"Stopped Neo4j at {info.uri} (pid {info.pid}).")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the state as JSON."),
) -> None:
    """Say whether the server is running and where; exit code 1 when it is not."""
    from medkg.kg import neo4j_server

    info = neo4j_server.status()
    reachable = info is not None and neo4j_server.reachable(info)
    databases: dict[str, str] = {}
    problem = None
    if info is not None and reachable:
        try:
            databases = neo4j_server.database_states(info)
        except neo4j_server.Neo4jServerError as exc:
            problem = str(exc)
    healthy = bool(databases) and all(v.startswith("online") for v in databases.values())
    if as_json:
        payload: dict[str, object] = {
            "running": info is not None, "reachable": reachable, "healthy": healthy,
            "databases": databases, "problem": problem,
        }  # fmt: skip
        if info is not None:
            payload.update(info.to_dict())
        out.print_json(json.dumps(payload))
    elif info is None:
        err.print("No medkg Neo4j server is running; start one with `medkg neo4j start`.")
    else:
        if healthy:
            state = "up, databases online"
        elif not reachable:
            state = "not accepting connections"
        else:
            state = "UNHEALTHY"
        err.print(f"Neo4j {info.version} at {info.uri} (pid {info.pid}) is {state}.")
        for db, db_state in sorted(databases.items()):
            err.print(f"  database {db}: {db_state}", markup=False, highlight=False)
        if problem:
            err.print(f"  {problem}", markup=False, highlight=False)
        err.print(f"  log: {info.log_path}", markup=False, highlight=False)
        for line in info.export_lines():
            out.print(line, markup=False, highlight=False)
    if info is None:
        raise typer.Exit(1)
    if not healthy:
        raise typer.Exit(3)


@app.command("import")
def import_cmd(
    graph: Path | None = typer.Option(
        None, "--graph", help="Embedded store to load (default $MEDKG_HOME/graph, `kg build`)."
    ),
    data_dir: Path | None = typer.Option(
        None, help="The server's data folder (default $MEDKG_HOME/neo4j/default)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace a database that already exists there."
    ),
    heap: str = typer.Option("2g", help="Java heap of the importer and the server (-Xmx)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Load a built graph into a fresh local Neo4j with Neo4j's offline importer, then start it.

    Much faster than the online load of `kg build --store neo4j` (which MERGEs in batched
    transactions and stays the way to update a running database); the server must be
    stopped, and an existing database is replaced only with --replace."""
    from medkg.config import default_graph_dir
    from medkg.kg import neo4j_server
    from medkg.kg.stores.embedded import EmbeddedStore
    from medkg.kg.stores.neo4j import Neo4jStore
    from medkg.kg.stores.neo4j_bulk import bulk_import, finish_import

    running = neo4j_server.status()
    if running is not None:
        err.print(
            f"a Neo4j server is running at {running.uri} (pid {running.pid}); the offline "
            "importer needs it stopped: `medkg neo4j stop`, then run this again",
            markup=False, highlight=False,
        )  # fmt: skip
        raise typer.Exit(2)
    store_dir = graph or default_graph_dir()
    work = (data_dir or neo4j_server.default_data_dir()).expanduser().resolve()
    with err.status("Loading the graph ...") as spinner:
        kg = EmbeddedStore(store_dir).load()
        neo4j_server.ensure_runtime()
        spinner.update("Writing the importer's files, importing and starting Neo4j ...")
        done = bulk_import(kg, work, overwrite=replace, heap=heap)
        figures = done.figures()
        info = done.server
        spinner.update("Building indexes ...")
        user, password = neo4j_server.credentials()
        store = Neo4jStore(uri=info.uri, user=user, password=password)
        try:
            report = finish_import(store, kg, done)
        finally:
            store.close()
    rate = round((figures["nodes"] + figures["relationships"]) / max(report.seconds, 1e-9))
    data = {**figures, "seconds": round(report.seconds, 2), "rows_per_second": rate,
            "uri": info.uri, "data_dir": str(work)}  # fmt: skip
    if as_json:
        out.print_json(json.dumps(data))
        return
    err.print(
        f"[green]Imported[/green] {figures['nodes']:,} entities and "
        f"{figures['relationships']:,} relationships in {report.seconds:.1f} s "
        f"({rate:,} rows/s); Neo4j is up at {info.uri}"
    )
    for line in info.export_lines():
        out.print(line, markup=False, highlight=False)
