"""Pseudo-labels by self-consistency (MedSSR) and multi-expert reject sampling (MedXIAOHE).

**Self-consistency.** The policy model answers each synthetic question ``k`` times with
sampling; every completion's option is read with
:func:`~medkg.training.answers.extract_choice` (an unreadable completion is an abstention,
still counted in ``k``). The majority option is the pseudo-label and its vote share
(votes / ``k``) the confidence. An item is dropped, by reason, when no completion chose an
option (``no_answer``), when two options tie for the majority (``tie``) or when the
confidence is below ``tau`` (``below_tau``).

**Reject sampling.** Several generators (models or endpoints) each answer every question
(their own majority over ``k`` samples; greedy ``k=1`` by default). The option most
experts chose is the label; an item is kept when at least ``min_agree`` experts chose it
(else ``no_agreement``), and with ``agree_with_graph`` only when the label is the graph's
answer too (else ``disagrees_with_graph``).

Synthetic items carry the graph's answer, so both report the labels' accuracy against it,
overall and by family, hop count and rare flag (:func:`breakdown`) - a diagnostic the papers
could not give. :func:`write_labelled` writes the kept items, every item's votes, a
GRPO-ready file whose ``answer`` column is the pseudo-label, and ``report.json``, into a
folder replaced atomically.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.io import canonical, digests, write_jsonl
from medkg.llm.base import Generator, GenParams, params_dict
from medkg.outputs import check_folder_target, legacy_files, staged_folder
from medkg.synthesis.export import item_row, prompt_messages, trl_grpo_row
from medkg.synthesis.items import LETTERS, QAItem
from medkg.training.answers import extract_choice

REPORT = "report.json"
# The output kind (medkg.outputs) and how a folder from before the output marker looks.
KIND = "pseudo-label"
LEGACY = legacy_files("items.jsonl", "votes.jsonl", "trl_grpo.jsonl", REPORT)
DROP_REASONS = ("no_answer", "tie", "below_tau", "no_agreement", "disagrees_with_graph")


@dataclass(frozen=True)
class SamplingConfig:
    """How a generator samples its answers (``k`` completions per question)."""

    k: int = field(default=8, metadata={"help": "samples (votes) per question"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature (0: greedy)"})
    top_p: float = field(default=0.95, metadata={"help": "nucleus sampling mass"})
    max_new_tokens: int = field(default=256, metadata={"help": "tokens per completion"})
    seed: int = field(default=0, metadata={"help": "sampling seed (per batch, see generators)"})

    def gen_params(self) -> GenParams:
        if self.k < 1:
            raise UsageError(f"k must be >= 1, got {self.k}")
        return GenParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            n=self.k,
            seed=self.seed,
        )

    @classmethod
    def help_text(cls, name: str) -> str:
        return str(cls.__dataclass_fields__[name].metadata["help"])


@dataclass(frozen=True)
class PseudoLabelConfig(SamplingConfig):
    """Self-consistency: the policy model's ``k`` votes, kept at vote share >= ``tau``."""

    tau: float = field(default=0.5, metadata={"help": "minimum vote share to keep an item"})

    def validate(self) -> None:
        self.gen_params()
        if not 0 <= self.tau <= 1:
            raise UsageError(f"tau must be in [0, 1], got {self.tau}")


@dataclass
class Labelled:
    """One item's votes and the label they make (``label`` None: no majority)."""

    item: QAItem
    votes: list[str | None]  # per sample (self-consistency) or per expert (reject sampling)
    label: int | None
    confidence: float
    kept: bool
    reason: str = ""  # why it was dropped ("" when kept)

    @property
    def correct(self) -> bool | None:
        """Whether the label is the graph's answer (None without a label)."""
        return None if self.label is None else self.label == self.item.answer_index

    def record(self) -> dict[str, Any]:
        it = self.item
        return {
            "id": it.id,
            "family": it.family,
            "hops": it.hops,
            "rare": it.rare,
            "graph_answer": it.answer_letter,
            "votes": self.votes,
            "pseudo_label": None if self.label is None else LETTERS[self.label],
            "confidence": self.confidence,
            "kept": self.kept,
            "reason": self.reason,
        }


@dataclass
class LabelResult:
    """Every item's outcome, the report, and what made it (for ``report.json``)."""

    labelled: list[Labelled]
    report: dict[str, Any]

    @property
    def kept(self) -> list[Labelled]:
        return [x for x in self.labelled if x.kept]


def majority(votes: Sequence[str | None]) -> tuple[int | None, int, bool]:
    """(majority option index, its vote count, tie). Abstentions (None) do not vote."""
    counts = Counter(v for v in votes if v is not None)
    if not counts:
        return None, 0, False
    ranked = counts.most_common()
    top_count = ranked[0][1]
    tied = sorted(LETTERS.index(v) for v, c in ranked if c == top_count)
    return tied[0], top_count, len(tied) > 1


