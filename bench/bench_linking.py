"""Linking throughput: the Aho-Corasick Linker against a naive regex-alternation linker.

Both use the same dictionary (the Linker's normalised surface forms) over the same texts
(the 1,089 MMLU medical questions, question + options), in one process. The baseline is
``re.compile(r"\\b(?:" + "|".join(sorted(escaped forms, key=len, reverse=True)) + r")\\b",
re.IGNORECASE)`` with ``finditer`` - longest form first at each position, as a
hand-written linker would. Python's ``re`` tries the alternatives one by one at every
position, so the baseline is timed on the first ``--baseline-chars`` characters of the
texts; the Linker is timed on that same slice and on the whole set repeated ``--repeat``
times. Prints characters per second (median of ``--runs``) and the ratio (target >= 10x).

    python bench/bench_linking.py                  # bundled graph, exact + abbreviation
    python bench/bench_linking.py --tfidf          # also the TF-IDF fallback
    python bench/bench_linking.py --forms 20000    # a dictionary subsample for both
    python bench/bench_linking.py --mention-filter # also time the learned mention filter
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TypeVar

import polars as pl

from medkg.coverage.linking import Linker, LinkerConfig
from medkg.io import Item, mmlu_medical_items
from medkg.kg.build import build_graph

T = TypeVar("T")


def timed(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """Median wall time of ``runs`` calls and the last result."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tfidf", action="store_true", help="run the TF-IDF fallback too")
    ap.add_argument("--forms", type=int, default=0, help="subsample the dictionary (0 = all)")
    ap.add_argument("--baseline-chars", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5, help="copies of MMLU for the Linker run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--mention-filter", action="store_true",
        help="also time a Linker with the learned mention filter on (same regex baseline)",
    )  # fmt: skip
    args = ap.parse_args()

    t = time.perf_counter()
    kg = build_graph()
    print(f"graph: {kg.nodes.height:,} nodes ({time.perf_counter() - t:.1f} s)")
    config = LinkerConfig(tfidf=args.tfidf)
    t = time.perf_counter()
    linker = Linker.from_graph(kg, config)
    if args.forms:
        linker = Linker(
            linker.surfaces.sample(args.forms, seed=0), config, linker.stats, linker.senses
        )
    build_s = time.perf_counter() - t
    if args.tfidf:
        t = time.perf_counter()
        linker.link_text("warm up the fallback index")  # built lazily on first use; timed apart
        print(f"tfidf index: {time.perf_counter() - t:.1f} s")
    forms = [k.strip() for k in linker.surfaces.get_column("key").to_list()]
    print(f"dictionary: {len(forms):,} surface forms; Linker built in {build_s:.1f} s")

    items = mmlu_medical_items()
    sample: list[Item] = []
    n = 0
    for it in items:
        if n >= args.baseline_chars:
            break
        sample.append(it)
        n += len(it.text)
    sample_chars = sum(len(i.text) for i in sample)

    t = time.perf_counter()
    alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    # the dictionary forms are single-spaced: let a space match any non-word run
    alternation = alternation.replace(r"\ ", r"\W+")
    pattern = re.compile(r"\b(?:" + alternation + r")\b", re.IGNORECASE)
    print(f"regex compiled in {time.perf_counter() - t:.1f} s")

    def regex_link(batch: list[Item]) -> int:
        return sum(1 for it in batch for _ in pattern.finditer(it.text))

    base_s, base_hits = timed(lambda: regex_link(sample), args.runs)
    link_s, link_df = timed(lambda: linker.link(sample), args.runs)
    exact = link_df.filter(pl.col("method") == "exact").height
    base_cps = sample_chars / base_s
    link_cps = sample_chars / link_s
    print(f"\nsame {len(sample)} items, {sample_chars:,} chars:")
    print(f"  regex alternation : {base_cps:12,.0f} chars/s  ({base_s:.3f} s, {base_hits} matches)")
    print(f"  Linker            : {link_cps:12,.0f} chars/s  ({link_s:.3f} s, {exact} exact, "
          f"{link_df.height} mentions)")  # fmt: skip
    print(f"  ratio             : {link_cps / base_cps:,.1f}x  (target >= 10x)")

    # linear in text size: the rate stays flat as the input doubles
    for copies in sorted({1, max(1, args.repeat // 2), args.repeat}):
        big = items * copies
        big_chars = sum(len(i.text) for i in big)
        big_s, big_df = timed(partial(linker.link, big), max(1, args.runs - 1))
        print(f"\nLinker on {len(big):,} items ({big_chars:,} chars): {big_chars / big_s:,.0f} "
              f"chars/s ({big_s:.2f} s, {big_df.height:,} mentions); ratio to the regex "
              f"{big_chars / big_s / base_cps:,.1f}x")  # fmt: skip

    if args.mention_filter:
        filtered = Linker(
            linker.surfaces, replace(config, mention_filter=True), linker.stats, linker.senses
        )
        for label, batch in (("same items", sample), ("1,089 MMLU items", items)):
            chars = sum(len(i.text) for i in batch)
            f_s, f_df = timed(partial(filtered.link, batch), max(1, args.runs - 1))
            print(f"\nLinker + mention filter, {label} ({chars:,} chars): {chars / f_s:,.0f} "
                  f"chars/s ({f_s:.3f} s, {f_df.height:,} mentions); ratio to the regex "
                  f"{chars / f_s / base_cps:,.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
