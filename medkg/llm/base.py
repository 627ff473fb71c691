"""The generator interface every LLM backend implements, and the registry that builds one by key.

A generator turns chat prompts (lists of ``{"role", "content"}`` messages) into ``n``
completions each. The public :meth:`Generator.generate` is a template method: it validates
prompts and parameters once, cuts the prompts into batches, gives each batch a seed derived
from ``params.seed`` and the batch's position (so a batch's output does not depend on what
ran before it), applies stop strings the same way for every backend and keeps throughput
counters. A backend implements one hook, :meth:`Generator._generate_batch`.

Backends are registered under a key (``local``, ``openai``) and built with
:func:`build_generator`. Constructors only store options: models load and connections open
on first use, so building a generator is free and cannot fail on I/O.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar

from medkg.errors import MedkgError, UsageError
from medkg.registry import Registry

Message = dict[str, str]
Messages = list[Message]
ROLES = frozenset({"system", "user", "assistant"})


class GeneratorError(MedkgError, RuntimeError):
    """A backend could not produce completions (endpoint down, timeout, bad reply, bad model)."""


@dataclass(frozen=True)
class GenParams:
    """Sampling parameters shared by every backend."""

    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy decoding (n identical completions when n > 1)
    top_p: float = 1.0
    n: int = 1  # completions per prompt
    seed: int = 0
    stop: tuple[str, ...] = ()  # a completion is cut before the first stop string

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise UsageError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise UsageError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise UsageError(f"n must be >= 1, got {self.n}")
        if isinstance(self.stop, str) or any(not isinstance(s, str) or not s for s in self.stop):
            raise UsageError(f"stop must be a tuple of non-empty strings, got {self.stop!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class GenStats:
    """Running totals since the generator was built (for throughput reports)."""

    calls: int = 0
    batches: int = 0
    prompts: int = 0
    completions: int = 0
    new_tokens: int = 0  # generated tokens as the backend counts them (0 if it cannot)
    seconds: float = 0.0  # wall time inside the backend hook (model loading excluded)

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def validate_prompts(prompts: Sequence[Messages]) -> None:
    """Raise ValueError naming the first malformed prompt."""
    if isinstance(prompts, str | dict) or not isinstance(prompts, Sequence):
        raise UsageError("prompts must be a list of chat-message lists")
    for i, msgs in enumerate(prompts):
        if isinstance(msgs, str | dict) or not isinstance(msgs, Sequence) or not msgs:
            raise UsageError(f"prompt {i}: must be a non-empty list of chat messages")
        for j, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise UsageError(f"prompt {i} message {j}: needs a role in {sorted(ROLES)}")
            if not isinstance(m.get("content"), str):
                raise UsageError(f"prompt {i} message {j}: content must be a string")
        if msgs[-1]["role"] == "assistant":
            raise UsageError(f"prompt {i}: the last message must not be the assistant's")


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string."""
    cut = min((k for k in (text.find(s) for s in stop) if k >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def batch_seed(seed: int, start: int) -> int:
    """The seed of the batch starting at prompt ``start`` (stable across runs and backends)."""
    return (seed * 1_000_003 + start) % (2**31 - 1)


class Generator(ABC):
    """Chat prompts in, ``n`` completions per prompt out; subclasses implement one hook."""

    key: ClassVar[str] = ""  # registry key, set by @register_generator

    def __init__(self, *, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        #: Called as ``(prompts_done, prompts_total)`` after every batch of a
        #: :meth:`generate` call (a CLI sets it to drive a bar); outputs do not depend on it.
        self.progress: Callable[[int, int], None] | None = None
        self.stats = GenStats()

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The model this generator runs (a folder name, an endpoint's model id)."""

    @property
    def name(self) -> str:
        """``<key>:<model>``: what generated items record as their template."""
        return f"{self.key}:{self.model_name}"

    def describe(self) -> dict[str, Any]:
        """Provenance for generated data (no secrets)."""
        return {"generator": self.key, "model": self.model_name, "batch_size": self.batch_size}

    def generate(
        self, prompts: Sequence[Messages], params: GenParams | None = None
    ) -> list[list[str]]:
        """``params.n`` completions for each prompt, in prompt order.

        Prompts run in batches of ``batch_size``; the batch starting at prompt ``i`` is
        seeded with ``batch_seed(params.seed, i)``. Stop strings cut every completion.
        """
        params = params or GenParams()
        params.validate()
        validate_prompts(prompts)
        self.stats.calls += 1
        out: list[list[str]] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [list(p) for p in prompts[start : start + self.batch_size]]
            bparams = replace(params, seed=batch_seed(params.seed, start))
            t0 = time.perf_counter()
            got = self._generate_batch(batch, bparams)
            self.stats.seconds += time.perf_counter() - t0
            if len(got) != len(batch) or any(len(c) != params.n for c in got):
                raise GeneratorError(
                    f"{self.name}: backend returned {[len(c) for c in got]} completions "
                    f"for {len(batch)} prompts with n={params.n}"
                )
            out.extend([cut_at_stop(c, params.stop) for c in comps] for comps in got)
            self.stats.batches += 1
            self.stats.prompts += len(batch)
            self.stats.completions += len(batch) * params.n
            if self.progress is not None:
                self.progress(start + len(batch), len(prompts))
        return out

    @abstractmethod
    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        """Completions for one batch (``params.seed`` is already the batch's seed)."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        """Release what the backend holds (a model, a connection pool)."""


# Backends by name, imported on first use (torch only when ``local`` is asked for);
# third-party ones arrive through the ``medkg.generators`` entry-point group.
GENERATORS: Registry[type[Generator]] = Registry(
    "generator",
    group="medkg.generators",
    lazy={
        "local": "medkg.llm.local:LocalGenerator",
        "openai": "medkg.llm.openai_compat:OpenAIGenerator",
    },
)
#: Class decorator: ``@register_generator("name")`` adds a backend to :data:`GENERATORS`.
register_generator = GENERATORS.register


def build_generator(key: str, **options: Any) -> Generator:
    """Build the backend registered as ``key`` with its own options (checked by name)."""
    return GENERATORS.build(key, **options)


def params_dict(params: GenParams) -> dict[str, Any]:
    """``params`` as JSON-ready provenance."""
    d = asdict(params)
    d["stop"] = list(params.stop)
    return d


__all__ = [
    "GENERATORS",
    "GenParams",
    "GenStats",
    "Generator",
    "GeneratorError",
    "Message",
    "Messages",
    "batch_seed",
    "build_generator",
    "cut_at_stop",
    "params_dict",
    "register_generator",
    "validate_prompts",
]
