"""The real local Ray cluster the engine tests share (started once per test session)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A real Ray cluster: head node + one worker node, 1 CPU each, no dashboard."""
    import ray  # the [ray] extra is part of [dev]: missing Ray fails here, it is not skipped
    from ray.cluster_utils import Cluster

    # Test-defined tasks and families travel by value: Ray workers need not import tests.
    ray.cloudpickle.register_pickle_by_value(sys.modules["tests"])
    # Ray always addresses a node by this machine's own interface address (never loopback)
    # and keeps its token authentication on; every process of the cluster is on this machine.
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    yield cluster.address
    ray.shutdown()
    cluster.shutdown()
