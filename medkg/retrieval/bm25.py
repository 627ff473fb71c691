"""BM25 retrieval with the bm25s library and a tokenizer that keeps biomedical symbols.

:class:`MedicalTokenizer` lower-cases, splits on anything that is not a letter or digit
(so ``FBN1``, ``COL1A1``, ``5q`` and ``Sjögren`` stay whole tokens), drops the English
stopwords of bm25s and, only when asked and PyStemmer is installed, stems purely
alphabetic tokens.

bm25s indexes are static (idf and average length change with every document), so
:class:`BM25Retriever` keeps the tokenized corpus as token ids over its own vocabulary:
``add`` tokenizes only the new chunks and marks the index stale; the next search (or save)
rebuilds the bm25s score matrix from the ids, which skips tokenizing again. Many adds in a
row cost one rebuild (30,000 PubMed abstracts: ~2.3 s on 2 shared cores, while tokenizing
100 new ones takes ~30 ms; see ``bench/bench_bm25.py``). Scores are bm25s's; the top-k selection is ours, so ties go to the
earlier chunk. Every chunk sharing a term with the query is a candidate (even one scoring 0,
as under Robertson's or ATIRE's idf for a very common term); the others are not returned.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from medkg.retrieval.base import Chunk, RetrievalError, register_retriever
from medkg.retrieval.retrievers import (
    IndexedRetriever,
    Ranked,
    check_load_options,
    chunk_text,
    read_chunks,
    top_k,
    write_chunks,
)

TOKENS_FILE = "tokens.parquet"
VOCAB_FILE = "vocab.json"
BM25S_DIR = "bm25s"
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, any script


def _bm25s() -> Any:
    try:
        import bm25s  # lazy: only BM25 needs it
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RetrievalError("the bm25 retriever needs bm25s: pip install bm25s==0.3.16") from exc
    return bm25s


class MedicalTokenizer:
    """Lower-case letter/digit runs minus English stopwords, optionally Snowball-stemmed.

    ``stem=True`` needs PyStemmer (``pip install PyStemmer``); tokens containing a digit
    (gene symbols, loci) are never stemmed.
    """

    def __init__(self, *, stopwords: bool = True, stem: bool = False) -> None:
        self.stopwords = frozenset(_bm25s().stopwords.STOPWORDS_EN) if stopwords else frozenset()
        self.stem = stem
        self._stemmer: Any = None
        if stem:
            try:
                import Stemmer
            except ImportError as exc:
                raise RetrievalError(
                    "stem=True needs PyStemmer: pip install PyStemmer (or use stem=False)"
                ) from exc
            self._stemmer = Stemmer.Stemmer("english")

    def describe(self) -> dict[str, Any]:
        return {"stopwords": "bm25s:en" if self.stopwords else None, "stem": self.stem}

    def __call__(self, text: str) -> list[str]:
        tokens = [t for t in _WORD.findall(text.lower()) if t not in self.stopwords]
        if self._stemmer is not None:
            tokens = [
                t if any(ch.isdigit() for ch in t) else self._stemmer.stemWord(t) for t in tokens
            ]
        return tokens


@register_retriever("bm25")
class BM25Retriever(IndexedRetriever):
    """Okapi BM25 over chunk title + text (bm25s, ``method`` ``lucene`` by default).

    ``k1``/``b``/``method`` are bm25s's parameters; ``stopwords``/``stem`` configure
    :class:`MedicalTokenizer`. All are recorded in ``meta.json`` and restored on load.
    """

    def __init__(
        self,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stopwords: bool = True,
        stem: bool = False,
        corpus: str | None = None,
    ) -> None:
        super().__init__(corpus=corpus)
        if method not in ("robertson", "lucene", "atire"):
            raise RetrievalError(f"bm25 method must be robertson, lucene or atire, not {method!r}")
        self.k1, self.b, self.method = k1, b, method
        self.tokenizer = MedicalTokenizer(stopwords=stopwords, stem=stem)
        self._vocab: dict[str, int] = {}
        self._token_ids: list[list[int]] = []
        self._index: Any = None  # bm25s.BM25 over all chunks, None when stale

    # --------------------------------------------------------- hooks
    def _add(self, chunks: list[Chunk]) -> None:
        vocab = dict(self._vocab)  # committed only if every chunk tokenizes
        rows = [
            [vocab.setdefault(t, len(vocab)) for t in self.tokenizer(chunk_text(c))] for c in chunks
        ]
        self._vocab = vocab
        self._token_ids.extend(rows)
        self._index = None

    def _ensure_index(self) -> Any:
        if self._index is None:
            index = _bm25s().BM25(k1=self.k1, b=self.b, method=self.method)
            # bm25s.index() writes an empty-token entry into the vocabulary it is given
            index.index(
                (self._token_ids, dict(self._vocab)), create_empty_token=False, show_progress=False
            )
            self._index = index
        return self._index

    def query_token_ids(self, query: str) -> list[int]:
        """Vocabulary ids of ``query``'s tokens (unknown tokens dropped, repeats kept)."""
        return [self._vocab[t] for t in self.tokenizer(query) if t in self._vocab]

    def _search(self, queries: list[str], k: int) -> list[Ranked]:
        index = self._ensure_index()
        out: list[Ranked] = []
        for q in queries:
            ids = self.query_token_ids(q)
            if not ids:
                out.append((np.empty(0, np.int64), np.empty(0, np.float32)))
                continue
            scores = index.get_scores_from_ids(ids)
            if self.method == "lucene":  # idf > 0: a chunk shares a term iff it scores > 0
                matched = np.flatnonzero(scores > 0)
            else:
                matched = _chunks_with(index, ids)
            out.append(top_k(scores[matched], k, matched))
        return out

    def _meta_extra(self) -> dict[str, Any]:
        return {
            "library": {"bm25s": importlib.metadata.version("bm25s")},
            "params": {"k1": self.k1, "b": self.b, "method": self.method},
            "tokenizer": self.tokenizer.describe(),
            "vocab_size": len(self._vocab),
        }

    def _write_files(self, folder: Path) -> None:
        write_chunks(folder, self._chunks)
        pl.DataFrame(
            {"token_ids": self._token_ids}, schema={"token_ids": pl.List(pl.Int32)}
        ).write_parquet(folder / TOKENS_FILE)
        (folder / VOCAB_FILE).write_text(json.dumps(list(self._vocab)), encoding="utf-8")
        if self._chunks:
            self._ensure_index().save(str(folder / BM25S_DIR), show_progress=False)

    @classmethod
    def _restore(cls, folder: Path, meta: dict[str, Any], **options: Any) -> BM25Retriever:
        check_load_options(folder, options, set())
        params, tok = meta.get("params", {}), meta.get("tokenizer", {})
        self = cls(
            k1=params.get("k1", 1.5),
            b=params.get("b", 0.75),
            method=params.get("method", "lucene"),
            stopwords=tok.get("stopwords") is not None,
            stem=bool(tok.get("stem", False)),
            corpus=meta.get("corpus"),
        )
        n = int(meta["n_chunks"])
        self._set_chunks(read_chunks(folder, n), meta.get("corpus"))
        try:
            words = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
            tokens = pl.read_parquet(folder / TOKENS_FILE).get_column("token_ids").to_list()
        except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
            raise RetrievalError(f"{folder}: cannot read the tokenized corpus: {exc}") from exc
        if len(tokens) != n:
            raise RetrievalError(f"{folder / TOKENS_FILE} has {len(tokens)} rows, not {n}")
        self._vocab = _check_vocab(folder, words, meta.get("vocab_size"), tokens)
        self._token_ids = tokens
        if n:
            self._index = _load_bm25s(folder / BM25S_DIR, n)
            terms = len(self._index.scores["indptr"]) - 1
            if terms != len(self._vocab):
                raise RetrievalError(
                    f"{folder / BM25S_DIR} scores {terms} terms; "
                    f"{folder / VOCAB_FILE} has {len(self._vocab)}"
                )
        return self


