"""Neo4j load speed: the batched Neo4jStore against a naive one-MERGE-per-row loader.

Both loaders send the same Cypher (``medkg.kg.cypher.merge_nodes`` / ``merge_edges`` /
``merge_tree_links``) against the same constraints and indexes; the naive one sends one
auto-commit query per row, the store ``UNWIND``s batches of ``--batch-size`` rows per
transaction. Prints rows/s for both and their ratio (target >= 20x).

    python bench/bench_neo4j_load.py                     # synthetic graph, subsample
    python bench/bench_neo4j_load.py --graph .medkg/graph --nodes 5000 --edges 5000
    python bench/bench_neo4j_load.py --full              # also time the whole graph

Uses the server in NEO4J_URI (its database is CLEARED), else starts a private one with
``medkg.kg.neo4j_server`` and stops it at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from medkg.config import Neo4jSettings, default_graph_dir
from medkg.kg import cypher
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore, edge_keys

SYNTH = SourceInfo(name="synthetic", version="1", license="CC0-1.0")
WORDS = [
    "abnormal",
    "cardiac",
    "renal",
    "hepatic",
    "muscular",
    "skeletal",
    "neural",
    "ocular",
    "dermal",
    "vascular",
    "congenital",
    "progressive",
    "familial",
    "juvenile",
    "adult",
    "severe",
    "mild",
    "atrophy",
    "dysplasia",
    "hypoplasia",
    "syndrome",
    "disease",
    "deficiency",
    "anomaly",
    "defect",
    "malformation",
    "tumor",
]


def synthetic_graph(n_nodes: int = 50_000, n_edges: int = 150_000, seed: int = 7) -> KnowledgeGraph:
    """A graph shaped like the bundled build: HPO-like phenotypes, diseases, genes, a tree."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(
        ["Phenotype", "Disease", "Gene", "Modifier"], n_nodes, p=[0.35, 0.45, 0.18, 0.02]
    )
    prefix = {"Phenotype": "HP", "Disease": "ORPHA", "Gene": "NCBIGene", "Modifier": "HP"}
    ids = [f"{prefix[k]}:{i:07d}" for i, k in enumerate(kinds)]

    def name() -> str:
        return " ".join(rng.choice(WORDS, int(rng.integers(2, 5))))

    node_rows = []
    for i, (nid, kind) in enumerate(zip(ids, kinds, strict=True)):
        n_syn = int(rng.integers(0, 4))
        node_rows.append(
            {
                "id": nid,
                "kind": kind,
                "name": name(),
                "definition": name() + " of the " + name() if rng.random() < 0.6 else None,
                "synonyms": [name() for _ in range(n_syn)],
                "synonym_scopes": ["EXACT"] * n_syn,
                "xrefs": [f"UMLS:C{int(rng.integers(10**6)):07d}"] if rng.random() < 0.5 else [],
                "props": {"rank": i % 97} if rng.random() < 0.2 else None,
                "source": SYNTH.name,
                "source_version": SYNTH.version,
                "license": SYNTH.license,
            }
        )
    nodes = nodes_frame(node_rows)
    parent = [None] + [ids[int(rng.integers(0, i))] for i in range(1, n_nodes)]
    nodes = nodes.with_columns(
        pl.Series("met_parent", parent, dtype=pl.String()),
        pl.lit("hierarchy").alias("met_placement"),
        pl.Series("depth", rng.integers(1, 12, n_nodes), dtype=pl.Int32()),
        pl.Series("subtree_size", rng.integers(1, 50, n_nodes), dtype=pl.Int64()),
        pl.Series("rare", rng.random(n_nodes) < 0.3, dtype=pl.Boolean()),
        pl.lit(None, dtype=pl.String()).alias("rare_reason"),
        pl.Series("annotation_degree", rng.integers(0, 40, n_nodes), dtype=pl.Int64()),
    )
    rels = rng.choice(
        ["HAS_PHENOTYPE", "IS_A", "GENE_ASSOCIATED_WITH", "GENE_HAS_PHENOTYPE", "MAPS_TO"],
        n_edges,
        p=[0.55, 0.2, 0.05, 0.15, 0.05],
    )
    src = rng.integers(0, n_nodes, n_edges)
    dst = rng.integers(0, n_nodes, n_edges)
    edge_rows = []
    for r, s, d in zip(rels, src, dst, strict=True):
        row: dict[str, object] = {"src": ids[s], "rel": r, "dst": ids[d], **_prov()}
        if r == "HAS_PHENOTYPE":
            row.update(
                negated=bool(rng.random() < 0.02),
                frequency="HP:0040281",
                frequency_value=float(rng.random()),
                onset="HP:0003577" if rng.random() < 0.3 else None,
                evidence="TAS",
                reference=f"PMID:{int(rng.integers(10_000_000))}",
            )
        elif r == "MAPS_TO":
            row.update(method="xref", confidence=float(rng.random()))
        edge_rows.append(row)
    return KnowledgeGraph.from_frames(nodes, edges_frame(edge_rows), [SYNTH])


