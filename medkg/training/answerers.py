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
* :class:`OptionTextAnswerer` - no letters at all: each option's *text* is scored as the
  continuation of the prompt and ``Answer:`` (mean log-probability per token, so long
  options are not penalised), and the best-scored option is the answer (parse method
  ``option_text``). With ``stem_only`` (the default) the lettered option lines are taken
  out of the question first - the cloze formulation: the score is the model's likelihood
  of the answer given the stem, so neither letters nor the order the options are listed in
  can sway it, and it measures the association itself.
"""

from __future__ import annotations

import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medkg.llm.base import Generator, GenParams, Messages, params_dict
from medkg.synthesis.items import LETTERS
from medkg.training.answers import extract_choice

LOGITS = "logits"
OPTION_TEXT = "option_text"
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


_OPTION_LINE = re.compile(r"^\s*\(?([A-J])[.):]\s*(.*?)\s*$")


def strip_options(text: str, options: Sequence[str]) -> str:
    """``text`` without its lettered option lines (``A. text``, ``(A) text``, ``A) text``
    whose text is one of ``options``): the question stem and anything after the options."""
    wanted = {o.strip() for o in options}
    kept = []
    for line in text.splitlines():
        m = _OPTION_LINE.match(line)
        if m and m.group(2) in wanted:
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _by_context(
    pairs: Sequence[tuple[list[int], list[int]]],
) -> list[tuple[list[int], list[list[int]]]]:
    """Consecutive (context, option) pairs grouped by their (shared) context."""
    groups: list[tuple[list[int], list[list[int]]]] = []
    for ctx, opt in pairs:
        if groups and groups[-1][0] is ctx:
            groups[-1][1].append(opt)
        else:
            groups.append((ctx, [opt]))
    return groups


class OptionTextAnswerer(Answerer):
    """The option whose text the model finds most likely after the prompt and ``Answer:``.

    Each (prompt, option) pair is one sequence: the chat prompt with the generation prompt
    and ``Answer:``, then `` <option text>``; its score is the mean log-probability of the
    option's tokens (tokenised on their own and appended, so every option is cut the same
    way whatever precedes it). ``stem_only``: score against the question without its option
    lines (see :func:`strip_options`). Wraps a loaded-on-demand local generator like
    :class:`LetterLogitAnswerer`. The context is run once per question and its key/value
    cache shared by the options (right-padded, one batch per question).
    """

    def __init__(self, generator: Any, prefix: str = ANSWER_PREFIX, stem_only: bool = True) -> None:
        if not hasattr(generator, "load"):
            raise ValueError("option-text scoring needs a local model (a `local` generator spec)")
        self.generator = generator
        self.prefix = prefix
        self.stem_only = stem_only
        self.name = generator.name

    def contexts(self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]) -> list[str]:
        """The scored contexts: each chat prompt (stem only, if so), generation prompt, prefix."""
        gen = self.generator
        gen.load()
        out = []
        for messages, opts in zip(prompts, options, strict=True):
            msgs = [dict(m) for m in messages]
            if self.stem_only:
                for m in msgs:
                    if m["role"] == "user":
                        m["content"] = strip_options(m["content"], opts)
            text = gen._tokenizer.apply_chat_template(
                msgs, tokenize=False, add_generation_prompt=True
            )
            out.append(text + self.prefix)
        return out

    def option_scores(
        self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Per prompt, each option's mean log-probability per token."""
        import torch

        gen = self.generator
        contexts = self.contexts(prompts, options)
        tok, model = gen._tokenizer, gen._model
        pairs: list[tuple[list[int], list[int]]] = []
        for ctx, opts in zip(contexts, options, strict=True):
            ctx_ids = tok.encode(ctx, add_special_tokens=False)
            for o in opts:
                pairs.append((ctx_ids, tok.encode(" " + o.strip(), add_special_tokens=False)))
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        flat: list[float] = []
        for ctx_ids, opt_ids in _by_context(pairs):
            # the context once (its cache copied for every option), then the options together:
            # the same log-probs as one sequence per option, for a fraction of the tokens
            with torch.inference_mode():
                first = model(input_ids=torch.tensor([ctx_ids], device=gen.device), use_cache=True)
                cache = first.past_key_values
                cache.batch_repeat_interleave(len(opt_ids))
                width = max(len(t) for t in opt_ids)
                ids = torch.full((len(opt_ids), width), pad, dtype=torch.long)
                mask = torch.zeros((len(opt_ids), len(ctx_ids) + width), dtype=torch.long)
                mask[:, : len(ctx_ids)] = 1
                for i, tokens in enumerate(opt_ids):
                    ids[i, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
                    mask[i, len(ctx_ids) : len(ctx_ids) + len(tokens)] = 1
                logits = model(
                    input_ids=ids.to(gen.device), attention_mask=mask.to(gen.device),
                    past_key_values=cache, use_cache=True,
                ).logits.float()  # fmt: skip
            last = first.logits[0, -1].float()
            for i, tokens in enumerate(opt_ids):
                if not tokens:
                    flat.append(-math.inf)
                    continue
                # option token 0 is predicted by the context's last position, token t by t - 1
                rows = torch.cat([last[None], logits[i, : len(tokens) - 1]])
                logp = torch.log_softmax(rows, -1)
                target = torch.tensor(tokens, device=logp.device)
                flat.append(logp.gather(1, target[:, None]).mean().item())
        out, k = [], 0
        for opts in options:
            out.append(flat[k : k + len(opts)])
            k += len(opts)
        return out

    def answer(self, prompts: Sequence[Messages], options: Sequence[Sequence[str]]) -> list[Answer]:
        gen = self.generator
        t0 = time.perf_counter()
        out = []
        for scores, opts in zip(self.option_scores(prompts, options), options, strict=True):
            best = scores.index(max(scores))
            shown = " ".join(f"{LETTERS[i]}:{s:.3f}" for i, s in enumerate(scores))
            out.append(Answer(f"{self.prefix} {opts[best]}  [{shown}]", best, OPTION_TEXT))
        gen.stats.prompts += len(prompts)
        gen.stats.seconds += time.perf_counter() - t0
        return out

    def describe(self) -> dict[str, Any]:
        return {
            **self.generator.describe(),
            "scoring": "option_text_stem" if self.stem_only else "option_text",
            "prefix": self.prefix,
            "normalise": "mean log-prob per option token",
        }

    def close(self) -> None:
        self.generator.close()


__all__ = [
    "ANSWER_PREFIX",
    "LOGITS",
    "OPTION_TEXT",
    "Answer",
    "Answerer",
    "GenerationAnswerer",
    "LetterLogitAnswerer",
    "OptionTextAnswerer",
    "strip_options",
]
