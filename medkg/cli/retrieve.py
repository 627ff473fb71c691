"""`medkg retrieve index|query|attach|eval`: corpora, queries and evidence packs.

Indexes live in ``$MEDKG_HOME/retrieval/indexes/<corpus>`` (``--indexes`` moves them) and
the corpora they were built from in ``$MEDKG_HOME/retrieval/corpora.json``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    console,
    handle_errors,
    out,
    parse_params,
    print_json,
    progress_bars,
    split_values,
    store_from_options,
)
from medkg.errors import UsageError
from medkg.outputs import write_text
from medkg.progress import Progress

app = typer.Typer(no_args_is_help=True)

ADD_BATCH = 2048  # chunks per retriever.add call while indexing (drives the progress bar)

IndexesOption = typer.Option(
    None, "--indexes", help="Index folder (default: $MEDKG_HOME/retrieval/indexes)."
)
CorporaOption = typer.Option(
    None, "--corpus", "-c", help="Corpora to use, comma-separated or repeated (default: all)."
)
EmbedderOption = typer.Option(
    None, "--embedder", help="Embedder key for dense/hybrid indexes (default: the one recorded)."
)
EmbedderOptOption = typer.Option(
    None, "--embedder-option", help="Embedder option KEY=VALUE (repeatable)."
)
DatasetArgument = typer.Argument(..., help="Dataset folder (or items.jsonl) from `medkg synth`.")
IncludeHiddenOption = typer.Option(
    False, "--include-hidden", help="Also query hidden path intermediates (an oracle)."
)
MaxCuesOption = typer.Option(4, "--max-cues", help="Question entities used per query.")
GeneratorOption = typer.Option(
    None, "--generator", help="LLM path: also rewrite queries with this generator (openai, local)."
)
GeneratorOptOption = typer.Option(
    None, "--generator-option", help="Generator option KEY=VALUE (repeatable)."
)


def _pairs(values: list[str] | None, what: str) -> dict[str, Any]:
    """KEY=VALUE pairs (a VALUE that parses as JSON is used as such), errors naming ``what``."""
    try:
        return parse_params(values)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def _indexes(indexes: Path | None) -> Path:
    from medkg.retrieval.evidence import indexes_dir

    return indexes if indexes is not None else indexes_dir()


def _registry_dir(indexes: Path | None) -> Path | None:
    """The corpus registry sits beside a custom index folder, else in its default place."""
    return indexes.parent if indexes is not None else None


@contextlib.contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    """One bar per stage (:func:`~medkg.cli.common.progress_bars`), or ``None`` when quiet."""
    if not show:
        yield None
        return
    with progress_bars() as update:
        yield update


def _open_corpora(
    names: list[str], indexes: Path | None, embedder: str | None, embedder_option: list[str] | None
) -> list[Any]:
    from medkg.retrieval.corpus import CorpusRegistry
    from medkg.retrieval.evidence import open_corpus
    from medkg.retrieval.retrievers import read_meta

    folder = _indexes(indexes)
    if not names:
        names = [s.name for s in CorpusRegistry(_registry_dir(indexes)).list()]
        names = [n for n in names if (folder / n).is_dir()]
        if not names:
            raise UsageError(f"no corpus indexes in {folder}: run `medkg retrieve index` first")
    corpora = []
    for name in names:
        options: dict[str, Any] = {}
        if embedder:
            from medkg.embed import build_embedder

            meta = read_meta(folder / name)
            if meta["backend"] not in ("dense", "hybrid"):
                raise UsageError(
                    f"{folder / name} is a {meta['backend']!r} index: it uses no embedder"
                )
            try:
                options["embedder"] = build_embedder(
                    embedder, **_pairs(embedder_option, "--embedder-option")
                )
            except TypeError as exc:  # an option the embedder does not take
                raise UsageError(f"--embedder-option: {exc}") from None
        corpora.append(
            open_corpus(name, indexes=folder, registry_dir=_registry_dir(indexes), **options)
        )
    return corpora


def _load_graph(store: str | None, path: Path | None) -> tuple[Any, str]:
    """The current graph and, for an embedded store, its folder ("" for Neo4j)."""
    with store_from_options(store, path) as source:
        if not source.exists():
            raise UsageError(
                f"no graph in {source.describe_location()}: run `medkg kg build` first"
            )
        console.print(f"loading the graph from {source.describe_location()} ...")
        folder = source.local_folder()
        location = str(folder) if folder is not None else ""
        return source.load(), location


def _query_generator(kg: Any, include_hidden: bool, max_cues: int) -> Any:
    from medkg.retrieval.queries import QueryConfig, QueryGenerator

    return QueryGenerator(kg, QueryConfig(include_hidden=include_hidden, max_cues=max_cues))


# ----------------------------------------------------------------------------- index
@app.command()
@handle_errors
def index(
    name: str = typer.Argument(..., help="Corpus name (letters, digits, '_', '.', '-')."),
    source: Path = typer.Argument(
        None, help="Corpus file or folder (JSONL, Parquet, text folder, PubMed XML[.gz])."
    ),
    kind: str = typer.Option(
        None,
        "--kind",
        help="research, encyclopedia, textbook, guideline, graph or your own word "
        "(picks the query style).",
    ),
    fmt: str = typer.Option(
        None, "--format", help="jsonl, parquet, text or pubmed (default: from the source)."
    ),
    chunk_size: int = typer.Option(1000, "--chunk-size", help="Characters per chunk, at most."),
    overlap: int = typer.Option(200, "--overlap", help="Characters shared by neighbour chunks."),
    backend: str = typer.Option(
        None, "--backend", help="Retriever: bm25 (default), dense, hybrid; graph for --graph."
    ),
    backend_option: list[str] = typer.Option(
        None, "--backend-option", help="Retriever option KEY=VALUE (repeatable)."
    ),
    reader_option: list[str] = typer.Option(
        None, "--reader-option", help="Reader option KEY=VALUE, e.g. text_field=abstract."
    ),
    on_error: str = typer.Option(
        "fail", "--on-error", help="Bad records: fail (default) or skip (counted, with lines)."
    ),
    graph: bool = typer.Option(
        False, "--graph", help="Index the graph corpus (entity cards) from the current store."
    ),
    store: str = StoreOption,
    path: Path = PathOption,
    indexes: Path = IndexesOption,
    as_json: bool = JsonOption,
) -> None:
    """Read a corpus, chunk it and save a retriever index under the index folder."""
    from medkg.retrieval import retrievers  # noqa: F401 - registers bm25, dense, hybrid
    from medkg.retrieval.base import build_retriever
    from medkg.retrieval.corpus import CorpusRegistry, CorpusSpec, iter_chunks
    from medkg.retrieval.readers import ReadReport

    if graph:
        if source is not None:
            raise UsageError("--graph reads the graph store: give no SOURCE (use --store/--path)")
        kind = kind or "graph"
        backend = backend or "graph"
    elif source is None:
        raise UsageError("give the corpus SOURCE (a file or folder), or --graph")
    elif not kind:
        raise UsageError("--kind is required (research, encyclopedia, textbook, guideline, ...)")
    folder = _indexes(indexes) / name
    retriever = build_retriever(
        backend or "bm25", corpus=name, **_pairs(backend_option, "--backend-option")
    )
    report = ReadReport()
    start = time.perf_counter()
    if graph:
        spec, chunks = _graph_chunks(name, kind, store, path, report)
    else:
        spec = CorpusSpec(
            name=name,
            kind=kind,
            source=str(source),
            format=fmt,
            chunk_size=chunk_size,
            overlap=overlap,
            options=_pairs(reader_option, "--reader-option"),
        )
        chunks = iter_chunks(spec, on_error=on_error, report=report)
    batch: list[Any] = []
    with _progress(not as_json) as advance:
        for chunk in chunks:
            batch.append(chunk)
            if len(batch) >= ADD_BATCH:
                retriever.add(batch)
                batch = []
                if advance is not None:
                    advance(f"indexing {name}", retriever.size, retriever.size)
        retriever.add(batch)
        if advance is not None:
            advance(f"indexing {name}", retriever.size, retriever.size)
    if retriever.size == 0:
        raise UsageError(f"{spec.source or name}: corpus {name!r} has no text to index (0 chunks)")
    retriever.save(folder)  # atomic: an interrupted build leaves the previous index
    CorpusRegistry(_registry_dir(indexes)).add(spec, replace=True)
    backend = retriever.key
    summary = {
        "corpus": name,
        "kind": spec.kind,
        "backend": backend,
        "index": str(folder),
        "chunks": retriever.size,
        "read": report.to_dict(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    if as_json:
        print_json(summary)
        return
    out.print(
        f"[green]indexed[/] {name} ({spec.kind}, {backend}): {report.docs:,} documents, "
        f"{retriever.size:,} chunks -> {folder} in {summary['seconds']}s"
    )
    if report.skipped_count:
        console.print(
            f"[yellow]skipped[/] {report.skipped_count} record(s), lines {report.skipped_lines[:10]}"
        )


def _graph_chunks(
    name: str, kind: str, store: str | None, path: Path | None, report: Any
) -> tuple[Any, list[Any]]:
    """The graph corpus of the current store: one chunk per entity card."""
    from medkg.retrieval.corpus import CorpusSpec
    from medkg.retrieval.graph_corpus import CARD_MAX_CHARS, graph_chunks

    kg, location = _load_graph(store, path)
    chunks = graph_chunks(kg, name)
    report.source, report.docs, report.chunks = location, len(chunks), len(chunks)
    spec = CorpusSpec(
        name=name, kind=kind, source=location, format="graph", chunk_size=CARD_MAX_CHARS, overlap=0
    )
    return spec, chunks


# ----------------------------------------------------------------------------- query
@app.command()
@handle_errors
def query(
    corpus: str = typer.Argument(..., help="Corpus name (as indexed)."),
    text: str = typer.Argument(..., help="The query text."),
    k: int = typer.Option(10, "-k", help="Hits to return."),
    indexes: Path = IndexesOption,
    embedder: str = EmbedderOption,
    embedder_option: list[str] = EmbedderOptOption,
    as_json: bool = JsonOption,
) -> None:
    """Run one ad-hoc query against a corpus index."""
    (target,) = _open_corpora([corpus], indexes, embedder, embedder_option)
    (hits,) = target.retriever.search([text], k)
    rows = [
        {
            "rank": h.rank,
            "score": round(h.score, 6),
            "chunk_id": h.chunk.chunk_id,
            "doc_id": h.chunk.doc_id,
            "title": h.chunk.title,
            "text": h.chunk.text,
        }
        for h in hits
    ]
    if as_json:
        print_json({"corpus": corpus, "kind": target.kind, "query": text, "hits": rows})
        return
    table = Table(title=escape(f"{corpus} ({target.kind}): {text}"))
    for col in ("rank", "score", "doc", "title", "text"):
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for r in rows:
        snippet = " ".join(r["text"].split())[:160]
        cells = (escape(r["doc_id"]), escape(r["title"][:60]), escape(snippet))  # text, not markup
        table.add_row(str(r["rank"]), f"{r['score']:.3f}", *cells)
    out.print(table)
    if not rows:
        console.print("[yellow]no hit[/] (no indexed chunk shares a term with the query)")


# ----------------------------------------------------------------------------- attach / eval
@app.command()
@handle_errors
def attach(
    dataset: Path = DatasetArgument,
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced atomically)."),
    corpora: list[str] = CorporaOption,
    k: int = typer.Option(10, "-k", help="Chunks kept per corpus and item (and per query)."),
    include_hidden: bool = IncludeHiddenOption,
    max_cues: int = MaxCuesOption,
    max_pairs: int = typer.Option(4, "--max-pairs", help="DPO pairs per item and corpus kind."),
    generator: str = GeneratorOption,
    generator_option: list[str] = GeneratorOptOption,
    store: str = StoreOption,
    path: Path = PathOption,
    indexes: Path = IndexesOption,
    embedder: str = EmbedderOption,
    embedder_option: list[str] = EmbedderOptOption,
    as_json: bool = JsonOption,
) -> None:
    """Attach evidence packs to a synthetic dataset and write query sets (SFT/DPO)."""
    from medkg.outputs import check_folder_target
    from medkg.retrieval.evidence import (
        KIND,
        LEGACY,
        attach_evidence,
        read_item_rows,
        source_manifest,
        write_evidence_dataset,
    )

    check_folder_target(out_dir, KIND, LEGACY)
    rows = read_item_rows(dataset)
    targets = _open_corpora(split_values(corpora), indexes, embedder, embedder_option)
    gen = _generator(generator, generator_option)
    kg, _ = _load_graph(store, path)
    qgen = _query_generator(kg, include_hidden, max_cues)
    start = time.perf_counter()
    with _progress(not as_json) as advance:
        result = attach_evidence(rows, targets, qgen, k=k, generator=gen, progress=advance)
    manifest = {
        "source": source_manifest(dataset),
        "query_config": _config_dict(qgen),
        "generator": gen.describe() if gen is not None else None,
    }
    written = write_evidence_dataset(result, out_dir, manifest, max_pairs=max_pairs)
    summary = {"out": str(out_dir), **written["counts"], "files": sorted(written["files"])}
    summary["seconds"] = round(time.perf_counter() - start, 2)
    if as_json:
        print_json(summary)
        return
    table = Table(title="queries by corpus")
    for col in ("corpus", "kind", "queries", "useful"):
        table.add_column(col, justify="left" if col in ("corpus", "kind") else "right")
    for c in targets:
        counts = result.counts["by_corpus"][c.name]
        table.add_row(c.name, c.kind, f"{counts['queries']:,}", f"{counts['useful']:,}")
    out.print(table)
    out.print(
        f"[green]wrote[/] {len(rows):,} items with evidence "
        f"({result.counts['items_with_support']:,} with supporting evidence), "
        f"{written['counts']['sft_rows']:,} SFT and {written['counts']['dpo_rows']:,} DPO rows "
        f"to {out_dir}"
    )


@app.command("eval")
@handle_errors
def eval_(
    dataset: Path = DatasetArgument,
    corpora: list[str] = CorporaOption,
    ks: str = typer.Option("1,5,10", "-k", help="Cut-offs, comma-separated."),
    include_hidden: bool = IncludeHiddenOption,
    max_cues: int = MaxCuesOption,
    support_only: bool = typer.Option(
        False,
        "--support-only",
        help="Graph corpus: count a card as relevant only when it supports the answer, not "
        "merely for being on the item's path.",
    ),
    generator: str = GeneratorOption,
    generator_option: list[str] = GeneratorOptOption,
    report_path: Path = typer.Option(None, "--report", help="Also write the JSON report here."),
    store: str = StoreOption,
    path: Path = PathOption,
    indexes: Path = IndexesOption,
    embedder: str = EmbedderOption,
    embedder_option: list[str] = EmbedderOptOption,
    as_json: bool = JsonOption,
) -> None:
    """recall@k and MRR per corpus and query style; graph-expanded queries vs the raw question."""
    from medkg.cli.tables import retrieval_tables
    from medkg.retrieval.evaluate import evaluate
    from medkg.retrieval.evidence import read_item_rows

    try:
        cutoffs = [int(x) for x in split_values([ks])]
    except ValueError:
        raise UsageError(f"-k needs comma-separated integers, got {ks!r}") from None
    if report_path is not None:  # checked before the evaluation, which can take minutes
        _check_report_target(report_path)
    rows = read_item_rows(dataset)
    targets = _open_corpora(split_values(corpora), indexes, embedder, embedder_option)
    gen = _generator(generator, generator_option)
    kg, _ = _load_graph(store, path)
    qgen = _query_generator(kg, include_hidden, max_cues)
    with _progress(not as_json) as advance:
        report = evaluate(
            rows,
            targets,
            qgen,
            ks=cutoffs,
            generator=gen,
            path_relevance=not support_only,
            progress=advance,
        )
    data = report.to_dict()
    if report_path is not None:
        write_text(report_path, json.dumps(data, indent=2, sort_keys=True) + "\n")  # atomic
    if as_json:
        print_json(data)
        return
    for table in retrieval_tables(report):
        out.print(table)


def _check_report_target(path: Path) -> None:
    """A report file path that can be written: not a folder, under no file."""
    if path.is_dir():
        raise UsageError(f"--report {path} is a folder: give a file path")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--report {path}: {parent} is a file, not a folder")
            break


def _generator(key: str | None, options: list[str] | None) -> Any:
    if not key:
        if options:
            raise UsageError("--generator-option needs --generator")
        return None
    from medkg.llm import build_generator

    return build_generator(key, **_pairs(options, "--generator-option"))


def _config_dict(qgen: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(qgen.config)
