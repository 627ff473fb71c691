"""Cleaning of model completions: what a generator proposes, without the chatter around it.

Shared by the paraphraser (synthesis) and the query generator (retrieval).
"""

from __future__ import annotations

import re

_LABEL = re.compile(
    r"^(?:here is the |here's the )?(?:rewritten |paraphrased |revised |new )?"
    r"(?:question|question stem|stem|vignette|clinical vignette)\s*:\s*",
    re.IGNORECASE,
)
_END = re.compile(
    r"^\s*(?:\(?[A-H][.)]\s|options?\s*:|answer\s*:|correct answer|explanation\s*:)", re.I
)


def clean_completion(text: str) -> str:
    """The stem a completion proposes: up to the first option/answer line, labels stripped."""
    kept: list[str] = []
    for line in text.strip().splitlines():
        if _END.match(line):
            break
        kept.append(line.strip())
    stem = " ".join(x for x in kept if x)
    stem = stem.strip().strip("*").strip()
    stem = _LABEL.sub("", stem).strip().strip("*").strip()
    if len(stem) >= 2 and stem[0] == stem[-1] and stem[0] in "\"'`":
        stem = stem[1:-1].strip()
    return stem


__all__ = ["clean_completion"]
