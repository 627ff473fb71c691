"""Option-letter extraction on completions as models write them, and prompt option parsing."""

from __future__ import annotations

import pytest

from medkg.training.answers import (
    extract_choice,
    extract_letter,
    label_index,
    option_count,
    parse_options,
)

OPTIONS = ["Cystic fibrosis", "Marfan syndrome", "Marfan syndrome type 1", "Ehlers-Danlos syndrome"]


@pytest.mark.parametrize(
    ("completion", "letter", "tier"),
    [
        ("The answer is C", "C", "stated"),
        ("Answer: (B)", "B", "stated"),
        ("answer: (c)", "C", "stated"),
        ("ANSWER: B", "B", "stated"),
        ("Final answer: **D**", "D", "stated"),
        ("The correct option is B because the aortic root is dilated.", "B", "stated"),
        ("Option C is right.", "C", "stated"),
        ("The answer is: A", "A", "stated"),
        ("**C.** Marfan syndrome type 1", "C", "marked"),
        ("C) Marfan syndrome type 1", "C", "marked"),
        ("Looking at the options.\n(D) Ehlers-Danlos syndrome", "D", "marked"),
        ("B", "B", "bare"),
        ("(d)", "D", "bare"),
        ("Marfan syndrome", "B", "bare"),
        ("marfan syndrome.", "B", "bare"),
        ("Cystic fibrosis is unlikely.\nMarfan syndrome fits best.", "B", "named"),
        # the longer option name wins over the option it contains
        ("The findings fit Marfan syndrome type 1.", "C", "named"),
        (
            "Understanding: four findings.\nRecall: Marfan syndrome has them.\nReasoning: x.\n"
            "Conclusion: Marfan syndrome.\nAnswer: B. Marfan syndrome",
            "B",
            "stated",
        ),
    ],
)
def test_extracts_the_chosen_option(completion: str, letter: str, tier: str) -> None:
    choice = extract_choice(completion, OPTIONS)
    assert choice is not None and (choice.letter, choice.tier) == (letter, tier)


def test_the_last_statement_wins() -> None:
    text = "The answer is A. Wait: arachnodactyly points elsewhere, so the answer is C."
    assert extract_letter(text, OPTIONS) == "C"
    # an explicit statement beats a later marked line and a later option name
    assert extract_letter("Answer: D\nB) Marfan syndrome\nCystic fibrosis", OPTIONS) == "D"


@pytest.mark.parametrize(
    "completion",
    [
        "The answer is E.",  # only four options
        "F",
        "The answer is a rare connective tissue disorder.",  # article, no option named
        "The answer is A patient with tall stature",  # "A" starting a noun phrase
        "I think it's d.",  # a lower-case letter in prose is not an answer
        "no idea",
        "",
        "Between cystic fibrosis and Ehlers-Danlos syndrome I cannot decide.",
    ],
)
def test_no_answer_rather_than_a_guess(completion: str) -> None:
    assert extract_choice(completion, OPTIONS) is None


def test_letters_are_constrained_by_the_option_count() -> None:
    assert extract_letter("The answer is E", 5) == "E"
    assert extract_letter("The answer is E", 4) is None
    assert extract_letter("The answer is H") == "H"  # no options known: any letter A-H
    with pytest.raises(ValueError, match="1-8 options"):
        option_count(9)


def test_an_article_a_is_option_a_only_when_marked() -> None:
    assert extract_letter("The answer is a rare disease: Marfan syndrome", OPTIONS) == "B"
    assert extract_letter("The answer is A. Cystic fibrosis", OPTIONS) == "A"
    assert extract_letter("The answer is (A) cystic fibrosis", OPTIONS) == "A"


