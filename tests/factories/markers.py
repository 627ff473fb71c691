"""Which fixtures imply which marker (applied in ``tests/conftest.py``)."""

#: fixture name -> the marker every test using it (directly or through another fixture) gets.
FIXTURE_MARKERS = {"neo4j_server": "neo4j", "ray_cluster": "ray", "bundled_kg": "slow"}
