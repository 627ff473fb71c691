"""Entity linking: find mentions of graph entities in dataset texts.

A :class:`Linker` is built once from a :class:`~medkg.kg.model.KnowledgeGraph` and then
streams over items, emitting a mention table (:data:`MENTION_SCHEMA`): ``item_id``,
``start``, ``end`` (character offsets into the item text, end exclusive), ``text``,
``entity_id``, ``method`` (``exact`` | ``abbreviation`` | ``tfidf``) and ``score``.

Three passes per item, each on what the previous left unlinked:

1. **exact** - every name and synonym of the chosen kinds goes into one Aho-Corasick
   automaton (pyahocorasick) as a *normalised surface form*: case folded, accents
   stripped, every non-alphanumeric character a space, runs of spaces collapsed, padded
   with one space each side, so a match is word-bounded by construction. The text gets
   the same normalisation (length preserving before the collapse, so offsets map back
   exactly). All matches are collected; the longest wins, then the leftmost; a match
   overlapping a chosen one is dropped ("Marfan syndrome type 1" beats "Marfan
   syndrome"). Link time costs one automaton pass plus work per match - no loop over
   entities.
2. **abbreviation** - "long form (SF)" and "SF (long form)" pairs found by the
   Schwartz-Hearst algorithm (the one scispaCy's AbbreviationDetector implements;
   ``abbreviations="scispacy"`` uses scispaCy itself on a blank pipeline). When the long
   form is a dictionary surface form, every whole-word, same-case occurrence of SF in the
   item links to that entity (a local definition beats a dictionary sense of SF).
3. **tfidf** - unlinked noun-phrase-like runs (maximal runs of tokens without stop
   words, digits or punctuation) offer every sub-span of at most ``max_phrase_tokens``
   tokens; each is matched to the nearest surface form by cosine similarity of character
   n-gram TF-IDF vectors (scikit-learn), in sparse blocks per batch; per run the best
   non-overlapping sub-spans with ``score >= tfidf_threshold`` are kept. Candidates are
   searched over rare n-grams only, then rescored with the full vectors, so the score is
   an exact cosine. The index is built on first use (about 12 s for the bundled graph).

Surface forms skipped (counted in :attr:`Linker.stats`): shorter than ``min_chars``
after normalisation, purely numeric, an English stop word, or naming more than
``max_senses`` entities. Acronym forms (written in capitals in the graph, at most six
characters, e.g. gene symbols) match only text written in capitals, so "ADA" the gene
does not match "ada" and "CAT" does not match "cat".

One surface form naming several entities (Marfan syndrome is in MeSH, OMIM, Orphanet
and ICD-10) links to one, by this priority: a preferred name before an EXACT synonym
before any other synonym; then the kind's position in ``kinds``; then the id prefix's
position in ``prefix_priority``; then the id. The count of such ties is in ``stats``.

Persistence is pickle-free: :meth:`Linker.save` writes the surface table as Parquet and
the config as JSON; :meth:`Linker.load` rebuilds the automaton from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.coverage.abbreviations import (
    ABBREVIATION_DETECTORS,
    AbbreviationDetector,
    SchwartzHearstDetector,
    ScispacyDetector,
)
from medkg.coverage.datasets import Item
from medkg.coverage.textnorm import Normalised, fold, surface_key
from medkg.kg.model import DISEASE, DRUG, GENE, PHENOTYPE, KnowledgeGraph

EXACT = "exact"
ABBREVIATION = "abbreviation"
TFIDF = "tfidf"
METHODS = (EXACT, ABBREVIATION, TFIDF)

MENTION_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.String(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "text": pl.String(),
    "entity_id": pl.String(),
    "method": pl.String(),
    "score": pl.Float64(),
}

# Surface-form ranks: lower wins a tie between entities sharing a form.
_NAME, _EXACT_SYN, _OTHER_SYN = 0, 1, 2


@dataclass(frozen=True)
class LinkerConfig:
    """What the dictionary holds and how each pass decides."""

    kinds: tuple[str, ...] = field(
        default=(DISEASE, PHENOTYPE, GENE, DRUG),
        metadata={"help": "entity kinds linked; their order breaks ties between kinds"},
    )
    prefix_priority: tuple[str, ...] = field(
        default=("MESH", "ORPHA", "OMIM", "HP", "ICD10", "ICD10CM", "DRUGBANK", "NCBIGene"),
        metadata={"help": "id prefixes in tie-break order (others after, by id)"},
    )
    synonyms: bool = field(default=True, metadata={"help": "index synonyms as well as names"})
    min_chars: int = field(default=3, metadata={"help": "shortest normalised surface form"})
    max_senses: int = field(
        default=8, metadata={"help": "skip a surface form naming more entities than this"}
    )
    abbreviations: str | None = field(
        default="schwartz_hearst",
        metadata={"help": "abbreviation detector: schwartz_hearst | scispacy | None (off)"},
    )
    tfidf: bool = field(default=True, metadata={"help": "run the TF-IDF fallback"})
    tfidf_threshold: float = field(
        default=0.85, metadata={"help": "minimum cosine similarity for a tfidf mention"}
    )
    tfidf_candidates: int = field(
        default=10, metadata={"help": "candidates per phrase rescored with full vectors"}
    )
    tfidf_candidate_df: float = field(
        default=0.002,
        metadata={"help": "grams in more than this share of keys are left out of candidate search"},
    )
    tfidf_ngrams: tuple[int, int] = field(
        default=(3, 4), metadata={"help": "character n-gram range (char_wb analyzer)"}
    )
    min_phrase_chars: int = field(default=5, metadata={"help": "shortest fallback phrase"})
    max_phrase_tokens: int = field(default=5, metadata={"help": "longest fallback phrase"})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkerConfig:
        data = dict(data)
        for key in ("kinds", "prefix_priority", "tfidf_ngrams"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


_TOKEN = re.compile(r"[^\W_]+")


# ----------------------------------------------------------------------------- surfaces
def surface_table(kg: KnowledgeGraph, config: LinkerConfig) -> tuple[pl.DataFrame, dict[str, int]]:
    """One row per kept surface key: ``key``, ``entity_id``, ``acronym``, ``senses``.

    Returns the table and the counts of forms skipped by reason."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    nodes = kg.nodes.filter(pl.col("kind").is_in(list(config.kinds)) & ~pl.col("obsolete"))
    names = nodes.select(
        pl.col("id"), pl.col("kind"), pl.col("name").alias("form"), pl.lit(_NAME).alias("rank")
    )
    frames = [names]
    if config.synonyms:
        syn = (
            nodes.select("id", "kind", "synonyms", "synonym_scopes")
            .with_columns(
                pl.col("synonym_scopes").fill_null([]),
                pl.col("synonyms").fill_null([]),
            )
            .filter(pl.col("synonyms").list.len() > 0)
        )
        # scopes may be shorter than synonyms (or empty): pad with nulls before exploding
        syn = syn.with_columns(
            pl.struct("synonyms", "synonym_scopes")
            .map_elements(
                lambda r: [
                    (r["synonym_scopes"][i] if i < len(r["synonym_scopes"]) else None)
                    for i in range(len(r["synonyms"]))
                ],
                return_dtype=pl.List(pl.String()),
            )
            .alias("synonym_scopes")
        ).explode(["synonyms", "synonym_scopes"])
        frames.append(
            syn.select(
                "id",
                "kind",
                pl.col("synonyms").alias("form"),
                pl.when(pl.col("synonym_scopes").is_in(["EXACT"]))
                .then(_EXACT_SYN)
                .otherwise(_OTHER_SYN)
                .alias("rank"),
            )
        )
    forms = pl.concat(frames).filter(pl.col("form").is_not_null())
    raw = forms.get_column("form").to_list()
    keys = [surface_key(f) for f in raw]
    acronym = [f.strip().isupper() and len(f.strip()) <= 6 and f.strip().isalnum() for f in raw]
    forms = forms.with_columns(
        pl.Series("key", keys, dtype=pl.String()), pl.Series("acronym", acronym)
    )
    stats: dict[str, int] = {"forms": forms.height}
    core = pl.col("key").str.strip_chars(" ")
    too_short = core.str.len_chars() < config.min_chars
    numeric = core.str.contains(r"^[0-9 ]+$")
    stop = core.is_in(list(ENGLISH_STOP_WORDS))
    stats["skipped_short"] = forms.filter(too_short).height
    stats["skipped_numeric"] = forms.filter(~too_short & numeric).height
    stats["skipped_stopword"] = forms.filter(~too_short & ~numeric & stop).height
    forms = forms.filter(~too_short & ~numeric & ~stop)

    kind_rank = {k: i for i, k in enumerate(config.kinds)}
    prefix_rank = {p: i for i, p in enumerate(config.prefix_priority)}
    forms = forms.with_columns(
        pl.col("kind").replace_strict(kind_rank, default=len(kind_rank)).alias("kind_rank"),
        pl.col("id")
        .str.split(":")
        .list.first()
        .replace_strict(prefix_rank, default=len(prefix_rank))
        .alias("prefix_rank"),
    )
    best = (
        forms.sort(["key", "rank", "kind_rank", "prefix_rank", "id"])
        .group_by("key", maintain_order=True)
        .agg(
            pl.col("id").first().alias("entity_id"),
            # acronym handling follows the winning form's spelling
            pl.col("acronym").first(),
            pl.col("id").n_unique().alias("senses"),
        )
    )
    ambiguous = pl.col("senses") > config.max_senses
    stats["skipped_ambiguous"] = best.filter(ambiguous).height
    best = best.filter(~ambiguous)
    stats["keys"] = best.height
    stats["keys_shared"] = best.filter(pl.col("senses") > 1).height
    return best.select("key", "entity_id", "acronym", "senses"), stats


