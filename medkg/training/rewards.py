"""Verifiable rewards with TRL's reward-function signature, a safety gate and a registry.

Every reward is ``reward(prompts, completions, **kwargs) -> list[float]``: one float per
completion. ``completions`` are strings (standard datasets) or conversational lists of
``{"role", "content"}`` messages; dataset columns arrive as keyword arguments holding one
value per completion (TRL repeats each row's value for its group of generations), and
unknown keyword arguments (``trainer_state``, ``completion_ids``, ...) are ignored.

Registered rewards (:data:`REWARDS`, built by :func:`get_reward`):

``accuracy``  1 when the chosen option (:func:`~medkg.training.answers.extract_choice`)
              equals the label column (``answer`` by default; a letter, an index or the
              option's text), else 0.
``format``    the structured rationale medkg writes for SFT (``Understanding: / Recall: /
              Reasoning: / Conclusion:`` then ``Answer: <letter>``): the share of the four
              sections present in order, plus the final answer line, over five.
``graph``     graph consistency: the share of the item's gold-path entities (column
              ``path_names``: per entity a name or a list of name and synonyms) that the
              completion names, matched word-bounded after case and accent folding.

Options for letter constraints come from an ``options`` column when the dataset has one,
else from the ``letters`` column medkg's GRPO export writes, else from the lettered lines
of the prompt's last user message (so MedSSR-style prompts work as they are).

:func:`build_reward` combines rewards with weights from a config dict and applies a
:class:`SafetyGate` (blocklist regexes, a length limit, refusals, no answer at all): a
completion that fails the gate gets 0, whatever its other rewards. :func:`validate_columns`
checks a dataset's columns against the rewards a stage names before training starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medkg.errors import MedkgError
from medkg.synthesis.items import RATIONALE_STEPS
from medkg.text import surface_key
from medkg.training.answers import extract_choice, label_index, parse_options

RewardFn = Callable[..., list[float]]


class RewardConfigError(MedkgError, ValueError):
    """A reward config names an unknown reward or option, or a dataset lacks a column."""


# ----------------------------------------------------------------------------- inputs
def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the assistant turns of a message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence):
        parts = [
            str(m.get("content") or "")
            for m in completion
            if isinstance(m, Mapping) and m.get("role", "assistant") == "assistant"
        ]
        return "\n".join(parts)
    raise TypeError(f"a completion must be a string or a list of messages, got {completion!r}")


def prompt_text(prompt: Any) -> str:
    """The question text of one prompt: a string, or the last user message of a list."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        users = [m for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
        return str(users[-1].get("content") or "") if users else ""
    return ""


def _column(kwargs: Mapping[str, Any], name: str, reward: str, n: int) -> list[Any]:
    if name not in kwargs or kwargs[name] is None:
        raise RewardConfigError(
            f"reward {reward!r} needs the dataset column {name!r}; "
            f"columns passed: {sorted(k for k in kwargs if kwargs[k] is not None)}"
        )
    values = list(kwargs[name])
    if len(values) != n:
        raise RewardConfigError(
            f"reward {reward!r}: column {name!r} has {len(values)} values for {n} completions"
        )
    return values


def item_options(i: int, prompts: Sequence[Any] | None, kwargs: Mapping[str, Any]) -> Any:
    """Completion ``i``'s options: option texts, a count, or None (every letter allowed)."""
    options = kwargs.get("options")
    if options is not None and options[i] is not None and len(options[i]) > 0:
        return list(options[i])
    letters = kwargs.get("letters")
    if letters is not None and letters[i]:
        return len(letters[i])
    if prompts is not None and i < len(prompts):
        parsed = parse_options(prompt_text(prompts[i]))
        if parsed:
            return parsed
    return None


