"""Evidence packs for synthetic QA items, query usefulness labels and query-generator data.

For each item of a dataset (the rows of ``items.jsonl`` written by ``medkg synth``),
:func:`attach_evidence` writes queries for every corpus with
:class:`~medkg.retrieval.queries.QueryGenerator` (the corpus's kind picks the style),
retrieves the top ``k`` chunks per query, and keeps, per corpus, the top ``k`` chunks of
its graph (and LLM) queries fused by reciprocal-rank fusion (:data:`RRF_K`; ties go to the
earlier query, then the better rank). Each kept chunk becomes a
:class:`~medkg.retrieval.base.Evidence` crediting the query that ranked it best.

Support: a chunk supports the gold answer when one of the answer's names (its name, its
synonyms, the names of its MAPS_TO equivalents) occurs in it together with one of the
names of a question entity (every item entity that is not an option, hidden
intermediates included), case-insensitively on whole words (:func:`supports`). A query is
*useful* when at least one of its top ``k`` chunks supports the answer. Raw queries (the
question text) are labelled too, for comparison and as DPO rejections.

:func:`write_evidence_dataset` writes, atomically (a temporary sibling folder renamed into
place; an earlier output is replaced, any other non-empty folder refused):

``items.jsonl``            the input rows, each with an added ``"evidence"`` list
``queries.jsonl``          every query with its label, corpus and top chunk ids
``queries_positive.jsonl`` / ``queries_negative.jsonl``  the useful / useless ones
``query_sft.jsonl``        TRL *conversational prompt-completion*: ``{"prompt": [system,
                           user], "completion": [assistant]}``; the user turn holds the
                           question and the corpus kind, the completion a useful query
``query_dpo.jsonl``        TRL *conversational preference*: ``{"prompt": [...], "chosen":
                           [assistant], "rejected": [assistant]}``: a useful and a useless
                           query for the same item and corpus kind
``manifest.json``          k, corpora, query config, counts, the input's graph hash and
                           sha256, and sha256 + size of every file above

Same rows, corpora and config ⇒ byte-identical files (sorted keys, rounded floats, no
timestamps or paths of this machine).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medkg.config import medkg_home
from medkg.io import (
    MANIFEST,
    canonical,
    digests,
    file_digest,
    write_jsonl,
)
from medkg.outputs import check_folder_target, legacy_manifest, staged_folder
from medkg.progress import Progress
from medkg.retrieval.base import Evidence, Hit, Query, RetrievalError, Retriever
from medkg.retrieval.queries import STYLE_HINTS, QueryGenerator, style_for
from medkg.text import names_in, normalise

RRF_K = 60
# The output kind (medkg.outputs) and how a folder from before the output marker looks.
KIND = "evidence"
LEGACY = legacy_manifest(format_version=..., k=..., corpora=...)
SEARCH_BATCH = 256  # queries per retriever call (bounds memory, drives the progress bar)
FORMAT_VERSION = 1
QUERY_SYSTEM_PROMPT = (
    "You write search queries for medical retrieval. Given a question and the kind of "
    "corpus to search, write one query in that corpus's style that finds the evidence "
    "needed to answer the question, without stating the answer."
)


@dataclass(frozen=True)
class CorpusIndex:
    """A searchable corpus: its name, its kind (picks the query style) and its retriever."""

    name: str
    kind: str
    retriever: Retriever

    def describe(self) -> dict[str, Any]:
        meta = getattr(self.retriever, "meta", None)
        info = meta() if callable(meta) else {"backend": self.retriever.key}
        keep = ("backend", "model", "dim", "n_chunks", "version")
        return {"name": self.name, "kind": self.kind, **{k: info.get(k) for k in keep}}


@dataclass
class QueryRun:
    """One query sent to one corpus for one item, with its hits and support labels."""

    item: int  # position of the item in the input
    corpus: str
    query: Query
    hits: list[Hit]
    support: list[bool]  # per hit

    @property
    def useful(self) -> bool:
        return any(self.support)

    def first_support_rank(self) -> int | None:
        return next((h.rank for h, s in zip(self.hits, self.support, strict=True) if s), None)


@dataclass(frozen=True)
class SupportNames:
    """The names a supporting chunk must show: one of the answer's and one of the cues'."""

    answer: tuple[str, ...]
    cues: tuple[str, ...]


def supports(text: str, names: SupportNames) -> bool:
    """True if ``text`` names the answer and a question entity (whole words, any case)."""
    norm = normalise(text)
    return names_in(norm, names.answer) and names_in(norm, names.cues)


def support_names(item: Mapping[str, Any], qgen: QueryGenerator) -> SupportNames:
    """Answer names (with MAPS_TO equivalents) and question-entity names of an item."""
    answer_id = str(item.get("answer_id", ""))
    options = {answer_id, *item.get("option_ids", ()), *item.get("distractor_ids", ())}
    answer = [str(item.get("answer", "")), *_names_with_equivalents(answer_id, qgen)]
    cues: list[str] = []
    for eid in dict.fromkeys(item.get("entity_ids", ())):
        if eid not in options:
            cues.extend(_names_with_equivalents(eid, qgen))
    return SupportNames(_unique(answer), _unique(cues))


def _names_with_equivalents(eid: str, qgen: QueryGenerator) -> list[str]:
    names = qgen.names(eid)
    row = qgen.graph.row_of.get(eid)
    if row is not None:
        for r in qgen.graph.equiv.row(row).tolist():
            names.extend(qgen.names(qgen.graph.ids[r]))
    return names


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for n in names:
        if n and n.lower() not in seen:
            seen[n.lower()] = n
    return tuple(seen.values())


def indexes_dir() -> Path:
    """Where ``medkg retrieve index`` saves indexes: ``$MEDKG_HOME/retrieval/indexes``."""
    return medkg_home() / "retrieval" / "indexes"


def open_corpus(
    name: str,
    *,
    indexes: str | Path | None = None,
    registry_dir: str | Path | None = None,
    **load_options: Any,
) -> CorpusIndex:
    """Load the saved index of corpus ``name`` (``<indexes>/<name>``) with its kind from
    the corpus registry; ``load_options`` go to the backend (e.g. the dense ``embedder``)."""
    from medkg.retrieval.corpus import CorpusRegistry

    folder = Path(indexes) if indexes is not None else indexes_dir()
    spec = CorpusRegistry(registry_dir).get(name)
    retriever = load_index(folder / name, **load_options)
    if retriever.size == 0:
        raise RetrievalError(f"{folder / name}: the index of corpus {name!r} is empty")
    return CorpusIndex(name, spec.kind, retriever)


def load_index(folder: Path, **load_options: Any) -> Retriever:
    """Load a saved index of any registered backend, named by ``meta.json``'s ``backend``
    (or ``key``, as the graph retriever writes it)."""
    from medkg.retrieval.base import RETRIEVERS
    from medkg.retrieval.retrievers import load_retriever

    path = folder / "meta.json"
    if not path.is_file():
        return load_retriever(folder, **load_options)  # raises the missing-index error
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RetrievalError(f"cannot read {path}: {exc}") from None
    key = meta.get("key") if isinstance(meta, dict) and "backend" not in meta else None
    if key is None:
        return load_retriever(folder, **load_options)
    if key not in RETRIEVERS:
        raise RetrievalError(f"{folder} holds a {key!r} index; known: {sorted(RETRIEVERS)}")
    return RETRIEVERS[key].load(folder, **load_options)


# ----------------------------------------------------------------------------- retrieval
def run_queries(
    items: Sequence[Mapping[str, Any]],
    queries: Sequence[Sequence[Query]],
    corpora: Sequence[CorpusIndex],
    k: int,
    *,
    names: Sequence[SupportNames] | None = None,
    progress: Progress | None = None,
) -> list[QueryRun]:
    """Search every corpus with the queries written for its kind; label each hit.

    Identical query texts are searched once per corpus. ``names`` (one per item) turn on
    the support labels; without them every label is False."""
    if k < 1:
        raise RetrievalError(f"k must be >= 1, got {k}")
    runs: list[QueryRun] = []
    for corpus in corpora:
        jobs = [(i, q) for i, qs in enumerate(queries) for q in qs if q.corpus_kind == corpus.kind]
        texts = list(dict.fromkeys(q.text for _, q in jobs))
        found: dict[str, list[Hit]] = {}
        for start in range(0, len(texts), SEARCH_BATCH):
            batch = texts[start : start + SEARCH_BATCH]
            found.update(zip(batch, corpus.retriever.search(batch, k), strict=True))
            if progress is not None:
                progress(corpus.name, start + len(batch), len(texts))
        for i, q in jobs:
            hits = found[q.text]
            labels = (
                [supports(f"{h.chunk.title}\n{h.chunk.text}", names[i]) for h in hits]
                if names is not None
                else [False] * len(hits)
            )
            runs.append(QueryRun(i, corpus.name, q, hits, labels))
    return runs


def fuse(runs: Sequence[QueryRun], k: int) -> list[tuple[Hit, QueryRun, bool]]:
    """Reciprocal-rank fusion of several queries' hits on one corpus: the top ``k`` chunks,
    each with the run that ranked it best (ties: the earlier run) and its support label."""
    score: dict[str, float] = {}
    best: dict[str, tuple[int, int, Hit, QueryRun, bool]] = {}
    for order, run in enumerate(runs):
        for hit, sup in zip(run.hits, run.support, strict=True):
            cid = hit.chunk.chunk_id
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + hit.rank)
            key = (hit.rank, order)
            if cid not in best or key < best[cid][:2]:
                best[cid] = (hit.rank, order, hit, run, sup)
    ranked = sorted(score, key=lambda c: (-score[c], best[c][0], best[c][1]))
    return [(best[c][2], best[c][3], best[c][4]) for c in ranked[:k]]


def evidence_pack(
    runs: Sequence[QueryRun], corpora: Sequence[CorpusIndex], k: int
) -> list[Evidence]:
    """One item's evidence: per corpus (in ``corpora`` order) the fused top ``k`` chunks of
    its non-raw queries, best first."""
    pack: list[Evidence] = []
    for corpus in corpora:
        own = [r for r in runs if r.corpus == corpus.name and r.query.source != "raw"]
        for rank, (hit, run, sup) in enumerate(fuse(own, k), start=1):
            c = hit.chunk
            pack.append(
                Evidence(
                    corpus=corpus.name,
                    corpus_kind=corpus.kind,
                    query=run.query.text,
                    style=run.query.style,
                    facts=run.query.facts,
                    chunk_id=c.chunk_id,
                    doc_id=c.doc_id,
                    title=c.title,
                    text=c.text,
                    rank=rank,
                    score=hit.score,
                    supports=sup,
                )
            )
    return pack


# ----------------------------------------------------------------------------- attach
@dataclass
class EvidenceResult:
    """Rows with their evidence, every labelled query run, and counts."""

    rows: list[dict[str, Any]]
    runs: list[QueryRun]
    corpora: list[CorpusIndex]
    k: int
    counts: dict[str, Any] = field(default_factory=dict)


def item_queries(
    rows: Sequence[Mapping[str, Any]],
    qgen: QueryGenerator,
    corpora: Sequence[CorpusIndex],
    *,
    generator: Any = None,
    progress: Progress | None = None,
) -> list[list[Query]]:
    """Queries for every row in the styles of the corpora's kinds (plus LLM rewrites when
    ``generator`` is given)."""
    kinds = list(dict.fromkeys(c.kind for c in corpora))
    queries = []
    for i, row in enumerate(rows):
        queries.append(qgen.for_item(row, kinds))
        if progress is not None:
            progress("queries", i + 1, len(rows))
    if generator is not None:
        queries = qgen.rewrite(rows, queries, generator)
    return queries


def attach_evidence(
    rows: Sequence[Mapping[str, Any]],
    corpora: Sequence[CorpusIndex],
    qgen: QueryGenerator,
    *,
    k: int = 10,
    generator: Any = None,
    progress: Progress | None = None,
) -> EvidenceResult:
    """Evidence packs and labelled queries for ``rows`` (dicts of ``QAItem.to_dict``)."""
    if not corpora:
        raise RetrievalError("no corpora to retrieve from: index one with `medkg retrieve index`")
    names_ = [c.name for c in corpora]
    if len(set(names_)) != len(names_):
        raise RetrievalError(f"corpus names must be unique, got {names_}")
    queries = item_queries(rows, qgen, corpora, generator=generator, progress=progress)
    names = [support_names(r, qgen) for r in rows]
    runs = run_queries(rows, queries, corpora, k, names=names, progress=progress)
    by_item: dict[int, list[QueryRun]] = {}
    for run in runs:
        by_item.setdefault(run.item, []).append(run)
    out_rows = []
    supported = 0
    for i, row in enumerate(rows):
        pack = evidence_pack(by_item.get(i, []), corpora, k)
        supported += any(e.supports for e in pack)
        out_rows.append({**row, "evidence": [asdict(e) for e in pack]})
    useful = Counter(r.corpus for r in runs if r.useful)
    total = Counter(r.corpus for r in runs)
    counts = {
        "items": len(rows),
        "items_with_support": supported,
        "queries": len(runs),
        "useful_queries": sum(useful.values()),
        "by_corpus": {c: {"queries": total[c], "useful": useful[c]} for c in names_},
        "generator": dict(sorted(qgen.stats.items())),
    }
    return EvidenceResult(out_rows, runs, list(corpora), k, counts)


# ----------------------------------------------------------------------------- training rows
def query_prompt(question: str, kind: str) -> list[dict[str, str]]:
    """The prompt a query generator is trained on: the question and the corpus kind."""
    style = style_for(kind)
    user = (
        f"Corpus kind: {kind}\nQuery style: {STYLE_HINTS.get(style, STYLE_HINTS['question'])}\n"
        f"Question: {question}\nWrite the search query."
    )
    return [
        {"role": "system", "content": QUERY_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def query_records(result: EvidenceResult) -> list[dict[str, Any]]:
    """One row per query run (``queries.jsonl``)."""
    out = []
    for run in result.runs:
        row = result.rows[run.item]
        out.append(
            {
                "item_id": row.get("id", ""),
                "corpus": run.corpus,
                "corpus_kind": run.query.corpus_kind,
                "style": run.query.style,
                "source": run.query.source,
                "query": run.query.text,
                "facts": list(run.query.facts),
                "useful": run.useful,
                "n_hits": len(run.hits),
                "n_supporting": sum(run.support),
                "first_supporting_rank": run.first_support_rank(),
                "chunk_ids": [h.chunk.chunk_id for h in run.hits],
            }
        )
    return out


def _by_item_kind(result: EvidenceResult) -> dict[tuple[int, str], dict[str, tuple[bool, str]]]:
    """(item, kind) -> query text -> (useful in any corpus of that kind, source), in order."""
    groups: dict[tuple[int, str], dict[str, tuple[bool, str]]] = {}
    for run in result.runs:
        texts = groups.setdefault((run.item, run.query.corpus_kind), {})
        was = texts.get(run.query.text, (False, run.query.source))
        texts[run.query.text] = (was[0] or run.useful, was[1])
    return groups


def training_rows(
    result: EvidenceResult, max_pairs: int = 4
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """SFT rows (a useful non-raw query per row) and DPO rows (useful vs useless query for
    the same item and corpus kind, at most ``max_pairs`` per item and kind)."""
    sft: list[dict[str, Any]] = []
    dpo: list[dict[str, Any]] = []
    for (i, kind), texts in _by_item_kind(result).items():
        row = result.rows[i]
        prompt = query_prompt(str(row.get("question", "")), kind)
        base = {"item_id": row.get("id", ""), "corpus_kind": kind, "style": style_for(kind)}
        chosen = [t for t, (ok, src) in texts.items() if ok and src != "raw"]
        rejected = [t for t, (ok, _) in texts.items() if not ok]
        for t in chosen:
            sft.append(
                {**base, "prompt": prompt, "completion": [{"role": "assistant", "content": t}]}
            )
        pairs = [(c, r) for c in chosen for r in rejected][:max_pairs]
        for c, r in pairs:
            dpo.append(
                {
                    **base,
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": c}],
                    "rejected": [{"role": "assistant", "content": r}],
                }
            )
    return sft, dpo


# ----------------------------------------------------------------------------- files
def read_item_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of ``items.jsonl`` (or of a dataset folder holding one); a bad line is an
    error naming the file and line."""
    p = Path(path)
    if p.is_dir():
        p = p / "items.jsonl"
    if not p.is_file():
        raise RetrievalError(f"{p}: no items.jsonl (expected a dataset written by `medkg synth`)")
    rows = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RetrievalError(f"{p}:{n}: not a JSON object ({exc.msg})") from None
            if not isinstance(row, dict):
                raise RetrievalError(f"{p}:{n}: not a JSON object")
            missing = [f for f in ("question", "answer_id", "entity_ids") if f not in row]
            if missing:
                raise RetrievalError(f"{p}:{n}: item lacks {missing}")
            _check_item_types(row, f"{p}:{n}")
            rows.append(row)
    if not rows:
        raise RetrievalError(f"{p}: no items")
    return rows


