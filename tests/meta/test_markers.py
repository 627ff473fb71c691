"""Markers follow from fixtures, so deselecting a marker deselects every test that needs it."""

from __future__ import annotations

import pytest

from tests.factories.markers import FIXTURE_MARKERS


def test_no_selected_test_uses_a_fixture_of_a_deselected_marker(request: pytest.FixtureRequest):
    # Before the markers were derived from fixtures, a write-back test used the Neo4j
    # server without the ``neo4j`` marker, so ``-m "not neo4j"`` still started Java.
    unmarked = [
        (item.nodeid, fixture)
        for item in request.session.items
        for fixture, marker in FIXTURE_MARKERS.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None
    ]
    assert unmarked == []


INNER = """
import pytest


@pytest.fixture()
def neo4j_server():
    return "a server"


@pytest.fixture()
def store(neo4j_server):
    return neo4j_server


def test_through_another_fixture(store):
    assert store


def test_without_a_server():
    pass
"""


def test_deselecting_neo4j_deselects_every_test_that_reaches_the_server_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        "from tests.factories.markers import apply_fixture_markers\n\n\n"
        "def pytest_collection_modifyitems(config, items):\n"
        "    apply_fixture_markers(items)\n"
    )
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("-m", "not neo4j", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)
