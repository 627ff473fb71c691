"""Generic node and edge tables (CSV, TSV or Parquet) a user points at.

The schema is documented in ``docs/tables.md``. In short: a nodes table with required
``id, name`` and optional ``kind, definition, synonyms, synonym_scopes, xrefs, obsolete,
parent`` (every other column goes into ``props``), and an optional edges table with
required ``src, rel, dst`` and optional qualifier columns of ``EDGE_SCHEMA`` (every other
column goes into ``props``).

Files are read with polars; a light scan of the raw text keeps the line of every data
row, so each error names the file and line (header = line 1). Parquet errors name the
1-based row instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.kg.curie import (
    CurieError,
    is_known_prefix,
    normalise_curie,
    normalise_prefix,
    prefix_of,
    try_normalise_curie,
)
from medkg.kg.hierarchy import break_cycles
from medkg.kg.model import (
    CATEGORY,
    IS_A,
    KnowledgeGraph,
    SourceInfo,
    edges_frame,
    nodes_frame,
    stamp,
)
from medkg.kg.sources.base import Source, SourceError, register_source
from medkg.kg.sources.table_io import (
    FORMAT_BY_SUFFIX,
    Table,
    as_bool,
    as_float,
    as_list,
    cell,
    jsonable,
    read_table,
    table_format,
)

NODE_REQUIRED = ("id", "name")
NODE_OPTIONAL = ("kind", "definition", "synonyms", "synonym_scopes", "xrefs", "obsolete", "parent")
EDGE_REQUIRED = ("src", "rel", "dst")
EDGE_STRING_COLUMNS = ("frequency", "onset", "evidence", "reference", "method")
EDGE_FLOAT_COLUMNS = ("frequency_value", "confidence")
EDGE_BOOL_COLUMNS = ("negated",)
EDGE_OPTIONAL = (*EDGE_BOOL_COLUMNS, *EDGE_STRING_COLUMNS, *EDGE_FLOAT_COLUMNS)
SYNONYM_SCOPES = ("EXACT", "NARROW", "BROAD", "RELATED")
DEFAULT_SYNONYM_SCOPE = "RELATED"  # as in OBO: a synonym without a scope is RELATED
RELATION_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def own_prefix_spellings(ids: Sequence[Any]) -> dict[str, str]:
    """For prefixes medkg does not know, the most used spelling of each (case-insensitive).

    ``mydb:1`` and ``MYDB:2`` in one table are one prefix; the majority spelling wins
    (ties: the alphabetically first), so the table's own ids come out consistent.
    """
    seen: Counter[str] = Counter()
    for value in ids:
        if isinstance(value, str) and ":" in value:
            prefix = value.strip().partition(":")[0]
            if prefix and not is_known_prefix(prefix):
                seen[prefix] += 1
    best: dict[str, str] = {}
    for prefix, _n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])):
        best.setdefault(prefix.upper(), prefix)
    return {prefix: best[prefix.upper()] for prefix in seen}


def suggest_relation(rel: str) -> str:
    """An upper-snake-case spelling of a relation name, for error hints."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", rel).strip("_").upper()
    return text if text and text[0].isalpha() else f"R_{text}"


