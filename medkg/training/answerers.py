"""How a model answers a multiple-choice question during evaluation.

Two answerers, one interface (:meth:`Answerer.answer`: prompts and their options in, one
:class:`Answer` each out, keeping the model's full response, the option read from it and
how it was read):

* :class:`GenerationAnswerer` - the model writes an answer (any :class:`Generator`, greedy
  by default) and the option-letter-constrained extractor reads it
  (:func:`~medkg.training.answers.extract_choice`); the parse method is the extractor's tier
  (``stated``, ``marked``, ``bare``, ``named``) or None when no option was read.
* :class:`LetterLogitAnswerer` - no generation: the chat prompt is followed by the assistant
  prefix ``Answer:`` and the model's next-token logits over the option letters (`` A``,
  `` B``, ...) decide (parse method ``logits``). One forward pass per question, so it is
  the fast scorer on a CPU; it measures which letter the model ranks first, not whether
  it would state one when generating, and the response it records is the prefix plus that
  letter with the letters' probabilities.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medkg.llm.base import Generator, GenParams, Messages, params_dict
from medkg.synthesis.items import LETTERS
from medkg.training.answers import extract_choice

LOGITS = "logits"
ANSWER_PREFIX = "Answer:"


@dataclass(frozen=True)
class Answer:
    """One answer: the full response, the chosen option index (None: none read) and the
    parse method (extractor tier, ``logits``, or None)."""

    response: str
    index: int | None
    method: str | None
    probs: list[float] | None = field(default=None, compare=False)

    @property
    def letter(self) -> str | None:
        return None if self.index is None else LETTERS[self.index]


class Answerer(ABC):
    """Answers batches of multiple-choice prompts."""

    name: str = ""

    @abstractmethod
    def answer(self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]) -> list[Answer]:
        """One :class:`Answer` per prompt (``options``: each prompt's option texts)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What answered (for result files)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the model."""


class GenerationAnswerer(Answerer):
    """The model generates; :func:`extract_choice` reads the option."""

    def __init__(self, generator: Generator, params: GenParams | None = None) -> None:
        self.generator = generator
        self.params = params or GenParams(max_new_tokens=256)
        self.name = generator.name

    def answer(self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]) -> list[Answer]:
        completions = self.generator.generate(list(prompts), self.params)
        out = []
        for texts, opts in zip(completions, options, strict=True):
            choice = extract_choice(texts[0], list(opts))
            out.append(
                Answer(texts[0], choice.index if choice else None, choice.tier if choice else None)
            )
        return out

    def describe(self) -> dict[str, Any]:
        return {
            **self.generator.describe(),
            "scoring": "generate",
            "params": params_dict(self.params),
        }

    def close(self) -> None:
        self.generator.close()


class LetterLogitAnswerer(Answerer):
    """Next-token logits over the option letters after the assistant prefix ``Answer:``.

    Wraps a loaded-on-demand :class:`~medkg.llm.local.LocalGenerator`
    (its model folder, device, dtype and threads); batches of ``batch_size`` prompts are
    left-padded so every prompt ends where the letter is read.
    """

    def __init__(self, generator: Any, prefix: str = ANSWER_PREFIX) -> None:
        if not hasattr(generator, "load"):
            raise ValueError("letter scoring needs a local model (a `local` generator spec)")
        self.generator = generator
        self.prefix = prefix
        self.name = generator.name
        self._letter_ids: list[int] | None = None
        self._space = " "

    def _letters(self, tok: Any) -> list[int]:
        if self._letter_ids is None:
            # " C" after "Answer:" (one token in GPT-2-style BPEs); else "C" after "Answer: "
            for space in (" ", ""):
                encoded = [tok.encode(space + c, add_special_tokens=False) for c in LETTERS]
                if all(len(e) == 1 for e in encoded):
                    self._letter_ids = [e[0] for e in encoded]
                    self._space = space
                    break
            else:
                raise ValueError("the tokenizer has no single token for each option letter")
        return self._letter_ids

    def texts(self, prompts: Sequence[Messages]) -> list[str]:
        """The scored texts: each chat prompt, the generation prompt and the prefix."""
        gen = self.generator
        gen.load()
        tok = gen._tokenizer
        self._letters(tok)
        prefix = self.prefix + (" " if not self._space else "")
        return [
            tok.apply_chat_template(list(m), tokenize=False, add_generation_prompt=True) + prefix
            for m in prompts
        ]

    def answer(self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]) -> list[Answer]:
        import torch

        gen = self.generator
        texts = self.texts(prompts)
        tok, model = gen._tokenizer, gen._model
        letter_ids = self._letters(tok)
        out: list[Answer] = []
        t0 = time.perf_counter()
        for start in range(0, len(texts), gen.batch_size):
            batch = texts[start : start + gen.batch_size]
            enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(gen.device)
            with torch.inference_mode():
                logits = model(**enc, logits_to_keep=1).logits[:, -1, :].float()
            for row, opts in zip(logits, options[start : start + len(batch)], strict=True):
                scores = row[letter_ids[: len(opts)]].tolist()
                top = max(scores)
                exp = [math.exp(s - top) for s in scores]
                probs = [round(e / sum(exp), 4) for e in exp]
                best = scores.index(top)
                shown = " ".join(f"{LETTERS[i]}:{p:.3f}" for i, p in enumerate(probs))
                out.append(Answer(f"{self.prefix} {LETTERS[best]}  [{shown}]", best, LOGITS, probs))
        gen.stats.prompts += len(texts)
        gen.stats.seconds += time.perf_counter() - t0
        return out

    def describe(self) -> dict[str, Any]:
        return {**self.generator.describe(), "scoring": "letter_logits", "prefix": self.prefix}

    def close(self) -> None:
        self.generator.close()


__all__ = [
    "ANSWER_PREFIX",
    "LOGITS",
    "Answer",
    "Answerer",
    "GenerationAnswerer",
    "LetterLogitAnswerer",
]