# ----------------------------------------------------------------------------- rewards
def accuracy_reward_fn(label_column: str = "answer") -> RewardFn:
    """1.0 when the chosen option equals the label in ``label_column``, else 0.0."""

    def accuracy(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        labels = _column(kwargs, label_column, "accuracy", len(completions))
        out = []
        for i, completion in enumerate(completions):
            options = item_options(i, prompts, kwargs)
            gold = label_index(labels[i], options)
            choice = extract_choice(completion_text(completion), options)
            out.append(float(gold is not None and choice is not None and choice.index == gold))
        return out

    accuracy.columns = (label_column,)  # type: ignore[attr-defined]
    return accuracy


_SECTION = re.compile(
    r"^[ \t>#*_\-]*(?P<name>" + "|".join(RATIONALE_STEPS) + r")\b[*_ \t]*[:\-]",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER_LINE = re.compile(r"^[ \t>#*_]*answer[*_ \t]*:[*_ \t]*\(?[A-H]\b", re.IGNORECASE)


def format_score(text: str) -> float:
    """Share of the rationale sections present in order, plus the final answer line, over
    ``len(RATIONALE_STEPS) + 1``."""
    first: dict[str, int] = {}
    for m in _SECTION.finditer(text):
        first.setdefault(m.group("name").lower(), m.start())
    positions = [first[s] for s in RATIONALE_STEPS if s in first]
    # longest run of sections whose positions increase in the prescribed order
    best = [1] * len(positions)
    for j in range(len(positions)):
        for i in range(j):
            if positions[i] < positions[j]:
                best[j] = max(best[j], best[i] + 1)
    in_order = max(best, default=0)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    answer_last = bool(lines) and _ANSWER_LINE.match(lines[-1]) is not None
    return (in_order + int(answer_last)) / (len(RATIONALE_STEPS) + 1)


def format_reward_fn() -> RewardFn:
    """The structured-rationale format score of each completion."""

    def format_(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [format_score(completion_text(c)) for c in completions]

    format_.__name__ = "format"
    format_.columns = ()  # type: ignore[attr-defined]
    return format_


def graph_consistency(text: str, path_names: Sequence[Any]) -> float:
    """Share of the path's entities named in ``text`` (an entity is a name or a list of
    name and synonyms; any one form counts). 0.0 for an empty path."""
    entities = [[e] if isinstance(e, str) else [str(f) for f in e or []] for e in path_names]
    entities = [forms for forms in entities if any(f.strip() for f in forms)]
    if not entities:
        return 0.0
    norm = surface_key(text)
    named = sum(any(surface_key(f).strip() and surface_key(f) in norm for f in e) for e in entities)
    return named / len(entities)


def graph_reward_fn(column: str = "path_names") -> RewardFn:
    """The share of the item's gold-path entities each completion names."""

    def graph(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        paths = _column(kwargs, column, "graph", len(completions))
        return [
            graph_consistency(completion_text(c), p or [])
            for c, p in zip(completions, paths, strict=True)
        ]

    graph.columns = (column,)  # type: ignore[attr-defined]
    return graph


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "accuracy": accuracy_reward_fn,
    "format": format_reward_fn,
    "graph": graph_reward_fn,
}


def get_reward(name: str, **options: Any) -> RewardFn:
    """Build the reward registered as ``name`` with its options (checked by name)."""
    factory = REWARDS.get(name)
    if factory is None:
        raise RewardConfigError(f"unknown reward {name!r}; known: {sorted(REWARDS)}")
    try:
        return factory(**options)
    except TypeError as exc:
        raise RewardConfigError(f"reward {name!r}: bad options {sorted(options)} ({exc})") from None


# ----------------------------------------------------------------------------- safety gate
DEFAULT_REFUSALS = (
    r"\bI (?:cannot|can't|can not|won't|am unable to|'m unable to) (?:answer|help|provide)",
    r"\bas an AI\b",
    r"\bconsult (?:a|your) (?:doctor|physician|healthcare)",
)


@dataclass(frozen=True)
class SafetyGate:
    """A check a completion must pass to keep its reward (else it gets 0).

    ``blocklist``: regexes (case-insensitive) that must not match; ``max_chars``: longest
    allowed completion; ``refusals``: regexes of refusing to answer (``DEFAULT_REFUSALS``
    by default, () to turn off); ``require_answer``: the completion must choose an option.
    """

    blocklist: tuple[str, ...] = ()
    max_chars: int | None = None
    refusals: tuple[str, ...] = DEFAULT_REFUSALS
    require_answer: bool = False
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.max_chars is not None and self.max_chars < 1:
            raise RewardConfigError(f"safety gate: max_chars must be >= 1, got {self.max_chars}")
        compiled = []
        for kind, patterns in (("blocklist", self.blocklist), ("refusal", self.refusals)):
            if isinstance(patterns, str):
                raise RewardConfigError(f"safety gate: {kind} must be a list of regexes")
            for p in patterns:
                try:
                    compiled.append((kind, re.compile(p, re.IGNORECASE)))
                except re.error as exc:
                    raise RewardConfigError(f"safety gate: bad {kind} regex {p!r}: {exc}") from None
        object.__setattr__(self, "_compiled", tuple(compiled))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> SafetyGate | None:
        """A gate from a config dict (None or {} → no gate); unknown keys are an error."""
        if not config:
            return None
        known = {"blocklist", "max_chars", "refusals", "require_answer"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise RewardConfigError(
                f"safety gate does not take {unknown}; it takes {sorted(known)}"
            )
        opts = dict(config)
        for key in ("blocklist", "refusals"):
            if key in opts:
                opts[key] = tuple(opts[key] or ())
        return cls(**opts)

    def failure(self, text: str, options: Any = None) -> str | None:
        """Why ``text`` fails the gate (``blocklist:<regex>``, ``too_long``, ``refusal``,
        ``no_answer``), or None when it passes."""
        if self.max_chars is not None and len(text) > self.max_chars:
            return "too_long"
        for kind, pattern in self._compiled:
            if pattern.search(text):
                return f"blocklist:{pattern.pattern}" if kind == "blocklist" else "refusal"
        if self.require_answer and extract_choice(text, options) is None:
            return "no_answer"
        return None

    def passes(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[bool]:
        """One pass/fail per completion."""
        return [
            self.failure(completion_text(c), item_options(i, prompts, kwargs)) is None
            for i, c in enumerate(completions)
        ]


# ----------------------------------------------------------------------------- combination
class WeightedReward:
    """Weighted sum of registered rewards, zeroed by a safety gate; a TRL reward function.

    ``parts``: (name, weight, reward) triples. ``__name__`` (what TRL logs the reward under)
    is ``name``. ``last_components`` holds each reward's values (and ``gate``: 1/0) from
    the latest call, for logging.
    """

    def __init__(
        self,
        parts: Sequence[tuple[str, float, RewardFn]],
        gate: SafetyGate | None = None,
        name: str = "medkg_reward",
    ) -> None:
        self.parts = list(parts)
        self.gate = gate
        self.__name__ = name
        self.last_components: dict[str, list[float]] = {}

    @property
    def columns(self) -> tuple[str, ...]:
        """Dataset columns the rewards need."""
        cols: list[str] = []
        for _, _, fn in self.parts:
            cols.extend(c for c in getattr(fn, "columns", ()) if c not in cols)
        return tuple(cols)

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float]:
        total = [0.0] * len(completions)
        components: dict[str, list[float]] = {}
        for name, weight, fn in self.parts:
            values = fn(prompts, completions, **kwargs)
            components[name] = values
            total = [t + weight * v for t, v in zip(total, values, strict=True)]
        if self.gate is not None:
            ok = self.gate.passes(prompts, completions, **kwargs)
            components["gate"] = [float(p) for p in ok]
            total = [t if p else 0.0 for t, p in zip(total, ok, strict=True)]
        self.last_components = components
        return total


def _parse_entry(name: str, spec: Any) -> tuple[float, dict[str, Any]]:
    if isinstance(spec, bool) or not isinstance(spec, int | float | Mapping):
        raise RewardConfigError(f"reward {name!r}: expected a weight or a mapping, got {spec!r}")
    if isinstance(spec, Mapping):
        opts = dict(spec)
        weight = opts.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise RewardConfigError(f"reward {name!r}: weight must be a number, got {weight!r}")
        return float(weight), opts
    return float(spec), {}


def build_reward(
    config: Mapping[str, Any], gate: SafetyGate | Mapping[str, Any] | None = None
) -> WeightedReward:
    """A weighted reward from ``{"accuracy": 1.0, "format": 0.2, "graph": {"weight": 0.5}}``
    (a weight, or a mapping with ``weight`` and the reward's options) and an optional gate
    (a :class:`SafetyGate` or its config dict)."""
    if not config:
        raise RewardConfigError("a reward config needs at least one reward")
    parts = []
    for name, spec in config.items():
        weight, opts = _parse_entry(name, spec)
        parts.append((name, weight, get_reward(name, **opts)))
    if gate is not None and not isinstance(gate, SafetyGate):
        gate = SafetyGate.from_config(gate)
    return WeightedReward(parts, gate)


def gated(fn: RewardFn, gate: SafetyGate) -> RewardFn:
    """``fn`` with completions that fail ``gate`` scored 0 (same name and columns)."""

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        values = fn(prompts, completions, **kwargs)
        ok = gate.passes(prompts, completions, **kwargs)
        return [v if p else 0.0 for v, p in zip(values, ok, strict=True)]

    reward.__name__ = getattr(fn, "__name__", "reward")
    reward.columns = tuple(getattr(fn, "columns", ()))  # type: ignore[attr-defined]
    return reward


def build_reward_funcs(
    config: Mapping[str, Any], gate: SafetyGate | Mapping[str, Any] | None = None
) -> tuple[list[RewardFn], list[float]]:
    """The same rewards as :func:`build_reward`, as separate functions and weights for
    TRL's ``reward_funcs`` and ``GRPOConfig.reward_weights`` (TRL then logs each reward).
    The gate zeroes every part of a failing completion, so the weighted sum is the same."""
    combined = build_reward(config, gate)
    funcs = [
        fn if combined.gate is None else gated(fn, combined.gate) for _, _, fn in combined.parts
    ]
    return funcs, [w for _, w, _ in combined.parts]


def required_columns(config: Mapping[str, Any] | Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Reward name → dataset columns it needs, for a reward config or a list of names."""
    items = config.items() if isinstance(config, Mapping) else ((n, 1.0) for n in config)
    out = {}
    for name, spec in items:
        _, opts = _parse_entry(name, spec)
        out[name] = tuple(getattr(get_reward(name, **opts), "columns", ()))
    return out


def validate_columns(
    config: Mapping[str, Any] | Sequence[str], column_names: Sequence[str], dataset: str = "dataset"
) -> None:
    """Raise :class:`RewardConfigError` naming each reward and the column it lacks."""
    have = set(column_names)
    missing = [
        f"reward {name!r} needs column {col!r}"
        for name, cols in required_columns(config).items()
        for col in cols
        if col not in have
    ]
    if missing:
        raise RewardConfigError(f"{dataset}: {'; '.join(missing)} (it has {sorted(have)})")


__all__ = [
    "DEFAULT_REFUSALS",
    "REWARDS",
    "RewardConfigError",
    "RewardFn",
    "SafetyGate",
    "WeightedReward",
    "accuracy_reward_fn",
    "build_reward",
    "build_reward_funcs",
    "completion_text",
    "format_reward_fn",
    "format_score",
    "gated",
    "get_reward",
    "graph_consistency",
    "graph_reward_fn",
    "item_options",
    "prompt_text",
    "required_columns",
    "validate_columns",
]
