"""Multiple-choice answers: read the option a completion chose, and the options of a prompt.

Rewards, pseudo-labels and evaluation share one extractor, :func:`extract_choice`, so a
completion scores the same everywhere. It looks for the answer in tiers; the first tier
with a match decides, and inside a tier the **last** statement wins ("The answer is A.
On reflection, the answer is C." reads C):

1. ``stated`` - an explicit statement: "The answer is C", "Answer: (B)", "final answer
   is **D**", "correct option: c", "I choose B". A deciding statement that hedges between
   letters ("Answer: B and D", "C, D", "B/C", "B or C") is no answer at all.
2. ``marked`` - a line that starts with a marked letter: "**C.** Marfan syndrome",
   "C) Marfan syndrome", "(C) ...", "C. ...", "C: ...". Marked lines of two or more
   letters (going through the options one by one, or echoing them) are no answer.
3. ``bare`` - the whole completion is one letter ("C", "(C)", "C.") or one option's text.
4. ``named`` - the completion names option texts; if it names one, that option; if it
   names several, the last line that names exactly one decides.

Letters are constrained to the item's options: with 4 options "The answer is E" is no
answer, not a wrong one. Lower-case letters count only where they cannot be an English
word ("answer: (c)", "answer is c."), and "A" followed by a lower-case word ("the answer
is a rare disease") is an article, not option A.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medkg.errors import UsageError
from medkg.synthesis.items import LETTERS
from medkg.text import surface_key

TIERS = ("stated", "marked", "bare", "named")

# A letter as an answer: upper case, or lower case when wrapped or followed by punctuation.
_LETTER = (
    r"(?:\*\*|__|\*)?[\(\[]?(?:(?P<up>[A-H])|(?P<low>[a-h])(?=[\)\]\.:,;!*]|\s*$))"
    r"(?![A-Za-z0-9'\-])(?:[\)\]])?(?:\*\*|__|\*)?"
)
_STATED = re.compile(
    # (?<![^\W_]) / (?![^\W_]): word edges that let "__" bold touch the cue
    r"(?i:(?<![^\W_])answer(?![^\W_])(?:\s+(?:is|would\s+be|should\s+be|must\s+be|=))?"
    r"|(?<![^\W_])answer\s*(?:is)?\s*:"
    r"|(?<![^\W_])(?:correct|best|right|final)\s+(?:answer|option|choice)(?:\s+(?:is|would\s+be))?"
    r"|\b(?:option|choice)\s+(?=[\(\[]?[A-Ha-h]\b)|\bI\s+(?:choose|pick|select|go\s+with))"
    # markdown may wrap the cue itself: "**Answer:** C", "**Answer**: C"
    r"(?:\*\*|__)?\s*[:=\-]?(?:\*\*|__)?\s*(?i:is\s+)?(?i:option\s+|choice\s+|letter\s+)?" + _LETTER
)
# A second letter right after a stated one ("Answer: B and D", "C, D", "B/C", "(B) or (C)"):
# the statement hedges between options. The second letter must end the list (end, punctuation
# or another conjunction), so "The answer is B and C is wrong" still states B.
_HEDGE = re.compile(
    r"\s*(?:,|/|&|\band/or\b|\band\b|\bor\b)\s*(?:\*\*|__|\*)?[\(\[]?"
    r"(?:[A-H]|[a-h](?=[\)\]]))[\)\]]?(?:\*\*|__|\*)?"
    r"(?=\s*(?:$|[.,;:!?/&]|\band\b|\bor\b))",
    re.MULTILINE,
)
_MARKED = re.compile(
    r"^[ \t>#\-]*(?:\*\*|__)?[\(\[]?(?P<up>[A-H])(?:[\)\]]|\.|:)(?:\*\*|__)?(?=\s|$)",
    re.MULTILINE,
)
_BARE = re.compile(r"^\W*(?P<up>[A-Ha-h])\W*$")
# Option lines in a prompt: "A. text", "A) text", "(A) text", "A: text".
_OPTION_LINE = re.compile(r"^\s*[\(\[]?(?P<letter>[A-H])[\)\]\.:]\s+(?P<text>\S.*?)\s*$")


@dataclass(frozen=True)
class Choice:
    """The option a completion chose: its index, letter and the tier that decided."""

    index: int
    tier: str

    @property
    def letter(self) -> str:
        return LETTERS[self.index]


def option_count(options: Sequence[str] | int | None) -> int:
    """How many options an item has (a list of texts or a count; None: every letter)."""
    if options is None:
        return len(LETTERS)
    n = options if isinstance(options, int) else len(options)
    if not 1 <= n <= len(LETTERS):
        raise UsageError(f"an item needs 1-{len(LETTERS)} options, got {n}")
    return n


def _letter_of(match: re.Match[str]) -> str:
    up = match.groupdict().get("up")
    return (up or match.groupdict().get("low") or "").upper()


# Words that follow an answer letter but never the article "a" ("the answer is A because").
_NOT_AFTER_ARTICLE = re.compile(
    r"\s+(?:because|since|as|which|that|is|was|and|or|but|so|given|due|here|there|while|"
    r"whereas|for|with|in|if)\b"
)


def _article(text: str, match: re.Match[str]) -> bool:
    """True for "A" used as the English article ("answer is a rare ..." / "is A rare")."""
    if _letter_of(match) != "A":
        return False
    rest = text[match.end() :]
    if _NOT_AFTER_ARTICLE.match(rest):
        return False  # "A because ...", "A since ...": the letter, then the reason
    return bool(re.match(r"\s+[a-z]", rest)) and not match.group(0).rstrip().endswith(
        (")", "]", ".", ":", "*")
    )


def _marked(text: str, n: int) -> set[int]:
    """The valid letters that start a marked line."""
    found = set()
    for m in _MARKED.finditer(text):
        idx = LETTERS.find(_letter_of(m))
        if 0 <= idx < n:
            found.add(idx)
    return found


def _last_statement(text: str, n: int) -> tuple[int, bool] | None:
    """(index, whether it hedges) of the last explicit statement of a valid letter."""
    found = None
    for m in _STATED.finditer(text):
        idx = LETTERS.find(_letter_of(m))
        if 0 <= idx < n and not _article(text, m):
            found = (idx, _HEDGE.match(text, m.end()) is not None)
    return found


def _named(text: str, options: Sequence[str]) -> tuple[int | None, bool]:
    """(option index named by ``text``, whole text is exactly that option)."""
    keys = [surface_key(o) for o in options]
    whole = surface_key(text)
    for i, key in enumerate(keys):
        if key.strip() and whole == key:
            return i, True

    def named_in(chunk: str) -> set[int]:
        norm = surface_key(chunk)
        hits = {i for i, k in enumerate(keys) if k.strip() and k in norm}
        # "Marfan syndrome" inside a named "Marfan syndrome type 1" is not a mention of its own
        return {i for i in hits if not any(j != i and keys[i] in keys[j] for j in hits)}

    everywhere = named_in(text)
    if len(everywhere) == 1:
        return next(iter(everywhere)), False
    if not everywhere:
        return None, False
    for line in reversed([ln for ln in text.splitlines() if ln.strip()]):
        hits = named_in(line)
        if len(hits) == 1:
            return next(iter(hits)), False
        if hits:
            return None, False  # the deciding line names several options
    return None, False


def extract_choice(text: str, options: Sequence[str] | int | None = None) -> Choice | None:
    """The option ``text`` chose, or None (see the module docstring for the rules).

    ``options``: the option texts (enables the ``bare`` text and ``named`` tiers), or just
    their count; None allows every letter A-H.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    n = option_count(options)
    stated = _last_statement(text, n)
    if stated is not None:
        # a deciding statement that names several letters chose none of them
        return None if stated[1] else Choice(stated[0], "stated")
    marked = _marked(text, n)
    if len(marked) > 1:
        return None  # a walk through the options (or an echo of them) states no choice
    if marked:
        return Choice(marked.pop(), "marked")
    bare = _BARE.match(text.strip())
    if bare is not None:
        idx = LETTERS.find(_letter_of(bare))
        return Choice(idx, "bare") if 0 <= idx < n else None
    if isinstance(options, Sequence) and not isinstance(options, str):
        named, whole = _named(text, options)
        if named is not None:
            return Choice(named, "bare" if whole else "named")
    return None


