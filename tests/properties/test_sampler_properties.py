"""Property tests of the samplers' realised distributions on random small entity trees:
draws follow the probabilities a sampler states, never touch a row of probability zero
(MET scaffolding, obsolete terms), and the rare mixture realises its rare share."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.synthesis.sampling import build_sampler

PROPERTY = settings(max_examples=25, deadline=None)
DRAWS = 20_000


@st.composite
def met_frames(draw: st.DrawFn) -> pl.DataFrame:
    """MET:root > MET:Disease > 1-4 branches > 1-8 diseases each (random rare flags and
    annotation degrees), plus an obsolete disease."""
    rows = [("MET:root", "Category", None, False, 0, False),
            ("MET:Disease", "Category", "MET:root", False, 0, False)]  # fmt: skip
    for b in range(draw(st.integers(1, 4))):
        rows.append((f"B:{b}", "Category", "MET:Disease", False, 0, False))
        for d in range(draw(st.integers(1, 8))):
            rare, degree = draw(st.booleans()), draw(st.integers(0, 60))
            rows.append((f"D:{b}.{d}", "Disease", f"B:{b}", rare, degree, False))
    rows.append(("D:old", "Disease", "B:0", False, 3, True))
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame(
        {"id": cols[0], "kind": cols[1], "name": [f"n{i}" for i in range(len(rows))],
         "met_parent": cols[2], "rare": cols[3], "annotation_degree": cols[4],
         "obsolete": cols[5]},
        schema={"id": pl.String(), "kind": pl.String(), "name": pl.String(),
                "met_parent": pl.String(), "rare": pl.Boolean(),
                "annotation_degree": pl.Int64(), "obsolete": pl.Boolean()},
    )  # fmt: skip


def total_variation(draws: np.ndarray, p: np.ndarray) -> float:
    observed = np.bincount(draws, minlength=p.size) / draws.size
    return float(0.5 * np.abs(observed - p).sum())


@PROPERTY
@given(
    met_frames(),
    st.sampled_from(["uniform", "tree_balanced", "inverse_frequency", "spread"]),
    st.integers(0, 2**32 - 1),
)
def test_draws_follow_the_stated_probabilities(nodes: pl.DataFrame, name: str, seed: int) -> None:
    sampler = build_sampler(name, nodes)
    p = sampler.probabilities()
    assert abs(p.sum() - 1) < 1e-9 and (p >= 0).all()
    # MET scaffolding and obsolete terms are never drawn (source categories may be).
    scaffold = nodes.get_column("id").str.starts_with("MET:") | nodes.get_column("obsolete")
    assert (p[scaffold.to_numpy()] == 0).all()
    draws = sampler.sample(DRAWS, np.random.default_rng(seed))
    assert (p[draws] > 0).all()
    # At most 37 rows: E[TV] < 0.5 * sqrt(37 / 20000) = 0.022; 0.06 is far above it.
    assert total_variation(draws, p) < 0.06


@PROPERTY
@given(met_frames(), st.floats(0.1, 0.9), st.integers(0, 2**32 - 1))
def test_rare_mixture_realises_its_rare_share(nodes: pl.DataFrame, alpha: float, seed: int) -> None:
    rare = nodes.get_column("rare").to_numpy() & ~nodes.get_column("obsolete").to_numpy()
    common = nodes.get_column("kind").eq("Disease").to_numpy() & ~rare
    common &= ~nodes.get_column("obsolete").to_numpy()
    if not rare.any() or not common.any():
        return  # the share is only defined with both kinds of disease present
    draws = build_sampler("rare_mixture", nodes, alpha=alpha).sample(
        DRAWS, np.random.default_rng(seed)
    )
    share = rare[draws].mean()
    assert abs(share - alpha) < 0.02  # binomial sd <= 0.0036 at 20 000 draws
