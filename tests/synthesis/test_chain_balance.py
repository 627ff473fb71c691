"""The chain family's key must not be guessable from the other items at large counts.

The chain key is a gene's other disease: few candidates per seed, and past the eligible
seed count seeds are drawn again, so the same keys come back. Before the fix, 8,000 chain
items scored 0.27 on "the option that is the answer elsewhere in the dataset" (learned on
one half, chance 0.20); the baseline here is written independently of medkg's inspect
module (tests/factories/baselines.py).
"""

from __future__ import annotations

import pytest

from medkg.synthesis.distractors import MIN_KEYS, OptionBalance
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.factories import baselines


def test_a_repeated_key_owes_distractor_appearances_until_its_rate_is_chance():
    b = OptionBalance()
    b.record(7, [1, 2, 3, 4])
    assert not b.owes(7, 5)  # one key: a fresh key is not pushed into other items
    b.record(7, [1, 2, 3, 4])
    assert b.owes(7, 5) and not b.owes(1, 5)  # 2 keys, 0 distractor shows; 1 never a key
    for _ in range(MIN_KEYS * 4 - 1):
        b.record(9, [7, 1, 2, 3])
    assert b.owes(7, 5)  # 7 appearances as a distractor: one short of 4 per key
    b.record(9, [7, 1, 2, 3])
    assert not b.owes(7, 5)  # key rate 2/10 = 1/5: paid
    assert not b.owes(7, 4) and b.owes(9, 5)


@pytest.mark.slow
def test_answer_prior_of_eight_thousand_chain_items_stays_at_chance(bundled_kg):
    items = synthesize(bundled_kg, SynthConfig(n=8000, seed=0, families=["chain"])).items
    assert len(items) == 8000 and {i.family for i in items} == {"chain"}
    chance = baselines.chance(items)
    prior = baselines.answer_prior(items)
    # both ways: pushing every past key into later items as a distractor made the key the
    # one option never seen as a key (0.13 at 2,000 items), a giveaway as well
    assert abs(prior - chance) <= 0.05, prior
