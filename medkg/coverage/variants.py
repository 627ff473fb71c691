"""Surface-form variants the dictionary adds beside each name and synonym.

The linker matches folded surface keys exactly (:mod:`medkg.text`), so a
form written differently in text is missed unless its variant is a key too. Added, for a
folded key:

* **number**: the last word's plural or singular, by English rules ("tumor" / "tumors",
  "metastasis" / "metastases", "deficiency" / "deficiencies", "carcinoma" /
  "carcinomas" / "carcinomata"); words of fewer than four letters are left alone;
* **spelling**: British forms of American spellings that recur in disease names
  (tumor/tumour, hem-/haem-, -emia/-aemia, edema/oedema, esophag-/oesophag-, -ology
  stays, ph(a)eo-, f(o)et-, gyn(a)ec-, -rrh(o)ea, isch(a)em-, fiber/fibre), and the
  American form of a British spelling;
* **word order**: the inverted MeSH-style entry "neoplasms, abdominal" as "abdominal
  neoplasms" (one comma, two or fewer words after it).

Variants are generated from the key only (no entity knowledge), rank after every real
name and synonym, and never replace a real key: a real form always wins a tie.
"""

from __future__ import annotations

import re

from medkg.text import surface_key

# American -> British spellings, and back, as regular expressions on folded words
_SPELLING_FWD = tuple((re.compile(a), b) for a, b in (
    (r"\btumor", "tumour"),
    (r"\bhem(?=[a-z]{3})", "haem"),
    (r"(?<=[a-z])emia(s?)\b", r"aemia\1"),
    (r"\bedema", "oedema"),
    (r"\besophag", "oesophag"),
    (r"\bpediatric", "paediatric"),
    (r"\bleukocyt", "leucocyt"),
    (r"\bpheo", "phaeo"),
    (r"\bfet(?=al|us|o)", "foet"),
    (r"\bgynec", "gynaec"),
    (r"(?<=[a-z])rrhea", "rrhoea"),
    (r"\bischem", "ischaem"),
    (r"\bfiber", "fibre"),
))  # fmt: skip
_SPELLING_BACK = tuple((re.compile(a), b) for a, b in (
    (r"\btumour", "tumor"),
    (r"\bhaem(?=[a-z]{3})", "hem"),
    (r"(?<=[a-z])aemia(s?)\b", r"emia\1"),
    (r"\boedema", "edema"),
    (r"\boesophag", "esophag"),
    (r"\bpaediatric", "pediatric"),
    (r"\bleucocyt", "leukocyt"),
    (r"\bphaeo", "pheo"),
    (r"\bfoet(?=al|us|o)", "fet"),
    (r"\bgynaec", "gynec"),
    (r"(?<=[a-z])rrhoea", "rrhea"),
    (r"\bischaem", "ischem"),
    (r"\bfibre", "fiber"),
))  # fmt: skip
_NO_PLURAL_END = ("ss", "us", "is", "ous", "ics", "sis")
# nouns ending in s that are singular (or invariant): no singular variant
_INVARIANT = frozenset({"diabetes", "herpes", "rabies", "scabies", "rickets", "measles", "mumps",
                        "series", "species", "syphilis", "tetanus", "lupus", "pertussis",
                        "mellitus", "insipidus", "nephritis", "aids", "news", "lens"})  # fmt: skip


def plural(word: str) -> str | None:
    """The plural of an English noun (None when it already looks plural or is short)."""
    if len(word) < 4 or not word.isalpha():
        return None
    if word.endswith("sis"):
        return word[:-3] + "ses"
    if word.endswith("oma"):
        return word + "s"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("ss", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("s"):
        return None
    return word + "s"


def singular(word: str) -> str | None:
    """The singular of an English plural noun (None when it does not look plural)."""
    if len(word) < 5 or not word.isalpha() or word in _INVARIANT:
        return None
    if word.endswith("omata"):
        return word[:-2]
    if word.endswith("ses") and len(word) > 6 and word[-4] in "ity":  # -sis diagnoses
        return word[:-3] + "sis"
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_NO_PLURAL_END):
        return word[:-1]
    return None


def _number(words: list[str]) -> list[list[str]]:
    last = words[-1]
    out = []
    for w in (plural(last), singular(last)):
        if w:
            out.append([*words[:-1], w])
    if last.endswith("oma") and len(last) > 5:
        out.append([*words[:-1], last + "ta"])
    return out


# one search decides whether any spelling rule can apply (most keys: none)
_SPELLING_ANY = re.compile(
    r"tumo|hem|haem|emia|edema|esophag|pa?ediatric|leu[ck]ocyt|pha?eo|fo?et|gyna?ec|rrho?ea|fib[er]"
)


def _spelling(core: str) -> list[str]:
    if not _SPELLING_ANY.search(core):
        return []
    out = []
    fwd = core
    for rx, rep in _SPELLING_FWD:
        fwd = rx.sub(rep, fwd)
    if fwd != core:
        out.append(fwd)
    back = core
    for rx, rep in _SPELLING_BACK:
        back = rx.sub(rep, back)
    if back != core:
        out.append(back)
    return out


def key_variants(form: str, key: str) -> list[str]:
    """Variant keys (padded like :func:`~medkg.text.surface_key`) of one
    form: its original spelling ``form`` tells where a comma was, ``key`` is its key."""
    core = key.strip()
    if not core:
        return []
    bases = [core]
    if form.count(",") == 1:
        head, tail = form.split(",")
        tail_words = tail.split()
        if 1 <= len(tail_words) <= 2 and head.strip():
            # keyed like every form (the fold), not ASCII letters only
            bases.append(surface_key(tail + " " + head).strip())
    out: list[str] = []
    for i, base in enumerate(bases):
        # the last word of an inverted form ("neoplasms, abdominal") is no head noun
        inflect = i > 0 or "," not in form
        for sp in [base, *_spelling(base)]:
            out.append(sp)
            if inflect:
                out.extend(" ".join(w) for w in _number(sp.split()))
    seen = {core}
    keys = []
    for v in out:
        if v not in seen:
            seen.add(v)
            keys.append(f" {v} ")
    return keys


__all__ = ["key_variants", "plural", "singular"]
