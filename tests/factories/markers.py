"""Markers that follow from fixtures (applied by ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

#: fixture name -> the marker every test using it (directly or through another fixture) gets.
FIXTURE_MARKERS = {"neo4j_server": "neo4j", "ray_cluster": "ray", "bundled_kg": "slow"}


def apply_fixture_markers(items: list[pytest.Item]) -> None:
    """Add the marker of every marked fixture a test uses (``fixturenames`` is the closure)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in used and item.get_closest_marker(marker) is None:
                item.add_marker(getattr(pytest.mark, marker))
