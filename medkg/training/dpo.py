"""Heterogeneous Knowledge Preference Tuning (HeteroRAG) pairs for DPO, from evidence packs.

Items are the rows ``medkg retrieve attach`` writes to ``items.jsonl``: a ``medkg synth``
item (question, options, ``answer_index``) plus ``"evidence"``, a list of
:class:`~medkg.retrieval.base.Evidence` dicts. For every item the policy model (a
:class:`~medkg.llm.Generator`) answers several *variants* of the prompt,
and each answer is judged with :func:`~medkg.training.answers.extract_choice` against the
item's label (an unreadable answer is wrong):

``bare``      the question alone;
``evidence``  the question after the pack's supporting chunks (``supports`` true first,
              then unjudged ones; never a chunk judged not to support the answer);
``noise:<chunk id>``  the question after one noisy or irrelevant chunk: a chunk of the
              item's own pack judged not to support the answer, else a chunk of another
              item's pack that does not name this item's answer (drawn with the seed).

A :class:`PairRule` turns two judged variants into a pair:

``knowledge``   (knowledge utilisation) right *with* evidence and wrong without: the prompt
                holds the evidence; chosen = the with-evidence completion, rejected = the
                bare one.
``robustness``  right without a noisy chunk and wrong with it: the prompt holds the noisy
                chunk; chosen = the right (bare) completion, rejected = the misled one.
``cross_modal`` right with an image and wrong without. Designed for, optional: medkg's
                items carry no images, so no ``image`` variant builder is registered. A
                project whose items carry images registers one with
                :func:`register_variant` (``"image"``, returning ``image:<id>`` variants
                with multimodal messages) and asks for ``cross_modal`` in
                :attr:`PairConfig.pair_types`.

Every candidate that does not become a pair is counted by reason (``both_right``,
``both_wrong``, ``reversed``), and the accuracy of each variant kind is reported (does the
evidence help? does the noise hurt?). :func:`write_pairs` writes TRL's conversational
preference format (``prompt`` / ``chosen`` / ``rejected`` message lists) to
``trl_dpo.jsonl`` with ``manifest.json``, atomically; a ``dpo`` stage reads the folder.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medkg.errors import UsageError
from medkg.io import MANIFEST, canonical, digests, write_jsonl
from medkg.llm.base import Generator, GenParams, Messages, params_dict
from medkg.outputs import check_folder_target, legacy_manifest, staged_folder
from medkg.synthesis.export import SYSTEM_PROMPT
from medkg.synthesis.items import LETTERS
from medkg.training.answers import extract_choice, label_index

PAIRS_FILE = "trl_dpo.jsonl"
OUTCOMES = ("pair", "both_right", "both_wrong", "reversed")

Row = Mapping[str, Any]
Variant = tuple[str, Messages]  # (variant id "<kind>[:<detail>]", prompt messages)

# The output kind (medkg.outputs) and how a folder from before the output marker looks.
KIND = "dpo-pairs"
LEGACY = legacy_manifest(files=..., pairs=...)


@dataclass(frozen=True)
class PairConfig:
    """Which pairs to build and how the policy model answers."""

    pair_types: tuple[str, ...] = ("knowledge", "robustness")
    max_evidence: int = field(default=3, metadata={"help": "evidence chunks in a prompt"})
    noise_per_item: int = field(default=1, metadata={"help": "noisy chunks tried per item"})
    max_chunk_chars: int = field(default=800, metadata={"help": "a chunk's text is cut here"})
    label_field: str = field(default="answer_index", metadata={"help": "the item's label"})
    max_new_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        unknown = sorted(set(self.pair_types) - set(PAIR_RULES))
        if unknown or not self.pair_types:
            raise UsageError(f"pair types {unknown} unknown; choose from {sorted(PAIR_RULES)}")
        for rule in (PAIR_RULES[t] for t in self.pair_types):
            for kind in (rule.chosen, rule.rejected):
                if kind not in VARIANTS:
                    raise UsageError(
                        f"{rule.pair_type!r} pairs need a {kind!r} variant builder: register "
                        f"one with register_variant({kind!r}) (items with images)"
                    )
        if self.max_evidence < 1 or self.noise_per_item < 0 or self.max_chunk_chars < 50:
            raise UsageError("max_evidence >= 1, noise_per_item >= 0, max_chunk_chars >= 50")

    def gen_params(self) -> GenParams:
        return GenParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed
        )


@dataclass(frozen=True)
class PairRule:
    """A pair type: the completion of variant ``chosen`` must be right and that of
    ``rejected`` wrong; the pair's prompt is the one of variant kind ``prompt``."""

    pair_type: str
    prompt: str
    chosen: str
    rejected: str


