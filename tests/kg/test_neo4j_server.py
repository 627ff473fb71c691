"""The local Neo4j runner: runtime cache, start/status/stop, and the `medkg neo4j` CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg import neo4j_server as runner

pytestmark = pytest.mark.neo4j


def test_runtime_is_cached(neo4j_server: Any) -> None:
    began = time.perf_counter()
    rt = runner.ensure_runtime()
    assert time.perf_counter() - began < 1.0
    assert rt.version == runner.NEO4J_VERSION
    jars = {p.name for p in rt.lib.glob("*.jar")}
    assert f"neo4j-harness-{rt.version}.jar" in jars
    assert f"apoc-core-{rt.version}.jar" in jars
    assert {p.name for p in rt.plugins.glob("apoc-*.jar")} >= {f"apoc-core-{rt.version}.jar"}
    # the cache lives outside the project (a path test: a string prefix took a sibling
    # folder such as ./clone-cache beside ./clone for a folder inside it)
    assert not rt.root.resolve().is_relative_to(Path.cwd().resolve())


def test_session_server_runs_neo4j_with_apoc(neo4j_server: Any) -> None:
    import neo4j

    assert neo4j_server.uri.startswith("bolt://127.0.0.1:")
    status = runner.status("pytest")
    assert status is not None and status.pid == neo4j_server.pid
    assert runner.reachable(status)
    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=runner.credentials("pytest")) as driver:
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS v, edition"
        )
        assert records[0]["v"] == runner.NEO4J_VERSION
        assert records[0]["edition"] == "community"
        records, _, _ = driver.execute_query("RETURN apoc.version() AS v")
        assert records[0]["v"] == runner.NEO4J_VERSION


def test_cli_start_status_stop(medkg_home: Path, tmp_path: Path) -> None:
    cli = CliRunner()
    assert runner.status() is None
    none = cli.invoke(app, ["neo4j", "status", "--json"])
    assert none.exit_code == 1
    assert json.loads(none.stdout)["running"] is False

    started = cli.invoke(
        app, ["neo4j", "start", "--port", "0", "--data-dir", str(tmp_path / "db"), "--heap", "512m"]
    )
    try:
        assert started.exit_code == 0, started.output
        info = runner.status()
        assert info is not None
        assert f"export NEO4J_URI={info.uri}" in started.stdout
        assert runner.state_path().parent == medkg_home / "neo4j"
        assert info.startup_seconds > 0

        again = cli.invoke(app, ["neo4j", "start", "--port", "0"])
        assert again.exit_code == 1
        assert "already running" in again.output

        status = cli.invoke(app, ["neo4j", "status", "--json"])
        assert status.exit_code == 0
        payload = json.loads(status.stdout)
        assert payload["running"] and payload["reachable"] and payload["healthy"]
        assert payload["databases"]["neo4j"] == "online"
        assert payload["log_path"] == str(tmp_path / "db" / "server.log")
        assert payload["uri"] == info.uri and payload["pid"] == info.pid
        assert "password" not in status.stdout.lower()
    finally:
        stopped = cli.invoke(app, ["neo4j", "stop", "--json"])
    assert stopped.exit_code == 0
    assert json.loads(stopped.stdout)["stopped"] is True
    assert runner.status() is None
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)
    assert cli.invoke(app, ["neo4j", "stop"]).exit_code == 0  # nothing to stop is fine


def test_a_server_that_dies_reports_its_log(neo4j_server: Any, tmp_path: Path) -> None:
    # The session server holds this port, so the new one cannot bind Bolt and exits.
    with pytest.raises(runner.Neo4jServerError, match=r"exited with code \d+") as info:
        runner.start(
            data_dir=tmp_path / "db", port=neo4j_server.port, name="doomed", heap="256m", timeout=90
        )
    assert str(tmp_path / "db" / "server.log") in str(info.value)
    assert "Exception" in str(info.value) or "rror" in str(info.value)  # the log tail
    assert runner.status("doomed") is None


def test_password_never_reaches_the_state_file_or_command_line(tmp_path: Path) -> None:
    info = runner.ServerInfo(
        uri="bolt://127.0.0.1:1", pid=1, port=1, name="x", data_dir="d", log_path="l",
        version="v", started_at=0.0, user="neo4j",
    )  # fmt: skip
    assert "password" not in json.dumps(info.to_dict()).lower()
    assert any("NEO4J_PASSWORD" in line for line in info.export_lines())


@pytest.mark.slow
def test_a_stopped_server_starts_again_on_its_data(medkg_home: Path, tmp_path: Path) -> None:
    # A restart over kept data used to die: the harness re-set the stored password, and
    # Neo4j refuses to change a password to itself.
    import neo4j

    data = tmp_path / "db"
    for run in range(2):
        info = runner.start(data_dir=data, port=0, name="restart", heap="384m", timeout=180)
        try:
            user, password = runner.credentials("restart")
            with neo4j.GraphDatabase.driver(info.uri, auth=(user, password)) as driver:
                if run == 0:
                    driver.execute_query("CREATE (:Kept {id: 'survives'})")
                records, _, _ = driver.execute_query("MATCH (k:Kept) RETURN k.id AS id")
                assert [r["id"] for r in records] == ["survives"]
        finally:
            runner.stop("restart")
