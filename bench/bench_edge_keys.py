"""Edge keys (the ``key`` every relationship carries in Neo4j, written into the offline
importer's CSV files before the importer can start): :func:`medkg.kg.stores.neo4j_tables.edge_keys`
against its previous form (a window over every key to number exact repeats), in one process,
on the whole bundled graph. Both must give the same keys; CPU seconds, medians.

    python bench/bench_edge_keys.py --graph $MEDKG_HOME/graph [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path

import polars as pl

from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j_tables import _json_rows, edge_keys


def baseline(edges: pl.DataFrame) -> list[str]:
    """edge_keys as of main 3103755: every key goes through the repeat-numbering window."""
    digests = pl.Series(
        "key",
        [
            hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
            for text in _json_rows(edges)
        ],
        dtype=pl.String(),
    )
    repeat = pl.DataFrame({"key": digests}).select(
        pl.col("key"), (pl.int_range(pl.len()).over("key")).alias("n")
    )
    keyed = repeat.select(
        pl.when(pl.col("n") == 0)
        .then(pl.col("key"))
        .otherwise(pl.col("key") + "-" + pl.col("n").cast(pl.String))
    )
    return keyed.to_series().to_list()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--graph", type=Path, required=True, help="an embedded store (`kg build`)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    edges = EmbeddedStore(args.graph).load().edges
    assert edge_keys(edges) == baseline(edges), "edge keys changed"
    times: dict[str, list[float]] = {"baseline": [], "edge_keys": []}
    for _ in range(args.runs):  # alternating, so both see the same machine
        for name, fn in (("baseline", baseline), ("edge_keys", edge_keys)):
            t = time.process_time()
            fn(edges)
            times[name].append(time.process_time() - t)
    base, now = (statistics.median(times[k]) for k in ("baseline", "edge_keys"))
    print(f"{edges.height:,} edges; CPU median of {args.runs}: baseline {base:.2f} s, "
          f"edge_keys {now:.2f} s -> {base / now:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
