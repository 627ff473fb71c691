"""The contract of :func:`medkg.apportion.largest_remainder`, checked against Hamilton's
method in exact rational arithmetic (``fractions.Fraction``), plus hand-worked examples."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.apportion import largest_remainder

PROPERTY = settings(max_examples=200, deadline=None)


def exact_quotas(total: int, weights: list[int]) -> list[Fraction]:
    s = sum(weights)
    return [Fraction(total * w, s) for w in weights]


@pytest.mark.parametrize(
    ("total", "weights", "counts"),
    [
        (10, [1 / 3, 1 / 3, 1 / 3], [4, 3, 3]),  # equal remainders: the first listed wins
        (7, [0.5, 0.25, 0.25], [3, 2, 2]),  # quotas 3.5, 1.75, 1.75
        (5, [3, 0, 2], [3, 0, 2]),  # whole quotas: nothing left over
        (1, [1, 2], [0, 1]),  # quotas 1/3, 2/3
        (3, [2, 2, 2, 0], [1, 1, 1, 0]),  # weights need not sum to 1
        (0, [1, 1], [0, 0]),
        (-4, [1, 1], [0, 0]),
        (6, [0, 0], [0, 0]),
        (4, [], []),
    ],
)
def test_hand_worked_examples(total: int, weights: list[float], counts: list[int]) -> None:
    assert largest_remainder(total, weights) == counts


@PROPERTY
@given(st.integers(1, 10_000), st.lists(st.integers(0, 1_000), min_size=1, max_size=12))
def test_counts_are_a_hamilton_apportionment(total: int, weights: list[int]) -> None:
    counts = largest_remainder(total, weights)
    assert all(type(c) is int for c in counts)
    if sum(weights) == 0:
        assert counts == [0] * len(weights)
        return
    assert sum(counts) == total
    quotas = exact_quotas(total, weights)
    rounded_up: list[Fraction] = []
    kept_down: list[Fraction] = []
    for c, q in zip(counts, quotas, strict=True):
        floor = q.numerator // q.denominator
        assert c in (floor, floor + 1)
        if q == floor:  # a whole quota is met exactly (and a zero weight gets nothing)
            assert c == floor
        (rounded_up if c > floor else kept_down).append(q - floor)
    # the units left over went to the largest fractional parts
    if rounded_up and kept_down:
        assert min(rounded_up) >= max(kept_down)


@PROPERTY
@given(st.integers(1, 10_000), st.lists(st.integers(0, 1_000), min_size=2, max_size=12))
def test_more_weight_never_gets_less_and_ties_go_to_the_first(
    total: int, weights: list[int]
) -> None:
    counts = largest_remainder(total, weights)
    for i in range(len(weights)):
        for j in range(i + 1, len(weights)):
            if weights[i] >= weights[j]:
                assert counts[i] >= counts[j]
            else:
                assert counts[i] <= counts[j]


@PROPERTY
@given(
    st.integers(1, 10**8),
    st.lists(st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False), min_size=1, max_size=8),
)
def test_float_shares_give_exactly_the_total(total: int, shares: list[float]) -> None:
    """Shares that only approximately sum to 1 (or not at all) still split ``total`` exactly,
    each count within one of its quota."""
    counts = largest_remainder(total, shares)
    s = sum(shares)
    if s == 0:
        assert counts == [0] * len(shares)
        return
    assert sum(counts) == total
    for c, w in zip(counts, shares, strict=True):
        assert abs(c - total * w / s) < 1 + 1e-6 * total
