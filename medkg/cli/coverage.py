"""`medkg coverage`: AMCS between sets, entity linking of datasets, the long-tail audit, the report."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from medkg.cli.common import (
    EngineOption,
    JsonOption,
    PathOption,
    RayAddressOption,
    StoreOption,
    WorkersOption,
    console,
    engine_from_options,
    fail,
    handle_errors,
    out,
    print_json,
    progress_bars,
    store_from_options,
)
from medkg.errors import InputError, UsageError
from medkg.outputs import check_folder_target, staged_file
from medkg.progress import Progress

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

FieldsOption = typer.Option(
    "question,options",
    "--fields",
    help="Comma-separated text fields joined per item (MMLU ignores this).",
)
IdFieldOption = typer.Option(None, "--id-field", help="Id field (default: the record number).")
MentionFilterOption = typer.Option(
    False,
    "--mention-filter/--no-mention-filter",
    help="Drop Disease mentions the learned mention filter judges unlikely (off by default: it "
    "lost on the NCBI corpus's held-out half; see bench/README.md).",
)
EmbedderOption = typer.Option(
    "sentence-transformers", "--embedder", help="Embedder key (sentence-transformers, hashing)."
)
RepeatedIdsOption = typer.Option(
    "error",
    "--repeated-ids",
    help="Records of a sharded corpus that share an id: 'error' refuses the corpus (naming "
    "both records, or a citation that a later PubMed file deletes); 'last' keeps the one last in the corpus's order (files in sorted path "
    "order, records in file order) and drops ids a later PubMed file deletes "
    "(DeleteCitation): a PubMed baseline with its update files.",
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


COVERAGE_STAGES = {"link": "linking items", "linker": "building the linker", "amcs": "AMCS",
                   "embed": "embedding names (cached after)",
                   "shards": "linking corpus shards",
                   "ids": "reading corpus ids (--repeated-ids last)"}  # fmt: skip


def coverage_progress() -> AbstractContextManager[Progress]:
    """The bars of the coverage steps (:data:`COVERAGE_STAGES`)."""
    return progress_bars(COVERAGE_STAGES)


def _repeated_ids(policy: str) -> str:
    """The ``--repeated-ids`` value, checked before any work."""
    from medkg.coverage.record_ids import check_policy

    try:
        return check_policy(policy)
    except ValueError as exc:
        raise UsageError(f"--repeated-ids: {exc}") from None


def _no_corpus_for(policy: str, datasets: str) -> None:
    """Refuse a ``--repeated-ids`` other than ``error`` where no dataset is a sharded corpus
    (said, not ignored: only a corpus has a ``last`` to keep)."""
    if policy != "error":
        raise UsageError(f"--repeated-ids {policy} applies to a sharded corpus (a folder, a "
                         f"glob, PubMed XML or .jsonl.gz), not to {datasets}")  # fmt: skip


def _corpus_name(source: str) -> str:
    """A corpus's default name: its folder's or file's stem (``pubmed`` for ``pubmed/*.xml.gz``)."""
    stem = Path(source.split("*")[0].rstrip("/") or ".").resolve().name
    return stem.split(".")[0] or "corpus"


def _load_graph(store: str | None, path: Path | None) -> Any:
    with store_from_options(store, path) as s:
        return s.load()


