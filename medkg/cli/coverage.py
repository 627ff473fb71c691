"""`medkg coverage`: AMCS between sets, entity linking of datasets, the long-tail audit, the report."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    console,
    fail,
    handle_errors,
    out,
    print_json,
    store_from_options,
)
from medkg.errors import InputError, UsageError
from medkg.outputs import check_folder_target, staged_file

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

FieldsOption = typer.Option(
    "question,options",
    "--fields",
    help="Comma-separated text fields joined per item (MMLU ignores this).",
)
IdFieldOption = typer.Option(None, "--id-field", help="Id field (default: the record number).")
EmbedderOption = typer.Option(
    "sentence-transformers", "--embedder", help="Embedder key (sentence-transformers, hashing)."
)
RecipeOption = typer.Option(
    "name", "--recipe", help="Entity text: name, name+synonyms, name+definition."
)


def _fields(spec: str) -> tuple[str, ...]:
    fields = tuple(f.strip() for f in spec.split(",") if f.strip())
    if not fields:
        raise UsageError("--fields names no field")
    return fields


def _dataset_path(arg: str) -> str:
    """``mmlu``, a dataset file, or a `medkg synth` folder (its items.jsonl)."""
    if arg == "mmlu":
        return arg
    path = Path(arg)
    if path.is_dir():
        if not (path / "items.jsonl").is_file():
            raise InputError(f"{path} is a folder without items.jsonl (a `medkg synth` output?)")
        return str(path / "items.jsonl")
    if not path.is_file():
        raise InputError(f"dataset {path} not found")
    return arg


@contextmanager
def _progress() -> Iterator[object]:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}
        labels = {"link": "linking items", "linker": "building the linker", "amcs": "AMCS"}

        def update(task: str, done: int, total: int) -> None:
            if task not in tasks or (task == "link" and done <= total and done == min(total, 500)):
                if task in tasks:
                    bar.remove_task(tasks[task])
                tasks[task] = bar.add_task(labels.get(task, task), total=total)
            bar.update(tasks[task], completed=done)

        yield update


def _load_graph(store: str | None, path: Path | None) -> Any:
    with store_from_options(store, path) as s:
        return s.load()


@app.command("amcs")
@handle_errors
def amcs_cmd(
    a: str = typer.Option(
        ..., "--a", help="Set A, e.g. met:kind=Disease, linked:mmlu, entities:ids.txt."
    ),
    b: str = typer.Option(..., "--b", help="Set B (same forms)."),
    mode: str = typer.Option("exact", "--mode", help="exact (blocked) or approx (HNSW)."),
    embedder: str = EmbedderOption,
    recipe: str = RecipeOption,
    fields: str = FieldsOption,
    id_field: str = IdFieldOption,
    as_json: bool = JsonOption,
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """AMCS(A→B) and AMCS(B→A): mean over items of the max cosine similarity to the other set."""
    from medkg.coverage.amcs import compute_amcs
    from medkg.coverage.embed import build_embedder
    from medkg.coverage.linking import Linker
    from medkg.coverage.pipeline import link_items
    from medkg.coverage.sets import embed_set, resolve_set

    kg = _load_graph(store, path)
    linker: list[Linker] = []

    def link(items: Any) -> Any:
        if not linker:
            linker.append(Linker.from_graph(kg))
        return link_items(linker[0], items)

    sets = [
        resolve_set(s, kg, fields=_fields(fields), id_field=id_field, link=link) for s in (a, b)
    ]
    emb = build_embedder(embedder)
    start = time.perf_counter()
    vecs = [embed_set(s, emb, graph_hash=kg.content_hash(), recipe=recipe) for s in sets]
    res = compute_amcs(vecs[0], vecs[1], mode=mode)
    data = {**res.to_dict(), "a": a, "b": b, "model": emb.model_id, "recipe": recipe,
            "seconds": round(time.perf_counter() - start, 3)}  # fmt: skip
    if as_json:
        print_json(data)
        return
    out.print(
        f"AMCS({a} → {b}) = [bold]{res.forward:.4f}[/]   AMCS({b} → {a}) = [bold]{res.backward:.4f}[/]"
        f"   |A| = {res.n_a:,}  |B| = {res.n_b:,}  ({res.mode}, {emb.model_id})"
    )


@app.command("link")
@handle_errors
def link_cmd(
    dataset: str = typer.Argument(
        ..., help="Dataset file (JSONL/JSON/Parquet/CSV), a synth folder, or mmlu."
    ),
    output: Path = typer.Option(Path("mentions.parquet"), "--out", help="Mention table (Parquet)."),
    fields: str = FieldsOption,
    id_field: str = IdFieldOption,
    as_json: bool = JsonOption,
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """Link a dataset's mentions to MET entities (dictionary, abbreviations, TF-IDF fallback)."""
    from medkg.coverage.linking import Linker
    from medkg.coverage.pipeline import DatasetSpec, link_items

    spec = DatasetSpec("dataset", _dataset_path(dataset), _fields(fields), id_field)
    items = spec.items()
    kg = _load_graph(store, path)
    start = time.perf_counter()
    with _progress() as update:
        update("linker", 0, 1)  # type: ignore[operator]
        linker = Linker.from_graph(kg)
        mentions = link_items(linker, items, progress=update)  # type: ignore[arg-type]
    with staged_file(output) as tmp:
        mentions.write_parquet(tmp)
    chars = sum(len(i.text) for i in items)
    data = {
        "items": len(items),
        "linked_items": mentions.get_column("item_id").n_unique(),
        "mentions": mentions.height,
        "entities": mentions.get_column("entity_id").n_unique(),
        "by_method": dict(sorted(mentions.group_by("method").len().iter_rows())),
        "characters": chars,
        "seconds": round(time.perf_counter() - start, 2),
        "out": str(output),
    }
    if as_json:
        print_json(data)
    else:
        out.print(
            f"linked {data['linked_items']:,} of {len(items):,} items: {mentions.height:,} mentions of "
            f"{data['entities']:,} entities {data['by_method']} → {output}"
        )


