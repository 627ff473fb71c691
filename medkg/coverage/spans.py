"""Span rules of the linker's dictionary pass: what a match may cross, what it may grow
over, and composite mentions.

* :func:`crosses_boundary` — a folded match ignores punctuation, so "G6PD) deficiency" or
  "polyposis coli. Familial" would match forms that never cross a bracket or a sentence
  end. Such matches are dropped.
* :func:`extend_qualifiers` — a disease named with a clinical qualifier before it
  ("hereditary breast cancer", "sporadic aniridia", "autosomal recessive ...",
  "X-linked ...") is one mention of that disease: the span grows over the qualifiers
  (the entity stays the one the dictionary matched). The qualifier words are general
  clinical vocabulary (inheritance, origin, onset, laterality, behaviour), not tied to
  any corpus; severity and course words are left out (:data:`QUALIFIERS`). A subtype
  designation ("type II", "type 1") before the name is taken in too.
* :func:`composite_heads` — a coordination such as "breast and ovarian cancer" or
  "breast, ovarian, or prostate cancers" names one disease per conjunct: when "ovarian
  cancer" is matched and "breast cancer" is a dictionary form too, the whole phrase is a
  mention of both (NCBI-disease "composite mentions").
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Words that say which disease (inheritance, origin, onset age, extent, behaviour), so the
# mention takes them in. Severity and course ("severe", "mild", "progressive", "chronic",
# "acute", "recurrent", "idiopathic") describe the patient's disease rather than name it
# and stay outside the span ("idiopathic Addison's disease" is a mention of "Addison's
# disease"); a name that holds one ("acute myeloid leukemia") is a dictionary form anyway.
QUALIFIERS = frozenset({
    "hereditary", "familial", "inherited", "sporadic", "congenital", "primary", "secondary",
    "juvenile", "adult", "childhood", "infantile", "neonatal", "early", "late", "onset",
    "autosomal", "dominant", "recessive", "linked", "metastatic", "invasive", "classic",
    "classical", "atypical", "bilateral", "unilateral", "isolated", "generalized",
    "generalised", "malignant", "benign", "complete", "partial", "solid",
})  # fmt: skip
# a subtype designation before a name ("type II C2 deficiency", "type 1 Gaucher disease")
_TYPE_BEFORE = re.compile(r"\b[Tt]ype\s+(?:[IVX]{1,4}|[0-9]{1,2}[A-Za-z]?)\s+$")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)([ -])$")
_SENTENCE_END = re.compile(r"[.;:!?]\s")
# "A, B, and C" / "A and B" / "A or B" / "A/B" right before the last conjunct
_CONJUNCTS = re.compile(
    r"((?:[A-Za-z][\w-]*,\s+)*[A-Za-z][\w-]*,?\s+(?:and/or|and|or)\s+|[A-Za-z][\w-]*/)$"
)


def crosses_boundary(span: str) -> bool:
    """The matched text runs over a sentence end or an unbalanced bracket."""
    if _SENTENCE_END.search(span) or span.rstrip().endswith((".", ";", ":")):
        return True
    return any(span.count(o) != span.count(c) for o, c in ("()", "[]", "{}"))


def extend_qualifiers(text: str, start: int, floor: int, limit: int = 3) -> int:
    """New start of a mention at ``start`` grown over up to ``limit`` qualifier words
    before it (never before ``floor``, the end of the previous mention)."""
    s = start
    for _ in range(limit):
        t = _TYPE_BEFORE.search(text, max(floor, s - 16), s)
        if t and t.end() == s:
            s = t.start()
            continue
        m = _WORD_BEFORE.search(text, max(floor, s - 40), s)
        if not m or m.end() != s:
            break
        word = m.group(1).lower()
        if word == "x" and m.group(2) == "-":  # "X-linked"
            s = m.start()
            continue
        if word not in QUALIFIERS:
            break
        s = m.start()
    return s


def extend_qualifier_coordination(text: str, start: int, floor: int) -> int:
    """New start of a mention at ``start`` preceded by a coordination of qualifiers only
    ("familial or sporadic retinoblastoma", "acute and chronic X"): the coordination names
    the one disease, so the span takes it in."""
    m = _CONJUNCTS.search(text, max(floor, start - 80), start)
    if not m or m.end() != start:
        return start
    words = [w.strip().lower() for w in re.split(r",\s*|\s+(?:and/or|and|or)\s+|/", m.group(1))]
    words = [w for w in words if w and w not in ("and", "or", "and/or")]
    if words and all(w in QUALIFIERS for w in words):
        return extend_qualifiers(text, m.start(), floor)
    return start


def composite_heads(
    text: str, start: int, end: int, floor: int, lookup: Callable[[str], int | None]
) -> tuple[int, list[int]] | None:
    """For a match ``text[start:end]`` that ends a coordination, the coordination's start
    and the surface indices of the other conjuncts joined to the match's head words
    (``lookup`` maps a phrase to its surface index or None). None when no split of the
    match into modifier + head makes every conjunct a dictionary form."""
    m = _CONJUNCTS.search(text, max(floor, start - 120), start)
    if not m or m.end() != start:
        return None
    phrase = m.group(1)
    conjuncts = [w for w in re.split(r",\s*|\s+(?:and/or|and|or)\s+|/", phrase) if w.strip()]
    conjuncts = [w.strip() for w in conjuncts if w.strip() not in ("and", "or", "and/or")]
    words = text[start:end].split()
    for k in range(1, len(words)):  # head = the last len(words) - k words
        head = " ".join(words[k:])
        found = [lookup(f"{c} {head}") for c in conjuncts]
        if found and all(f is not None for f in found):
            return m.start(), [f for f in found if f is not None]
    return None


__all__ = [
    "QUALIFIERS",
    "composite_heads",
    "crosses_boundary",
    "extend_qualifier_coordination",
    "extend_qualifiers",
]