# the fields retrieval reads, typed as ``QAItem.to_dict`` writes them: a string where a
# list belongs would be iterated character by character (no cue, no support names)
_STRING_FIELDS = ("question", "answer_id")
_LIST_FIELDS = ("entity_ids", "option_ids", "distractor_ids", "path_nodes", "path_rels")


def _check_item_types(row: Mapping[str, Any], where: str) -> None:
    for f in _STRING_FIELDS:
        if not isinstance(row[f], str):
            raise RetrievalError(f"{where}: {f} must be a string, got {row[f]!r}")
    for f in _LIST_FIELDS:
        value = row.get(f, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RetrievalError(f"{where}: {f} must be a list of ids (strings), got {value!r}")


def source_manifest(path: str | Path) -> dict[str, Any]:
    """What the output records of its input: graph hash, seed, item count, sha256."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    items = p / "items.jsonl" if p.is_dir() else p
    info: dict[str, Any] = {"items_sha256": file_digest(items)["sha256"]}
    man = folder / MANIFEST
    if man.is_file():
        try:
            data = json.loads(man.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RetrievalError(f"{man}: unreadable dataset manifest ({exc})") from None
        if not isinstance(data, dict):
            raise RetrievalError(f"{man}: not a dataset manifest (not a JSON object)")
        for key in ("graph_hash", "seed", "n_items", "source_versions"):
            if key in data:
                info[key] = data[key]
    return info


def write_evidence_dataset(
    result: EvidenceResult,
    out_dir: str | Path,
    manifest: Mapping[str, Any] | None = None,
    *,
    max_pairs: int = 4,
) -> dict[str, Any]:
    """Write the evidence dataset (see the module doc) atomically; returns the manifest."""
    out = Path(out_dir)
    check_folder_target(out, KIND, LEGACY)
    records = query_records(result)
    sft, dpo = training_rows(result, max_pairs)
    with staged_folder(out, KIND, legacy=LEGACY) as tmp:
        write_jsonl(tmp / "items.jsonl", result.rows)
        write_jsonl(tmp / "queries.jsonl", records)
        write_jsonl(tmp / "queries_positive.jsonl", [r for r in records if r["useful"]])
        write_jsonl(tmp / "queries_negative.jsonl", [r for r in records if not r["useful"]])
        write_jsonl(tmp / "query_sft.jsonl", sft)
        write_jsonl(tmp / "query_dpo.jsonl", dpo)
        full = canonical(
            {
                **dict(manifest or {}),
                "format_version": FORMAT_VERSION,
                "k": result.k,
                "corpora": [c.describe() for c in result.corpora],
                "counts": {**result.counts, "sft_rows": len(sft), "dpo_rows": len(dpo)},
                "trl_formats": {
                    "query_sft.jsonl": "conversational prompt-completion",
                    "query_dpo.jsonl": "conversational preference (prompt, chosen, rejected)",
                },
                "files": digests(tmp),
            }
        )
        (tmp / MANIFEST).write_text(
            json.dumps(full, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return dict(full)


__all__ = [
    "RRF_K",
    "CorpusIndex",
    "EvidenceResult",
    "QueryRun",
    "SupportNames",
    "attach_evidence",
    "evidence_pack",
    "fuse",
    "indexes_dir",
    "item_queries",
    "load_index",
    "open_corpus",
    "query_prompt",
    "query_records",
    "read_item_rows",
    "run_queries",
    "source_manifest",
    "support_names",
    "supports",
    "training_rows",
    "write_evidence_dataset",
]
