"""`medkg kg build|stats|show|search|import|export`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape as esc  # names, synonyms, ids are data, never markup
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from medkg.cli.common import (
    JsonOption,
    PathOption,
    StoreOption,
    WaitOption,
    console,
    handle_errors,
    out,
    print_json,
    progress_bars,
    store_from_options,
)
from medkg.errors import UsageError
from medkg.kg.stores.base import GraphStore

app = typer.Typer(no_args_is_help=True)


def _parse_pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{what} must look like KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def kept_imports(target: GraphStore, drop: list[str] | None) -> tuple[list[Any], list[str]]:
    """The ontologies `kg import` added to ``target``'s graph, as graph layers to rebuild
    with (all but those named in ``drop``), and their names. Empty for a new store."""
    from medkg.kg.derive import imported_layer, imported_names

    if not target.exists():
        return [], []
    names = imported_names(target.manifest().get("report", {}))
    unknown = sorted(set(drop or []) - set(names))
    if unknown:
        raise UsageError(f"--drop-import {unknown}: not imported into this store (it has {names})")
    keep = [n for n in names if n not in set(drop or [])]
    if not keep:
        return [], []
    console.print(f"keeping the imported {', '.join(keep)} (remove with --drop-import NAME)")
    return [imported_layer(target.load(), keep)], keep


def save_with_progress(target: GraphStore, kg: Any) -> Any:
    """``target.save(kg)`` with a bar per step for stores that report one (Neo4j)."""
    with progress_bars() as update:
        target.save_progress = update
        try:
            return target.save(kg)
        finally:
            target.save_progress = None


def build_with_progress(
    sources: list[str] | None,
    files: dict[str, str],
    force: bool = False,
    extra: list[Any] | None = None,
    curated: Path | None = None,
) -> tuple[Any, dict[str, float]]:
    """Load sources with a progress bar, then resolve and build the tree. A replacement
    release file (``files``) is compared with the bundled release first: the change in
    counts is printed and a drop over the limit needs ``force``."""
    from medkg.kg.build import (
        assemble,
        available_sources,
        check_release,
        has_bundled_release,
        load_sources,
        release_diff,
        resolve_source_keys,
    )

    keys = resolve_source_keys(sources)
    unknown = sorted(set(files) - set(available_sources()))
    if unknown:
        raise UsageError(f"--file names unknown source(s) {unknown}")
    timings: dict[str, float] = {}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("loading sources", total=len(keys) + 1)
        graphs = []
        for key in keys:
            progress.update(task, description=f"loading {key}")
            start = time.perf_counter()
            graphs.extend(load_sources([key], {key: files[key]} if key in files else None))
            timings[f"load.{key}"] = time.perf_counter() - start
            if key in files and has_bundled_release(key):
                progress.update(task, description=f"comparing {key} with the bundled release")
                diff = release_diff(load_sources([key])[0], graphs[-1])
                _print_release_diff(key, files[key], diff)
                check_release(key, files[key], diff, force)
            progress.advance(task)
        progress.update(task, description="resolving identities and building the tree")
        kg = assemble([*graphs, *(extra or [])], timings, curated)
        progress.advance(task)
    return kg, timings


def _print_release_diff(key: str, path: str, diff: dict[str, Any]) -> None:
    table = Table(title=f"{key}: {path} against the bundled release")
    for col in ("count", "bundled", "replacement", "change"):
        table.add_column(col, justify="left" if col == "count" else "right")
    for name, c in diff["counts"].items():
        style = "bold red" if name in diff["drops"] else None
        table.add_row(name, f"{c['bundled']:,}", f"{c['replacement']:,}",
                      f"{c['change']:+,}", style=style)  # fmt: skip
    console.print(table)


@app.command()
@handle_errors
def build(
    sources: list[str] = typer.Option(
        None,
        "--sources",
        "-s",
        help="Sources to load: names replace the defaults (hpo,hpoa,hpo_genes,mesh,icd10,drugs); "
        "+name adds (e.g. +icd10cm), -name removes.",
    ),
    file: list[str] = typer.Option(
        None,
        "--file",
        "-f",
        help="Use a newer release file for a source: SOURCE=PATH (repeatable).",
    ),
    curated: str = typer.Option(
        None,
        "--curated",
        help="Curator mapping decisions (SSSOM, written by `medkg ui`) to apply: a file, or "
        "'none'. Default: $MEDKG_HOME/mappings/curated.sssom.tsv when it exists.",
    ),
    store: str = StoreOption,
    path: Path = PathOption,
    wait: float = WaitOption,
    force: bool = typer.Option(
        False, "--force", help="Use a --file release even if it lost over 10% of the rows."
    ),
    drop_import: list[str] = typer.Option(
        None, "--drop-import", help="Leave out an ontology added with `kg import` (repeatable)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Build the entity graph and its tree from the bundled (or given) sources and save it;
    ontologies added with `kg import` are kept unless dropped."""
    from medkg.kg.build import stats
    from medkg.kg.curated import curated_path
    from medkg.kg.derive import with_imports

    decisions = None if curated == "none" else Path(curated) if curated else curated_path()
    if curated not in (None, "none") and not Path(curated).is_file():
        raise FileNotFoundError(f"--curated {curated}: no such file")
    files = _parse_pairs(file, "--file")
    target = store_from_options(store, path, wait)
    # The writer lock is taken before the sources load, so a second build of the same
    # store is refused at once instead of after minutes of work.
    with target, target.writing():
        start = time.perf_counter()
        extra, imports = kept_imports(target, drop_import)
        kg, timings = build_with_progress(sources, files, force, extra, decisions)
        kg = with_imports(kg, imports)
        built = time.perf_counter() - start
        console.print(f"saving to {target.describe_location()} ...")
        report = save_with_progress(target, kg)
    summary = stats(kg)
    result = {
        "store": report.store,
        "location": report.location,
        "content_hash": report.content_hash,
        "seconds": {
            "build": round(built, 2),
            "save": round(report.seconds, 2),
            **{k: round(v, 2) for k, v in timings.items()},
        },
        "stats": summary,
    }
    if "curated_mappings" in kg.report:
        result["curated_mappings"] = kg.report["curated_mappings"]
    if as_json:
        print_json(result)
    else:
        print_stats(summary)
        if "curated_mappings" in result:
            out.print(f"curator mapping decisions applied: {result['curated_mappings']}")
        out.print(
            f"[green]built[/] {report.nodes:,} nodes, {report.edges:,} edges in {built:.1f}s "
            f"(+{report.seconds:.1f}s save) → {report.location}  hash {report.content_hash[:12]}"
        )


