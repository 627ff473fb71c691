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