def _check_vocab(
    folder: Path, words: Any, expected: Any, tokens: list[list[int]]
) -> dict[str, int]:
    """word -> id from ``vocab.json``, which must be unique words, as many as ``meta.json``
    records and covering every token id: token ids are positions in it, so a list that
    lost or gained a word would load and then silently miss or mis-score query terms."""
    path = folder / VOCAB_FILE
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise RetrievalError(f"{path}: not a list of words")
    vocab = {w: i for i, w in enumerate(words)}
    if len(vocab) != len(words):
        dup = next(w for i, w in enumerate(words) if vocab[w] != i)
        raise RetrievalError(f"{path}: the word {dup!r} appears twice")
    if expected is not None and expected != len(words):
        raise RetrievalError(
            f"{path} has {len(words)} words; {folder / 'meta.json'} says {expected}"
        )
    top = max((max(row) for row in tokens if row), default=-1)
    if top >= len(words):
        raise RetrievalError(
            f"{folder / TOKENS_FILE} uses token id {top}; {path} has {len(words)} words"
        )
    return vocab


def _chunks_with(index: Any, token_ids: list[int]) -> npt.NDArray[np.int64]:
    """Positions of the chunks holding at least one of ``token_ids``, ascending.

    Read from the index's postings, not from the scores: under Robertson's idf (clamped to
    0 by bm25s for a term in over half the chunks) or ATIRE's (0 for a term in every
    chunk) a chunk can share a query term and score 0; it is still a match."""
    indptr, indices = index.scores["indptr"], index.scores["indices"]
    hit = np.zeros(int(index.scores["num_docs"]), dtype=bool)  # a mask: no sort per query
    for t in set(token_ids):
        hit[indices[indptr[t] : indptr[t + 1]]] = True
    return np.flatnonzero(hit).astype(np.int64, copy=False)


def _load_bm25s(path: Path, n: int) -> Any:
    if not (path / "params.index.json").is_file():
        raise RetrievalError(f"{path}: the bm25s index is missing")
    try:
        index = _bm25s().BM25.load(str(path), load_vocab=False, show_progress=False)
    except (OSError, ValueError) as exc:
        raise RetrievalError(f"cannot load the bm25s index in {path}: {exc}") from exc
    if index.scores["num_docs"] != n:
        raise RetrievalError(f"{path} scores {index.scores['num_docs']} chunks, not {n}")
    return index


def tokenize(
    texts: Sequence[str], *, stopwords: bool = True, stem: bool = False
) -> list[list[str]]:
    """:class:`MedicalTokenizer` over ``texts`` (for baselines that take token lists)."""
    tok = MedicalTokenizer(stopwords=stopwords, stem=stem)
    return [tok(t) for t in texts]


__all__ = ["BM25Retriever", "MedicalTokenizer", "tokenize"]