def _prov() -> dict[str, str]:
    return {"source": SYNTH.name, "source_version": SYNTH.version, "license": SYNTH.license}


def subsample(kg: KnowledgeGraph, n_nodes: int, n_edges: int, seed: int = 1) -> KnowledgeGraph:
    """``n_edges`` random edges, their end nodes, topped up with random nodes to ``n_nodes``."""
    edges = kg.edges.sample(min(n_edges, kg.edges.height), seed=seed)
    ends = set(edges.get_column("src").to_list()) | set(edges.get_column("dst").to_list())
    rest = kg.nodes.filter(~pl.col("id").is_in(list(ends)))
    extra = max(0, n_nodes - len(ends))
    nodes = pl.concat(
        [
            kg.nodes.filter(pl.col("id").is_in(list(ends))),
            rest.sample(min(extra, rest.height), seed=seed),
        ]
    )
    if "met_parent" in nodes.columns:  # keep tree links inside the sample
        kept = nodes.get_column("id")
        nodes = nodes.with_columns(
            pl.when(pl.col("met_parent").is_in(kept.implode()))
            .then(pl.col("met_parent"))
            .alias("met_parent")
        )
    return KnowledgeGraph.from_frames(nodes, edges, kg.sources, kg.report)


def load_naive(store: Neo4jStore, kg: KnowledgeGraph) -> float:
    """One auto-commit MERGE per row, same Cypher and indexes as the store. Returns seconds.

    Each row goes through the store's own query (``merge_nodes`` / ``merge_edges`` /
    ``merge_tree_links``) with one-element column lists and only that row's non-null
    columns, so the two loaders differ only in how many rows a transaction carries.
    """
    for statement in cypher.schema_statements():
        store._run(statement, "schema")
    for rel in kg.edges.get_column("rel").unique().to_list():
        store._run(cypher.relationship_key_constraint(rel), "schema")
    store._run(cypher.await_indexes(), "indexes", timeout_seconds=300)
    keys = edge_keys(kg.edges)
    node_props = [c for c in kg.nodes.columns if c != "id"]
    edge_props = [c for c in kg.edges.columns if c not in ("src", "rel", "dst")]
    node_query = functools.cache(cypher.merge_nodes)  # query text built once per shape
    edge_query = functools.cache(cypher.merge_edges)
    began = time.perf_counter()
    with store._session() as session:
        for row in kg.nodes.iter_rows(named=True):
            cols = tuple(c for c in node_props if row[c] is not None)
            session.run(
                node_query(row["kind"], cols), ids=[row["id"]], cols=[[row[c]] for c in cols]
            ).consume()
        for row, key in zip(kg.edges.iter_rows(named=True), keys, strict=True):
            cols = tuple(c for c in edge_props if row[c] is not None)
            session.run(
                edge_query(row["rel"], cols),
                keys=[key],
                src=[row["src"]],
                dst=[row["dst"]],
                cols=[[row[c]] for c in cols],
            ).consume()
        if "met_parent" in kg.nodes.columns:
            for nid, parent in kg.nodes.select("id", "met_parent").iter_rows():
                if parent is not None:
                    session.run(cypher.merge_tree_links(), ids=[nid], parents=[parent]).consume()
    return time.perf_counter() - began


def db_counts(store: Neo4jStore) -> tuple[int, int]:
    nodes = store._read("MATCH (n:Entity) RETURN count(n) AS n", "count")[0]["n"]
    rels = store._read("MATCH ()-[r]->() WHERE r.key IS NOT NULL RETURN count(r) AS n", "count")[0][
        "n"
    ]
    return int(nodes), int(rels)


