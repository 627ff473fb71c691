"""Session-wide test set-up: a private MEDKG_HOME, one real Neo4j server, the bundled graph
built once, a small graph, and markers derived from the fixtures a test uses.

Markers follow from fixtures (:data:`tests.factories.markers.FIXTURE_MARKERS`), so ``-m "not neo4j"`` can never boot
Java by way of a test that forgot its marker: a test that uses ``neo4j_server`` *is* a
``neo4j`` test, one that uses ``ray_cluster`` a ``ray`` test, one that uses ``bundled_kg``
(a full build of the bundled sources) a ``slow`` test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from medkg.kg.model import KnowledgeGraph

# Two shared cores: numeric libraries read these when first imported (torch sizes its
# intra-op pool from OMP_NUM_THREADS), and no test imports torch before conftest runs.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


pytest_plugins = ("pytester",)  # tests/meta/test_markers.py runs an inner session


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers from fixtures: see :data:`tests.factories.markers.FIXTURE_MARKERS`."""
    from tests.factories.markers import apply_fixture_markers

    apply_fixture_markers(items)


@pytest.fixture(scope="session", autouse=True)
def medkg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point $MEDKG_HOME at a per-session folder so no test writes into the repository."""
    home = tmp_path_factory.mktemp("medkg_home")
    old = os.environ.get("MEDKG_HOME")
    os.environ["MEDKG_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MEDKG_HOME", None)
    else:
        os.environ["MEDKG_HOME"] = old


@pytest.fixture(scope="session")
def neo4j_server(medkg_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Neo4j Community server (harness + APOC) on a free port, for the whole session.

    If it cannot start, every test using it errors with the runner's message - never skips.
    """
    from medkg.kg import neo4j_server as runner

    info = runner.start(
        data_dir=tmp_path_factory.mktemp("neo4j_data"), port=0, name="pytest", heap="768m"
    )
    try:
        yield info
    finally:
        runner.stop("pytest")


@pytest.fixture()
def small_kg() -> KnowledgeGraph:
    """Diseases, phenotypes, modifiers, a gene and MET scaffolding: lists (empty, full and
    null), nulls, props JSON, tree columns, a negated edge and two edges of one pair that
    differ only in onset."""
    from tests.factories.graphs import make_small_kg  # here: after the thread settings above

    return make_small_kg()


@pytest.fixture(scope="session")
def bundled_kg(medkg_home: Path) -> KnowledgeGraph:
    """The graph of every default-enabled bundled source, built once per session (about a
    minute on two cores); treat it as read-only. Tests using it are marked ``slow``."""
    from medkg.kg.build import build_graph

    return build_graph()
