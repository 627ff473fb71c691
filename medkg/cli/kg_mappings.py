"""`medkg kg mappings import|export`: SSSOM TSV in and out of the stored graph."""

from __future__ import annotations

from pathlib import Path

import typer

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    handle_errors,
    out,
    print_json,
    store_from_options,
)

app = typer.Typer(no_args_is_help=True)


@app.command("import")
@handle_errors
def import_mappings(
    file: Path = typer.Argument(..., help="An SSSOM TSV file (YAML front matter + table)."),
    name: str = typer.Option(None, help="Source name recorded as provenance."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Add the file's mappings as MAPS_TO edges, then re-resolve and rebuild the tree."""
    from medkg.cli.kg import import_cmd

    import_cmd(
        file=file,
        edges=None,
        loader="sssom",
        name=name,
        version=None,
        license=None,
        kind=None,
        prefix=None,
        rare_subset=None,
        store=store,
        path=path,
        as_json=as_json,
    )


@app.command("export")
@handle_errors
def export_mappings(
    target: Path = typer.Argument(..., help="Output SSSOM TSV file."),
    mapping_set_id: str = typer.Option(
        "https://w3id.org/medkg/mappings.sssom.tsv", help="mapping_set_id of the file."
    ),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Write every MAPS_TO edge (method, measured confidence) as SSSOM TSV."""
    from medkg.kg.mappings import write_sssom

    with store_from_options(store, path) as s:
        n = write_sssom(s.load(), target, mapping_set_id)
    if as_json:
        print_json({"path": str(target), "mappings": n})
    else:
        out.print(f"[green]wrote[/] {n:,} mappings to {target}")