# ----------------------------------------------------------------------------- linker
class Linker:
    """Dictionary + abbreviation + TF-IDF linker over a graph's names and synonyms."""

    def __init__(
        self,
        surfaces: pl.DataFrame,
        config: LinkerConfig | None = None,
        stats: dict[str, int] | None = None,
    ) -> None:
        import ahocorasick

        self.config = config or LinkerConfig()
        self.surfaces = surfaces
        self.stats = dict(stats or {})
        self._entity = surfaces.get_column("entity_id").to_list()
        self._acronym = surfaces.get_column("acronym").to_list()
        self._index = {k: i for i, k in enumerate(surfaces.get_column("key").to_list())}
        automaton = ahocorasick.Automaton()
        for key, i in self._index.items():
            automaton.add_word(key, (i, len(key)))
        automaton.make_automaton()
        self._automaton = automaton
        self._detector: AbbreviationDetector | None = (
            ABBREVIATION_DETECTORS[self.config.abbreviations]()
            if self.config.abbreviations
            else None
        )
        self._tfidf: tuple[Any, Any, Any, Any] | None = None

    @classmethod
    def from_graph(cls, kg: KnowledgeGraph, config: LinkerConfig | None = None) -> Linker:
        """Build the dictionary (and automaton) from a graph's names and synonyms."""
        config = config or LinkerConfig()
        surfaces, stats = surface_table(kg, config)
        return cls(surfaces, config, stats)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``surfaces.parquet`` and ``linker.json`` (no pickles)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.surfaces.write_parquet(folder / "surfaces.parquet")
        meta = {"config": self.config.to_dict(), "stats": self.stats}
        (folder / "linker.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Linker:
        folder = Path(folder)
        meta = json.loads((folder / "linker.json").read_text())
        surfaces = pl.read_parquet(folder / "surfaces.parquet")
        return cls(surfaces, LinkerConfig.from_dict(meta["config"]), meta["stats"])

    # ------------------------------------------------------------------ exact pass
    def _exact(self, text: str, norm: Normalised) -> list[tuple[int, int, int]]:
        """(start, end, surface index) of the chosen exact matches, in original offsets."""
        hits = []
        for end, (idx, length) in self._automaton.iter(norm.text):
            # the key is padded: the form spans (end - length + 2, end) in collapsed text
            hits.append((end - length + 2, end, idx))
        if not hits:
            return []
        hits.sort(key=lambda h: (h[0] - h[1], h[0]))  # longest first, then leftmost
        taken = bytearray(len(norm.text))  # collapsed positions already in a mention
        chosen = []
        for s, e, idx in hits:
            if taken.find(1, s, e) != -1:
                continue
            o_s, o_e = norm.original(s), norm.original(e - 1) + 1
            if self._acronym[idx] and not text[o_s:o_e].isupper():
                continue
            taken[s:e] = b"\x01" * (e - s)
            chosen.append((o_s, o_e, idx))
        return chosen

    # ------------------------------------------------------------------ abbreviations
    def _abbreviations(
        self, text: str, exact: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, str]]:
        if self._detector is None:
            return []
        out: list[tuple[int, int, str]] = []
        seen: set[str] = set()
        for (ss, se), (ls, le) in self._detector.find(text):
            short = text[ss:se]
            if short in seen:
                continue
            idx = self._index.get(surface_key(text[ls:le]))
            if idx is None:
                # the long form may carry extra leading words: use an exact match ending it
                ends = [m for m in exact if m[1] == le and m[0] >= ls]
                if not ends:
                    continue
                idx = ends[0][2]
            seen.add(short)
            entity = self._entity[idx]
            for m in re.finditer(r"(?<![^\W_])" + re.escape(short) + r"(?![^\W_])", text):
                out.append((m.start(), m.end(), entity))
        return out

    # ------------------------------------------------------------------ tfidf
    def _tfidf_index(self) -> tuple[Any, Any, Any, Any]:
        """Vectoriser, full key vectors (keys x grams) and the candidate index: the key
        vectors restricted to rare grams (document frequency <= ``tfidf_candidate_df``),
        transposed for a sparse product with the queries."""
        if self._tfidf is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            vec = TfidfVectorizer(
                analyzer="char_wb", ngram_range=self.config.tfidf_ngrams, sublinear_tf=True,
                dtype=np.float32,
            )  # fmt: skip
            keys = [k.strip() for k in self.surfaces.get_column("key").to_list()]
            full = vec.fit_transform(keys).tocsr()
            df = np.bincount(full.indices, minlength=full.shape[1])
            rare = np.flatnonzero(df <= max(2, self.config.tfidf_candidate_df * full.shape[0]))
            candidates = full[:, rare].T.tocsr()
            self._tfidf = (vec, full, rare, candidates)
        return self._tfidf

    def _phrases(self, text: str, covered: bytearray) -> list[list[tuple[int, int]]]:
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

    def _subspans(self, run: list[tuple[int, int]]) -> list[tuple[int, int]]:
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

    def _tfidf_link(self, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Nearest surface form and its cosine for each query.

        Candidates come from a sparse product over rare grams only (common grams such as
        "ion" touch tens of thousands of keys and make the product slow); the top
        ``tfidf_candidates`` are then rescored with the full vectors, so the score is the
        exact cosine of the chosen key."""
        vec, full, rare, candidates = self._tfidf_index()
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

    # ------------------------------------------------------------------ public
    def link_texts(self, items: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """Mention table of one batch of ``(item_id, text)`` pairs."""
        cols: dict[str, list[Any]] = {k: [] for k in MENTION_SCHEMA}
        pending: list[tuple[str, int, int, int]] = []  # item id, run number, start, end
        pending_text: list[str] = []
        n_runs = 0

        def add(item_id: str, s: int, e: int, text: str, ent: str, method: str, sc: float) -> None:
            cols["item_id"].append(item_id)
            cols["start"].append(s)
            cols["end"].append(e)
            cols["text"].append(text[s:e])
            cols["entity_id"].append(ent)
            cols["method"].append(method)
            cols["score"].append(sc)

        for item_id, text in items:
            norm = Normalised(text)
            exact = self._exact(text, norm)
            abbr = self._abbreviations(text, exact) if "(" in text else []
            covered = bytearray(len(text))  # original offsets already in a mention
            for s, e, ent in abbr:
                if covered.find(1, s, e) != -1:
                    continue
                covered[s:e] = b"\x01" * (e - s)
                add(item_id, s, e, text, ent, ABBREVIATION, 1.0)
            for s, e, idx in exact:
                if covered.find(1, s, e) != -1:
                    continue  # a locally defined abbreviation wins
                covered[s:e] = b"\x01" * (e - s)
                add(item_id, s, e, text, self._entity[idx], EXACT, 1.0)
            if self.config.tfidf:
                for run in self._phrases(text, covered):
                    for s, e in self._subspans(run):
                        pending.append((item_id, n_runs, s, e))
                        pending_text.append(text[s:e])
                    n_runs += 1
        if pending:
            best, score = self._tfidf_link(pending_text)
            # per run: the best-scoring sub-spans above the threshold, without overlaps;
            # on a tie the shorter (words the index does not know add nothing)
            threshold = self.config.tfidf_threshold
            order = sorted(
                (i for i in range(len(pending)) if score[i] >= threshold and score[i] > 0),
                key=lambda i: (pending[i][1], -score[i], pending[i][3] - pending[i][2]),
            )
            current_run = -1
            taken: list[tuple[int, int]] = []  # spans chosen in the current run
            for i in order:
                item_id, run_id, s, e = pending[i]
                if run_id != current_run:
                    current_run, taken = run_id, []
                if any(s < te and ts < e for ts, te in taken):
                    continue
                taken.append((s, e))
                cols["item_id"].append(item_id)
                cols["start"].append(s)
                cols["end"].append(e)
                cols["text"].append(pending_text[i])
                cols["entity_id"].append(self._entity[int(best[i])])
                cols["method"].append(TFIDF)
                cols["score"].append(float(score[i]))
        return pl.DataFrame(cols, schema=MENTION_SCHEMA).sort(
            ["item_id", "start"], maintain_order=True
        )

    def iter_link(
        self, items: Iterable[Item | tuple[str, str]], batch_size: int = 1000
    ) -> Iterator[pl.DataFrame]:
        """Stream mention tables, one per batch of items (memory bounded by the batch)."""
        batch: list[tuple[str, str]] = []
        for it in items:
            batch.append((it.id, it.text) if isinstance(it, Item) else (it[0], it[1]))
            if len(batch) >= batch_size:
                yield self.link_texts(batch)
                batch = []
        if batch:
            yield self.link_texts(batch)

    def link(self, items: Iterable[Item | tuple[str, str]], batch_size: int = 1000) -> pl.DataFrame:
        """The whole mention table of ``items`` (see :meth:`iter_link` to stream)."""
        frames = list(self.iter_link(items, batch_size))
        if not frames:
            return pl.DataFrame(schema=MENTION_SCHEMA)
        return pl.concat(frames)

    def link_text(self, text: str, item_id: str = "0") -> pl.DataFrame:
        """Mentions in one text."""
        return self.link_texts([(item_id, text)])


__all__ = [
    "ABBREVIATION",
    "ABBREVIATION_DETECTORS",
    "EXACT",
    "MENTION_SCHEMA",
    "METHODS",
    "TFIDF",
    "AbbreviationDetector",
    "Linker",
    "LinkerConfig",
    "SchwartzHearstDetector",
    "ScispacyDetector",
    "fold",
    "surface_key",
    "surface_table",
]