def _check_embedder(key: str) -> None:
    """Refuse the default embedder when it cannot load here, before any linking or
    reading (a core install has no model stack; the error used to come after linking)."""
    from medkg.embed.embedders import DEFAULT_EMBEDDER, default_model_missing

    if key == DEFAULT_EMBEDDER and (why := default_model_missing()):
        raise UsageError(
            f"the default embedding model cannot run here: {why}; or pass --embedder hashing "
            "(lexical, needs no model)"
        )


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
    from medkg.coverage.linking import Linker
    from medkg.coverage.pipeline import link_items
    from medkg.coverage.sets import embed_set, resolve_set
    from medkg.embed import build_embedder

    _check_embedder(embedder)
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
    with coverage_progress() as update:
        vecs = [
            embed_set(
                s,
                emb,
                graph_hash=kg.content_hash(),
                recipe=recipe,
                progress=update,
            )
            for s in sets
        ]
        update("amcs", 0, 1)
        res = compute_amcs(vecs[0], vecs[1], mode=mode)
        update("amcs", 1, 1)
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
        ...,
        help="Dataset file (JSONL/JSON/Parquet/CSV), a synth folder, mmlu, or a sharded "
        "corpus: a folder or glob of JSONL / Parquet / PubMed XML(.gz) files, or one PubMed file.",
    ),
    output: Path = typer.Option(Path("mentions.parquet"), "--out", help="Mention table (Parquet)."),
    fields: str = FieldsOption,
    id_field: str = IdFieldOption,
    as_json: bool = JsonOption,
    store: str = StoreOption,
    path: Path = PathOption,
    engine: str = EngineOption,
    ray_address: str = RayAddressOption,
    workers: int = WorkersOption,
    shard_size: int = typer.Option(500, "--shard-size", help="Items per shard."),
    mention_filter: bool = MentionFilterOption,
    repeated_ids: str = RepeatedIdsOption,
) -> None:
    """Link a dataset's mentions to MET entities (dictionary, abbreviations, TF-IDF fallback).

    The items are linked in shards, on this process or on a Ray cluster; the mention
    table is the same either way."""
    from medkg.coverage.linking import Linker, LinkerConfig
    from medkg.coverage.pipeline import DatasetSpec
    from medkg.coverage.sharded import link_sharded
    from medkg.retrieval.shards import is_sharded_source

    _repeated_ids(repeated_ids)
    runner = engine_from_options(engine, ray_address, workers)
    if shard_size < 1:
        raise UsageError(f"--shard-size must be >= 1, got {shard_size}")
    if is_sharded_source(dataset):
        _link_corpus(dataset, output, _fields(fields), id_field, store, path, runner,
                     shard_size, as_json, LinkerConfig(mention_filter=mention_filter),
                     repeated_ids)  # fmt: skip
        return
    _no_corpus_for(repeated_ids, dataset)
    spec = DatasetSpec("dataset", _dataset_path(dataset), _fields(fields), id_field)
    items = spec.items()
    kg = _load_graph(store, path)
    start = time.perf_counter()
    with coverage_progress() as update:
        update("linker", 0, 1)
        linker = Linker.from_graph(kg, LinkerConfig(mention_filter=mention_filter))
        mentions = link_sharded(
            linker,
            ((i.id, i.text) for i in items),
            runner,
            shard_size=shard_size,
            progress=lambda _stage, done, _total: update(
                "link", min(done * shard_size, len(items)), len(items)
            ),
        )
    with staged_file(output) as tmp:
        mentions.write_parquet(tmp)
    counts = {
        "items": len(items),
        "linked_items": mentions.get_column("item_id").n_unique(),
        "mentions": mentions.height,
        "entities": mentions.get_column("entity_id").n_unique(),
        "by_method": dict(sorted(mentions.group_by("method").len().iter_rows())),
        "characters": sum(len(i.text) for i in items),
        "linker": linker.config.to_dict(),
    }
    _report_links(counts, start, output, runner, as_json)


def _report_links(
    counts: dict[str, Any], start: float, output: Path, runner: Any, as_json: bool
) -> None:
    """Print what ``coverage link`` did (JSON or one line)."""
    data = {**counts, "seconds": round(time.perf_counter() - start, 2), "out": str(output),
            **runner.describe()}  # fmt: skip
    if as_json:
        print_json(data)
        return
    shards = f" in {data['shards']:,} shards" if "shards" in data else ""
    if "superseded" in data:
        shards += (f" ({data['superseded']:,} superseded by a later version and "
                   f"{data['deleted']:,} deleted records left out)")  # fmt: skip
    out.print(
        f"linked {data['linked_items']:,} of {data['items']:,} items{shards}: "
        f"{data['mentions']:,} mentions of {data['entities']:,} entities {data['by_method']} "
        f"→ {output}"
    )