@app.command("stats")
@handle_errors
def stats_cmd(
    store: str = StoreOption, path: Path = PathOption, as_json: bool = JsonOption
) -> None:
    """Counts by kind, source and relation, tree depth, rare share and long-tail summary."""
    from medkg.kg.build import stats

    with store_from_options(store, path) as s:
        summary = stats(s.stats_view())  # Neo4j: aggregated in the database
    if as_json:
        print_json(summary)
    else:
        print_stats(summary)


def _table(title: str, data: dict[str, Any], key: str = "", value: str = "count") -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column(key)
    t.add_column(value, justify="right")
    for k, v in data.items():
        t.add_row(str(k), f"{v:,}" if isinstance(v, int) else str(v))
    return t


def print_stats(s: dict[str, Any]) -> None:
    out.print(_table("Nodes by kind", s["nodes_by_kind"], "kind"))
    out.print(_table("Nodes by source", s["nodes_by_source"], "source"))
    out.print(_table("Edges by relation", s["edges_by_rel"], "relation"))
    if "tree_depth" in s:
        out.print(_table("Tree depth", s["tree_depth"], "depth", "nodes"))
        rare = s["rare"]
        out.print(
            f"rare diseases: {rare['rare_diseases']:,} of {rare['diseases']:,} "
            f"({rare['rare_share']:.1%}) by reason {rare['by_reason']}; "
            f"not rare by reason {rare.get('not_rare_by_reason', {})} (rules: medkg/kg/rarity.py)"
        )
        m = s["hpo_annotated_diseases_placed_by_mapping"]
        if m.get("of"):
            out.print(
                f"HPO-annotated diseases placed in the tree through a mapping: "
                f"{m['count']:,} of {m['of']:,} ({m['share']:.1%}); the rest by the organ-system fallback"
            )
        lt = Table(title="Long tail (annotation degree)", title_justify="left")
        for c in ("kind", "n", "median", "p90", "max", "zero_share", "le3_share", "gini"):
            lt.add_column(c, justify="right")
        for kind, row in s["long_tail"].items():
            lt.add_row(
                kind,
                *(
                    str(row[c])
                    for c in ("n", "median", "p90", "max", "zero_share", "le3_share", "gini")
                ),
            )
        out.print(lt)
    for name, source in s["sources"].items():
        if "identity" in source:  # ids checked against independent evidence (mesh, drugs)
            out.print(f"{name} identifiers checked: {source['identity']}")
    quality = s.get("identity_quality")
    if quality:
        _print_identity_quality(quality)