@app.command("audit")
@handle_errors
def audit_cmd(
    datasets: list[str] = typer.Argument(
        ..., help="One or more datasets (files, synth folders, or mmlu)."
    ),
    names: list[str] = typer.Option(
        None, "--name", help="A name per dataset (default: file stem)."
    ),
    output: Path = typer.Option(
        Path("coverage"), "--out", help="Folder for the audit files and report.html."
    ),
    fields: str = FieldsOption,
    id_field: str = IdFieldOption,
    amcs_ref: str = typer.Option(
        "kind=Disease",
        "--amcs-ref",
        help="MET slice AMCS compares against (met filters), or 'none'.",
    ),
    embedder: str = EmbedderOption,
    branch_depth: int = typer.Option(
        2, "--branch-depth", help="MET depth whose subtrees are the branches."
    ),
    write_back: bool = typer.Option(
        False, "--write-back", help="Store per-node counts in the graph store."
    ),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html."),
    as_json: bool = JsonOption,
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """Long-tail audit: counts per MET node rolled up, coverage per level/branch, rare share,
    concentration, top uncovered branches, AMCS; writes coverage.json, gaps.json, CSVs, report.html."""
    from medkg.coverage.audit import check_name
    from medkg.coverage.pipeline import AUDIT_KIND, AUDIT_LEGACY, DatasetSpec, run_audit

    if names and len(names) != len(datasets):
        raise UsageError(f"give one --name per dataset ({len(datasets)}), got {len(names)}")
    check_folder_target(output, AUDIT_KIND, AUDIT_LEGACY)  # before any work
    specs = []
    for i, d in enumerate(datasets):
        p = _dataset_path(d)
        name = names[i] if names else ("mmlu" if p == "mmlu" else Path(d).stem)
        specs.append(DatasetSpec(check_name(name), p, _fields(fields), id_field))
    with store_from_options(store, path) as s:
        kg = s.load()
        with _progress() as update:
            result = run_audit(
                kg, specs, out=output, amcs_reference=None if amcs_ref == "none" else amcs_ref,
                embedder=embedder, branch_depth=branch_depth, report=report,
                progress=update,  # type: ignore[arg-type]
            )  # fmt: skip
        if write_back:
            from medkg.coverage.writeback import write_back as do_write_back

            for a in result.audits:
                n = do_write_back(s, a)
                console.print(
                    f"wrote coverage counts of {a.name!r} for {n:,} nodes to {s.describe_location()}"
                )
    if as_json:
        print_json({"datasets": [{"name": a.name, **a.summary, "amcs": {k: a.amcs[k] for k in ("forward", "backward", "n_a", "n_b", "model") if k in a.amcs}} for a in result.audits],
                    "files": {k: str(v) for k, v in result.files.items()}})  # fmt: skip
        return
    print_audit_table(result.audits)
    out.print(f"audit files in {output}/ (report: {output / 'report.html'})")


def print_audit_table(audits: Any) -> None:
    from medkg.coverage.audit import compare

    rows = compare(audits)["summary"]
    table = Table(title="coverage audit")
    table.add_column("metric")
    for a in audits:
        table.add_column(a.name, justify="right")
    for r in rows:
        cells = []
        for a in audits:
            v = r[a.name]
            cells.append(f"{v:,}" if isinstance(v, int) else f"{v:.4f}")
        table.add_row(r["metric"], *cells)
    out.print(table)
    for a in audits:
        top = a.uncovered.head(5)
        names = ", ".join(f"{n} ({s:,})" for n, s in top.select("name", "subtree_size").iter_rows())
        out.print(f"[bold]{a.name}[/] top uncovered branches: {names}")


@app.command("report")
@handle_errors
def report_cmd(
    folder: Path = typer.Argument(..., help="A folder written by `medkg coverage audit`."),
) -> None:
    """Re-render report.html from an audit folder."""
    from medkg.coverage.audit import AuditError
    from medkg.coverage.report import write_report

    try:
        path = write_report(folder)
    except AuditError as exc:
        raise fail(str(exc)) from None
    out.print(f"wrote {path}")
