"""Cost of checking the drug dictionary's DrugBank ids, and the sample check.

In one process: the ``drugs`` source loaded as given (``verify_ids=False``) and checked
(default: MeSH and DrugBank ids), alternating, medians of ``--runs``; the DrugBank check
alone (reading the evidence table once, then checking all 20,070 entries); and how many of
the hand-listed well-known drugs (``tests/fixtures/sources/drugbank_well_known.tsv``) sit
under their true DrugBank id with a right name, and how many under a wrong one.

    python bench/bench_drug_identity.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from medkg.kg.sources.drugbank_evidence import DrugbankNames, drugbank_names
from medkg.kg.sources.drugs import DrugsSource, read_drug_pickle, verify_drug_drugbank_ids
from medkg.kg.sources.frames import load_dictionary_pickle

# the hand-listed sample's reader lives with the test that uses it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.sources.test_drugs import well_known_drugbank


def main() -> None:
    """Print load times (as given vs checked), the check's own cost and the sample result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    given: list[float] = []
    checked: list[float] = []
    for _ in range(args.runs):
        for options, times in (({"verify_ids": False}, given), ({}, checked)):
            start = time.perf_counter()
            kg = DrugsSource(**options).load()
            times.append(time.perf_counter() - start)
            if not options:
                graph = kg
    start = time.perf_counter()
    evidence: DrugbankNames = drugbank_names.__wrapped__()  # uncached: the real read
    read = time.perf_counter() - start
    obj = load_dictionary_pickle(
        DrugsSource.default_path(),
        bundled=True,
        trust=False,
        required=("drug_canonical_to_data", "drug_variant_to_canonical"),
    )
    check: list[float] = []
    for _ in range(args.runs):
        entries, _ = read_drug_pickle(obj)
        start = time.perf_counter()
        verify_drug_drugbank_ids(entries, evidence)
        check.append(time.perf_counter() - start)
    g, c = statistics.median(given), statistics.median(checked)
    print(f"drugs load: as given {g:.2f} s, checked {c:.2f} s (ratio {c / g:.2f})")
    print(
        f"DrugBank check alone: table read {read:.3f} s, {len(entries):,} entries "
        f"{statistics.median(check):.3f} s"
    )
    names = dict(graph.nodes.select("id", "name").iter_rows())
    truth = well_known_drugbank()
    right = sum((names.get(f"DRUGBANK:{db}") or "").casefold() in ok for db, ok in truth.items())
    wrong = [
        (node_id, name)
        for node_id, name in names.items()
        if node_id.startswith("DRUGBANK:")
        and node_id[9:] in truth
        and (name or "").casefold() not in truth[node_id[9:]]
    ]
    print(f"sample: {right}/{len(truth)} under their true DrugBank id; wrong names: {wrong}")


if __name__ == "__main__":
    main()
