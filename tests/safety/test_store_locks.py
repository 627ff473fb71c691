"""Single-writer stores: a second writer is refused clearly (or waits), never interleaved."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from medkg.errors import LockedError
from medkg.kg import cypher
from medkg.kg.stores.embedded import EmbeddedStore
from medkg.kg.stores.neo4j import Neo4jStore
from tests.factories.processes import start_medkg


def test_a_second_embedded_writer_is_refused_and_a_waiting_one_proceeds(
    tmp_path: Path, small_kg: Any
) -> None:
    first = EmbeddedStore(tmp_path / "graph")
    second = EmbeddedStore(tmp_path / "graph")
    with first.writing():
        began = time.monotonic()
        with pytest.raises(LockedError, match=r"being written by pid \d+ on .* since"):
            second.save(small_kg)
        assert time.monotonic() - began < 2
        assert not second.exists()  # nothing was written
        first.save(small_kg)  # re-entrant for its holder
    second.lock_wait = 5
    assert second.save(small_kg).nodes == small_kg.nodes.height


def test_a_killed_writer_leaves_no_stale_embedded_lock(tmp_path: Path, small_kg: Any) -> None:
    import subprocess
    import sys

    code = (
        "import sys, time; from pathlib import Path; "
        "from medkg.kg.stores.embedded import EmbeddedStore; "
        f"s = EmbeddedStore(Path({str(tmp_path / 'graph')!r})); "
        "ctx = s.writing(); ctx.__enter__(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            EmbeddedStore(tmp_path / "graph").save(small_kg)
    finally:
        holder.kill()
        holder.wait()
    assert EmbeddedStore(tmp_path / "graph").save(small_kg).nodes == small_kg.nodes.height


@pytest.mark.neo4j
def test_an_abandoned_neo4j_lock_is_taken_over(neo4j_server: Any, small_kg: Any) -> None:
    with Neo4jStore(uri=neo4j_server.uri) as store:
        driver = store._driver()
        driver.execute_query(cypher.lock_constraint())
        owner = {"pid": 999999, "host": "elsewhere", "started_at": "then", "token": "old"}
        driver.execute_query(
            "MERGE (l:MedkgLock {id: $id}) SET l += $owner, l.heartbeat = timestamp()",
            id=cypher.LOCK_ID, owner=owner,
        )  # fmt: skip
        with pytest.raises(LockedError, match="pid 999999 on elsewhere"):
            store.save(small_kg)
        driver.execute_query(  # its heartbeat stopped long ago
            "MATCH (l:MedkgLock {id: $id}) SET l.heartbeat = timestamp() - 3600000",
            id=cypher.LOCK_ID,
        )
        assert store.save(small_kg).nodes == small_kg.nodes.height
        left = driver.execute_query("MATCH (l:MedkgLock) RETURN count(l) AS n").records
        assert left[0]["n"] == 0  # released after the save


@pytest.mark.neo4j
@pytest.mark.slow
def test_two_concurrent_builds_give_one_complete_graph_and_one_refusal(
    neo4j_server: Any,
) -> None:
    env = {"NEO4J_URI": neo4j_server.uri}
    procs = [start_medkg("kg", "build", "-s", "hpo", "--json", **env) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "is being written by pid" in refused and "--wait" in refused
    assert "Traceback" not in refused
    built = json.loads(next(out for code, out, _ in results if code == 0))
    with Neo4jStore(uri=neo4j_server.uri) as store:
        manifest = store.manifest()
        assert manifest["state"] == "complete"
        assert manifest["content_hash"] == built["content_hash"]
        # the meta counts are what the database holds (the finding: 76,084 vs 55,996)
        n = store._read("MATCH (n:Entity) RETURN count(n) AS n", "counting")[0]["n"]
        assert n == manifest["counts"]["nodes"]