def _group_key(lab: Labelled, by: str) -> str:
    value = getattr(lab.item, by)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _group_stats(group: Sequence[Labelled]) -> dict[str, Any]:
    labelled = [x for x in group if x.label is not None]
    kept = [x for x in group if x.kept]
    votes = [v for x in group for v in x.votes]

    def acc(xs: Sequence[Labelled]) -> float | None:
        return round(sum(bool(x.correct) for x in xs) / len(xs), 4) if xs else None

    return {
        "items": len(group),
        "labelled": len(labelled),
        "kept": len(kept),
        "label_accuracy": acc(labelled),  # every item with a majority, before tau
        "kept_accuracy": acc(kept),  # what training sees
        "vote_accuracy": round(
            sum(v == x.item.answer_letter for x in group for v in x.votes) / len(votes), 4
        )
        if votes
        else None,
        "abstain_share": round(sum(v is None for v in votes) / len(votes), 4) if votes else None,
        "mean_confidence": round(sum(x.confidence for x in group) / len(group), 4)
        if group
        else None,
    }


def breakdown(labelled: Sequence[Labelled]) -> dict[str, Any]:
    """Label accuracy against the graph's answer: overall and by family, hops and rare."""
    out: dict[str, Any] = {"overall": _group_stats(labelled)}
    for by in ("family", "hops", "rare"):
        groups: dict[str, list[Labelled]] = {}
        for lab in labelled:
            groups.setdefault(_group_key(lab, by), []).append(lab)
        out[f"by_{by}"] = {k: _group_stats(groups[k]) for k in sorted(groups, key=_sort_key)}
    return out


def _sort_key(key: str) -> tuple[int, Any]:
    return (0, int(key)) if key.isdigit() else (1, key)


def _votes(
    generator: Generator, items: Sequence[QAItem], params: GenParams
) -> tuple[list[list[str | None]], float]:
    """Each item's extracted letters over ``params.n`` samples, and the generation seconds."""
    t0 = time.perf_counter()
    completions = generator.generate([prompt_messages(it) for it in items], params)
    seconds = time.perf_counter() - t0
    votes = []
    for it, texts in zip(items, completions, strict=True):
        choices = [extract_choice(t, it.options) for t in texts]
        votes.append([c.letter if c is not None else None for c in choices])
    return votes, seconds


def _drops(labelled: Sequence[Labelled]) -> dict[str, int]:
    counts = Counter(x.reason for x in labelled if not x.kept)
    return {r: counts[r] for r in DROP_REASONS if counts[r]}


def _ensure_ids(items: Sequence[QAItem]) -> None:
    for it in items:
        if not it.id:
            it.with_id()
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise UsageError(f"item {it.id} appears twice: deduplicate the dataset first")
        seen.add(it.id)


def self_consistency(
    items: Sequence[QAItem], generator: Generator, config: PseudoLabelConfig | None = None
) -> LabelResult:
    """MedSSR pseudo-labels: majority of ``k`` sampled answers, kept at vote share >= tau."""
    config = config or PseudoLabelConfig()
    config.validate()
    _ensure_ids(items)
    votes, seconds = _votes(generator, items, config.gen_params())
    labelled = []
    for it, vs in zip(items, votes, strict=True):
        label, count, tie = majority(vs)
        confidence = count / config.k
        reason = ""
        if label is None:
            reason = "no_answer"
        elif tie:
            reason = "tie"
        elif confidence < config.tau:
            reason = "below_tau"
        labelled.append(Labelled(it, vs, label, round(confidence, 6), not reason, reason))
    report = {
        "method": "self_consistency",
        "config": asdict(config),
        "generator": generator.describe(),
        "gen_params": params_dict(config.gen_params()),
        **_summary(labelled, seconds),
    }
    return LabelResult(labelled, report)


