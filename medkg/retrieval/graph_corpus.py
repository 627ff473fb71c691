"""The graph corpus: one text card per entity of the knowledge graph, and a retriever that
answers HeteroRAG-style ``"term, relation"`` look-ups on those cards.

A card (a :class:`~medkg.retrieval.base.Document`: id = entity id, title = name) holds the
entity's name, kind, synonyms, definition, its parent in the medical entity tree and its
one-hop relations rendered as sentences in both directions, e.g. ``"Marfan syndrome has
phenotype Arachnodactyly (very frequent)."`` on the cards of both ends. At most
``per_relation`` sentences are kept per relation type and direction (the most frequent
phenotypes first, then by name), the rest counted; a card stops adding sentences at
``max_chars`` and says how many it left out. Structural MET categories (``MET:*``) and
obsolete terms get no card. Cards come in entity id order, so the corpus is deterministic.

The card's metadata keeps the rendered relations as records (``rel``, ``dir``, ``other``,
``other_kind``, ``text``), which is all :class:`GraphRetriever` needs: it indexes card
chunks, resolves a term by its name (score 1.0) or a synonym (0.9), case- and
punctuation-insensitive (falling back to :func:`medkg.kg.search.search_nodes` prefix and
word matches, 0.8 to 0.5), and answers with the entity's definition plus its relations of
the asked type (or, when it has none, those of its exact equivalents, said so: the card's
metadata lists them), or the whole card for a plain term.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import polars as pl

from medkg.kg import model as m
from medkg.kg.equivalents import equivalence_map
from medkg.kg.resolve import normalise_name
from medkg.kg.search import search_keys, search_nodes
from medkg.outputs import legacy_manifest, staged_folder
from medkg.retrieval.base import Chunk, Document, Hit, RetrievalError, Retriever, register_retriever
from medkg.retrieval.readers import ReadReport, reader

CARD_MAX_CHARS = 2000
PER_RELATION = 8
MAX_SYNONYMS = 10
MAX_DEFINITION_CHARS = 600
EXACT_SCORE = 1.0
SYNONYM_SCORE = 0.9
INDEX_KEY = "graph"
INDEX_VERSION = 1
CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))

# How each relation reads as "<src> <phrase> <dst>."; the order is the order on a card.
REL_PHRASES = {
    m.IS_A: "is a subtype of",
    m.HAS_INHERITANCE: "has mode of inheritance",
    m.HAS_PHENOTYPE: "has phenotype",
    m.GENE_ASSOCIATED_WITH: "is a gene associated with",
    m.GENE_HAS_PHENOTYPE: "is a gene associated with phenotype",
    m.HAS_CLINICAL_COURSE: "has clinical course",
    m.HAS_MODIFIER: "has clinical modifier",
    m.HAS_MEDICAL_HISTORY: "has medical history",
    m.MAPS_TO: "maps to",
    m.REPLACED_BY: "is replaced by",
}
NEGATED_PHRASES = {m.HAS_PHENOTYPE: "does not have phenotype"}
# HPO frequency classes, for graphs that do not hold the HP:0040279 subtree
FREQUENCY_LABELS = {
    "HP:0040280": "obligate",
    "HP:0040281": "very frequent",
    "HP:0040282": "frequent",
    "HP:0040283": "occasional",
    "HP:0040284": "very rare",
    "HP:0040285": "excluded",
}


# ----------------------------------------------------------------------------- cards
def graph_documents(
    kg: m.KnowledgeGraph, max_chars: int = CARD_MAX_CHARS, per_relation: int = PER_RELATION
) -> list[Document]:
    """One card per entity (MET categories and obsolete terms excepted), by entity id."""
    if max_chars < 200 or per_relation < 1:
        raise RetrievalError(
            f"graph cards: max_chars >= 200 and per_relation >= 1 needed, "
            f"got {max_chars}, {per_relation}"
        )
    names = dict(zip(kg.nodes.get_column("id"), kg.nodes.get_column("name"), strict=True))
    kinds = dict(zip(kg.nodes.get_column("id"), kg.nodes.get_column("kind"), strict=True))
    cols = ["id", "kind", "name", "definition", "synonyms"]
    if kg.has_tree:
        cols.append("met_parent")
    entities = (
        kg.nodes.filter(
            ~pl.col("obsolete").fill_null(False) & ~pl.col("id").str.starts_with("MET:")
        )
        .select(cols)
        .sort("id")
    )
    relations = _relations(kg, entities.get_column("id"), names, kinds, per_relation)
    equivalents = equivalence_map(kg.edges)
    docs = []
    for node in entities.iter_rows(named=True):
        rels, omitted = relations.get(node["id"], ([], 0))
        parent = node.get("met_parent")
        doc = _card(node, names.get(parent) if parent else None, rels, omitted, max_chars)
        doc.metadata["equivalents"] = equivalents.get(node["id"], [])
        docs.append(doc)
    return docs


def graph_chunks(
    kg: m.KnowledgeGraph,
    corpus: str = "graph",
    max_chars: int = CARD_MAX_CHARS,
    per_relation: int = PER_RELATION,
) -> list[Chunk]:
    """The graph corpus as chunks, one per card (``"<corpus>:<entity id>:0"``)."""
    return [card_chunk(d, corpus) for d in graph_documents(kg, max_chars, per_relation)]


def card_chunk(doc: Document, corpus: str) -> Chunk:
    return Chunk(
        f"{corpus}:{doc.doc_id}:0",
        corpus,
        doc.doc_id,
        doc.title,
        doc.text,
        0,
        len(doc.text),
        dict(doc.metadata),
    )


@reader("graph")
def read_graph_store(
    path: Path,
    problems: Any,
    report: ReadReport,
    max_chars: int = CARD_MAX_CHARS,
    per_relation: int = PER_RELATION,
) -> Iterator[Document]:
    """Cards of the graph held by an embedded store folder (``medkg kg build`` output)."""
    from medkg.kg.stores.base import StoreError
    from medkg.kg.stores.embedded import EmbeddedStore

    try:
        kg = EmbeddedStore(path).load()
    except StoreError as exc:
        raise RetrievalError(f"{path}: cannot read the graph store: {exc}") from None
    report.bytes_read = sum(p.stat().st_size for p in path.glob("*.parquet"))
    yield from graph_documents(kg, max_chars, per_relation)


def _relations(
    kg: m.KnowledgeGraph, ids: pl.Series, names: dict[str, str], kinds: dict[str, str], cap: int
) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """Per entity: its capped relation records in card order, and how many were left out.

    Sentences are rendered column-wise: one per (entity, relation, direction, other end,
    negation), the qualifiers of its annotations (frequency, onset) joined.
    """
    edges = kg.edges.select(
        "src", "rel", "dst", pl.col("negated").fill_null(False), "frequency",
        "frequency_value", "onset",
    ).unique()  # fmt: skip
    terms = set(edges.get_column("frequency").drop_nulls()) | set(
        edges.get_column("onset").drop_nulls()
    )
    labels = {t: names[t].lower() if names.get(t) else FREQUENCY_LABELS.get(t, t) for t in terms}
    qual = pl.concat_str(
        pl.col("frequency").replace_strict(labels, default=None, return_dtype=pl.String),
        "onset " + pl.col("onset").replace_strict(labels, default=None, return_dtype=pl.String),
        separator=", ",
        ignore_nulls=True,
    )
    order = {rel: i for i, rel in enumerate(REL_PHRASES)}
    group = ["entity", "rel_order", "rel", "dir", "other", "negated"]
    pairs = (
        pl.concat(
            [
                edges.with_columns(entity=pl.col("src"), other=pl.col("dst"), dir=pl.lit("out")),
                edges.with_columns(entity=pl.col("dst"), other=pl.col("src"), dir=pl.lit("in")),
            ]
        )
        .filter(pl.col("entity").is_in(ids.implode()))
        .with_columns(
            rel_order=pl.col("rel").replace_strict(
                order, default=len(order), return_dtype=pl.Int32
            ),
            qual=pl.when(qual != "").then(qual),
        )
        .group_by(group)
        .agg(
            pl.col("src").first(),
            pl.col("dst").first(),
            # the most frequent annotation's qualifiers first; ties by text (deterministic)
            pl.col("qual")
            .sort_by(["frequency_value", "qual"], descending=[True, False], nulls_last=True)
            .drop_nulls()
            .unique(maintain_order=True)
            .str.join("; "),
            pl.col("frequency_value").max().alias("best"),
        )
        .with_columns(_name("other", names))
        .sort(
            [*group[:4], "best", "other_name", "other", "negated"],
            descending=[False, False, False, False, True, False, False, False],
            nulls_last=True,
        )
        .with_columns(
            pos=pl.int_range(pl.len()).over(["entity", "rel", "dir"]),
            n=pl.len().over(["entity", "rel", "dir"]),
        )
    )
    omitted = dict(
        pairs.filter(pl.col("pos") == 0)
        .group_by("entity")
        .agg((pl.col("n") - pl.col("n").clip(upper_bound=cap)).sum())
        .iter_rows()
    )
    shown = _sentences(
        pairs.filter(pl.col("pos") < cap).with_columns(
            _name("src", names),
            _name("dst", names),
            other_kind=pl.col("other").replace_strict(kinds, default=None),
        )
    )
    out: dict[str, tuple[list[dict[str, Any]], int]] = {}
    cols = ("rel", "dir", "other", "other_kind", "text")
    for entity, *values in shown.select("entity", *cols).iter_rows():
        if entity not in out:
            out[entity] = ([], omitted.get(entity, 0))
        out[entity][0].append(dict(zip(cols, values, strict=True)))
    return out


def _sentences(pairs: pl.DataFrame) -> pl.DataFrame:
    """Add ``text``: ``"<src name> <phrase> <dst name> (<qualifiers>)."`` per relation row."""
    phrase = (
        pl.when(pl.col("negated") & pl.col("rel").is_in(list(NEGATED_PHRASES)))
        .then(pl.col("rel").replace_strict(NEGATED_PHRASES, default=None))
        .otherwise(
            pl.col("rel").replace_strict(
                REL_PHRASES, default=pl.col("rel").str.to_lowercase().str.replace_all("_", " ")
            )
        )
    )
    tail = pl.when(pl.col("qual") != "").then(" (" + pl.col("qual") + ").").otherwise(pl.lit("."))
    with_id = {c: pl.col(f"{c}_name") + " (" + pl.col(c) + ")" for c in ("src", "dst")}
    # mapped names are often the same: the id tells them apart
    obj = pl.when(pl.col("rel").is_in([m.MAPS_TO, m.REPLACED_BY])).then(with_id["dst"])
    plain = pl.concat_str(
        pl.col("src_name"), phrase, obj.otherwise(pl.col("dst_name")), separator=" "
    )
    ids_text = pl.concat_str(with_id["src"], phrase, with_id["dst"], separator=" ")
    return pairs.with_columns(text=plain + tail, ids_text=ids_text + tail).with_columns(
        # e.g. a gene associated with two diseases of the same name: say which is which
        text=pl.when(pl.len().over(["entity", "text"]) > 1).then("ids_text").otherwise("text")
    )


def _name(column: str, names: dict[str, str]) -> pl.Expr:
    """``<column>_name``: the node name of the id in ``column`` (the id when it has none)."""
    named = pl.col(column).replace_strict(names, default=None, return_dtype=pl.String)
    return named.fill_null(pl.col(column)).alias(f"{column}_name")


def _card(
    node: dict[str, Any],
    parent_name: str | None,
    relations: list[dict[str, Any]],
    omitted: int,
    max_chars: int,
) -> Document:
    name = node["name"] or node["id"]
    synonyms = [s for s in (node["synonyms"] or []) if s and s != name]
    definition = _clip(node["definition"] or "", MAX_DEFINITION_CHARS)
    lines = [name, f"{node['kind']} {node['id']}."]
    if synonyms:
        more = len(synonyms) - MAX_SYNONYMS
        tail = f" (and {more} more)" if more > 0 else ""
        lines.append(_clip(f"Also known as: {'; '.join(synonyms[:MAX_SYNONYMS])}{tail}.", 400))
    if definition:
        lines.append(f"Definition: {definition}")
    if parent_name:
        lines.append(f"Parent in the medical entity tree: {parent_name}.")
    used = sum(len(x) + 1 for x in lines) - 1
    texts = sum(len(r["text"]) + 1 for r in relations)
    # room for the closing count line, unless every relation fits
    closing = f"({omitted + len(relations)} more relations of {name} not listed.)"
    reserve = 0 if not omitted and used + texts <= max_chars else len(closing) + 1
    shown = 0
    for rel in relations:
        if used + len(rel["text"]) + 1 > max_chars - reserve:
            break
        lines.append(rel["text"])
        used += len(rel["text"]) + 1
        shown += 1
    left = omitted + len(relations) - shown
    if left:
        lines.append(f"({left} more relations of {name} not listed.)")
    meta = {
        "kind": node["kind"],
        "name": name,
        "synonyms": synonyms,
        "definition": definition,
        "met_parent": node.get("met_parent"),
        "met_parent_name": parent_name,
        "relations": relations,
        "relations_not_listed": left,
    }
    return Document(node["id"], name, "\n".join(lines), meta)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + " …"


# ----------------------------------------------------------------------------- look-ups
@dataclass(frozen=True)
class RelationLookup:
    """What a relation word asks for: relation types, a direction, the other end's kind."""

    label: str
    rels: frozenset[str] = frozenset()
    direction: str | None = None  # "out", "in", or None for both
    other_kind: str | None = None


