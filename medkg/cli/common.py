"""Shared CLI plumbing: error handling, store options, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from medkg.kg.sources.base import SourceError
from medkg.kg.stores.base import GraphStore, StoreError, open_store

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

StoreOption = typer.Option(
    None, "--store", help="Store backend: embedded or neo4j (default: neo4j when NEO4J_URI is set)."
)
PathOption = typer.Option(
    None, "--path", help="Embedded store folder (default: $MEDKG_HOME/graph, i.e. ./.medkg/graph)."
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn medkg's expected errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SourceError, StoreError, FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from None
        except RuntimeError as exc:  # an embedder that cannot load (imported only if used)
            from medkg.coverage.embed import EmbeddingError

            if isinstance(exc, EmbeddingError):
                raise fail(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


def store_from_options(store: str | None, path: Path | None) -> GraphStore:
    if path is not None:
        if store not in (None, "embedded"):
            raise StoreError("--path applies to the embedded store only")
        return open_store("embedded", path=path)
    return open_store(store)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
