"""Shared CLI plumbing: error handling, store options, JSON output."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

from medkg.errors import MedkgError, UsageError
from medkg.kg.stores.base import GraphStore, StoreError, open_store
from medkg.progress import Progress
from medkg.redact import redact

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

StoreOption = typer.Option(
    None, "--store", help="Store backend: embedded or neo4j (default: neo4j when NEO4J_URI is set)."
)
PathOption = typer.Option(
    None, "--path", help="Embedded store folder (default: $MEDKG_HOME/graph, i.e. ./.medkg/graph)."
)
WaitOption = typer.Option(
    0.0,
    "--wait",
    help="Seconds to wait for another process writing the same store (default: fail at once).",
)
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
EngineOption = typer.Option(
    "local",
    "--engine",
    help="Where shards run: local (this process) or ray (Ray workers; needs the ray extra). Same output.",
)
RayAddressOption = typer.Option(
    None, "--ray-address", help="Ray cluster to join (default: RAY_ADDRESS, else a local one)."
)
WorkersOption = typer.Option(2, "--workers", help="Ray workers (with --engine ray).")


def engine_from_options(engine: str, ray_address: str | None, workers: int) -> Any:
    """The engine the ``--engine/--ray-address/--workers`` options name (built before any
    work, so an unknown engine or a bad option fails first)."""
    from medkg.engines import build_engine

    options = {"address": ray_address, "workers": workers} if engine == "ray" else {}
    built = build_engine(engine, **options)
    if engine == "ray":  # a missing extra is an error before the graph is loaded
        from medkg.engines.ray import import_ray

        import_ray()
    return built


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` (plain text: brackets such as ``medkg[ray]`` are kept, not read as
    rich markup) as a one-line error; the :class:`typer.Exit` to raise."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


# OS errors about a path the user named: reported in one line like medkg's own errors.
USER_OS_ERRORS = {
    errno.ENOENT: "not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder",
    errno.ENOTDIR: "is not a folder",
    errno.EROFS: "read-only file system",
}
DEBUG = {"on": False}


def configure_logging(verbose: bool = False, debug: bool = False) -> None:
    """Send medkg's log records to stderr (through rich, beside the progress bars):
    warnings by default, INFO with ``--verbose``, DEBUG with ``--debug``."""
    import logging

    from rich.logging import RichHandler

    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logger = logging.getLogger("medkg")
    for h in [h for h in logger.handlers if getattr(h, "_medkg_cli", False)]:
        logger.removeHandler(h)  # one CLI handler, also when typer runs main() again (tests)
    handler = RichHandler(console=console, show_path=debug, markup=False, rich_tracebacks=False)
    handler._medkg_cli = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def handle_errors(fn: F) -> F:
    """Turn medkg's own errors (:class:`MedkgError`) and OS errors about a user's path into
    a one-line message with exit code 2; anything else is a bug and keeps its traceback.
    With ``medkg --debug`` medkg's errors keep their traceback too."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MedkgError as exc:
            if DEBUG["on"]:
                raise
            raise fail(redact(str(exc))) from None
        except FileNotFoundError as exc:
            if DEBUG["on"]:
                raise
            # medkg raises FileNotFoundError(message) for inputs it cannot find
            message = str(exc) if exc.errno is None else f"{exc.filename}: not found"
            raise fail(redact(message)) from None
        except OSError as exc:
            if DEBUG["on"] or exc.errno not in USER_OS_ERRORS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{USER_OS_ERRORS[exc.errno]}") from None

    return wrapper  # type: ignore[return-value]


def store_from_options(store: str | None, path: Path | None, wait: float = 0.0) -> GraphStore:
    """The store the options name; a writer waits up to ``wait`` s for another's lock."""
    if wait < 0:
        raise UsageError(f"--wait must be >= 0, got {wait}")
    if path is not None:
        if store not in (None, "embedded"):
            raise StoreError("--path applies to the embedded store only")
        opened = open_store("embedded", path=path)
    else:
        opened = open_store(store)
    opened.lock_wait = wait
    return opened


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def config_option(cls: type, name: str, *flags: str, extra_help: str = "") -> Any:
    """A typer option for field ``name`` of the config dataclass ``cls``: its default and its
    ``metadata["help"]`` come from the field, so the CLI never re-types them. A field with a
    ``default_factory`` (a list, a dict) defaults to ``None`` (nothing given) on the command
    line. ``flags`` default to ``--<name with dashes>``."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    default = None if field.default is dataclasses.MISSING else field.default
    text = " ".join(x for x in (field.metadata.get("help", ""), extra_help) if x)
    return typer.Option(default, *(flags or (f"--{name.replace('_', '-')}",)), help=text)


def split_values(values: list[str] | None) -> list[str]:
    """Comma-separated and/or repeated option values, in order."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def parse_params(values: list[str] | None) -> dict[str, Any]:
    """KEY=VALUE pairs; a VALUE that parses as JSON (numbers, lists, objects) is used as such."""
    params: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def rate_bar() -> Any:
    """A transient rich progress display on stderr whose tasks show count, rate, elapsed
    time and ETA: the one bar every long CLI step uses."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    )  # fmt: skip


@contextlib.contextmanager
def progress_bars(labels: Mapping[str, str] | None = None) -> Iterator[Progress]:
    """A :class:`~medkg.progress.Progress` drawing one :func:`rate_bar` task per stage
    (described by ``labels[stage]``, else the stage name); a stage whose count goes back or
    whose total changes starts a fresh bar (the next dataset, the next pass)."""
    with rate_bar() as bar:
        tasks: dict[str, Any] = {}
        last: dict[str, tuple[int, int | None]] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            prev = last.get(stage)
            if prev is None or done < prev[0] or total != prev[1]:
                if stage in tasks:
                    bar.remove_task(tasks[stage])
                tasks[stage] = bar.add_task((labels or {}).get(stage, stage), total=total)
            last[stage] = (done, total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


@contextlib.contextmanager
def generation_bar(generators: Sequence[Any], label: str, show: bool = True) -> Iterator[None]:
    """A live bar (prompts done, rate, ETA) for the ``generate`` calls of ``generators``
    inside the block, through their ``progress`` hook; nothing is shown when ``show`` is off."""
    if not show:
        yield
        return
    with rate_bar() as bar:
        for gen in generators:
            task = bar.add_task(f"{label} ({gen.name})", total=None)

            def update(_stage: str, done: int, total: int | None, task: Any = task) -> None:
                bar.update(task, completed=done, total=total)

            gen.progress = update
        try:
            yield
        finally:
            for gen in generators:
                gen.progress = None