def _link_corpus(dataset: str, output: Path, fields: tuple[str, ...], id_field: str | None,
                 store: str | None, path: Path | None, runner: Any, shard_size: int,
                 as_json: bool, config: Any, repeated_ids: str = "error") -> None:  # fmt: skip
    """``coverage link`` of a sharded corpus (a folder, a glob, PubMed XML): shard by
    shard, each read on its worker, the mentions streamed into the staged output."""
    from medkg.coverage.linking import Linker
    from medkg.coverage.sharded import link_corpus
    from medkg.retrieval.shards import ShardItems, plan_shards

    shards = plan_shards(dataset, shard_size)  # a missing or empty source fails here
    kg = _load_graph(store, path)
    start = time.perf_counter()
    with coverage_progress() as update:
        update("linker", 0, 1)
        linker = Linker.from_graph(kg, config)
        update("linker", 1, 1)
        with staged_file(output) as tmp:
            res = link_corpus(linker, shards, ShardItems(fields, id_field), runner, tmp,
                              progress=update, repeated_ids=repeated_ids)  # fmt: skip
    counts = {
        "shards": res.shards,
        "items": res.items,
        "linked_items": res.linked_items,
        "mentions": res.mentions,
        "entities": res.entities,
        "by_method": res.by_method,
        "characters": res.characters,
        "linker": linker.config.to_dict(),
    }
    if repeated_ids == "last":  # the records left out, so that the counts add up
        counts |= {"repeated_ids": "last", "superseded": res.superseded, "deleted": res.deleted}
    _report_links(counts, start, output, runner, as_json)