def extract_letter(text: str, options: Sequence[str] | int | None = None) -> str | None:
    """The letter ``text`` chose, or None."""
    choice = extract_choice(text, options)
    return choice.letter if choice is not None else None


def option_block(prompt: str) -> tuple[str, list[str], str]:
    """(text before the lettered options, the options, text after them) of a question text.

    The options are the last run of lines A, B, C, ... (so a question that quotes a letter
    earlier is fine); with no run of two or more options: (prompt, [], "").
    """
    lines = prompt.splitlines()
    best: tuple[int, int] | None = None  # [start, end) line span of the best run
    start, count, last = -1, 0, -1

    def close() -> None:
        nonlocal best, start, count
        if count >= 2:
            best = (start, last + 1)
        start, count = -1, 0

    for i, line in enumerate(lines):
        m = _OPTION_LINE.match(line)
        if m is None:
            if count and line.strip():
                close()
            continue
        letter = m.group("letter")
        if letter == "A":
            close()
            start, count, last = i, 1, i
        elif count and letter == LETTERS[count]:
            count, last = count + 1, i
        elif count:
            close()
    close()
    if best is None:
        return prompt, [], ""
    a, b = best
    options = [_OPTION_LINE.match(ln).group("text") for ln in lines[a:b] if ln.strip()]  # type: ignore[union-attr]
    return "\n".join(lines[:a]), options, "\n".join(lines[b:])


def parse_options(prompt: str) -> list[str]:
    """The lettered options of a question text (A, B, C, ... on consecutive lines).

    The last run starting at A wins, so a question that quotes a letter earlier is fine.
    Returns [] when the text lists no options.
    """
    return option_block(prompt)[1]


def label_index(label: object, options: Sequence[str] | int | None = None) -> int | None:
    """A label column value as an option index: a letter ("C", "(c)"), an int index, or an
    option's text. None when it names no option of this item."""
    n = option_count(options)
    if isinstance(label, bool) or label is None:
        return None
    if isinstance(label, int):
        return label if 0 <= label < n else None
    if not isinstance(label, str):
        return None
    bare = _BARE.match(label.strip())
    if bare is not None:
        idx = LETTERS.find(_letter_of(bare))
        return idx if 0 <= idx < n else None
    if isinstance(options, Sequence) and not isinstance(options, str):
        key = surface_key(label)
        for i, o in enumerate(options):
            if surface_key(o) == key:
                return i
    return None


__all__ = [
    "TIERS",
    "Choice",
    "extract_choice",
    "extract_letter",
    "label_index",
    "option_block",
    "option_count",
    "parse_options",
]
