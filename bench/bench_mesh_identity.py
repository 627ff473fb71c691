"""Can the graph reach the NCBI disease corpus's gold concepts? Before vs after the MeSH
identity check.

For each distinct gold concept id of a PubTator file (MeSH ``D...`` and ``OMIM:...``;
composite ``a|b`` / ``a+b`` ids split), on a full bundled build:

* ``present``: the graph has ``MESH:<id>`` / ``OMIM:<id>``;
* ``right_name`` (MeSH ids): the node's name is MeSH's for that UI (the MeSH 2026 name or
  a MEDLINE index name, case-insensitive; evidence/mesh_names.tsv.gz);
* ``mention_match``: one of the corpus's own mentions of the concept, normalised (case,
  punctuation), is the node's name or a synonym: a reference independent of the evidence.

"Before" builds with ``verify_ids=False`` for the mesh and drugs sources (the package's ids
as given, as medkg did before the check); "after" is the default build. The corpus is
only measured, never used to build anything.

Also the cost of the check: mesh and drugs load times with and without it (same process).

    python bench/bench_mesh_identity.py [../shared/benchmarks/ncbi-disease/NCBIdevelopset_corpus.txt]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from medkg.kg.build import build_graph
from medkg.kg.model import KnowledgeGraph
from medkg.kg.sources.drugs import DrugsSource
from medkg.kg.sources.mesh import MeshSource
from medkg.kg.sources.mesh_evidence import mesh_names

# shared/ sits beside the repository (../shared from the checkout, ../../shared from a
# worktree under wt/); the first that exists is the default.
_REPO = Path(__file__).resolve().parents[1]
CORPUS = next(
    (
        p
        for p in (
            _REPO.parent / "shared/benchmarks/ncbi-disease/NCBIdevelopset_corpus.txt",
            _REPO.parents[1] / "shared/benchmarks/ncbi-disease/NCBIdevelopset_corpus.txt",
        )
        if p.is_file()
    ),
    _REPO.parent / "shared/benchmarks/ncbi-disease/NCBIdevelopset_corpus.txt",
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def norm(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.casefold()).strip()


def gold_mentions(path: Path) -> dict[str, Counter[str]]:
    """Gold concept id (``MESH:D...`` / ``OMIM:...``) -> normalised mention counts."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        cells = line.split("\t")
        if len(cells) != 6:
            continue  # title/abstract lines (pmid|t|..., pmid|a|...) and blanks
        for gold in re.split(r"[|+]", cells[5].strip()):
            gold = gold.strip()
            if re.fullmatch(r"[CD]\d{6}(?:\d{3})?", gold):
                out[f"MESH:{gold}"][norm(cells[3])] += 1
            elif re.fullmatch(r"OMIM:\d{6}", gold):
                out[gold][norm(cells[3])] += 1
            elif gold:
                sys.exit(f"{path}:{lineno}: unexpected concept id {gold!r}")
    return out


def measure(kg: KnowledgeGraph, gold: dict[str, Counter[str]]) -> dict[str, object]:
    """Shares of distinct ids (and of mentions) present / rightly named / mention-matched."""
    evidence = mesh_names()
    rows = kg.nodes.filter(kg.nodes["id"].is_in(list(gold))).select("id", "name", "synonyms")
    found = {i: (n, s or []) for i, n, s in rows.iter_rows()}
    ids = sorted(gold)
    mesh = [i for i in ids if i.startswith("MESH:")]
    present = [i for i in ids if i in found]
    right = [
        i
        for i in mesh
        if i in found
        and found[i][0].casefold()
        in {n.casefold() for n in evidence.all_names(i.removeprefix("MESH:"))}
    ]
    matched = [
        i for i in present if set(gold[i]) & {norm(found[i][0]), *(norm(s) for s in found[i][1])}
    ]
    weight = {i: sum(gold[i].values()) for i in ids}
    total = sum(weight.values())

    def share(sel: list[str], of: list[str]) -> str:
        w = sum(weight[i] for i in sel) / sum(weight[i] for i in of)
        return f"{len(sel)}/{len(of)} ({len(sel) / len(of):.1%}; mentions {w:.1%})"

    return {
        "ids": len(ids),
        "mentions": total,
        "present": share(present, ids),
        "mesh_right_name": share(right, mesh),
        "omim_present": share([i for i in present if i.startswith("OMIM:")], ids[len(mesh) :]),
        "mention_match": share(matched, ids),
        "names": {i: found.get(i, ("-",))[0] for i in ids},
    }


def load_cost(runs: int) -> None:
    """Median load time of the mesh and drugs sources with and without the id check,
    alternating in one process (the evidence table is read once, as in a build)."""
    mesh_names()
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for verify in (False, True):
            for name, source in (("mesh", MeshSource), ("drugs", DrugsSource)):
                start = time.perf_counter()
                source(verify_ids=verify).load()
                times[f"{name} {'checked' if verify else 'as given'}"].append(
                    time.perf_counter() - start
                )
    for key, values in sorted(times.items()):
        print(f"  {key:<16} median {statistics.median(values):.2f} s over {runs} runs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    ap.add_argument("--runs", type=int, default=5, help="load-time runs per variant")
    args = ap.parse_args()
    load_cost(args.runs)
    gold = gold_mentions(args.corpus)
    unchecked = {"verify_ids": False}
    before = measure(build_graph(options={"mesh": unchecked, "drugs": unchecked}), gold)
    after = measure(build_graph(), gold)
    print(f"{args.corpus.name}: {before['ids']} distinct gold ids, {before['mentions']} mentions")
    print("| measure | before | after |\n|---|---|---|")
    for key in ("present", "mesh_right_name", "omim_present", "mention_match"):
        print(f"| {key} | {before[key]} | {after[key]} |")
    print("\nmost frequent gold ids: before -> after name")
    for i in sorted(gold, key=lambda i: -sum(gold[i].values()))[:12]:
        print(f"  {i} ({sum(gold[i].values())}): {before['names'][i]!r} -> {after['names'][i]!r}")  # type: ignore[index]


if __name__ == "__main__":
    main()
