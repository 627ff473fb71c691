"""The real local Ray cluster of the Ray tests (a head and a worker node on this machine,
one CPU each, no dashboard): a module-scoped fixture, bound in a test module with
``ray_cluster = tests.factories.ray_cluster.ray_cluster`` (tests/engines/test_engines.py
defines the same cluster for itself and could use this one)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A real Ray cluster: head node + one worker node, 1 CPU each, no dashboard (as the
    one of tests/engines/test_engines.py)."""
    import ray  # the [ray] extra is part of [dev]: missing Ray fails here, it is not skipped
    from ray.cluster_utils import Cluster

    # Test-defined tasks and families travel by value: Ray workers need not import tests.
    ray.cloudpickle.register_pickle_by_value(sys.modules["tests"])
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    yield cluster.address
    ray.shutdown()
    cluster.shutdown()
