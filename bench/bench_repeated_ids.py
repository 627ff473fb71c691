"""What ``--repeated-ids last`` costs: the id pre-pass (every shard read for its ids and
deletions, 128-bit hashes spooled to disk, resolved bucket by bucket) against the link
pass it precedes, on real MEDLINE citations; and the spool alone at scale.

``--pubmed``: the MEDLINE file split into ``--split`` PubMed XML.gz files (a "baseline",
as bench/bench_scale.py splits it) plus an "update" file named after them that repeats
the first ``--revised`` citations of the first file (same PMIDs) and deletes
``--deletes`` PMIDs of the second (``DeleteCitation``). Times, on the local engine, the
pre-pass alone (``--runs`` times; asserts superseded = revised and deleted = deletes,
known by construction), then ``link_corpus`` with the bundled graph's linker on the
baseline files alone, ``repeated_ids="error"`` vs ``"last"`` (pre-pass included),
interleaved ``--link-runs`` times: the same mention table (asserted), the time ratio.
``--ids N``: the spool alone on N PMID-like ids in shards of 30,000 plus an update shard
revising 5 % of them: hashing, spooling, resolving; seconds and peak RSS above the start.

    python bench/bench_repeated_ids.py --pubmed pubmed21n1298.xml.gz --split 8 --runs 3 \\
        --ids 2000000
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import tempfile
import time
from pathlib import Path

from bench_scale import load, split_pubmed  # bench/ is on the path of a script run from it


def _rss(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def write_update(files: list[Path], revised: int, deletes: int) -> Path:
    """The update file (module doc), named to sort after the baseline's files."""
    first = gzip.decompress(files[0].read_bytes()).decode()
    second = gzip.decompress(files[1].read_bytes()).decode()
    articles = re.findall(r"<PubmedArticle>.*?</PubmedArticle>", first, re.S)[:revised]
    pmid = r'<MedlineCitation[^>]*>\s*<PMID Version="1">(\d+)</PMID>'
    gone = re.findall(pmid, second)[:deletes]
    head = first[: first.index("<PubmedArticle>")]
    body = "\n".join(articles) + "\n<DeleteCitation>\n" + "".join(
        f'<PMID Version="1">{p}</PMID>\n' for p in gone) + "</DeleteCitation>\n"  # fmt: skip
    out = files[0].parent / "pubmed99n9999.xml.gz"
    assert sorted([*files, out])[-1] == out
    out.write_bytes(gzip.compress((head + body + "</PubmedArticleSet>\n").encode(), 1))
    return out


def bench_pubmed(args: argparse.Namespace) -> None:
    from medkg.coverage.linking import Linker
    from medkg.coverage.sharded import CorpusSource, _latest_records, link_corpus
    from medkg.engines import LocalEngine
    from medkg.kg.build import build_graph
    from medkg.retrieval.shards import ShardItems, plan_shards

    with tempfile.TemporaryDirectory(prefix="bench-ids-") as tmp:
        folder = Path(tmp) / "shards"
        folder.mkdir()
        files = split_pubmed(args.pubmed, args.split, folder)
        write_update(files, args.revised, args.deletes)
        shards = plan_shards(str(folder), 1)
        citations = sum(len(ShardItems()(s)) for s in shards[:-1])
        source = CorpusSource(tuple(shards), ShardItems(), "last")
        pre = []
        for _ in range(args.runs):
            t = time.perf_counter()
            (dropped,) = _latest_records([(source, Path(tmp) / "m.parquet")], LocalEngine(), None)
            pre.append(time.perf_counter() - t)
        assert dropped is not None
        assert (dropped.superseded, dropped.deleted) == (args.revised, args.deletes), dropped
        print(f"{citations:,} citations in {args.split} files + an update ({args.revised:,} "
              f"revised, {args.deletes:,} deleted); {load()}")  # fmt: skip
        print(f"pre-pass alone: median {statistics.median(pre):.2f} s "
              f"({' / '.join(f'{p:.2f}' for p in pre)})")  # fmt: skip
        # the link pass with and without the pre-pass, on the baseline files alone (no
        # repeats: the same records either way, so the same mention table, asserted)
        update = shards[-1]
        Path(update.path).unlink()
        base = plan_shards(str(folder), 1)
        linker = Linker.from_graph(build_graph())
        times: dict[str, list[float]] = {"error": [], "last": []}
        tables = {}
        for _ in range(args.link_runs):
            for policy in times:
                out = Path(tmp) / f"{policy}.parquet"
                t = time.perf_counter()
                res = link_corpus(linker, base, ShardItems(), LocalEngine(), out,
                                  repeated_ids=policy)  # fmt: skip
                times[policy].append(time.perf_counter() - t)
                assert res.items == citations and res.superseded == res.deleted == 0
                tables[policy] = out.read_bytes()
        assert tables["error"] == tables["last"]
        med = {k: statistics.median(v) for k, v in times.items()}
        for policy, v in times.items():
            print(f"link_corpus(repeated_ids={policy!r}) on the {args.split} baseline files: "
                  f"median {med[policy]:.1f} s ({' / '.join(f'{x:.1f}' for x in v)})")  # fmt: skip
        print(f"last / error = {med['last'] / med['error']:.3f}; {load()}")


def bench_ids(n: int) -> None:
    from medkg.coverage.record_ids import LatestSpool, wide_id_hashes

    ids = [str(30_000_000 + i) for i in range(n)]  # PMID-like
    revised = ids[::20]  # 5 %: an update file's revised citations
    base = _rss("VmRSS")
    t = time.perf_counter()
    hash_s = 0.0
    with tempfile.TemporaryDirectory() as tmp, LatestSpool(tmp) as spool:
        chunks = [ids[i : i + 30_000] for i in range(0, n, 30_000)] + [revised]
        for shard, chunk in enumerate(chunks):
            h = time.perf_counter()
            hashes = wide_id_hashes(chunk)
            hash_s += time.perf_counter() - h
            spool.add(shard, hashes, wide_id_hashes([]))
        r = time.perf_counter()
        dropped = spool.resolve()
        resolve_s = time.perf_counter() - r
    assert dropped.superseded == len(revised)
    total = time.perf_counter() - t
    print(f"spool of {n:,} ids + {len(revised):,} revised: {total:.2f} s "
          f"({total / (n + len(revised)) * 1e6:.2f} µs an id; hashing {hash_s:.2f} s, "
          f"resolve {resolve_s:.2f} s), peak +{_rss('VmHWM') - base:.1f} MiB; {load()}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pubmed", type=Path)
    ap.add_argument("--split", type=int, default=8)
    ap.add_argument("--revised", type=int, default=1000)
    ap.add_argument("--deletes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--link-runs", type=int, default=2)
    ap.add_argument("--ids", type=int, default=0)
    args = ap.parse_args()
    if args.ids:
        bench_ids(args.ids)
    if args.pubmed:
        bench_pubmed(args)


if __name__ == "__main__":
    main()
