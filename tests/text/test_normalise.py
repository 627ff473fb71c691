"""One text normalisation: the linker, the verifier, dedup and decontamination agree.

Expected values are written by hand from the rule (lower case, accents stripped,
non-alphanumerics to spaces), not produced by medkg.
"""

from __future__ import annotations

import pytest

from medkg.synthesis.decontam import BenchmarkQuestion, NgramIndex
from medkg.synthesis.dedup import exact_key, normalise_text
from medkg.synthesis.items import QAItem
from medkg.text import Normalised, fold, names_in, normalise, surface_key, words

# (text, the same text written another way) pairs that must be the same text everywhere
SAME = [
    ("Sjögren syndrome", "Sjogren syndrome"),
    ("SJÖGREN-LARSSON SYNDROME", "sjogren larsson syndrome"),
    ("Ménière's disease", "Meniere s disease"),
    ("Crohn’s disease", "crohn s disease"),
    ("Behçet disease", "behcet disease"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sjögren syndrome", "sjogren syndrome"),
        ("Ménière's  disease", "meniere s  disease"),
        ("IL-6 (interleukin 6)", "il 6  interleukin 6 "),
        ("Behçet", "behcet"),
    ],
)
def test_fold_by_hand(text: str, expected: str) -> None:
    assert fold(text) == expected
    assert len(fold(text)) == len(text)  # one character for one: linker offsets hold


def test_keys_and_words_by_hand() -> None:
    assert surface_key("  Sjögren's   syndrome ") == " sjogren s syndrome "
    assert words("Sjögren-Larsson syndrome, type 2") == [
        "sjogren",
        "larsson",
        "syndrome",
        "type",
        "2",
    ]
    assert normalise("Which gene? (Sjögren)") == " which gene sjogren "
    n = Normalised("Dx: Sjögren  syndrome")
    assert n.text == " dx sjogren syndrome "
    start = n.text.index("sjogren")
    assert "Dx: Sjögren  syndrome"[n.original(start) :].startswith("Sjögren")


@pytest.mark.parametrize(("a", "b"), SAME)
def test_linker_keys_agree(a: str, b: str) -> None:
    assert surface_key(a) == surface_key(b)


@pytest.mark.parametrize(("a", "b"), SAME)
def test_verifier_sees_the_name_either_way(a: str, b: str) -> None:
    # the verifier's answer-in-question check: a stem naming the answer without (or with)
    # accents still gives it away (before: "Sjogren" did not match "Sjögren")
    assert names_in(normalise(f"A patient with {b}. What is the diagnosis?"), [a], min_chars=1)
    assert names_in(normalise(f"A patient with {a}. What is the diagnosis?"), [b], min_chars=1)


def _item(question: str) -> QAItem:
    ids = ["ORPHA:289390", "ORPHA:558"]
    return QAItem(
        family="diagnosis",
        question=question,
        options=["Sjögren syndrome", "Marfan syndrome"],
        option_ids=ids,
        answer_index=0,
        answer_id=ids[0],
        entity_ids=ids,
        path_nodes=[ids[0]],
        path_rels=[],
        distractor_ids=ids[1:],
        hops=1,
        rare=True,
        difficulty=0.5,
        rationale={},
        template="test",
    )


@pytest.mark.parametrize(("a", "b"), SAME)
def test_dedup_sees_one_question(a: str, b: str) -> None:
    assert normalise_text(a) == normalise_text(b)
    q = "Dry eyes and dry mouth in {}: which condition fits?"
    assert exact_key(_item(q.format(a))) == exact_key(_item(q.format(b)))


@pytest.mark.parametrize(("a", "b"), SAME)
def test_decontamination_matches_either_way(a: str, b: str) -> None:
    index = NgramIndex([BenchmarkQuestion("bench", "bench:0", f"What causes {a}?")], ngram=13,
                       short_ngram=8)  # fmt: skip
    assert index.match(f"What causes {b}?") == ["bench:0"]


# the same names with their accents as combining marks (Unicode NFD: macOS text, some PDF
# and OCR output), written out so the file itself stays composed
DECOMPOSED = [
    ("Sjögren syndrome", "Sjo\u0308gren syndrome"),
    ("Ménière's disease", "Me\u0301nie\u0300re's disease"),
    ("Behçet disease", "Behc\u0327et disease"),
]


@pytest.mark.parametrize(("composed", "decomposed"), DECOMPOSED)
def test_combining_marks_are_accents_not_word_breaks(composed: str, decomposed: str) -> None:
    """fold() keeps one character for one, so a combining mark became a space and split
    its word ("sjo gren"): the linker could not find "Sjögren syndrome" in decomposed text.
    Keys, words and the linker's collapsed text drop the marks; offsets still map back."""
    assert surface_key(decomposed) == surface_key(composed)
    assert words(decomposed) == words(composed)
    text = f"Dx:  {decomposed}, confirmed."
    n = Normalised(text)
    assert n.text == f" dx{surface_key(composed)}confirmed "
    start = n.text.index(surface_key(composed)) + 1
    end = start + len(surface_key(composed)) - 2
    # the span maps back to the whole decomposed name, its last mark included
    assert text[n.original(start) : n.end(end)] == decomposed


def test_a_mark_at_the_end_of_a_match_stays_in_the_span() -> None:
    text = "Guillain-Barre\u0301 (GBS)"
    n = Normalised(text)
    assert n.text == " guillain barre gbs "
    end = n.text.index(" gbs")
    assert text[n.original(1) : n.end(end)] == "Guillain-Barre\u0301"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\U0001d40c\U0001d41a\U0001d42b\U0001d41f\U0001d41a\U0001d427", "marfan"),  # math bold
        ("İ", "i"),  # LATIN CAPITAL I WITH DOT ABOVE: lower() gives two characters
        ("ＭＡＲＦＡＮ", "marfan"),  # fullwidth
    ],
)
def test_fold_lower_cases_what_compatibility_decomposition_uncovers(
    text: str, expected: str
) -> None:
    """The fold lower-cased before the compatibility decomposition, so a letter with no
    lower-case form of its own (mathematical bold M, dotted I) folded to a capital."""
    assert fold(text) == expected
