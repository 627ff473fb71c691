"""Shared types of the retrieval package: chunks, hits, queries, the retriever interface.

Contract between the modules of ``medkg.retrieval`` (corpora and chunking, retrievers,
query generation, evidence packs and evaluation):

* a corpus is read into :class:`Document` s and cut into :class:`Chunk` s; a chunk id is
  ``"<corpus>:<doc_id>:<ordinal>"`` and stable for the same input and chunking policy;
* a :class:`Retriever` indexes chunks of one corpus and answers queries with ranked
  :class:`Hit` s; backends register under a key (``bm25``, ``dense``, ``hybrid``) and are
  built with :func:`build_retriever`;
* a :class:`Query` records the corpus kind and style it was written for and the graph facts
  that produced it (``facts``: ``"<subject id> <RELATION> <object id>"`` or
  ``"<id> synonym <text>"`` strings), so an evidence pack can say why a chunk was found.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from medkg.errors import MedkgError
from medkg.registry import Registry

CORPUS_KINDS = ("research", "encyclopedia", "textbook", "guideline", "graph")
QUERY_STYLES = ("keyword", "title", "question", "term_relation", "raw")
# the query style each corpus kind gets by default (user-defined kinds get "question")
STYLE_FOR_KIND = {
    "research": "keyword",
    "encyclopedia": "title",
    "textbook": "question",
    "guideline": "question",
    "graph": "term_relation",
}


class RetrievalError(MedkgError, ValueError):
    """Bad corpus, index or query input; the message names the file, line or id."""


@dataclass(frozen=True)
class Document:
    """One record of a corpus before chunking."""

    doc_id: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. PubMed MeSH headings


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document; ``start``/``end`` are character offsets in the text."""

    chunk_id: str
    corpus: str
    doc_id: str
    title: str
    text: str
    start: int = 0
    end: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """A chunk returned for a query, with its 1-based rank and the backend's score."""

    chunk: Chunk
    score: float
    rank: int


@dataclass(frozen=True)
class Query:
    """A query written for one corpus kind; ``facts`` are the graph facts that produced it."""

    text: str
    style: str
    corpus_kind: str
    facts: tuple[str, ...] = ()
    # "graph" (template + graph expansion), "raw" (the question), or a generator name
    source: str = "graph"


class Retriever(ABC):
    """Index chunks of one corpus and answer queries. Subclasses register under a key."""

    key: ClassVar[str] = ""

    @abstractmethod
    def add(self, chunks: Sequence[Chunk]) -> None:
        """Add chunks to the index (incremental: earlier chunks stay searchable)."""

    @abstractmethod
    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The top ``k`` hits for each query, best first."""

    @abstractmethod
    def save(self, folder: str | Path) -> Path:
        """Persist atomically: write to a temporary folder, then rename over ``folder``."""

    @classmethod
    @abstractmethod
    def load(cls, folder: str | Path) -> Retriever:
        """Load a saved index; a missing or foreign folder raises :class:`RetrievalError`."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Number of indexed chunks."""


# Backends by name, imported on first use; third-party ones arrive through the
# ``medkg.retrievers`` entry-point group.
RETRIEVERS: Registry[type[Retriever]] = Registry(
    "retriever",
    group="medkg.retrievers",
    option_error=RetrievalError,
    lazy={
        "bm25": "medkg.retrieval.bm25:BM25Retriever",
        "dense": "medkg.retrieval.dense:DenseRetriever",
        "hybrid": "medkg.retrieval.hybrid:HybridRetriever",
        "graph": "medkg.retrieval.graph_corpus:GraphRetriever",
    },
)
#: Class decorator: ``@register_retriever("name")`` adds a backend to :data:`RETRIEVERS`.
register_retriever = RETRIEVERS.register


def build_retriever(key: str = "bm25", **options: Any) -> Retriever:
    """Build the retriever registered under ``key`` with ``options`` (checked against its constructor)."""
    return RETRIEVERS.build(key, **options)


@dataclass(frozen=True)
class Evidence:
    """One retrieved chunk in an item's evidence pack.

    ``medkg retrieve attach`` writes each item of a dataset (``items.jsonl``) with an extra
    key ``"evidence"``: a list of these as plain dicts (``dataclasses.asdict``), best first
    within each corpus. ``supports`` is whether the chunk supports the gold answer (the
    answer entity or one of its synonyms appears together with one of the question's
    entities), ``None`` when not judged. Training reads this format for DPO pairs.
    """

    corpus: str
    corpus_kind: str
    query: str
    style: str
    facts: tuple[str, ...]
    chunk_id: str
    doc_id: str
    title: str
    text: str
    rank: int
    score: float
    supports: bool | None = None