def test_parse_options_from_a_prompt() -> None:
    medkg_style = (
        "A 5-year-old has arachnodactyly. Which is the diagnosis?\nA. Marfan syndrome\n"
        "B. Myopia\nC. Cystic fibrosis\nD. FBN1\nE. Homocystinuria"
    )
    assert parse_options(medkg_style) == [
        "Marfan syndrome", "Myopia", "Cystic fibrosis", "FBN1", "Homocystinuria",
    ]  # fmt: skip
    medssr_style = "Which gene?\n(A) FBN1\n(B) CFTR\n(C) COL5A1\n(D) TGFBR2\nAnswer:"
    assert parse_options(medssr_style) == ["FBN1", "CFTR", "COL5A1", "TGFBR2"]
    assert parse_options("No options here.\nA. alone") == []


def test_label_index_accepts_letters_indices_and_texts() -> None:
    assert label_index("C", OPTIONS) == 2
    assert label_index("(b)", OPTIONS) == 1
    assert label_index(3, OPTIONS) == 3
    assert label_index("marfan syndrome", OPTIONS) == 1
    assert label_index("E", OPTIONS) is None
    assert label_index(4, OPTIONS) is None
    assert label_index(None, OPTIONS) is None
    assert label_index(True, OPTIONS) is None


@pytest.mark.parametrize(
    "completion",
    [
        "Answer: B and D",
        "The answer is C, D",
        "The answer is B or C",
        "Answer: B/C",
        "Answer: (B), (C)",
        "Final answer: **B** or **D**",
    ],
)
def test_a_statement_naming_several_letters_is_no_answer(completion: str) -> None:
    # a hedge must not score as right whenever its first letter is gold (reward hacking)
    assert extract_choice(completion, OPTIONS) is None


def test_a_single_letter_followed_by_prose_is_still_stated() -> None:
    assert extract_letter("Answer: B, as C is wrong", OPTIONS) == "B"
    assert extract_letter("Answer: C and this is final", OPTIONS) == "C"
    assert extract_letter("The answer is B and C is wrong", OPTIONS) == "B"


def test_a_hedge_ending_its_line_is_no_answer() -> None:
    assert extract_choice("Answer: B and D\nReasoning: both fit.", OPTIONS) is None


@pytest.mark.parametrize(
    "completion", ["**Answer:** C", "**Answer**: C", "__Answer:__ (C)", "**Final answer:** C"]
)
def test_markdown_bold_around_the_answer_cue_is_stated(completion: str) -> None:
    # chat models bold the cue itself; the right letter must not read as no answer
    choice = extract_choice(completion, OPTIONS)
    assert choice is not None and (choice.letter, choice.tier) == ("C", "stated")
    assert extract_letter("__Answer__: C", OPTIONS) == "C"


def test_walking_through_every_option_is_no_answer() -> None:
    # A completion that goes through the options one by one without stating an answer chose
    # none; reading its last marked line would credit "D" whenever D is gold (and echoing
    # the option list would always read as the last letter).
    walk = (
        "A) Cystic fibrosis - no lens findings.\nB) Marfan syndrome - fits the lens.\n"
        "C) Marfan syndrome type 1 - also possible.\nD) Ehlers-Danlos syndrome - skin."
    )
    assert extract_choice(walk, OPTIONS) is None
    echo = "A. Cystic fibrosis\nB. Marfan syndrome\nC. Marfan syndrome type 1\nD. Ehlers-Danlos"
    assert extract_choice(echo, OPTIONS) is None
    # the same letter marked twice still decides; a stated answer after a walk decides
    assert extract_letter("**B.** Marfan syndrome\nB. fits best", OPTIONS) == "B"
    assert extract_letter(walk + "\nAnswer: B", OPTIONS) == "B"


@pytest.mark.parametrize(
    "completion",
    [
        "The answer is A because cystic fibrosis explains the findings.",
        "The answer is A since the sweat chloride is high.",
        "Answer is A as the findings fit.",
        "The answer is A which fits best.",
    ],
)
def test_a_followed_by_a_function_word_is_option_a(completion: str) -> None:
    # "A because ..." cannot be the article; reading it as no answer scored option A (and
    # only A: "The answer is B because ..." reads B) as wrong, a position bias of the reader
    assert extract_letter(completion, OPTIONS) == "A"
    assert extract_letter(completion.replace(" A ", " B ", 1), OPTIONS) == "B"