@contextmanager
def server() -> Iterator[str]:
    settings = Neo4jSettings.from_env()
    if settings is not None:
        yield settings.uri
        return
    from medkg.kg import neo4j_server

    with tempfile.TemporaryDirectory(prefix="medkg-bench-") as tmp:
        os.environ.setdefault("MEDKG_HOME", tmp)
        began = time.perf_counter()
        info = neo4j_server.start(
            data_dir=Path(tmp) / "db",
            name="bench",
            progress=lambda stage, _done, _total: print(f"  {stage}"),
        )
        print(f"  server up at {info.uri} in {time.perf_counter() - began:.1f} s")
        try:
            yield info.uri
        finally:
            neo4j_server.stop("bench")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--graph", type=Path, help="embedded store folder (default: .medkg/graph if built)"
    )
    ap.add_argument("--nodes", type=int, default=2_500, help="nodes in the timed subsample")
    ap.add_argument("--edges", type=int, default=2_500, help="edges in the timed subsample")
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per loader (median reported)")
    ap.add_argument(
        "--full", action="store_true", help="also time the batched load of the whole graph"
    )
    args = ap.parse_args(argv)

    graph_dir = args.graph or default_graph_dir()
    if (graph_dir / "manifest.json").is_file():
        kg = EmbeddedStore(graph_dir).load()
        origin = f"graph at {graph_dir}"
    else:
        began = time.perf_counter()
        kg = synthetic_graph()
        origin = f"synthetic graph (built in {time.perf_counter() - began:.1f} s)"
    print(f"graph: {origin}: {kg.nodes.height:,} nodes, {kg.edges.height:,} edges")
    sample = subsample(kg, args.nodes, args.edges)
    rows = sample.nodes.height + sample.edges.height
    print(
        f"subsample: {sample.nodes.height:,} nodes + {sample.edges.height:,} edges = {rows:,} rows"
    )

    results: dict[str, list[float]] = {"naive": [], "batched": []}
    with server() as uri:
        store = Neo4jStore(uri=uri, batch_size=args.batch_size)
        warm = subsample(kg, 500, 500, seed=99)  # compile the queries, warm the JIT, both loaders
        for _ in range(2):
            store.clear()
            load_naive(store, warm)
            store.clear()
            store.save(warm)
        for _ in range(args.repeat):
            store.clear()
            results["naive"].append(load_naive(store, sample))
            naive_counts = db_counts(store)
            store.clear()
            report = store.save(sample)
            results["batched"].append(report.seconds)
            assert db_counts(store) == naive_counts == (sample.nodes.height, sample.edges.height)
        print_table(rows, results)
        if args.full:
            store.clear()
            full = store.save(kg)
            began = time.perf_counter()
            back = store.load()
            read_s = time.perf_counter() - began
            assert_same_rows(back, kg)
            full_rows = full.nodes + full.edges
            print(
                f"{'batched, whole graph':<28}{full_rows:>10,}{full.seconds:>11.2f}"
                f"{full_rows / full.seconds:>11,.0f}   (read back + checked in {read_s:.1f} s)"
            )
        store.clear()
        store.close()

    from neo4j._codec.packstream import v1 as packstream

    rust = getattr(packstream, "_rust_pack", None) is not None
    print(
        f"\nBolt packing: {'neo4j-rust-ext' if rust else 'pure Python (pip install neo4j-rust-ext)'}"
    )
    ratio = statistics.median(results["naive"]) / statistics.median(results["batched"])
    print(f"\nbatched / naive speed-up: {ratio:.1f}x (target >= 20x)")
    return 0


def print_table(rows: int, results: dict[str, list[float]]) -> None:
    print()
    print(f"{'loader':<28}{'rows':>10}{'median s':>11}{'rows/s':>11}   runs (s)")
    for label, secs in (
        ("naive (1 MERGE/row)", results["naive"]),
        ("batched Neo4jStore.save", results["batched"]),
    ):
        med = statistics.median(secs)
        runs = " ".join(f"{s:.2f}" for s in secs)
        print(f"{label:<28}{rows:>10,}{med:>11.2f}{rows / med:>11,.0f}   {runs}")


def assert_same_rows(got: KnowledgeGraph, want: KnowledgeGraph) -> None:
    """Same node and edge rows, in any order (sorted on every sortable column).

    ``KnowledgeGraph.canonical`` sorts edges on a few columns only, so two edges that tie
    there (the real graph has such pairs, differing in evidence and props) keep their input
    order and the content hash can differ for the same rows read back in another order.
    """
    for a, b in ((got.nodes, want.nodes), (got.edges, want.edges)):
        assert a.schema == b.schema
        by = [c for c, t in b.schema.items() if not isinstance(t, pl.List)]
        assert_frame_equal(a.sort(by, nulls_last=True), b.sort(by, nulls_last=True))


if __name__ == "__main__":
    sys.exit(main())
