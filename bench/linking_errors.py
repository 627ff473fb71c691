"""Right span, wrong concept: categorised counts on the *look* half of an annotated corpus.

    MEDKG_HOME=... python bench/linking_errors.py CORPUS [--no-scr-deferral] [--list]

For every gold mention of the look half (:func:`~medkg.coverage.linkeval.split_halves`)
whose span the linker found but none of whose ids it chose, the category of the error from
the graph: the gold id is an exact-mapping equivalent of ours from OMIM (A) or another
source (A2), a MeSH ancestor (B) or descendant (C) of ours through ``IS_A``, the mention is
an abbreviation (D), the gold id is OMIM and not equivalent (E), else (F). Also counts gold
ids absent from the graph and (document, form) pairs linked to several concepts. The check
half is never listed: it is only ever scored (bench/README.md).
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import replace

import polars as pl

from medkg.coverage.annotated import read_corpus
from medkg.coverage.equivalence import Equivalence
from medkg.coverage.linkeval import corpus_kinds, split_halves
from medkg.coverage.linking import COMPOSITE, Linker, LinkerConfig
from medkg.kg.model import IS_A
from medkg.kg.stores import open_store


def category(pred: str, method: str, gold: tuple[str, ...], equiv: Equivalence,
             ancestors: dict[str, set[str]]) -> str:  # fmt: skip
    """The error category of one span-right, concept-wrong mention (module docstring)."""
    g = gold[0]
    if any(equiv.same(pred, x) for x in gold):
        return "A gold OMIM, we chose its exact equivalent" if g.startswith("OMIM:") else (
            "A2 gold an exact equivalent of ours (other source)")  # fmt: skip
    if g in ancestors.get(pred, set()):
        return "B gold a MeSH ancestor of our choice"
    if pred in ancestors.get(g, set()):
        return "C gold a MeSH descendant of our choice"
    if method.startswith("abbreviation"):
        return "D abbreviation to another concept"
    if g.startswith("OMIM:"):
        return "E gold OMIM, not equivalent to ours"
    return "F other"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("--no-scr-deferral", action="store_true", help="mesh_scr_defer_from=None")
    ap.add_argument("--list", action="store_true", help="also list the look-half mentions")
    args = ap.parse_args()
    with open_store() as store:
        kg = store.load()
    look, _check = split_halves(read_corpus(args.corpus))
    kinds = corpus_kinds(look)
    config = LinkerConfig(kinds=kinds)
    if args.no_scr_deferral:
        config = replace(config, mesh_scr_defer_from=None)
    mentions = Linker.from_graph(kg, config).link([(d.id, d.text) for d in look])
    kind_of = dict(kg.nodes.select("id", "kind").iter_rows())
    equiv = Equivalence.from_graph(kg)
    parents: dict[str, set[str]] = defaultdict(set)
    for s, d in kg.edges.filter(pl.col("rel") == IS_A).select("src", "dst").iter_rows():
        parents[s].add(d)
    ancestors: dict[str, set[str]] = {}

    def up(x: str) -> set[str]:
        if x not in ancestors:
            out: set[str] = set()
            todo = [x]
            while todo:
                for p in parents.get(todo.pop(), ()):
                    if p not in out:
                        out.add(p)
                        todo.append(p)
            ancestors[x] = out
        return ancestors[x]

    counts: Counter[str] = Counter()
    absent = 0
    forms: dict[tuple[str, str], set[str]] = defaultdict(set)
    for doc in look:
        rows = mentions.filter(pl.col("item_id") == doc.id)
        pred: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
        for s, e, ent, meth in rows.select("start", "end", "entity_id", "method").iter_rows():
            if kind_of.get(ent) in kinds:
                pred[(s, e)].append((ent, meth))
                if meth != COMPOSITE:
                    forms[(doc.id, doc.text[s:e].lower())].add(ent)
        for m in doc.mentions:
            found = pred.get((m.start, m.end))
            if not m.ids or not found or any(ent in m.ids for ent, _ in found):
                continue
            absent += not all(g in kind_of for g in m.ids)
            ent, meth = found[0]
            up(ent)
            up(m.ids[0])
            cat = category(ent, meth, m.ids, equiv, ancestors)
            counts[cat] += 1
            if args.list:
                print(f"{doc.id}\t{doc.text[m.start:m.end]!r}\tgold {'|'.join(m.ids)}\t"
                      f"ours {ent}\t{cat[0]}")  # fmt: skip
    print(f"look half: {len(look)} documents; span right, concept wrong: {sum(counts.values())}")
    for cat, n in sorted(counts.items()):
        print(f"  {n:4d}  {cat}")
    print(f"gold ids absent from the graph: {absent}")
    multi = sum(len(v) > 1 for v in forms.values())
    print(f"(document, form) pairs linked to several concepts: {multi} of {len(forms)}")


if __name__ == "__main__":
    main()