PAIR_RULES: dict[str, PairRule] = {
    r.pair_type: r
    for r in (
        PairRule("knowledge", prompt="evidence", chosen="evidence", rejected="bare"),
        PairRule("robustness", prompt="noise", chosen="bare", rejected="noise"),
        PairRule("cross_modal", prompt="image", chosen="image", rejected="bare"),
    )
}


@dataclass(frozen=True)
class PreferencePair:
    """One DPO pair in TRL's conversational form, with where it came from."""

    id: str
    pair_type: str
    item_id: str
    prompt: Messages
    chosen: Messages
    rejected: Messages
    chosen_letter: str | None
    rejected_letter: str | None
    gold: str
    variant: str  # the variant id whose prompt the pair uses

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairResult:
    pairs: list[PreferencePair]
    report: dict[str, Any]


# ----------------------------------------------------------------------------- prompts
def question_text(row: Row) -> str:
    """The question with its lettered options (as ``QAItem.mc_prompt`` writes it)."""
    options = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(row["options"]))
    return f"{row['question']}\n{options}"


def evidence_block(chunks: Sequence[Mapping[str, Any]], max_chars: int) -> str:
    lines = []
    for n, chunk in enumerate(chunks, 1):
        text = " ".join(str(chunk.get("text", "")).split())
        if len(text) > max_chars:
            text = text[: max_chars - 3].rstrip() + "..."
        title = str(chunk.get("title") or "").strip()
        lines.append(f"[{n}] {title}: {text}" if title else f"[{n}] {text}")
    return "\n".join(lines)


def messages(row: Row, chunks: Sequence[Mapping[str, Any]], config: PairConfig) -> Messages:
    """System and user turns; with chunks, the user turn starts with them as evidence."""
    question = question_text(row)
    if chunks:
        block = evidence_block(chunks, config.max_chunk_chars)
        question = f"Evidence:\n{block}\n\nQuestion:\n{question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


# ----------------------------------------------------------------------------- variants
VariantBuilder = Callable[[Row, PairConfig, "NoisePool"], list[Variant]]
VARIANTS: dict[str, VariantBuilder] = {}


def register_variant(kind: str) -> Callable[[VariantBuilder], VariantBuilder]:
    """Register a builder of prompt variants of kind ``kind`` (the cross-modal hook)."""

    def deco(fn: VariantBuilder) -> VariantBuilder:
        if kind in VARIANTS and VARIANTS[kind] is not fn:
            raise UsageError(f"variant kind {kind!r} is already registered")
        VARIANTS[kind] = fn
        return fn

    return deco


def _evidence(row: Row) -> list[Mapping[str, Any]]:
    ev = row.get("evidence") or []
    if not isinstance(ev, list) or not all(isinstance(c, Mapping) for c in ev):
        raise UsageError(f"item {row.get('id')!r}: 'evidence' must be a list of objects")
    return ev


@register_variant("bare")
def bare_variant(row: Row, config: PairConfig, pool: NoisePool) -> list[Variant]:
    return [("bare", messages(row, [], config))]


@register_variant("evidence")
def evidence_variant(row: Row, config: PairConfig, pool: NoisePool) -> list[Variant]:
    chunks = [c for c in _evidence(row) if c.get("supports") is not False]
    chunks.sort(key=lambda c: c.get("supports") is not True)  # stable: rank order kept
    chunks = chunks[: config.max_evidence]
    return [("evidence", messages(row, chunks, config))] if chunks else []


