"""The coverage job end to end: link datasets, audit them, AMCS against a MET slice, report.

Used by ``medkg coverage audit`` and by the audit step of ``medkg run``::

    from medkg.coverage.pipeline import DatasetSpec, run_audit
    result = run_audit(kg, [DatasetSpec("mmlu", "mmlu"),
                            DatasetSpec("synthetic", "out/dataset/items.jsonl",
                                        fields=("question", "options"))],
                       out="coverage/")
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.coverage.amcs import compute_amcs
from medkg.coverage.audit import (
    AUDIT_KINDS,
    FORMAT,
    Audit,
    audit,
    audit_counts,
    audit_tree,
    check_name,
    check_names,
    write_audit,
)
from medkg.coverage.linking import MENTION_SCHEMA, Linker
from medkg.coverage.record_ids import first_repeat
from medkg.coverage.sets import TextSet, embed_set, met_slice
from medkg.coverage.sharded import CorpusLinks, CorpusSource, link_corpora, repeated_id
from medkg.embed import DEFAULT_EMBEDDER, Embedder, build_embedder
from medkg.engines.base import Engine
from medkg.engines.local import LocalEngine
from medkg.errors import UsageError
from medkg.io import Item, detect_format, iter_items, mmlu_medical_items, read_jsonl_records
from medkg.kg.model import KnowledgeGraph
from medkg.outputs import check_folder_target, legacy_manifest, staged_folder
from medkg.progress import Progress

log = logging.getLogger(__name__)

# The output kind of an audit folder (see medkg.outputs) and how one from before the marker looks.
AUDIT_KIND = "coverage-audit"
AUDIT_LEGACY = legacy_manifest("coverage.json", format=FORMAT)

# A dataset's quality report by path ({} when there is none), e.g.
# medkg.synthesis.inspect.inspect_if_synth; passed in so coverage does not import synthesis.
Inspector = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset to audit: a name, a file (or ``mmlu``), its text fields and id field."""

    name: str
    path: str
    fields: tuple[str, ...] = ("question", "options")
    id_field: str | None = None
    # a corpus read shard by shard on the engine's workers instead of whole (``items()``)
    corpus: CorpusSource | None = None

    def items(self) -> list[Item]:
        if self.path == "mmlu":
            return mmlu_medical_items()
        return list(iter_items(self.path, self.fields, self.id_field))


@dataclass
class CoverageResult:
    audits: list[Audit]
    # mention tables of the datasets read whole; a corpus's is only its file in ``files``
    mentions: dict[str, pl.DataFrame]
    files: dict[str, Path] = field(default_factory=dict)
    amcs_reference: str = ""
    model: str = ""


def link_items(
    linker: Linker, items: Sequence[Item], batch_size: int = 500, progress: Progress | None = None
) -> pl.DataFrame:
    """Mention table of ``items``, linked in batches with a progress callback."""
    frames = []
    done = 0

    def batches() -> Iterator[Sequence[Item]]:
        for start in range(0, len(items), batch_size):
            yield items[start : start + batch_size]

    for batch in batches():
        frames.append(linker.link_texts([(i.id, i.text) for i in batch]))
        done += len(batch)
        if progress is not None:
            progress("link", done, len(items))
    return pl.concat(frames) if frames else pl.DataFrame(schema=MENTION_SCHEMA)


def _link_on(
    engine: Engine,
    linker: Linker,
    items: Sequence[Item],
    shard_size: int,
    progress: Progress | None,
) -> pl.DataFrame:
    from medkg.coverage.sharded import link_sharded

    def shards_done(_stage: str, done: int, _total: int | None) -> None:
        if progress is not None:
            progress("link", min(done * shard_size, len(items)), len(items))

    pairs = [(i.id, i.text) for i in items]
    return link_sharded(linker, pairs, engine, shard_size=shard_size, progress=shards_done)


