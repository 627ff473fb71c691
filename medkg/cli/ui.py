"""`medkg ui`: the curator workbench in the browser (local web app over the store)."""

from __future__ import annotations

import socket
from pathlib import Path

import typer
from rich.markup import escape

from medkg.cli.common import PathOption, StoreOption, console, handle_errors, store_from_options
from medkg.errors import UsageError


@handle_errors
def ui(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to listen on; anything but loopback needs a token."
    ),
    port: int = typer.Option(8765, "--port", help="Port (0: a free one)."),
    dataset: list[Path] = typer.Option(
        None, "--dataset", "-d", help="A `medkg synth` folder to review (repeatable)."
    ),
    audit: list[Path] = typer.Option(
        None, "--audit", "-a", help="A `medkg coverage audit` folder (repeatable)."
    ),
    token: str = typer.Option(
        None, "--token", help="Access token when bound beyond 127.0.0.1 (default: a random one)."
    ),
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """Start the workbench: search, entity pages, the tree, dataset/mapping review, coverage."""
    try:
        import uvicorn

        from medkg.ui.app import UIState, create_app, needs_token, new_token
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"medkg ui needs the [ui] extra ({exc.name} is missing): pip install 'medkg[ui]'"
        ) from None
    from medkg.ui.coverage import AuditView
    from medkg.ui.datasets import Dataset

    source = store_from_options(store, path)
    if not source.exists():
        raise UsageError(f"no graph in {source.describe_location()}: run `medkg kg build` first")
    folders = [Dataset.open(d).path.resolve() for d in dataset or []]  # bad folders stop here
    audits = [AuditView.open(a).path.resolve() for a in audit or []]
    secret = (token or new_token()) if needs_token(host) else None
    # bound before the graph loads: a taken port fails at once, and --port 0 prints its port
    sock = _listen(host, port)
    state = UIState(store=source, datasets=folders, audits=audits, token=secret)
    console.print(f"loading the graph from {source.describe_location()} ...")
    state.index  # noqa: B018 - build the index before the first request
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/" + (f"?token={secret}" if secret else "")
    console.print(f"[green]medkg ui[/] on {escape(url)}  (Ctrl+C stops)")
    config = uvicorn.Config(create_app(state), host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port); a clear error when taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