@register_variant("noise")
def noise_variants(row: Row, config: PairConfig, pool: NoisePool) -> list[Variant]:
    return [
        (f"noise:{c.get('chunk_id', '?')}", messages(row, [c], config))
        for c in pool.noise_for(row, config.noise_per_item, config)
    ]


class NoisePool:
    """Noisy chunks for an item: its own pack's non-supporting chunks first, then chunks of
    other items' packs that do not name the item's answer, drawn with a per-item seed."""

    def __init__(self, rows: Sequence[Row], seed: int) -> None:
        self.seed = seed
        chunks: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for row in rows:
            for c in _evidence(row):
                chunks.setdefault(str(c.get("chunk_id")), (str(row.get("id")), c))
        self.chunks = [chunks[k] for k in sorted(chunks)]

    def noise_for(
        self, row: Row, n: int, config: PairConfig | None = None
    ) -> list[Mapping[str, Any]]:
        """Up to ``n`` noisy chunks for ``row`` (its label read as ``config.label_field``)."""
        if n <= 0:
            return []
        own = [c for c in _evidence(row) if c.get("supports") is False]
        # the gold option's text, whatever the label column holds (a letter, an index or
        # absent "answer" would make every chunk "name the answer", or none of them)
        gold = label_index(row.get((config or PairConfig()).label_field), row["options"])
        if gold is None:
            return own[:n]
        answer = str(row["options"][gold]).lower()
        others = [
            c
            for item_id, c in self.chunks
            if item_id != str(row.get("id")) and answer not in str(c.get("text", "")).lower()
        ]
        random.Random(f"{self.seed}:{row.get('id')}").shuffle(others)
        return (own + others)[:n]


# ----------------------------------------------------------------------------- pairs
def _check_row(n: int, row: Any, label_field: str) -> int:
    """The gold option index of item ``n`` (raises ValueError naming the item)."""
    where = f"item {n + 1} ({row.get('id')!r})" if isinstance(row, Mapping) else f"item {n + 1}"
    if not isinstance(row, Mapping):
        raise UsageError(f"{where}: not an object")
    if not row.get("id") or not isinstance(row.get("question"), str):
        raise UsageError(f"{where}: needs 'id' and 'question'")
    options = row.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= len(LETTERS):
        raise UsageError(f"{where}: needs 2-{len(LETTERS)} 'options'")
    gold = label_index(row.get(label_field), options)
    if gold is None:
        raise UsageError(f"{where}: {label_field}={row.get(label_field)!r} names no option")
    return gold


def _pair_id(item_id: str, pair_type: str, variant: str) -> str:
    return hashlib.sha256(f"{item_id}|{pair_type}|{variant}".encode()).hexdigest()[:16]


def build_pairs(
    rows: Sequence[Row], generator: Generator, config: PairConfig | None = None
) -> PairResult:
    """Answer every variant of every item with ``generator`` (one batched call), judge the
    answers and keep the pairs the rules allow. Items without an evidence pack get no
    ``evidence`` variant; the report counts them."""
    config = config or PairConfig()
    config.validate()
    golds = [_check_row(n, row, config.label_field) for n, row in enumerate(rows)]
    pool = NoisePool(rows, config.seed)
    rules = [PAIR_RULES[t] for t in config.pair_types]
    kinds = sorted({kind for r in rules for kind in (r.chosen, r.rejected)})
    per_item: list[list[Variant]] = [
        [v for kind in kinds for v in VARIANTS[kind](row, config, pool)] for row in rows
    ]
    prompts = [m for variants in per_item for _, m in variants]
    completions = generator.generate(prompts, config.gen_params()) if prompts else []
    texts = iter(c[0] for c in completions)
    counts: dict[str, Counter[str]] = {t: Counter() for t in config.pair_types}
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    pairs: list[PreferencePair] = []
    for row, gold, variants in zip(rows, golds, per_item, strict=True):
        judged: dict[str, tuple[Messages, str, str | None]] = {}
        for vid, msgs in variants:
            text = next(texts)
            choice = extract_choice(text, row["options"])
            letter = choice.letter if choice is not None else None
            judged[vid] = (msgs, text, letter)
            kind = vid.split(":", 1)[0]
            seen[kind] += 1
            right[kind] += letter == LETTERS[gold]
        for pair_type in config.pair_types:
            pair = _pair(row, gold, pair_type, judged, counts[pair_type])
            pairs.extend(pair)
    report = {
        "n_items": len(rows),
        "n_items_with_evidence": sum(bool(_evidence(r)) for r in rows),
        "n_generations": len(prompts),
        "pairs": {t: counts[t]["pair"] for t in config.pair_types},
        "outcomes": {t: {o: counts[t][o] for o in OUTCOMES} for t in config.pair_types},
        "variant_accuracy": {
            k: {"right": right[k], "n": seen[k], "accuracy": right[k] / seen[k]}
            for k in sorted(seen)
        },
        "generator": generator.describe(),
        "params": params_dict(config.gen_params()),
        "config": {**asdict(config), "pair_types": list(config.pair_types)},
    }
    return PairResult(pairs, report)