@dataclass(frozen=True)
class RejectConfig(SamplingConfig):
    """Reject sampling: each expert's majority over ``k`` samples (greedy, one by default)."""

    k: int = field(default=1, metadata={"help": "samples per expert per question"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature (0: greedy)"})
    min_agree: int = field(default=2, metadata={"help": "experts that must choose the label"})
    agree_with_graph: bool = field(
        default=False, metadata={"help": "keep only items whose label is the graph's answer"}
    )


def reject_sample(
    items: Sequence[QAItem], experts: Sequence[Generator], config: RejectConfig | None = None
) -> LabelResult:
    """Multi-expert reject sampling: keep items where >= ``min_agree`` experts agree."""
    config = config or RejectConfig()
    if not experts:
        raise UsageError("reject sampling needs at least one expert generator")
    if not 1 <= config.min_agree <= len(experts):
        raise UsageError(
            f"min_agree must be in 1..{len(experts)} (experts), got {config.min_agree}"
        )
    _ensure_ids(items)
    params = config.gen_params()
    per_expert: list[list[str | None]] = []
    seconds = 0.0
    names = [f"{i}:{g.name}" for i, g in enumerate(experts)]
    for gen in experts:
        votes, secs = _votes(gen, items, params)
        seconds += secs
        per_expert.append([_letter(majority(vs)) for vs in votes])
    labelled = []
    for j, it in enumerate(items):
        answers = [per_expert[e][j] for e in range(len(experts))]
        label, count, tie = majority(answers)
        reason = ""
        if label is None or tie or count < config.min_agree:
            reason = "no_agreement"
        elif config.agree_with_graph and label != it.answer_index:
            reason = "disagrees_with_graph"
        labelled.append(
            Labelled(it, answers, label, round(count / len(experts), 6), not reason, reason)
        )
    experts_report = {}
    for name, answers in zip(names, per_expert, strict=True):
        answered = [a for a in answers if a is not None]
        right = sum(a == it.answer_letter for a, it in zip(answers, items, strict=True))
        experts_report[name] = {
            "answered": len(answered),
            "accuracy": round(right / len(items), 4) if items else None,
        }
    report = {
        "method": "reject_sampling",
        "config": asdict(config),
        "generators": [g.describe() for g in experts],
        "gen_params": params_dict(params),
        "experts": experts_report,
        **_summary(labelled, seconds),
    }
    return LabelResult(labelled, report)


def _letter(m: tuple[int | None, int, bool]) -> str | None:
    label, _, tie = m
    return None if label is None or tie else LETTERS[label]


def _summary(labelled: Sequence[Labelled], seconds: float) -> dict[str, Any]:
    n = len(labelled)
    return {
        "items": n,
        "kept": sum(x.kept for x in labelled),
        "dropped": _drops(labelled),
        "generation_s": round(seconds, 3),
        "questions_per_s": round(n / seconds, 3) if seconds > 0 else None,
        "accuracy": breakdown(labelled),
    }


# ----------------------------------------------------------------------------- output
PathNames = Callable[[QAItem], list[list[str]]]


def names_from_graph(kg: Any) -> Callable[[QAItem], list[list[str]]]:
    """A ``path_names`` function: each path node's name and synonyms from the graph."""
    frame = kg.nodes.select("id", "name", "synonyms")
    table = {
        row["id"]: [row["name"], *(row["synonyms"] or [])]
        for row in frame.iter_rows(named=True)
        if row["name"]
    }

    def path_names(item: QAItem) -> list[list[str]]:
        fallback = option_path_names(item)
        by_id = dict(zip(item.path_nodes, fallback, strict=True))
        return [table.get(n) or by_id[n] for n in item.path_nodes]

    return path_names


def option_path_names(item: QAItem) -> list[list[str]]:
    """Path names known without the graph: a path node that is an option has its text;
    others get [] (the graph reward skips empty entries)."""
    by_option = dict(zip(item.option_ids, item.options, strict=True))
    return [[by_option[n]] if n in by_option else [] for n in item.path_nodes]


def grpo_row(lab: Labelled, path_names: PathNames = option_path_names) -> dict[str, Any]:
    """medkg's GRPO row with the pseudo-label as ``answer`` and the graph's as
    ``graph_answer``, plus ``options``, ``path_names`` and ``confidence``."""
    if lab.label is None:
        raise UsageError(f"item {lab.item.id} has no pseudo-label")
    row = trl_grpo_row(lab.item)
    row.update(
        answer=LETTERS[lab.label],
        answer_text=lab.item.options[lab.label],
        answer_id=lab.item.option_ids[lab.label],
        graph_answer=lab.item.answer_letter,
        confidence=lab.confidence,
        options=list(lab.item.options),
        path_names=path_names(lab.item),
    )
    return row


def write_labelled(
    result: LabelResult,
    out_dir: str | Path,
    extra: Mapping[str, Any] | None = None,
    path_names: PathNames = option_path_names,
) -> Path:
    """Write into ``out_dir`` atomically: ``items.jsonl`` (kept items, synth row shape plus
    ``pseudo_label``/``pseudo_confidence``/``votes``), ``votes.jsonl`` (every item and why it
    was dropped), ``trl_grpo.jsonl`` (see :func:`grpo_row`) and ``report.json``."""
    out = Path(out_dir)
    check_folder_target(out, KIND, LEGACY)
    kept = result.kept
    rows = []
    for lab in kept:
        row = item_row(lab.item)
        row.update(
            pseudo_label=LETTERS[lab.label or 0],
            pseudo_confidence=lab.confidence,
            votes=lab.votes,
        )
        rows.append(row)
    with staged_folder(out, KIND, legacy=LEGACY) as tmp:
        write_jsonl(tmp / "items.jsonl", rows)
        write_jsonl(tmp / "votes.jsonl", [lab.record() for lab in result.labelled])
        write_jsonl(tmp / "trl_grpo.jsonl", [grpo_row(lab, path_names) for lab in kept])
        report = canonical({**dict(extra or {}), **result.report, "files": digests(tmp)})
        (tmp / REPORT).write_text(
            json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return out


__all__ = [
    "DROP_REASONS",
    "REPORT",
    "LabelResult",
    "Labelled",
    "PseudoLabelConfig",
    "RejectConfig",
    "breakdown",
    "grpo_row",
    "majority",
    "names_from_graph",
    "option_path_names",
    "reject_sample",
    "self_consistency",
    "write_labelled",
]
