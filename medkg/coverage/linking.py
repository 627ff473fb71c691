"""Entity linking: find mentions of graph entities in dataset texts.

A :class:`Linker` is built once from a :class:`~medkg.kg.model.KnowledgeGraph` and then
streams over items, emitting a mention table (:data:`MENTION_SCHEMA`): ``item_id``,
``start``, ``end`` (offsets into the item text, end exclusive), ``text``, ``entity_id``,
``method`` (:data:`METHODS`), ``score`` and ``equivalents`` (the entity's exact-mapping
equivalents, :mod:`medkg.coverage.equivalence`). Per item:

1. **exact** - every name and synonym of the chosen kinds, and their plural/singular,
   spelling and word-order variants (:mod:`medkg.coverage.variants`, ranked after real
   forms), go into one Aho-Corasick automaton as *normalised surface forms* (case and
   accents folded, non-alphanumerics spaces, single-spaced, padded: a match is
   word-bounded by construction; :mod:`medkg.text` maps offsets back). The
   longest match wins, then the leftmost; a match across a bracket or a sentence end is
   dropped. A match grows over clinical qualifiers before it, and a coordination ("breast
   and ovarian cancer") becomes one ``composite`` row per conjunct's entity
   (:mod:`medkg.coverage.spans`). One automaton pass plus work per match. Keys composed by
   terminology rules (:mod:`medkg.coverage.composed`: "prostate carcinoma", "C9
   deficiency", "autosomal recessive disorder") rank after every real form and report
   method ``rule``.
2. **abbreviation** - "long form (SF)" / "SF (long form)" pairs (Schwartz-Hearst, or
   scispaCy on a blank pipeline): every whole-word occurrence of SF links to the long
   form's entity (a local definition beats a dictionary sense of SF). A capitalised
   short form the text does not define links to an entity the text named earlier whose
   form has those initials (never a gene symbol of the graph), else
   (``abbreviation_list``) to the curated clinical abbreviations
   (``data/clinical_abbreviations.tsv``, a source for each).
3. **sense** - a form naming several entities is resolved in context
   (:class:`~medkg.coverage.senses.SenseContext`): equivalent senses are one concept (the
   kind order, then ``prefix_priority``, pick one); different concepts are ranked by the
   unambiguous mentions of the same text that are them, their equivalents or their graph
   neighbours; with no support, the dictionary order (name before EXACT synonym before
   other synonym before variant; then kind, prefix, id).
4. **mention filter** (``mention_filter``, off by default: on the NCBI disease corpus's
   held-out check half it lowered mention F1, bench/README.md) - a logistic regression
   fitted on annotated text (:mod:`medkg.coverage.linking_filter`) drops the mentions of
   its kinds it judges unlikely to be annotated.
5. **tfidf** (off by default: its measured precision is in bench/README.md) - unlinked
   noun-phrase-like runs matched to the nearest form by character n-gram TF-IDF cosine
   (:mod:`medkg.coverage.fallback`).

Surface forms skipped (counted in :attr:`Linker.stats`): shorter than ``min_chars``,
numeric, an English stop word, or naming more than ``max_senses`` entities; and every form
of a MeSH descriptor whose C-tree positions all lie under ``mesh_exclude_trees`` (disease
attributes and genetic findings, not diseases: ``excluded_by_tree``). Acronym forms
(capitals in the graph, at most six characters) match only text in capitals ("ADA" the
gene does not match "ada").

Persistence is pickle-free: :meth:`Linker.save` writes the surface table and the sense
context as Parquet and the config as JSON; :meth:`Linker.load` rebuilds the automaton.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from medkg.coverage.abbreviations import (
    ABBREVIATION_DETECTORS,
    AbbreviationDetector,
    SchwartzHearstDetector,
    ScispacyDetector,
    clinical_abbreviations,
)
from medkg.coverage.fallback import TfidfFallback
from medkg.coverage.linking_config import LinkerConfig
from medkg.coverage.linking_filter import MentionFilter, mention_features, packaged_filter
from medkg.coverage.senses import SenseContext, deferred_scr_headings
from medkg.coverage.spans import (
    composite_heads,
    crosses_boundary,
    extend_qualifier_coordination,
    extend_qualifiers,
)
from medkg.coverage.surfaces import surface_table
from medkg.io import Item
from medkg.kg.model import KnowledgeGraph
from medkg.outputs import legacy_manifest, staged_folder
from medkg.text import Normalised, fold, surface_key

EXACT = "exact"
RULE = "rule"
COMPOSITE = "composite"
ABBREVIATION = "abbreviation"
ABBREVIATION_LIST = "abbreviation_list"
TFIDF = "tfidf"
METHODS = (EXACT, RULE, COMPOSITE, ABBREVIATION, ABBREVIATION_LIST, TFIDF)

MENTION_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.String(),
    "start": pl.Int64(),
    "end": pl.Int64(),
    "text": pl.String(),
    "entity_id": pl.String(),
    "method": pl.String(),
    "score": pl.Float64(),
    "equivalents": pl.List(pl.String()),
}


_INITIALS_SKIP = frozenset({"of", "the", "and", "in", "with", "to", "type", "a"})
_CAPS = re.compile(r"(?<![^\W_])[A-Z][A-Z0-9]{1,5}(?![^\W_])")


# ----------------------------------------------------------------------------- linker
class Linker:
    """Dictionary + abbreviation (+ optional TF-IDF) linker over a graph's names and synonyms."""

    def __init__(
        self,
        surfaces: pl.DataFrame,
        config: LinkerConfig | None = None,
        stats: dict[str, int] | None = None,
        senses: SenseContext | None = None,
        mention_filter: MentionFilter | None = None,
        scr_headings: dict[str, str] | None = None,
    ) -> None:
        """``mention_filter`` replaces the packaged filter (used when
        ``config.mention_filter`` is on); ``scr_headings``: the deferred MeSH
        supplementary records and their headings
        (:func:`~medkg.coverage.senses.deferred_scr_headings`)."""
        import ahocorasick

        self.config = config or LinkerConfig()
        self.surfaces = surfaces
        self.stats = dict(stats or {})
        self.senses = senses
        self.scr_headings = dict(scr_headings or {})
        self._entity = surfaces.get_column("entity_id").to_list()
        self._acronym = surfaces.get_column("acronym").to_list()
        self._composed = (
            surfaces.get_column("composed").to_list()
            if "composed" in surfaces.columns
            else [False] * surfaces.height
        )
        self._rank = (
            surfaces.get_column("rank").to_list()
            if "rank" in surfaces.columns
            else [0] * surfaces.height
        )
        self._filter = (mention_filter or packaged_filter()) if self.config.mention_filter else None
        self._candidates: list[list[str]] = (
            surfaces.get_column("candidates").to_list()
            if "candidates" in surfaces.columns
            else [[e] for e in self._entity]
        )
        keys = surfaces.get_column("key").to_list()
        self._index = {k: i for i, k in enumerate(keys)}
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
        # curated abbreviation -> surface index of the first of its names in the dictionary
        self._clinical: dict[str, int] = {}
        if self.config.clinical_abbreviations:
            for abbr, names in clinical_abbreviations():
                for name in names:
                    idx = self._index.get(surface_key(name))
                    if idx is not None:
                        self._clinical[abbr] = idx
                        break
        # word initials of multi-word forms ("dystrophia myotonica" -> DM): a short form
        # used without definition links to a co-mentioned entity with those initials
        self._initials: dict[str, list[int]] = {}
        for key, i in self._index.items():
            words = [w for w in key.split() if w not in _INITIALS_SKIP]
            if 2 <= len(words) <= 6 and not self._acronym[i]:
                self._initials.setdefault("".join(w[0] for w in words).upper(), []).append(i)
        self._fallback = TfidfFallback(keys, self.config) if self.config.tfidf else None
        self._linkable = {c for cands in self._candidates for c in cands}
        self._prefix_rank = {p: i for i, p in enumerate(self.config.prefix_priority)}

    @classmethod
    def from_graph(
        cls,
        kg: KnowledgeGraph,
        config: LinkerConfig | None = None,
        mention_filter: MentionFilter | None = None,
    ) -> Linker:
        """Build the dictionary (and automaton) from a graph's names and synonyms, and the
        sense context (neighbourhoods of shared forms' entities, exact mappings)."""
        config = config or LinkerConfig()
        surfaces, stats = surface_table(kg, config)
        shared = surfaces.filter(pl.col("senses") > 1).get_column("candidates").explode()
        linkable = surfaces.get_column("candidates").explode().unique().to_list()
        senses = SenseContext.from_graph(
            kg, shared.to_list(), config.prefix_priority, config.kinds, linkable
        )
        heads = deferred_scr_headings(kg, config.mesh_scr_defer_from, linkable)
        return cls(surfaces, config, stats, senses, mention_filter, heads)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``surfaces.parquet``, the sense context's Parquet tables and
        ``linker.json`` (no pickles) through a staged folder: ``folder`` is replaced whole
        on success and untouched on failure; a folder that is not a saved linker (nor
        empty) is refused."""
        folder = Path(folder)
        legacy = legacy_manifest("linker.json", config=..., stats=...)  # saved before markers
        with staged_folder(folder, "linker", legacy=legacy) as tmp:
            self.surfaces.write_parquet(tmp / "surfaces.parquet")
            if self.senses is not None:
                self.senses.save(tmp)
            meta = {"config": self.config.to_dict(), "stats": self.stats,
                    "scr_headings": self.scr_headings}  # fmt: skip
            (tmp / "linker.json").write_text(
                json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8"
            )
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Linker:
        folder = Path(folder)
        meta = json.loads((folder / "linker.json").read_text())
        config = LinkerConfig.from_dict(meta["config"])
        surfaces = pl.read_parquet(folder / "surfaces.parquet")
        senses = (
            SenseContext.load(folder, config.prefix_priority)
            if (folder / "neighbours.parquet").is_file()
            else None
        )
        return cls(surfaces, config, meta["stats"], senses, None, meta.get("scr_headings"))

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
            o_s, o_e = norm.original(s), norm.end(e)
            if self._acronym[idx] and not text[o_s:o_e].isupper():
                continue
            if crosses_boundary(text[o_s:o_e]):
                continue
            taken[s:e] = b"\x01" * (e - s)
            chosen.append((o_s, o_e, idx))
        chosen.sort()
        return chosen

    def _spans(
        self, text: str, exact: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int, str]]:
        """Exact matches grown over qualifiers, and composite mentions (one row per
        conjunct's entity, all with the coordination's span); sorted by start."""
        out: list[tuple[int, int, int, str]] = []
        floor = 0
        for s, e, idx in exact:
            method = RULE if self._composed[idx] else EXACT
            if self.config.qualifiers:
                comp = composite_heads(text, s, e, floor, lambda p: self._index.get(surface_key(p)))
                if comp is not None:
                    c_start, others = comp
                    c_start = extend_qualifiers(text, c_start, floor)
                    for o in others:
                        out.append((c_start, e, o, COMPOSITE))
                    s, method = c_start, COMPOSITE
                else:
                    s = extend_qualifiers(text, s, floor)
                    s = extend_qualifier_coordination(text, s, floor)
            out.append((s, e, idx, method))
            floor = e
        return out

    # ------------------------------------------------------------------ abbreviations
    def _abbreviations(
        self, text: str, exact: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        """Occurrences of locally defined short forms: (start, end, surface index)."""
        if self._detector is None:
            return []
        out: list[tuple[int, int, int]] = []
        seen: set[str] = set()
        for (ss, se), (ls, le) in self._detector.find(text):
            short = text[ss:se]
            if short in seen:
                continue
            idx = self._index.get(surface_key(text[ls:le]))
            if idx is None:
                # the long form may carry extra leading words: use an exact match ending it
                ends = [m for m in exact if m[1] == le and m[0] >= ls]
                idx = ends[0][2] if ends else None
            if idx is None and se < ls:
                pass  # "SF (long form)": nothing follows the long form
            elif idx is None:
                # "von Hippel-Lindau (VHL) disease": the long form runs on after the
                # brackets; the whole phrase, brackets included, is one mention of it
                tail = re.match(r"\)\s*([^\W_]+)(?:[ -]([^\W_]+))?", text[se:])
                if tail:
                    for k in (2, 1):
                        words = [w for w in tail.groups()[:k] if w]
                        if len(words) == k:
                            idx = self._index.get(surface_key(text[ls:le] + " " + " ".join(words)))
                            if idx is not None:
                                out.append((ls, se + tail.end(k), idx))
                                break
            if idx is None:
                continue
            seen.add(short)
            for m in re.finditer(r"(?<![^\W_])" + re.escape(short) + r"(?![^\W_])", text):
                out.append((m.start(), m.end(), idx))
        return out

    def _undefined_abbreviations(
        self, text: str, covered: bytearray, first_seen: dict[str, int]
    ) -> list[tuple[int, int, int, str]]:
        """Whole-word, all-capitals short forms the text does not define: the initials of
        a form of an entity the text mentioned before, else a
        curated clinical abbreviation. A short form that is a gene symbol of the graph
        is left alone (kind compatibility: "WT1", "DCC" name genes first)."""
        symbols = self.senses.symbols if self.senses is not None else frozenset()
        out = []
        for m in _CAPS.finditer(text):
            if covered.find(1, m.start(), m.end()) != -1:
                continue
            short = m.group()
            if short in symbols:
                continue
            hit = None
            if self._detector is not None:
                for i in self._initials.get(short, ()):
                    seen = [first_seen[c] for c in self._candidates[i] if c in first_seen]
                    if seen and min(seen) < m.start():
                        hit = i
                        break
            if hit is not None:
                out.append((m.start(), m.end(), hit, ABBREVIATION))
            elif short in self._clinical:
                out.append((m.start(), m.end(), self._clinical[short], ABBREVIATION_LIST))
        return out

    def _preferred(self, ent: str) -> str:
        """The exact equivalent of ``ent`` of the same kind from the most preferred source
        (``prefix_priority``), among the entities the dictionary links; else ``ent``. A
        deferred MeSH supplementary record (``mesh_scr_defer_from``) comes after every
        other equivalent and, if it is still the choice, gives way to its heading."""
        if self.senses is None:
            return ent
        kind = self.senses.kind_rank.get(ent)
        eq = [
            e
            for e in self.senses.equivalence.of(ent)
            if e in self._linkable and self.senses.kind_rank.get(e) == kind
        ]
        heads = self.scr_headings
        rank = self._prefix_rank
        n = len(rank)
        # a deferred record was copied from OMIM: its OMIM entry comes first
        late = any(c in heads for c in (ent, *eq))
        best = min(
            [ent, *eq],
            key=lambda c: (
                c in heads,
                late and not c.startswith("OMIM:"),
                rank.get(c.split(":", 1)[0], n),
                c != ent,
                c,
            ),
        )
        return heads.get(best, best)

    def _item_rows(self, text: str) -> tuple[list[tuple[int, int, int, str, str]], bytearray]:
        """One text's mentions before the mention filter, ``(start, end, surface index,
        method, entity)`` in text order, and the offsets they cover."""
        norm = Normalised(text)
        exact = self._exact(text, norm)
        found: list[tuple[int, int, int, str]] = []  # start, end, surface index, method
        covered = bytearray(len(text))  # original offsets already in a mention
        if self._detector is not None and "(" in text:
            for s, e, idx in self._abbreviations(text, exact):
                if covered.find(1, s, e) == -1:
                    covered[s:e] = b"\x01" * (e - s)
                    found.append((s, e, idx, ABBREVIATION))
        spans = self._spans(text, exact)
        claimed = bytearray(len(text))
        for s, e, idx, method in spans:
            # a locally defined abbreviation wins; conjuncts share one span
            if covered.find(1, s, e) != -1 and claimed.find(1, s, e) == -1:
                continue
            claimed[s:e] = b"\x01" * (e - s)
            found.append((s, e, idx, method))
        for s, e, _, _ in found:
            covered[s:e] = b"\x01" * (e - s)
        first_seen: dict[str, int] = {}
        for s, _, idx, _ in found:
            for c in self._candidates[idx]:
                first_seen[c] = min(s, first_seen.get(c, s))
        found.extend(self._undefined_abbreviations(text, covered, first_seen))
        # senses: entities named unambiguously are the context of the ambiguous ones
        context = {self._entity[idx] for _, _, idx, _ in found if len(self._candidates[idx]) == 1}
        rows = self._choose(found, context)
        for s, e, _, _ in found:
            covered[s:e] = b"\x01" * (e - s)
        return rows, covered

    def _filtered(
        self, text: str, rows: list[tuple[int, int, int, str, str]], flt: MentionFilter
    ) -> list[tuple[int, int, int, str, str]]:
        """The rows the mention filter keeps (rows of kinds it does not judge all stay)."""
        kinds = self.config.kinds
        rank = self.senses.kind_rank if self.senses is not None else {}
        feats = self.row_features(text, rows)
        return [
            r
            for r, f in zip(rows, feats, strict=True)
            if kinds[min(rank.get(r[4], 0), len(kinds) - 1)] not in flt.kinds or flt.keep(f)
        ]

    def _choose(
        self, found: list[tuple[int, int, int, str]], context: set[str]
    ) -> list[tuple[int, int, int, str, str]]:
        """Each found span's entity (sense choice, then the preferred equivalent), in text
        order, without repeats: (start, end, surface index, method, entity)."""
        rows: list[tuple[int, int, int, str, str]] = []
        emitted: set[tuple[int, int, str]] = set()
        for s, e, idx, method in sorted(found, key=lambda f: (f[0], f[1])):
            cands = self._candidates[idx]
            ent = (
                self.senses.choose(cands, context)
                if self.senses is not None and self.config.context and len(cands) > 1
                else self._entity[idx]
            )
            ent = self._preferred(ent)
            if (s, e, ent) in emitted:
                continue  # "DiGeorge/Shprintzen syndrome": both conjuncts name one entity
            emitted.add((s, e, ent))
            rows.append((s, e, idx, method, ent))
        return rows

    def row_features(
        self, text: str, rows: Sequence[tuple[int, int, int, str, str]]
    ) -> list[dict[str, float]]:
        """Mention-filter features (:func:`~medkg.coverage.linking_filter.mention_features`)
        of one text's chosen mentions ``(start, end, surface index, method, entity)``."""
        symbols = self.senses.symbols if self.senses is not None else frozenset()
        count: dict[str, int] = {}
        for r in rows:
            count[r[4]] = count.get(r[4], 0) + 1
        seen: set[str] = set()
        out = []
        for s, e, idx, method, ent in rows:
            out.append(
                mention_features(
                    text, s, e, method, ent, self._rank[idx], len(self._candidates[idx]),
                    text[s:e] in symbols, count[ent], ent not in seen,
                )
            )  # fmt: skip
            seen.add(ent)
        return out

    def candidate_features(
        self, items: Sequence[tuple[str, str]]
    ) -> list[tuple[str, int, int, str, str, dict[str, float]]]:
        """Every mention the linker proposes before the mention filter, with its features:
        ``(item_id, start, end, entity_id, method, features)`` (to fit the filter)."""
        out = []
        for item_id, text in items:
            rows, _ = self._item_rows(text)
            for (s, e, _, method, ent), f in zip(rows, self.row_features(text, rows), strict=True):
                out.append((item_id, s, e, ent, method, f))
        return out

    # ------------------------------------------------------------------ public
    def equivalents(self, entity_id: str) -> list[str]:
        """Entities the graph's exact mappings say are the same concept."""
        return list(self.senses.equivalence.of(entity_id)) if self.senses is not None else []

    def link_texts(self, items: Sequence[tuple[str, str]]) -> pl.DataFrame:
        """Mention table of one batch of ``(item_id, text)`` pairs: the items in their
        order, each one's mentions by start (so batches put together give the table of
        the whole, whatever the batch size)."""
        cols: dict[str, list[Any]] = {k: [] for k in MENTION_SCHEMA}
        position: list[int] = []  # each row's item, by its place in the batch
        # item id, run number, start, end, item position
        pending: list[tuple[str, int, int, int, int]] = []
        pending_text: list[str] = []
        n_runs = 0

        def add(
            pos: int, item_id: str, s: int, e: int, span: str, ent: str, method: str, sc: float
        ) -> None:
            position.append(pos)
            cols["item_id"].append(item_id)
            cols["start"].append(s)
            cols["end"].append(e)
            cols["text"].append(span)
            cols["entity_id"].append(ent)
            cols["method"].append(method)
            cols["score"].append(sc)
            cols["equivalents"].append(self.equivalents(ent))

        for pos, (item_id, text) in enumerate(items):
            rows, covered = self._item_rows(text)
            if self._filter is not None:
                rows = self._filtered(text, rows, self._filter)
            for s, e, _, method, ent in rows:
                add(pos, item_id, s, e, text[s:e], ent, method, 1.0)
            if self._fallback is not None:
                for run in self._fallback.phrases(text, covered):
                    for s, e in self._fallback.subspans(run):
                        pending.append((item_id, n_runs, s, e, pos))
                        pending_text.append(text[s:e])
                    n_runs += 1
        if pending and self._fallback is not None:
            best, score = self._fallback.nearest(pending_text)
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
                item_id, run_id, s, e, pos = pending[i]
                if run_id != current_run:
                    current_run, taken = run_id, []
                if any(s < te and ts < e for ts, te in taken):
                    continue
                taken.append((s, e))
                ent = self._entity[int(best[i])]
                add(pos, item_id, s, e, pending_text[i], ent, TFIDF, float(score[i]))
        # by item position, not item id: sorting ids ordered each batch on its own, so
        # the table of a list of items depended on the batch size it was linked in
        order = sorted(range(len(position)), key=lambda r: (position[r], cols["start"][r]))
        return pl.DataFrame({k: [v[r] for r in order] for k, v in cols.items()},
                            schema=MENTION_SCHEMA)  # fmt: skip

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
    "RULE",
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