_PHENOTYPE, _GENE, _DISEASE = (
    RelationLookup(word, frozenset(rels), None, kind)
    for word, rels, kind in (
        ("phenotype", {m.HAS_PHENOTYPE, m.GENE_HAS_PHENOTYPE}, m.PHENOTYPE),
        ("gene", {m.GENE_ASSOCIATED_WITH, m.GENE_HAS_PHENOTYPE}, m.GENE),
        ("disease", {m.HAS_PHENOTYPE, m.GENE_ASSOCIATED_WITH}, m.DISEASE),
    )
)
# relation words of "term, relation" queries, "|"-separated (matched after normalise_name)
_WORDS: dict[RelationLookup, str] = {
    _PHENOTYPE: "phenotype|phenotypes|symptom|symptoms|sign|signs|feature|features|"
    "clinical features|manifestations|findings",
    _GENE: "gene|genes|associated gene|associated genes|causal gene|genetics",
    _DISEASE: "disease|diseases|disorder|disorders|associated diseases",
    RelationLookup("parent", frozenset({m.IS_A}), "out"): "parent|parents|hypernym|hypernyms|"
    "broader|is a|subtype of|category",
    RelationLookup("child", frozenset({m.IS_A}), "in"): "child|children|subtype|subtypes|"
    "subclass|subclasses|narrower",
    RelationLookup("inheritance", frozenset({m.HAS_INHERITANCE})): "inheritance|"
    "mode of inheritance|inheritance pattern|inheritance mode",
    RelationLookup("clinical course", frozenset({m.HAS_CLINICAL_COURSE})): "onset|"
    "clinical course|course",
    RelationLookup("modifier", frozenset({m.HAS_MODIFIER})): "modifier|modifiers",
    RelationLookup("medical history", frozenset({m.HAS_MEDICAL_HISTORY})): "medical history|"
    "history",
    RelationLookup("mapping", frozenset({m.MAPS_TO})): "mapping|mappings|maps to|xref|xrefs|"
    "equivalent|same as",
    RelationLookup("replaced by", frozenset({m.REPLACED_BY})): "replaced by|replacement",
    RelationLookup("definition"): "definition|define|meaning|what is",
    RelationLookup("synonym"): "synonym|synonyms|alias|aliases|other names",
}
RELATION_WORDS: dict[str, RelationLookup] = {
    normalise_name(rel): RelationLookup(rel.lower().replace("_", " "), frozenset({rel}))
    for rel in REL_PHRASES
}
RELATION_WORDS.update({w: look for look, words in _WORDS.items() for w in words.split("|")})


