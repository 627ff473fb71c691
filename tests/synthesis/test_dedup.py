"""Exact and near-duplicate removal: paraphrases go, different questions stay, counts add up."""

from medkg.synthesis.dedup import (
    EXACT,
    NEAR,
    DedupConfig,
    Deduplicator,
    deduplicate,
    exact_key,
    normalise_text,
)
from tests.factories.items import DIFFERENT, OPTIONS, PARAPHRASE, REORDERED, Q, item


def test_normalise_text_drops_case_punctuation_and_spacing():
    assert normalise_text("  Which IS  the most-likely\tdiagnosis? ") == (
        "which is the most likely diagnosis"
    )


def test_exact_duplicate_ignores_case_punctuation_and_option_order():
    a = item(Q)
    b = item(Q.upper().replace(",", " ;"), options=list(reversed(OPTIONS)), answer=4)
    assert a.id != b.id
    assert exact_key(a) == exact_key(b)
    res = deduplicate([a, b])
    assert [i.id for i in res.kept] == [a.id]
    assert res.duplicates[0].kind == EXACT and res.duplicates[0].kept_id == a.id
    assert res.counts == {"input": 2, "exact": 1, "near": 0, "kept": 1}


def test_near_duplicate_paraphrase_dropped_different_question_kept():
    a, b, c, d = item(Q), item(PARAPHRASE), item(REORDERED), item(DIFFERENT)
    res = deduplicate([a, b, c, d])
    assert [i.id for i in res.kept] == [a.id, d.id]
    assert {(x.item_id, x.kind, x.kept_id) for x in res.duplicates} == {
        (b.id, NEAR, a.id),
        (c.id, NEAR, a.id),
    }
    sim = {x.item_id: x.similarity for x in res.duplicates}
    assert 0.8 <= sim[b.id] < 1.0  # one word differs
    assert sim[c.id] == 1.0  # same words, findings in another order: near, not exact
    assert res.counts == {"input": 4, "exact": 0, "near": 2, "kept": 2}


def test_same_stem_other_distractors_is_a_near_duplicate():
    a = item(Q)
    b = item(Q, options=[*OPTIONS[:4], "Beals syndrome"])
    res = deduplicate([a, b])
    assert [(x.kind, x.similarity) for x in res.duplicates] == [(NEAR, 1.0)]


def test_same_options_other_answer_is_kept():
    # Same frame, same option set (sibling diseases), another disease's findings: a
    # different question, although most of its words are shared.
    a = item("A patient presents with arachnodactyly and ectopia lentis. Which is the diagnosis?")
    b = item(
        "A patient presents with arachnodactyly and joint hypermobility. Which is the diagnosis?",
        answer=3,
    )
    assert len(deduplicate([a, b]).kept) == 2


def test_keep_first_in_item_order():
    a, b = item(Q), item(PARAPHRASE)
    assert [i.id for i in deduplicate([b, a]).kept] == [b.id]


def test_threshold_is_configurable_and_exact_only_mode():
    a, b = item(Q), item(PARAPHRASE)
    assert len(deduplicate([a, b], DedupConfig(threshold=0.99)).kept) == 2
    assert len(deduplicate([a, b], DedupConfig(threshold=0.99, shingle_size=3)).kept) == 2
    assert len(deduplicate([a, b], DedupConfig(near=False)).kept) == 2
    assert len(deduplicate([a, item(Q)], DedupConfig(near=False)).kept) == 1


def test_disabled_keeps_everything_and_counts_input():
    dedup = Deduplicator(DedupConfig(enabled=False))
    assert dedup.check(item(Q)) is None and dedup.check(item(Q)) is None
    assert dedup.counts == {"input": 2, "exact": 0, "near": 0, "kept": 2}


def test_same_template_different_entities_are_not_near_duplicates():
    # Templated stems share their frame; different cue lists must not collapse (even with
    # the same options and answer, as when one disease has several vignettes).
    template = "A patient presents with {}. Which is the most likely diagnosis?"
    cues = [
        "arachnodactyly, ectopia lentis and aortic root dilatation",
        "hepatosplenomegaly, bone pain and thrombocytopenia",
        "cafe-au-lait spots, axillary freckling and neurofibromas",
        "intellectual disability, long face and macroorchidism",
    ]
    items = [item(template.format(c)) for c in cues]
    res = deduplicate(items)
    assert len(res.kept) == 4, res.duplicates


def test_bad_config_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="threshold"):
        Deduplicator(DedupConfig(threshold=0))


def test_lsh_finds_the_paraphrase_among_many_items():
    vocab = [f"w{i}" for i in range(400)]
    rng = __import__("random").Random(5)
    stems = [" ".join(rng.sample(vocab, 12)) + "?" for _ in range(2000)]
    items = [item(s) for s in stems]
    words = stems[1234].rstrip("?").split()
    paraphrase = item(" ".join([*words[:-1], "something"]) + "?")  # 11 of 13 words shared
    res = deduplicate([*items, paraphrase])
    assert res.counts == {"input": 2001, "exact": 0, "near": 1, "kept": 2000}
    assert res.duplicates[0].kept_id == items[1234].id


def test_templated_questions_about_other_seeds_are_kept():
    # 13 of 15 words and the answer shared, but another seed entity: a different question.
    stem = "In the MeSH Chemicals and Drugs tree, {} is listed under which class?"
    a, b = item(stem.format("Secretin")), item(stem.format("Insulin"))
    a.seed_entity, b.seed_entity = "DRUGNER:secretin", "DRUGNER:insulin"
    c = item(stem.format("Secretin").replace("which class", "what class"))
    c.seed_entity = "DRUGNER:secretin"
    res = deduplicate([a.with_id(), b.with_id(), c.with_id()])
    assert [i.id for i in res.kept] == [a.id, b.id]
    assert [(d.item_id, d.kept_id) for d in res.duplicates] == [(c.id, a.id)]
