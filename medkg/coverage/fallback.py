"""The TF-IDF fallback of entity linking: character n-gram similarity for phrases the
dictionary does not know (see :mod:`medkg.coverage.linking`, pass 4).

Unlinked noun-phrase-like runs (maximal runs of tokens without stop words, digits or
punctuation) offer every sub-span of at most ``max_phrase_tokens`` tokens; each is matched
to the nearest surface form by cosine similarity of character n-gram TF-IDF vectors
(scikit-learn), in sparse blocks per batch. Candidates are searched over rare n-grams
only, then rescored with the full vectors, so the score is an exact cosine. The index is
built on first use (about 12 s for the bundled graph).

Off by default: on benchmark text its precision is far below the dictionary's (measured in
bench/README.md, on a hand-labelled sample committed as a test fixture).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from medkg.text import fold

if TYPE_CHECKING:
    from medkg.coverage.linking_config import LinkerConfig

_TOKEN = re.compile(r"[^\W_]+")


class TfidfFallback:
    """Nearest dictionary key of a phrase by character n-gram TF-IDF cosine."""

    def __init__(self, keys: list[str], config: LinkerConfig) -> None:
        self._keys = keys
        self.config = config
        self._tfidf: tuple[Any, Any, Any, Any] | None = None

    def _index(self) -> tuple[Any, Any, Any, Any]:
        """Vectoriser, full key vectors (keys x grams) and the candidate index: the key
        vectors restricted to rare grams (document frequency <= ``tfidf_candidate_df``),
        transposed for a sparse product with the queries."""
        if self._tfidf is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            vec = TfidfVectorizer(
                analyzer="char_wb", ngram_range=self.config.tfidf_ngrams, sublinear_tf=True,
                dtype=np.float32,
            )  # fmt: skip
            keys = [k.strip() for k in self._keys]
            full = vec.fit_transform(keys).tocsr()
            df = np.bincount(full.indices, minlength=full.shape[1])
            # a floor of 16: in a small dictionary a form's grams are shared by its own
            # plural/spelling variants, and none would be rare enough to search on
            rare = np.flatnonzero(df <= max(16, self.config.tfidf_candidate_df * full.shape[0]))
            candidates = full[:, rare].T.tocsr()
            self._tfidf = (vec, full, rare, candidates)
        return self._tfidf

    def phrases(self, text: str, covered: bytearray) -> list[list[tuple[int, int]]]:
        """Noun-phrase-like runs: maximal runs of tokens (as spans) that are not stop
        words, digits or covered by a mention, cut at punctuation."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        folded = fold(text)
        runs: list[list[tuple[int, int]]] = []
        run: list[tuple[int, int]] = []
        prev_end = 0
        for m in _TOKEN.finditer(folded):
            s, e = m.span()
            word = m.group()
            if run and text[prev_end:s].strip():  # punctuation between tokens ends a run
                runs.append(run)
                run = []
            prev_end = e
            if word in ENGLISH_STOP_WORDS or word.isdigit() or covered.find(1, s, e) != -1:
                if run:
                    runs.append(run)
                    run = []
                continue
            run.append((s, e))
        if run:
            runs.append(run)
        return runs

    def subspans(self, run: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Every contiguous sub-span of a run of at most ``max_phrase_tokens`` tokens and
        at least ``min_phrase_chars`` characters (so "suggest Marfan syndrom" also offers
        "Marfan syndrom")."""
        out = []
        for i in range(len(run)):
            for j in range(i, min(len(run), i + self.config.max_phrase_tokens)):
                s, e = run[i][0], run[j][1]
                if e - s >= self.config.min_phrase_chars:
                    out.append((s, e))
        return out

    def nearest(self, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Nearest surface form and its cosine for each query.

        Candidates come from a sparse product over rare grams only (common grams such as
        "ion" touch tens of thousands of keys and make the product slow); the top
        ``tfidf_candidates`` are then rescored with the full vectors, so the score is the
        exact cosine of the chosen key."""
        vec, full, rare, candidates = self._index()
        k = self.config.tfidf_candidates
        q_full = vec.transform(queries).tocsr()
        q_rare = q_full[:, rare]
        best = np.zeros(len(queries), dtype=np.int64)
        score = np.zeros(len(queries), dtype=np.float64)
        block = 512  # bounded memory: one sparse block of similarities at a time
        for lo in range(0, len(queries), block):
            sims = (q_rare[lo : lo + block] @ candidates).tocsr()
            rows: list[int] = []
            cands: list[int] = []
            for r in range(sims.shape[0]):
                a, b = sims.indptr[r], sims.indptr[r + 1]
                if a == b:
                    continue
                data = sims.data[a:b]
                top = np.argpartition(-data, k - 1)[:k] if b - a > k else np.arange(b - a)
                cands.extend(sims.indices[a:b][top].tolist())
                rows.extend([lo + r] * len(top))
            if not rows:
                continue
            row_arr = np.asarray(rows)
            cand_arr = np.asarray(cands)
            exact = np.asarray(q_full[row_arr].multiply(full[cand_arr]).sum(axis=1)).ravel()
            # per query: the candidate with the highest exact cosine
            order = np.lexsort((-exact, row_arr))
            first = np.ones(len(order), dtype=bool)
            first[1:] = row_arr[order][1:] != row_arr[order][:-1]
            pick = order[first]
            best[row_arr[pick]] = cand_arr[pick]
            score[row_arr[pick]] = exact[pick]
        return best, score


__all__ = ["TfidfFallback"]