def _pair(
    row: Row,
    gold: int,
    pair_type: str,
    judged: Mapping[str, tuple[Messages, str, str | None]],
    counts: Counter[str],
) -> list[PreferencePair]:
    """The pairs of one type for one item, counting every candidate's outcome."""
    rule = PAIR_RULES[pair_type]
    other = rule.rejected if rule.prompt == rule.chosen else rule.chosen
    others = [v for v in judged if v.split(":", 1)[0] == other]
    out = []
    for vid in (v for v in judged if v.split(":", 1)[0] == rule.prompt):
        if not others:
            break
        chosen_id, rejected_id = (
            (vid, others[0]) if rule.prompt == rule.chosen else (others[0], vid)
        )
        _, chosen_text, chosen_letter = judged[chosen_id]
        _, rejected_text, rejected_letter = judged[rejected_id]
        good, bad = chosen_letter == LETTERS[gold], rejected_letter == LETTERS[gold]
        outcome = {(True, False): "pair", (True, True): "both_right", (False, False): "both_wrong"}
        counts[outcome.get((good, bad), "reversed")] += 1
        if good and not bad:
            out.append(
                PreferencePair(
                    id=_pair_id(str(row["id"]), pair_type, vid),
                    pair_type=pair_type,
                    item_id=str(row["id"]),
                    prompt=judged[vid][0],
                    chosen=[{"role": "assistant", "content": chosen_text}],
                    rejected=[{"role": "assistant", "content": rejected_text}],
                    chosen_letter=chosen_letter,
                    rejected_letter=rejected_letter,
                    gold=LETTERS[gold],
                    variant=vid,
                )
            )
    return out


# ----------------------------------------------------------------------------- files
def read_evidence_items(path: str | Path) -> list[dict[str, Any]]:
    """Rows of an ``items.jsonl`` with evidence packs (or a folder holding one)."""
    from medkg.training.trainers import read_rows

    p = Path(path)
    if p.is_dir():
        p = p / "items.jsonl"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no items file (expected `medkg retrieve attach` output)")
    return read_rows(p)


def write_pairs(
    result: PairResult, out_dir: str | Path, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write ``trl_dpo.jsonl`` and ``manifest.json`` (counts, config, checksums) into
    ``out_dir`` atomically; a non-empty folder without a manifest is refused."""
    out = Path(out_dir)
    check_folder_target(out, KIND, LEGACY)
    with staged_folder(out, KIND, legacy=LEGACY) as tmp:
        write_jsonl(tmp / PAIRS_FILE, [p.row() for p in result.pairs])
        manifest = canonical({**dict(extra or {}), **result.report, "files": digests(tmp)})
        (tmp / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return out


__all__ = [
    "OUTCOMES",
    "PAIRS_FILE",
    "PAIR_RULES",
    "VARIANTS",
    "NoisePool",
    "PairConfig",
    "PairResult",
    "PairRule",
    "PreferencePair",
    "bare_variant",
    "build_pairs",
    "evidence_variant",
    "messages",
    "noise_variants",
    "question_text",
    "read_evidence_items",
    "register_variant",
    "write_pairs",
]