def amcs_summary(
    reference: TextSet,
    linked: TextSet,
    embedder: Embedder,
    *,
    graph_hash: str,
    recipe: str = "name",
    mode: str = "exact",
    bins: int = 40,
    drill: int = 15,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """AMCS between a reference set (A, e.g. the MET's diseases) and a dataset's linked
    entities (B): both directions, histograms of the per-item best cosines, and the
    reference entities the dataset covers least with their best match (drill-down).
    ``progress("embed", done, total)`` follows embeddings that are not cache hits, which
    run on ``engine`` when given (the same vectors, the same cache entries)."""
    kw: dict[str, Any] = {
        "graph_hash": graph_hash, "recipe": recipe, "progress": progress, "engine": engine
    }  # fmt: skip
    a = embed_set(reference, embedder, **kw)
    b = _reuse(reference, a, linked, embedder, **kw)
    res = compute_amcs(a, b, mode=mode)
    edges = np.linspace(-1.0, 1.0, 2 * bins + 1)[bins:]  # [0, 1] in `bins` steps
    low = np.clip(res.best_score_a_to_b, 0.0, 1.0)
    back = np.clip(res.best_score_b_to_a, 0.0, 1.0)
    order = np.lexsort((np.arange(len(low)), res.best_score_a_to_b))[:drill]
    return {
        **res.to_dict(),
        "reference": reference.spec,
        "model": embedder.model_id,
        "recipe": recipe,
        "seconds": res.seconds,
        "bin_edges": [round(float(x), 6) for x in edges],
        "forward_hist": np.histogram(low, bins=edges)[0].tolist(),
        "backward_hist": np.histogram(back, bins=edges)[0].tolist(),
        "least_covered": [
            {
                "id": reference.ids[i],
                "name": reference.texts[i],
                "best_match": linked.ids[int(res.best_index_a_to_b[i])],
                "best_match_name": linked.texts[int(res.best_index_a_to_b[i])],
                "cosine": float(res.best_score_a_to_b[i]),
            }
            for i in order
        ],
    }


def _reuse(
    reference: TextSet, ref_vectors: np.ndarray, ts: TextSet, embedder: Embedder, **kw: Any
) -> np.ndarray:
    """Vectors of ``ts``: rows of the reference's vectors for shared entities, the rest
    embedded (through the cache) — linked entities are mostly in the reference slice."""
    if ts.graph_nodes is None or reference.graph_nodes is None:
        return embed_set(ts, embedder, **kw)
    pos = {i: n for n, i in enumerate(reference.ids)}
    rest = [i for i in ts.ids if i not in pos]
    out = np.empty((len(ts.ids), ref_vectors.shape[1]), dtype=np.float32)
    if rest:
        frame = ts.graph_nodes.filter(pl.col("id").is_in(rest)).sort("id")
        sub = TextSet(
            ts.spec, frame.get_column("id").to_list(), frame.get_column("name").to_list(), frame
        )
        extra = embed_set(sub, embedder, **kw)
        pos_rest = {i: n for n, i in enumerate(sub.ids)}
    for row, i in enumerate(ts.ids):
        out[row] = ref_vectors[pos[i]] if i in pos else extra[pos_rest[i]]
    return out


def run_audit(
    kg: KnowledgeGraph,
    datasets: Sequence[DatasetSpec],
    *,
    out: str | Path | None = None,
    linker: Linker | None = None,
    kinds: Sequence[str] = AUDIT_KINDS,
    amcs_reference: str | None = "kind=Disease",
    embedder: Embedder | str = DEFAULT_EMBEDDER,
    recipe: str = "name",
    amcs_mode: str = "exact",
    branch_depth: int = 2,
    report: bool = True,
    progress: Progress | None = None,
    inspect: Inspector | None = None,
    engine: Engine | None = None,
    shard_size: int = 2000,
) -> CoverageResult:
    """Link, audit and (optionally) AMCS each dataset; write the files and the report to
    ``out`` when given. ``amcs_reference`` is a MET filter (see
    :func:`medkg.coverage.sets.met_slice`), ``None`` to skip AMCS. ``inspect`` gives a
    dataset's quality section of the report (the CLI passes
    :func:`medkg.synthesis.inspect.inspect_if_synth`); without it there is none.
    ``engine`` (local or Ray, :mod:`medkg.engines`): link each dataset in shards of
    ``shard_size`` items on it (the same mention table), and embed the AMCS entities that
    are not in the embedding cache on it (the same vectors, the same cache entry); None
    does both in this process. A dataset with a ``corpus`` is linked shard by shard with
    :func:`medkg.coverage.sharded.link_corpus` (on ``engine``, else locally): its full
    mention table is spooled to disk and moved into ``out`` and is not in ``mentions``:
    each worker reduces its shard's mentions to the audit's counts
    (:mod:`medkg.coverage.rollup`) and the driver adds them up, so memory is bounded by
    the graph, not by the corpus (the same audit files, to the byte). Item ids must be
    unique, in a corpus and in a dataset read whole (an
    :class:`~medkg.errors.InputError` names both records)."""
    if not datasets:
        raise UsageError("no datasets to audit")
    for name in check_names([d.name for d in datasets]):
        check_name(name)
    if out is not None:
        check_folder_target(out, AUDIT_KIND, AUDIT_LEGACY)
    # read everything first (bad input fails early), except corpora: they stream below
    loaded = [(d, None if d.corpus is not None else d.items()) for d in datasets]
    for spec, items in loaded:
        if items is not None:
            _check_ids(spec, items)
    if linker is None:
        if progress:
            progress("linker", 0, 1)
        linker = Linker.from_graph(kg)
    graph_hash = kg.content_hash()
    emb = build_embedder(embedder) if isinstance(embedder, str) else embedder
    reference = None
    if amcs_reference is not None:
        frame = met_slice(kg.nodes, amcs_reference)
        if frame.is_empty():
            raise UsageError(f"AMCS reference met:{amcs_reference} matches no entity")
        frame = frame.sort("id")
        reference = TextSet(
            f"met:{amcs_reference}",
            frame.get_column("id").to_list(),
            frame.get_column("name").to_list(),
            frame,
        )
    audits: list[Audit] = []
    mentions: dict[str, pl.DataFrame] = {}
    # full mention tables of corpora, on disk until they move into the output folder,
    # beside the output when it can (same file system: the move is a rename, no copy);
    # made only when a dataset is a corpus
    near = Path(out).absolute().parent if out is not None else None
    spool: Path | None = None
    mention_files: dict[str, Path] = {}
    try:
        corpora = [spec for spec, _ in loaded if spec.corpus is not None]
        corpus_links: dict[str, CorpusLinks] = {}
        if corpora:
            spool = Path(tempfile.mkdtemp(prefix=".medkg-audit-spool-",
                                          dir=near if near and near.is_dir() else None))  # fmt: skip
            mention_files = {spec.name: spool / f"{spec.name}.parquet" for spec in corpora}
            # every corpus in one stream (one pool of workers, the linker built once per
            # worker); each worker reduces its shard to the audit's counts, added up here
            jobs = [(spec.corpus, mention_files[spec.name]) for spec in corpora if spec.corpus]
            links = link_corpora(linker, jobs, engine or LocalEngine(),
                                 progress=progress, tree=audit_tree(kg.nodes))  # fmt: skip
            corpus_links = {spec.name: n for spec, n in zip(corpora, links, strict=True)}
        for spec, items in loaded:
            if spec.name in corpus_links:
                done = corpus_links[spec.name]
                assert done.counts is not None
                log.info("dataset %s: %d items, %d mentions", spec.name, done.items, done.mentions)
                a = audit_counts(kg.nodes, done.counts, name=spec.name, n_items=done.items,
                                 kinds=kinds, branch_depth=branch_depth)  # fmt: skip
                if spec.corpus is not None and spec.corpus.repeated_ids == "last":
                    # the records n_items leaves out (coverage.json's summary)
                    a = replace(a, summary={**a.summary, "repeated_ids": "last",
                                            "superseded": done.superseded,
                                            "deleted": done.deleted})  # fmt: skip
                entity_ids = done.counts.entity_ids
            else:
                assert items is not None
                if engine is None:
                    m = link_items(linker, items, progress=progress)
                else:
                    m = _link_on(engine, linker, items, shard_size, progress)
                mentions[spec.name] = m
                log.info("dataset %s: %d items, %d mentions", spec.name, len(items), m.height)
                a = audit(kg.nodes, m, name=spec.name, n_items=len(items), kinds=kinds,
                          branch_depth=branch_depth)  # fmt: skip
                entity_ids = sorted(set(m.get_column("entity_id").to_list()))
            a = _with_amcs(a, spec, entity_ids, kg, reference, emb, graph_hash, recipe,
                           amcs_mode, progress, engine, inspect)  # fmt: skip
            audits.append(a)
        result = CoverageResult(audits, mentions, amcs_reference=amcs_reference or "",
                                model=emb.model_id if reference is not None else "")  # fmt: skip
        if out is not None:
            out = Path(out)
            final = out
            with staged_folder(final, AUDIT_KIND, legacy=AUDIT_LEGACY) as out:
                result.files = _write_outputs(out, audits, mentions, mention_files, result,
                                              linker, graph_hash, amcs_reference, report)  # fmt: skip
            result.files = {k: final / v.name for k, v in result.files.items()}
    finally:
        if spool is not None:
            shutil.rmtree(spool, ignore_errors=True)
    return result


def _check_ids(spec: DatasetSpec, items: Sequence[Item]) -> None:
    """Item ids of a dataset read whole must be unique, as a corpus's are
    (:mod:`medkg.coverage.record_ids`): two records of one id would be one item to the
    audit's counts and two to its ``n_items``. The error names both records."""
    repeat = first_repeat([i.id for i in items])
    if repeat is None:
        return
    path = Path(spec.path)
    if spec.path != "mmlu" and detect_format(path) == "jsonl":  # file:line, blank lines counted
        lines = [n for n, _ in islice(read_jsonl_records(path), repeat[1] + 1)]
        places = [f"{path}:{lines[p]}" for p in repeat]
    else:  # the record (JSON) or row (Parquet, CSV) number that ids without --id-field use
        places = [f"{spec.path}: record {p + 1}" for p in repeat]
    raise repeated_id(items[repeat[1]].id, places[0], places[1], f"dataset {spec.name!r}")


def _with_amcs(a: Audit, spec: DatasetSpec, entity_ids: list[str], kg: KnowledgeGraph,
               reference: TextSet | None, emb: Embedder, graph_hash: str, recipe: str,
               amcs_mode: str, progress: Progress | None, engine: Engine | None,
               inspect: Inspector | None) -> Audit:  # fmt: skip
    """``a`` with its AMCS against ``reference`` (when given; ``entity_ids``: the entities
    the dataset mentions) and its quality section."""
    if reference is not None:
        frame = kg.nodes.filter(pl.col("id").is_in(entity_ids)).sort("id")
        if not frame.is_empty():
            if progress:
                progress("amcs", 0, 1)
            linked = TextSet(
                f"linked:{spec.name}",
                frame.get_column("id").to_list(),
                frame.get_column("name").to_list(),
                frame,
            )
            a.amcs = amcs_summary(
                reference,
                linked,
                emb,
                graph_hash=graph_hash,
                recipe=recipe,
                mode=amcs_mode,
                progress=progress,
                engine=engine,
            )
    a.inspect = inspect(spec.path) if inspect is not None else {}
    return a


def _write_outputs(out: Path, audits: list[Audit], mentions: dict[str, pl.DataFrame],
                   mention_files: dict[str, Path], result: CoverageResult, linker: Linker,
                   graph_hash: str, amcs_reference: str | None,
                   report: bool) -> dict[str, Path]:  # fmt: skip
    """Every file of one audit, written into the staging folder ``out`` (swapped in together)."""
    extra = {
        "graph_hash": graph_hash,
        "linker": linker.config.to_dict(),
        "amcs_reference": f"met:{amcs_reference}" if amcs_reference else None,
        "model": result.model or None,
    }
    files = write_audit(audits, out, extra=extra)
    for a in audits:
        path = out / (f"mentions.{a.name}.parquet" if len(audits) > 1 else "mentions.parquet")
        if a.name in mention_files:  # a corpus's full table, written while it was linked
            shutil.move(mention_files[a.name], path)
        else:
            mentions[a.name].write_parquet(path)
        files[path.name] = path
    if report:
        from medkg.coverage.report import write_report

        files["report.html"] = write_report(out)
    return files


__all__ = ["CoverageResult", "DatasetSpec", "amcs_summary", "link_items", "run_audit"]