def parse_lookup(query: str) -> tuple[str, RelationLookup | None]:
    """Split ``"term, relation"``; a query whose last comma part is not a relation word
    (e.g. ``"Diseases, Hereditary"``) is a plain term."""
    if "," in query:
        term, word = query.rsplit(",", 1)
        look = RELATION_WORDS.get(normalise_name(word))
        if look is not None and term.strip():
            return term.strip(), look
    return query.strip(), None


@register_retriever("graph")
class GraphRetriever(Retriever):
    """``"term, relation"`` look-ups over graph-corpus cards (see the module docstring)."""

    def __init__(self, corpus: str = "graph") -> None:
        self.corpus = corpus
        self._chunks: dict[str, Chunk] = {}  # by chunk id, in insertion order
        self._cards: dict[str, Chunk] = {}  # by entity id: its first chunk
        self._names: dict[str, dict[str, float]] = {}  # normalised name -> entity id -> score
        self._frame: pl.DataFrame | None = None  # for partial matches, built on demand
        self._keys: pl.DataFrame | None = None  # its normalised names (search_keys)

    @property
    def size(self) -> int:
        return len(self._chunks)

    def add(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            self._chunks[chunk.chunk_id] = chunk
            card = self._cards.get(chunk.doc_id)
            if card is not None and _ordinal(card) < _ordinal(chunk):
                continue
            self._cards[chunk.doc_id] = chunk
            meta = chunk.metadata
            keys = [(meta.get("name") or chunk.title, EXACT_SCORE)]
            keys += [(s, SYNONYM_SCORE) for s in meta.get("synonyms") or []]
            for text, score in keys:
                entry = self._names.setdefault(normalise_name(text), {})
                entry[chunk.doc_id] = max(entry.get(chunk.doc_id, 0.0), score)
        self._frame = None
        self._keys = None

    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        if isinstance(queries, str):
            raise RetrievalError("search takes a list of queries, not one string")
        out = []
        for query in queries:
            term, look = parse_lookup(query)
            matches = self.resolve(term)[:k]
            hits = []
            for rank, (entity, score) in enumerate(matches, 1):
                card = self._cards[entity]
                chunk = card if look is None else _lookup_chunk(card, look, self._cards)
                hits.append(Hit(chunk, score, rank))
            out.append(hits)
        return out

    def resolve(self, term: str) -> list[tuple[str, float]]:
        """Entities named ``term``: exact name 1.0, synonym 0.9, else partial matches
        (0.8 to 0.5); better-connected entities first among equals, then by id."""
        key = normalise_name(term)
        if not key:
            return []
        found = dict(self._names.get(key, {}))
        if not found:
            frame = self._name_frame()
            if self._keys is None:
                self._keys = search_keys(frame)
            hits = search_nodes(frame, term, 50, keys=self._keys)
            found = {r["id"]: r["score"] for r in hits}

        def order(item: tuple[str, float]) -> tuple[float, int, str]:
            rels = self._cards[item[0]].metadata.get("relations") or []
            return (-item[1], -len(rels), item[0])

        return sorted(found.items(), key=order)

    def _name_frame(self) -> pl.DataFrame:
        if self._frame is None:
            rows = [
                {
                    "id": c.doc_id,
                    "kind": c.metadata.get("kind", ""),
                    "name": c.metadata.get("name") or c.title,
                    "synonyms": list(c.metadata.get("synonyms") or []),
                }
                for c in self._cards.values()
            ]
            schema: dict[str, pl.DataType] = {
                "id": pl.String(),
                "kind": pl.String(),
                "name": pl.String(),
                "synonyms": pl.List(pl.String),
            }
            self._frame = pl.DataFrame(rows, schema=schema)
        return self._frame

    def meta(self) -> dict[str, Any]:
        """What an evidence manifest records about this index (as the other backends'
        ``meta()``): backend, version, corpus and number of chunks; no model."""
        return {
            "backend": INDEX_KEY,
            "version": INDEX_VERSION,
            "corpus": self.corpus,
            "n_chunks": self.size,
            "model": None,
            "dim": None,
        }

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        legacy = legacy_manifest("meta.json", key=INDEX_KEY)
        with staged_folder(folder, "retrieval-index", legacy=legacy) as tmp:
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
                for chunk in self._chunks.values():
                    # field by field: dataclasses.asdict deep-copies every metadata record
                    record = {f: getattr(chunk, f) for f in CHUNK_FIELDS}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            meta = {
                "backend": INDEX_KEY,  # as the other retrievers write it (load_retriever)
                "key": INDEX_KEY,
                "version": INDEX_VERSION,
                "corpus": self.corpus,
                "size": self.size,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> GraphRetriever:
        folder = Path(folder)
        meta_path = folder / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RetrievalError(f"{meta_path}: no saved index here") from None
        except (OSError, ValueError) as exc:
            raise RetrievalError(f"{meta_path}: unreadable index metadata ({exc})") from None
        found = meta.get("backend", meta.get("key")) if isinstance(meta, dict) else None
        if found != INDEX_KEY:
            raise RetrievalError(f"{meta_path}: index of {found!r}, not a {INDEX_KEY!r} index")
        retriever = cls(corpus=meta.get("corpus", "graph"))
        chunks = []
        path = folder / "chunks.jsonl"
        try:
            with path.open(encoding="utf-8") as fh:
                for line, text in enumerate(fh, 1):
                    try:
                        chunks.append(Chunk(**json.loads(text)))
                    except (ValueError, TypeError) as exc:
                        raise RetrievalError(f"{path}:{line}: bad chunk record ({exc})") from None
        except OSError as exc:
            raise RetrievalError(f"{path}: cannot read the index ({exc})") from None
        retriever.add(chunks)
        if retriever.size != meta.get("size"):
            raise RetrievalError(
                f"{path}: {retriever.size} chunks, but {meta_path} says {meta.get('size')}"
            )
        return retriever


def _ordinal(chunk: Chunk) -> int:
    tail = chunk.chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _matching(card: Chunk, look: RelationLookup) -> list[dict[str, Any]]:
    """The card's relation records of the kind ``look`` asks for."""
    return [
        r
        for r in card.metadata.get("relations") or []
        if r["rel"] in look.rels
        and (look.direction is None or r["dir"] == look.direction)
        and (look.other_kind is None or r.get("other_kind") == look.other_kind)
    ]


def _fact(entity: str, r: dict[str, Any]) -> str:
    return (
        f"{entity} {r['rel']} {r['other']}"
        if r["dir"] == "out"
        else (f"{r['other']} {r['rel']} {entity}")
    )


def _lookup_chunk(card: Chunk, look: RelationLookup, cards: dict[str, Chunk]) -> Chunk:
    """The answer to ``"<entity>, <relation>"``: the definition plus matching relations.
    An entity with none of its own answers with those of its exact equivalents (the
    :mod:`medkg.kg.equivalents` edges on its card), each said to come from that
    equivalent: MeSH's "Marfan Syndrome" records no gene, its OMIM equivalent FBN1."""
    meta = card.metadata
    name = meta.get("name") or card.title
    lines = [f"{name} ({meta.get('kind', 'entity')} {card.doc_id})."]
    if meta.get("definition"):
        lines.append(f"Definition: {meta['definition']}")
    if look.label == "synonym":
        syns = meta.get("synonyms") or []
        lines.append(f"Also known as: {'; '.join(syns)}." if syns else f"{name} has no synonyms.")
    if look.label == "parent" and meta.get("met_parent_name"):
        lines.append(f"Parent in the medical entity tree: {meta['met_parent_name']}.")
    rels = _matching(card, look)
    lines.extend(r["text"] for r in rels)
    facts = [_fact(card.doc_id, r) for r in rels]
    via: list[str] = []
    if look.rels and not rels:
        equivalents = [e for e in meta.get("equivalents") or [] if e in cards]
        for eq in equivalents:
            theirs = [r for r in _matching(cards[eq], look) if r["other"] != card.doc_id]
            if theirs:
                eq_meta = cards[eq].metadata
                lines.append(f"Through its equivalent {eq_meta.get('name') or eq} ({eq}):")
                lines.extend(r["text"] for r in theirs)
                facts.extend(_fact(eq, r) for r in theirs)
                via.append(eq)
        if not via:
            also = f" or its equivalents ({', '.join(equivalents)})" if equivalents else ""
            lines.append(f"No {look.label} relations are recorded for {name}{also}.")
    text = "\n".join(lines)
    view = {"lookup": look.label, "facts": facts, "kind": meta.get("kind"), "name": name}
    if via:
        view["via_equivalents"] = via
    return Chunk(card.chunk_id, card.corpus, card.doc_id, card.title, text, 0, 0, view)
