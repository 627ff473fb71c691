"""The default dataset's quality checks, on the seed-range dataset (``shards_per_family``
= 4) of the real graph: the checks of tests/synthesis/test_real_dataset.py are imported
here (not copied) and run against this module's ``real`` fixture, and its rare-share test
builds its configs with K = 4. They re-derive validity from the raw edge table and the raw
source files, count seeds per family (the long tail), duplicates and trivial baselines."""

from __future__ import annotations

import functools
import re
from collections import Counter

import pytest

import tests.synthesis.test_real_dataset as default_checks
from medkg.synthesis.pipeline import SynthConfig, synthesize
from tests.synthesis.test_real_dataset import (  # noqa: F401  (collected here, on K = 4)
    test_every_diagnosis_and_gene_item_checks_out_independently,
    test_inspect_finds_no_trivial_baseline_above_chance,
    test_no_distractor_is_equivalent_parent_child_or_numbered_sibling_of_the_key,
    test_no_item_names_its_answer_in_the_stem,
    test_requested_rare_share_is_met_with_full_counts,
    test_sample_checks_out_against_the_raw_source_files,
    test_ten_thousand_items_spread_over_many_seeds,
    test_trivial_heuristics_written_here_stay_at_chance,
)

pytestmark = pytest.mark.slow

K = 4


@pytest.fixture(scope="module")
def graph(bundled_kg):
    return bundled_kg


@pytest.fixture(scope="module")
def real(graph):
    """`medkg synth --n 10000 --seed 0 --shards-per-family 4`."""
    return graph, synthesize(graph, SynthConfig(n=default_checks.N, seed=0, shards_per_family=K))


@pytest.fixture(autouse=True)
def _configs_with_ranges(monkeypatch):
    """The imported tests that build their own config build it with K seed ranges."""
    monkeypatch.setattr(
        default_checks, "SynthConfig", functools.partial(SynthConfig, shards_per_family=K)
    )


def test_the_range_dataset_is_full_and_has_no_exact_duplicates(real):
    """Counted here: every item once (by a normalised question + answer written here, not
    medkg's dedup key), the full count, and K recorded in the manifest."""
    _, result = real
    assert len(result.items) == default_checks.N and not result.partial
    assert result.manifest()["config"]["shards_per_family"] == K

    def norm(text: str) -> str:
        return " ".join(re.findall(r"[a-z0-9]+", text.lower()))

    keys = Counter((norm(i.question), norm(i.options[i.answer_index])) for i in result.items)
    assert keys.most_common(1)[0][1] == 1