# --------------------------------------------------------------------------- the source
@register_source("tables")
class TablesSource(Source):
    """Node and edge tables in CSV, TSV or Parquet (schema in docs/tables.md).

    ``path`` is the nodes file, or a folder holding exactly one ``nodes.{csv,tsv,parquet}``
    and at most one ``edges.*``. Options: ``nodes`` (alias of ``path``), ``edges`` (edges
    file; overrides the folder's), ``name`` / ``version`` / ``license`` (provenance;
    default ``tables`` / ``unknown`` / ``unknown``), ``prefixes`` (``{"PREFIX": "IRI
    base"}``: prefixes beyond medkg's built-in ones; cells in them are case-normalised and
    count as known), ``allow_external`` (keep edge endpoints that are in neither the nodes
    table nor a known prefix as stub nodes instead of failing), ``default_kind``
    (``Category``), ``list_separator`` (``|``), ``format`` (``csv``/``tsv``/``parquet``
    for both files, default from the extension).
    """

    title = "Generic node/edge tables (CSV, TSV, Parquet)"
    default_enabled = False
    OPTIONS = (
        "nodes",
        "edges",
        "name",
        "version",
        "license",
        "prefixes",
        "allow_external",
        "default_kind",
        "list_separator",
        "format",
    )
    option_names = frozenset(OPTIONS)  # checked by the registry, too

    def __init__(self, path: str | Path | None = None, **options: Any) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise UsageError(f"unknown tables source options: {sorted(unknown)}")
        if path is not None and options.get("nodes") is not None:
            raise UsageError("pass the nodes file as path or as nodes=, not both")
        super().__init__(path if path is not None else options.get("nodes"), **options)
        prefixes: Mapping[str, str] = options.get("prefixes") or {}
        self.declared = {p: normalise_prefix(p) for p in prefixes}
        self._aliases: dict[str, str] = dict(self.declared)  # + the table's own prefixes, per load
        self._prefix_cache: dict[str, str | None] = {}
        self.known_declared = {normalise_prefix(p).upper() for p in prefixes}
        self.sep = str(options.get("list_separator", "|"))

    # ----------------------------------------------------------------- files
    def files(self) -> tuple[Path, Path | None]:
        """The nodes file and the edges file (or None)."""
        edges_opt = self.options.get("edges")
        edges = Path(edges_opt) if edges_opt is not None else None
        if not self.path.is_dir():
            return self.path, edges
        nodes = _one_named(self.path, "nodes", required=True)
        assert nodes is not None
        return nodes, edges if edges is not None else _one_named(self.path, "edges", required=False)

    def info(self, nodes_path: Path) -> SourceInfo:
        return SourceInfo(
            name=str(self.options.get("name") or "tables"),
            version=str(self.options.get("version") or "unknown"),
            license=str(self.options.get("license") or "unknown"),
            path=str(nodes_path),
        )

    # ----------------------------------------------------------------- ids
    def _normalise(self, raw: str) -> str | None:
        """Normalised CURIE for a stripped cell, or None when it is not a CURIE."""
        if "://" not in raw:  # fast path: one normalise_prefix per distinct prefix
            prefix, sep, local = raw.partition(":")
            if prefix in self._prefix_cache:
                canon = self._prefix_cache[prefix]
            else:
                try:
                    canon = prefix_of(normalise_curie(f"{prefix}:x", self._aliases))
                except CurieError:
                    canon = None
                self._prefix_cache[prefix] = canon
            local = local.strip()
            if sep and local and canon is not None and canon != "MESH":
                return f"{canon}:{local}"
        return try_normalise_curie(raw, self._aliases)

    def _curie(
        self, table: Table, row: int, column: str, value: Any, spellings: Counter[str]
    ) -> str:
        """Normalised CURIE for an id cell (respellings counted); a bad cell raises with the line."""
        raw = cell(value)
        if raw is None:
            raise table.error(row, f"empty {column}")
        raw = str(raw)
        curie = self._normalise(raw)
        if curie is None:
            raise table.error(row, f"{column} {raw!r} is not a CURIE (expected PREFIX:local)")
        written = raw.partition(":")[0]
        canon = prefix_of(curie)
        if written != canon:
            spellings[f"{written}->{canon}"] += 1
        return curie

    def _known(self, curie: str) -> bool:
        prefix = prefix_of(curie)
        return is_known_prefix(prefix) or prefix.upper() in self.known_declared

    # ----------------------------------------------------------------- load
    def _load(self) -> KnowledgeGraph:
        nodes_path, edges_path = self.files()
        fmt = self.options.get("format")
        info = self.info(nodes_path)
        report: Counter[str] = Counter()
        spellings: Counter[str] = Counter()

        nodes_table = read_table(nodes_path, table_format(nodes_path, fmt))
        self._aliases = {**own_prefix_spellings(nodes_table.column("id") or []), **self.declared}
        self._prefix_cache = {}
        node_rows, pending = self._node_rows(nodes_table, report, spellings)
        ids = {r["id"]: i for i, r in enumerate(node_rows)}
        edge_rows: list[dict[str, Any]] = []
        stubs: set[str] = set()
        for table, row, edge in pending:  # parent shorthand -> IS_A
            self._check_endpoints(table, row, edge, ids, stubs, report, ends=("dst",))
            edge_rows.append(edge)
        if edges_path is not None:
            edges_table = read_table(edges_path, table_format(edges_path, fmt))
            for row, edge in self._edge_rows(edges_table, spellings):
                self._check_endpoints(edges_table, row, edge, ids, stubs, report)
                edge_rows.append(edge)

        default_kind = str(self.options.get("default_kind") or CATEGORY)
        node_rows.extend(
            {"id": s, "kind": default_kind, "name": s, "props": {"stub": True}}
            for s in sorted(stubs)
        )
        if spellings:
            report["tables.prefix_spellings_normalised"] = sum(spellings.values())

        nodes = stamp(nodes_frame(node_rows), info)
        edges = edges_frame(edge_rows)
        unique = edges.unique(maintain_order=True)  # exact repeats: endpoints, qualifiers, props
        if unique.height != edges.height:
            report["tables.duplicate_edges_dropped"] = edges.height - unique.height
        edges, removed = break_cycles(unique)
        if removed:
            report["tables.is_a_cycle_edges_removed"] = len(removed)
        edges = stamp(edges, info)
        counts = {
            "nodes": nodes.height,
            "stub_nodes": len(stubs),
            **{f"edges.{k}": v for k, v in sorted(edges.group_by("rel").len().iter_rows())},
        }
        info = SourceInfo(
            name=info.name,
            version=info.version,
            license=info.license,
            path=info.path,
            counts=counts,
        )
        full_report: dict[str, Any] = {f"{info.name}.{k}": v for k, v in sorted(report.items())}
        if spellings:
            full_report[f"{info.name}.tables.prefix_spellings_normalised.detail"] = dict(
                sorted(spellings.items())
            )
        if removed:
            full_report[f"{info.name}.tables.is_a_cycle_edges_removed.sample"] = [
                f"{s} IS_A {d}" for s, d in removed[:10]
            ]
        return KnowledgeGraph.from_frames(nodes, edges, [info], full_report)

    def _node_rows(
        self, table: Table, report: Counter[str], spellings: Counter[str]
    ) -> tuple[list[dict[str, Any]], list[tuple[Table, int, dict[str, Any]]]]:
        _require(table, NODE_REQUIRED)
        if table.height == 0:
            raise SourceError(table.path, "no data rows (only a header)")
        col = {c: table.column(c) for c in (*NODE_REQUIRED, *NODE_OPTIONAL)}
        known = {*NODE_REQUIRED, *NODE_OPTIONAL}
        extra = [h for h in table.header if h.lower() not in known]
        default_kind = str(self.options.get("default_kind") or CATEGORY)
        first_line: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        pending: list[tuple[Table, int, dict[str, Any]]] = []

        def get(name: str, i: int) -> Any:
            values = col[name]
            return cell(values[i]) if values is not None else None

        for i in range(table.height):
            node_id = self._curie(table, i, "id", get("id", i), spellings)
            if node_id in first_line:
                first = first_line[node_id]
                raise table.error(i, f"duplicate id {node_id} (first on {table.where(first)})")
            first_line[node_id] = i
            name = get("name", i)
            if name is None:
                raise table.error(i, f"empty name for {node_id}")
            synonyms = as_list(get("synonyms", i), self.sep)
            scopes = as_list(get("synonym_scopes", i), self.sep)
            if scopes:
                scopes = [s.upper() for s in scopes]
                bad = [s for s in scopes if s not in SYNONYM_SCOPES]
                if bad or len(scopes) != len(synonyms):
                    raise table.error(
                        i,
                        f"synonym_scopes must give one of {SYNONYM_SCOPES} per synonym "
                        f"({len(synonyms)} synonyms, scopes {scopes})",
                    )
            else:
                scopes = [DEFAULT_SYNONYM_SCOPE] * len(synonyms)
            xrefs: list[str] = []
            for x in as_list(get("xrefs", i), self.sep):
                norm = self._normalise(x) if "://" not in x else None
                if norm is None:
                    report["tables.xrefs_not_curie_kept_as_written"] += 1
                xrefs.append(norm or x)
            props = {h: jsonable(v) for h in extra if (v := cell(table.columns[h][i])) is not None}
            rows.append(
                {
                    "id": node_id,
                    "kind": str(get("kind", i) or default_kind),
                    "name": str(name),
                    "definition": get("definition", i),
                    "synonyms": synonyms,
                    "synonym_scopes": scopes,
                    "xrefs": sorted(set(xrefs)),
                    "obsolete": bool(as_bool(table, i, "obsolete", get("obsolete", i))),
                    "props": props,
                }
            )
            for parent in as_list(get("parent", i), self.sep):
                dst = self._curie(table, i, "parent", parent, spellings)
                pending.append((table, i, {"src": node_id, "rel": IS_A, "dst": dst}))
        return rows, pending

    def _edge_rows(self, table: Table, spellings: Counter[str]) -> list[tuple[int, dict[str, Any]]]:
        _require(table, EDGE_REQUIRED)
        col = {c: table.column(c) for c in (*EDGE_REQUIRED, *EDGE_OPTIONAL)}
        known = {*EDGE_REQUIRED, *EDGE_OPTIONAL}
        extra = [h for h in table.header if h.lower() not in known]
        out: list[tuple[int, dict[str, Any]]] = []

        def get(name: str, i: int) -> Any:
            values = col[name]
            return values[i] if values is not None else None

        for i in range(table.height):
            rel = cell(get("rel", i))
            if rel is None:
                raise table.error(i, "empty rel")
            rel = str(rel)
            if not RELATION_RE.match(rel):
                raise table.error(
                    i,
                    f"relation {rel!r} must be upper snake case (^[A-Z][A-Z0-9_]*$), e.g. {suggest_relation(rel)}",
                )
            edge: dict[str, Any] = {
                "src": self._curie(table, i, "src", get("src", i), spellings),
                "rel": rel,
                "dst": self._curie(table, i, "dst", get("dst", i), spellings),
            }
            for c in EDGE_BOOL_COLUMNS:
                edge[c] = as_bool(table, i, c, get(c, i))
            for c in EDGE_FLOAT_COLUMNS:
                edge[c] = as_float(table, i, c, get(c, i))
            for c in EDGE_STRING_COLUMNS:
                v = cell(get(c, i))
                edge[c] = None if v is None else str(v)
            confidence = edge["confidence"]
            if confidence is not None and not 0.0 <= confidence <= 1.0:
                raise table.error(i, f"confidence {confidence} is outside [0, 1]")
            props = {h: jsonable(v) for h in extra if (v := cell(table.columns[h][i])) is not None}
            edge["props"] = props
            out.append((i, edge))
        return out

    def _check_endpoints(
        self,
        table: Table,
        row: int,
        edge: dict[str, Any],
        ids: Mapping[str, int],
        stubs: set[str],
        report: Counter[str],
        ends: tuple[str, ...] = ("src", "dst"),
    ) -> None:
        """An endpoint must be a node of this table, a known prefix, or (opt-in) a stub."""
        for end in ends:
            curie = edge[end]
            if curie in ids or curie in stubs:
                continue
            if self._known(curie):
                report["tables.endpoints_in_other_sources"] += 1
                continue
            if not self.options.get("allow_external", False):
                what = "parent" if ends == ("dst",) else end
                raise table.error(
                    row,
                    f"{what} {curie} is not in the nodes table and {prefix_of(curie)!r} is not a known "
                    "prefix; add the node, declare the prefix (prefixes=), or pass allow_external=True",
                )
            report["tables.external_endpoints_stubbed"] += 1
            stubs.add(curie)


def _require(table: Table, required: Sequence[str]) -> None:
    lower = {h.lower() for h in table.header}
    missing = [c for c in required if c not in lower]
    if missing:
        raise SourceError(
            table.path,
            f"missing required column(s) {', '.join(repr(c) for c in missing)} "
            f"(header has {', '.join(repr(h) for h in table.header)})",
            1 if table.lines is not None else None,
        )


def _one_named(folder: Path, stem: str, *, required: bool) -> Path | None:
    hits = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.stem == stem and p.suffix.lower() in FORMAT_BY_SUFFIX
    )
    if len(hits) > 1:
        raise SourceError(
            folder, f"several {stem} tables: {', '.join(p.name for p in hits)}; keep one"
        )
    if not hits:
        if required:
            raise SourceError(folder, f"no {stem}.csv, {stem}.tsv or {stem}.parquet in this folder")
        return None
    return hits[0]


__all__ = [
    "EDGE_REQUIRED",
    "NODE_REQUIRED",
    "Table",
    "TablesSource",
    "read_table",
    "table_format",
]
