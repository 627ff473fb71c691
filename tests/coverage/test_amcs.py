"""AMCS against a brute-force full-matrix computation, and its error cases."""

from __future__ import annotations

import numpy as np
import pytest

from medkg.coverage.amcs import AmcsError, amcs, amcs_approx, compute_amcs


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full cosine matrix in float64."""
    return unit(a.astype(np.float64)) @ unit(b.astype(np.float64)).T


@pytest.mark.parametrize(
    ("n_a", "n_b", "d", "block"),
    [
        (1, 1, 3, 1),
        (37, 5, 8, 7),
        (500, 333, 16, (64, 100)),
        (1000, 2500, 64, (300, 777)),
        (250, 90, 384, 4096),  # one tile bigger than both sets
        (130, 1100, 24, (1, 1024)),
    ],
)
def test_exact_matches_brute_force(
    n_a: int, n_b: int, d: int, block: int | tuple[int, int]
) -> None:
    rng = np.random.default_rng(n_a * 7 + n_b)
    a = rng.standard_normal((n_a, d)) * rng.uniform(0.1, 10, size=(n_a, 1))  # not unit rows
    b = rng.standard_normal((n_b, d))
    s = brute_force(a, b)
    got = amcs(a, b, block=block)
    assert (got.n_a, got.n_b) == (n_a, n_b)
    assert got.forward == pytest.approx(s.max(axis=1).mean(), abs=1e-5)
    assert got.backward == pytest.approx(s.max(axis=0).mean(), abs=1e-5)
    np.testing.assert_allclose(got.best_score_a_to_b, s.max(axis=1), atol=1e-5)
    np.testing.assert_allclose(got.best_score_b_to_a, s.max(axis=0), atol=1e-5)
    # The reported index scores the reported maximum (random data: no near-ties to flip).
    np.testing.assert_array_equal(got.best_index_a_to_b, s.argmax(axis=1))
    np.testing.assert_array_equal(got.best_index_b_to_a, s.argmax(axis=0))
    assert got.best_score_a_to_b.dtype == np.float32


def test_forward_and_backward_differ_on_asymmetric_sets() -> None:
    """A ⊂ B: every a is in B (forward 1), but most of B is far from A (backward < 1)."""
    rng = np.random.default_rng(3)
    b = unit(rng.standard_normal((200, 32)))
    a = b[:20]
    got = amcs(a, b, block=(8, 64))
    assert got.forward == pytest.approx(1.0, abs=1e-6)
    assert got.backward < 0.8
    np.testing.assert_array_equal(got.best_index_a_to_b, np.arange(20))
    np.testing.assert_array_equal(got.best_index_b_to_a[:20], np.arange(20))


def test_best_match_indices_on_a_planted_pairing() -> None:
    """B is a shuffled, slightly perturbed copy of A: each item's best match is its twin."""
    rng = np.random.default_rng(11)
    a = unit(rng.standard_normal((300, 48)))
    perm = rng.permutation(300)
    b = unit(a[perm] + 0.01 * rng.standard_normal((300, 48)))
    got = amcs(a, b, block=(64, 45))
    inverse = np.argsort(perm)
    np.testing.assert_array_equal(got.best_index_a_to_b, inverse)
    np.testing.assert_array_equal(got.best_index_b_to_a, perm)
    assert got.forward > 0.99 and got.backward > 0.99


def test_ties_go_to_the_lowest_index_like_argmax() -> None:
    a = np.array([[1.0, 0.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    got = amcs(a, b, block=(1, 1))
    assert got.best_index_a_to_b.tolist() == [1]
    assert got.best_index_b_to_a.tolist() == [0, 0, 0, 0]


def test_empty_set_is_a_clear_error() -> None:
    with pytest.raises(AmcsError, match="A is empty"):
        amcs(np.empty((0, 4)), np.ones((3, 4)))
    with pytest.raises(AmcsError, match="B is empty"):
        amcs(np.ones((3, 4)), np.empty((0, 4)))


def test_dimension_mismatch_is_a_clear_error() -> None:
    with pytest.raises(AmcsError, match="dimension mismatch: A has 4-d embeddings, B has 5-d"):
        amcs(np.ones((3, 4)), np.ones((2, 5)))


@pytest.mark.parametrize(
    ("a", "match"),
    [
        (np.ones(4), "2-D"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([["x", "y"]]), "numeric"),
    ],
)
def test_bad_arrays_are_clear_errors(a: np.ndarray, match: str) -> None:
    with pytest.raises(AmcsError, match=match):
        amcs(a, np.ones((2, 2)))


def test_bad_block_and_mode() -> None:
    with pytest.raises(AmcsError, match="block sizes"):
        amcs(np.ones((2, 2)), np.ones((2, 2)), block=0)
    with pytest.raises(AmcsError, match="unknown AMCS mode"):
        compute_amcs(np.ones((2, 2)), np.ones((2, 2)), mode="magic")


def test_to_dict_is_the_cli_summary() -> None:
    got = amcs(np.eye(3), np.eye(3)[:2])
    assert got.to_dict() == {
        "forward": pytest.approx(2 / 3),
        "backward": pytest.approx(1.0),
        "n_a": 3,
        "n_b": 2,
        "mode": "exact",
    }


def test_approx_reports_its_error_against_exact() -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    # Clustered data, as embeddings are: HNSW is near exact here.
    centres = unit(rng.standard_normal((40, 32)))
    a = unit(centres[rng.integers(0, 40, 2000)] + 0.3 * rng.standard_normal((2000, 32)))
    b = unit(centres[rng.integers(0, 40, 800)] + 0.3 * rng.standard_normal((800, 32)))
    exact = amcs(a, b)
    approx = compute_amcs(a, b, mode="approx", error_sample=300)
    assert approx.mode == "approx"
    assert approx.forward <= exact.forward + 1e-6  # an ANN hit is never better than the max
    assert approx.forward == pytest.approx(exact.forward, abs=5e-3)
    assert approx.backward == pytest.approx(exact.backward, abs=5e-3)
    for direction in ("forward", "backward"):
        err = approx.error[direction]
        assert err["sample"] == 300
        assert err["mean_shortfall"] >= -1e-6
        assert 0.9 <= err["recall_at_1"] <= 1.0
    # The sampled shortfall estimates the true one.
    true_gap = exact.forward - approx.forward
    assert abs(approx.error["forward"]["mean_shortfall"] - true_gap) < 5e-3
    assert "error" in approx.to_dict()


def test_approx_skips_the_check_when_asked() -> None:
    pytest.importorskip("faiss")
    got = amcs_approx(np.eye(4), np.eye(4), error_sample=0)
    assert got.forward == pytest.approx(1.0)
    assert "forward" not in got.error