def _print_identity_quality(q: dict[str, Any]) -> None:
    t = Table(
        title=f"Identity quality (gold: {', '.join(q.get('gold', {}))}; tree uses methods "
        f"with parent precision >= {q.get('placement_min_precision')})",
        title_justify="left",
    )
    for c in ("method", "edges", "judged", "precision", "95% low", "parent prec.", "confidence"):
        t.add_column(c, justify="right")
    for method, m in q.get("methods", {}).items():
        t.add_row(
            method,
            f"{m['edges']:,}",
            str(m["judged"]),
            "unmeasured" if m["precision"] is None else f"{m['precision']:.3f}",
            "" if m["precision_low95"] is None else f"{m['precision_low95']:.3f}",
            "" if m.get("placement_precision") is None else f"{m['placement_precision']:.3f}",
            "" if m.get("confidence") is None else f"{m['confidence']:.3f}",
        )
    out.print(t)


def _group_relations(relations: list[dict[str, Any]], limit: int) -> dict[str, dict[str, Any]]:
    """Relations by type and direction: a count and the first ``limit`` items."""
    grouped: dict[str, dict[str, Any]] = {}
    for r in relations:
        key = f"{r['rel']} ({r['direction']})"
        g = grouped.setdefault(key, {"count": 0, "items": []})
        g["count"] += 1
        if len(g["items"]) < limit:
            g["items"].append(
                {
                    k: r.get(k)
                    for k in (
                        "other",
                        "other_name",
                        "other_kind",
                        "negated",
                        "frequency",
                        "onset",
                        "evidence",
                        "method",
                        "confidence",
                    )
                    if r.get(k) is not None
                }
            )
    return grouped