@app.command("audit")
@handle_errors
def audit_cmd(
    datasets: list[str] = typer.Argument(
        ..., help="One or more datasets (files, synth folders, mmlu, or sharded corpora)."
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
    engine: str = EngineOption,
    ray_address: str = RayAddressOption,
    workers: int = WorkersOption,
    shard_size: int = typer.Option(
        2000, "--shard-size", help="Items per shard (JSONL lines, Parquet rows) of a corpus."
    ),
    repeated_ids: str = RepeatedIdsOption,
) -> None:
    """Long-tail audit: counts per MET node rolled up, coverage per level/branch, rare share,
    concentration, top uncovered branches, AMCS; writes coverage.json, gaps.json, CSVs, report.html.

    A dataset may be a sharded corpus (a folder or glob of JSONL / Parquet / PubMed XML
    files): it is read and linked shard by shard, never whole; its mention table goes to
    the audit folder as it is linked. With ``--engine ray`` each dataset is linked in
    shards on Ray workers (corpora through Ray Data; the same mention table), and AMCS entities missing from the embedding cache are embedded there
    (the same vectors, the same cache entry); the rest of the audit runs here."""
    from medkg.coverage.audit import check_name
    from medkg.coverage.pipeline import AUDIT_KIND, AUDIT_LEGACY, DatasetSpec, run_audit
    from medkg.coverage.sharded import CorpusSource
    from medkg.retrieval.shards import ShardItems, is_sharded_source, plan_shards
    from medkg.synthesis.inspect import inspect_if_synth

    if shard_size < 1:
        raise UsageError(f"--shard-size must be >= 1, got {shard_size}")
    _repeated_ids(repeated_ids)
    if amcs_ref != "none":
        _check_embedder(embedder)
    if names and len(names) != len(datasets):
        raise UsageError(f"give one --name per dataset ({len(datasets)}), got {len(names)}")
    check_folder_target(output, AUDIT_KIND, AUDIT_LEGACY)  # before any work
    runner = None if engine == "local" else engine_from_options(engine, ray_address, workers)
    specs = []
    for i, d in enumerate(datasets):
        if is_sharded_source(d):  # read shard by shard on the engine's workers
            name = names[i] if names else _corpus_name(d)
            corpus = CorpusSource(tuple(plan_shards(d, shard_size)),
                                  ShardItems(_fields(fields), id_field), repeated_ids)  # fmt: skip
            specs.append(DatasetSpec(check_name(name), d, _fields(fields), id_field, corpus))
            continue
        p = _dataset_path(d)
        name = names[i] if names else ("mmlu" if p == "mmlu" else Path(d).stem)
        specs.append(DatasetSpec(check_name(name), p, _fields(fields), id_field))
    if not any(spec.corpus is not None for spec in specs):
        _no_corpus_for(repeated_ids, ", ".join(datasets))
    with store_from_options(store, path) as s:
        kg = s.load()
        with coverage_progress() as update:
            result = run_audit(
                kg, specs, out=output, amcs_reference=None if amcs_ref == "none" else amcs_ref,
                embedder=embedder, branch_depth=branch_depth, report=report,
                progress=update,
                inspect=inspect_if_synth, engine=runner, shard_size=shard_size,
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
    for a in result.audits:
        if "superseded" in a.summary:
            out.print(f"{a.name}: {a.summary['superseded']:,} superseded and "
                      f"{a.summary['deleted']:,} deleted records left out (--repeated-ids last)")  # fmt: skip
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
    as_json: bool = JsonOption,
) -> None:
    """Re-render report.html from an audit folder."""
    from medkg.coverage.audit import AuditError
    from medkg.coverage.report import write_report

    try:
        path = write_report(folder)
    except AuditError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json({"report": str(path), "bytes": path.stat().st_size})
        return
    out.print(f"wrote {path}")


@app.command("eval-linking")
@handle_errors
def eval_linking_cmd(
    corpus: Path = typer.Argument(
        ..., help="Annotated corpus: PubTator (.txt), BioC XML (.xml) / JSON (.json), or JSONL."
    ),
    fmt: str = typer.Option(
        None, "--format", help="pubtator | bioc-xml | bioc-json | jsonl (default: from the name)."
    ),
    kinds: str = typer.Option(
        None, "--kinds", help="Graph kinds linked and scored (default: the corpus's types)."
    ),
    prefer: str = typer.Option(
        None,
        "--prefer",
        help="Preferred id prefixes for a name several sources share, e.g. MESH,OMIM.",
    ),
    tfidf: bool = typer.Option(False, "--tfidf/--no-tfidf", help="Also run the TF-IDF fallback."),
    mention_filter: bool = MentionFilterOption,
    mentions_out: Path = typer.Option(
        None, "--mentions", help="Also write the predicted mention table (Parquet)."
    ),
    as_json: bool = JsonOption,
    store: str = StoreOption,
    path: Path = PathOption,
) -> None:
    """Score the linker on an annotated corpus: span, mention and document precision / recall
    / F1, strict and via MAPS_TO equivalence, per mention type, entity kind and method."""
    from dataclasses import replace

    from medkg.coverage.annotated import read_corpus
    from medkg.coverage.linkeval import evaluate_linker
    from medkg.coverage.linking import LinkerConfig

    docs = read_corpus(corpus, fmt)
    config = LinkerConfig(tfidf=tfidf, mention_filter=mention_filter)
    if prefer:
        config = replace(config, prefix_priority=tuple(p.strip() for p in prefer.split(",")))
    kg = _load_graph(store, path)
    start = time.perf_counter()
    scores, mentions = evaluate_linker(
        kg, docs, config, tuple(k.strip() for k in kinds.split(",")) if kinds else None
    )
    if mentions_out is not None:
        with staged_file(mentions_out) as tmp:
            mentions.write_parquet(tmp)
    data = {"corpus": str(corpus), **scores.to_dict(), "linker": config.to_dict(),
            "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
    if as_json:
        print_json(data)
        return
    print_linking_scores(data)


def print_linking_scores(data: dict[str, Any]) -> None:
    """The evaluation as rich tables: overall levels, then per method, kind and type."""
    table = Table(
        title=f"linking on {data['corpus']} ({data['documents']} documents, kinds "
        f"{', '.join(data['kinds'])})"
    )
    for col in ("level", "precision", "recall", "F1", "predicted", "gold"):
        table.add_column(col, justify="left" if col == "level" else "right", no_wrap=col == "level")
    for level, c in data["overall"].items():
        table.add_row(level, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
                      f"{c['predicted']:,}", f"{c['gold']:,}")  # fmt: skip
    out.print(table)
    sub = Table(title="mention level per method, entity kind and gold type (recall over all gold)")
    for col in ("group", "level", "P", "R", "F1", "predicted"):
        left = col in ("group", "level")
        sub.add_column(col, justify="left" if left else "right", no_wrap=left)
    for group, label in (("by_method", "method"), ("by_kind", "kind"), ("by_type", "type")):
        for key, levels in data[group].items():
            for level in ("span", "mention strict", "mention via MAPS_TO"):
                c = levels[level]
                has_p = group != "by_type"  # a gold type has no predictions of its own
                sub.add_row(f"{label}={key}", level,
                            f"{c['precision']:.3f}" if has_p else "-", f"{c['recall']:.3f}",
                            f"{c['f1']:.3f}" if has_p else "-",
                            f"{c['predicted']:,}" if has_p else "-")  # fmt: skip
    out.print(sub)