@app.command()
@handle_errors
def show(
    node_id: str = typer.Argument(..., help="Entity id, e.g. ORPHA:558 or HP:0001166."),
    limit: int = typer.Option(10, help="Relations shown per relation type."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """An entity: names, synonyms, ancestors to the root, children and relations."""
    from medkg.kg.curie import normalise_curie
    from medkg.kg.equivalents import facts_via_equivalents

    node_id = normalise_curie(node_id)
    with store_from_options(store, path) as s:
        node = s.get_node(node_id)
        if node is None:
            hits = s.search(node_id.partition(":")[2], limit=3)
            hint = f"; did you mean {', '.join(h['id'] for h in hits)}?" if hits else ""
            raise UsageError(f"no entity {node_id} in {s.describe_location()}{hint}")
        ancestors = s.met_path(node_id)[1:]
        n_children, children = s.met_children(node_id, limit=limit)
        relations = s.neighbours(node_id)
        via = facts_via_equivalents(s, node_id)
    grouped = _group_relations(relations, limit)
    via_equivalents = [
        {
            **{k: v for k, v in eq.items() if k != "facts"},
            "relations": _group_relations(eq["facts"], limit),
        }
        for eq in via
    ]
    result = {
        "node": node,
        "ancestors": ancestors,
        "children_count": n_children,
        "children": children,
        "relations": grouped,
        "via_equivalents": via_equivalents,
    }
    if as_json:
        print_json(result)
        return
    out.print(
        f"[bold]{esc(node['id'])}[/]  {esc(node['name'])}  "
        f"[dim]({esc(node['kind'])}, {esc(node['source'])} {esc(node['source_version'])})[/]"
    )
    if node.get("definition"):
        out.print(f"  {esc(node['definition'])}")
    if node.get("synonyms"):
        out.print("  synonyms: " + esc("; ".join(node["synonyms"][:15])))
    if node.get("xrefs"):
        out.print("  xrefs: " + esc(", ".join(node["xrefs"][:15])))
    if "depth" in node:
        out.print(
            f"  tree: depth {node['depth']}, subtree {node['subtree_size']:,}, placed by {node['met_placement']}, "
            f"rare={node['rare']}{' (' + esc(node['rare_reason']) + ')' if node.get('rare_reason') else ''}, "
            f"annotation degree {node['annotation_degree']}"
        )
    if ancestors:
        out.print(
            "  ancestors: "
            + " → ".join(f"{esc(a['name'])} [dim]{esc(a['id'])}[/]" for a in ancestors)
        )
    if children:
        out.print(
            f"  children ({n_children:,}): "
            + ", ".join(f"{esc(c['name'])} [dim]{esc(c['id'])}[/]" for c in children)
        )
    _print_relations(grouped)
    for eq in via_equivalents:
        out.print(
            f"  [bold]via equivalent[/] {esc(eq['id'])} {esc(eq.get('name') or '')} "
            f"[dim]({eq['method']}, precision {eq['confidence']:.2f})[/]"
        )
        _print_relations(eq["relations"], indent="    ")


def _print_relations(grouped: dict[str, dict[str, Any]], indent: str = "  ") -> None:
    for key, g in grouped.items():
        out.print(f"{indent}[bold]{esc(key)}[/] ({g['count']:,})")
        for item in g["items"]:
            extra = ", ".join(
                f"{k}={v}"
                for k, v in item.items()
                if k not in ("other", "other_name", "other_kind")
            )
            other, name = esc(item["other"]), esc(item.get("other_name") or "")
            out.print(f"{indent}  {other}  {name}  [dim]{esc(extra)}[/]")


@app.command()
@handle_errors
def search(
    text: str = typer.Argument(..., help="Words to look for in names and synonyms."),
    kind: str = typer.Option(None, help="Only this kind (Disease, Phenotype, Gene, Drug, ...)."),
    limit: int = typer.Option(20, help="How many results."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Search entity names and synonyms, best matches first."""
    with store_from_options(store, path) as s:
        hits = s.search(text, limit=limit, kind=kind)
    if as_json:
        print_json(hits)
        return
    t = Table(title=esc(f"'{text}'"), title_justify="left")
    for c in ("score", "id", "kind", "name", "matched"):
        t.add_column(c)
    for h in hits:
        t.add_row(
            f"{h['score']:.2f}", *(esc(str(h[c] or "")) for c in ("id", "kind", "name", "matched"))
        )
    out.print(t)


FORMATS = {
    ".obo": "obo",
    ".owl": "owl",
    ".rdf": "owl",
    ".xml": "owl",
    ".ttl": "owl",
    ".nt": "owl",
    ".csv": "tables",
    ".tsv": "tables",
    ".txt": "tables",
    ".parquet": "tables",
}


@app.command("import")
@handle_errors
def import_cmd(
    file: Path = typer.Argument(
        ..., help="An OBO, OWL/RDF (RDF/XML, Turtle) or node table (CSV/TSV/Parquet) file."
    ),
    edges: Path | None = typer.Option(
        None, help="Edge table (tables only): src, rel, dst columns."
    ),
    loader: str | None = typer.Option(
        None,
        "--format",
        help="obo, owl, tables or sssom (default: from the extension; *.sssom.tsv is sssom).",
    ),
    name: str | None = typer.Option(None, help="Source name recorded as provenance."),
    version: str | None = typer.Option(None, help="Source version/release."),
    license: str | None = typer.Option(None, "--license", help="Source licence."),
    kind: str | None = typer.Option(None, help="Entity kind for the terms (default: per loader)."),
    prefix: list[str] | None = typer.Option(
        None,
        "--prefix",
        help="Declared prefix spelling: SEEN=CANONICAL, or for OWL PREFIX=IRI_BASE.",
    ),
    rare_subset: list[str] | None = typer.Option(
        None,
        "--rare-subset",
        help="OBO subset whose terms are rare diseases (repeatable): rare_reason subset:NAME.",
    ),
    store: str = StoreOption,
    path: Path = PathOption,
    wait: float = WaitOption,
    as_json: bool = JsonOption,
) -> None:
    """Add a user's ontology, tables or SSSOM mappings to the stored graph, then re-resolve
    and rebuild the tree."""
    from medkg.kg.build import assemble
    from medkg.kg.derive import imported_names, source_layer, with_imports, without_source
    from medkg.kg.sources.base import SOURCES

    if loader is None and file.name.lower().endswith(".sssom.tsv"):
        loader = "sssom"
    chosen = loader or FORMATS.get(file.suffix.lower())
    if chosen is None:
        raise UsageError(
            f"{file}: cannot tell the format from the extension; pass --format obo|owl|tables|sssom"
        )
    options: dict[str, Any] = {
        k: v for k, v in {"name": name, "version": version, "license": license}.items() if v
    }
    if kind:
        options["default_kind" if chosen == "tables" else "kind"] = kind
    if prefix:
        options["prefixes"] = _parse_pairs(prefix, "--prefix")
    if rare_subset:
        if chosen not in ("obo", "owl"):
            raise UsageError("--rare-subset applies to --format obo or owl only")
        options["rare_subsets"] = list(rare_subset)
    if edges is not None:
        if chosen != "tables":
            raise UsageError("--edges applies to --format tables only")
        options["edges"] = edges
    new = SOURCES.build(chosen, file, **options).load()
    src = new.sources[0]
    with store_from_options(store, path, wait) as s, s.writing():  # read-modify-write: locked
        # Re-importing a source replaces its earlier release instead of stacking on it.
        before = imported_names(s.manifest().get("report", {})) if s.exists() else []
        base = [without_source(source_layer(s.load()), src.name)] if s.exists() else []
        clashes = 0
        if base:
            clashes = new.nodes.join(base[0].nodes.select("id"), on="id", how="semi").height
        kg = with_imports(assemble([*base, new]), [*before, src.name])
        report = save_with_progress(s, kg)
    result = {
        "source": src.to_dict(),
        "nodes_added": new.nodes.height - clashes,
        "ids_in_other_sources_kept_existing": clashes,
        "edges_added": new.edges.height,
        "total_nodes": report.nodes,
        "total_edges": report.edges,
        "content_hash": report.content_hash,
        "report": new.report,
    }
    if as_json:
        print_json(result)
        return
    out.print(
        f"[green]imported[/] {src.name} {src.version}: {result['nodes_added']:,} new nodes, "
        f"{new.edges.height:,} edges → {report.nodes:,} nodes / {report.edges:,} edges in {report.location}"
    )
    if clashes:
        out.print(
            f"[yellow]{clashes:,} id(s) already in the graph from another source: the existing entity was kept[/]"
        )
    for k, v in new.report.items():
        out.print(f"  [dim]{k}: {v}[/]")


@app.command("export")
@handle_errors
def export_cmd(
    dest: Path = typer.Argument(..., help="Output file (.graphml, .ttl) or folder (parquet)."),
    fmt: str = typer.Option(
        None, "--format", help="parquet, graphml or ttl (default: from the extension)."
    ),
    kind: list[str] = typer.Option(None, "--kind", help="Only these kinds (repeatable)."),
    store: str = StoreOption,
    path: Path = PathOption,
    as_json: bool = JsonOption,
) -> None:
    """Export the stored graph to Parquet, GraphML or RDF Turtle."""
    from medkg.kg.export import EXPORTERS, check_export_target, export_graph

    fmt = fmt or {".graphml": "graphml", ".ttl": "ttl"}.get(dest.suffix.lower(), "parquet")
    if fmt not in EXPORTERS:
        raise UsageError(f"unknown export format {fmt!r}; choose from {sorted(EXPORTERS)}")
    check_export_target(dest, fmt)
    with store_from_options(store, path) as s:
        kg = s.load()
    known = set(kg.nodes.get_column("kind").unique().to_list())
    unknown = sorted(set(kind or []) - known)
    if unknown:  # a misspelt kind would export an empty graph
        raise UsageError(
            f"--kind {', '.join(unknown)}: not in the graph; its kinds: {sorted(known)}"
        )
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as p:
        p.add_task(f"writing {fmt} to {dest}", total=None)
        counts = export_graph(kg, dest, fmt, kinds=kind or None)
    if as_json:
        print_json({"format": fmt, "dest": str(dest), **counts})
    else:
        out.print(
            f"[green]exported[/] {counts['nodes']:,} nodes, {counts['edges']:,} edges as {fmt} → {dest}"
        )


from medkg.cli import kg_mappings  # noqa: E402  (registers the `kg mappings` commands)

app.add_typer(kg_mappings.app, name="mappings", help="SSSOM mappings in and out.")
