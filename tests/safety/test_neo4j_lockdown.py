"""The local Neo4j is locked down: auth on with a generated password, no file URLs, no
network from Cypher, only pure APOC, a minimal JVM environment and private files."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import neo4j
import pytest

from medkg.config import Neo4jSettings, neo4j_credentials_path
from medkg.errors import UsageError
from medkg.kg import neo4j_server as runner
from medkg.kg.stores.neo4j import Neo4jStore

pytestmark = pytest.mark.neo4j


def _driver(info: Any, auth: Any) -> neo4j.Driver:
    return neo4j.GraphDatabase.driver(info.uri, auth=auth, connection_timeout=10)


def test_unauthenticated_and_wrong_password_bolt_are_refused(neo4j_server: Any) -> None:
    for auth in (None, ("neo4j", "neo4j"), ("neo4j", "wrong-password")):
        with _driver(neo4j_server, auth) as driver, pytest.raises(neo4j.exceptions.AuthError):
            driver.execute_query("RETURN 1")
    user, password = runner.credentials("pytest")
    assert len(password) >= 24
    with _driver(neo4j_server, (user, password)) as driver:
        assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1


def test_a_store_finds_the_generated_password_by_itself(neo4j_server: Any) -> None:
    store = Neo4jStore(uri=neo4j_server.uri)  # no password given anywhere
    assert store.settings.password == runner.credentials("pytest")[1]
    with store:
        store.exists()  # connects and queries


def test_load_csv_cannot_read_files_or_the_network(neo4j_server: Any) -> None:
    with _driver(neo4j_server, runner.credentials("pytest")) as driver:
        with pytest.raises(neo4j.exceptions.ClientError, match=r"(?i)file"):
            driver.execute_query("LOAD CSV FROM 'file:///etc/hostname' AS row RETURN row")
        # the Bolt port of this very server stands for any address: all are blocked
        url = f"http://127.0.0.1:{neo4j_server.port}/x.csv"
        with pytest.raises(neo4j.exceptions.ClientError, match=r"(?i)blocked"):
            driver.execute_query("LOAD CSV FROM $url AS row RETURN row", url=url)


def test_only_pure_apoc_functions_are_loaded(neo4j_server: Any) -> None:
    with _driver(neo4j_server, runner.credentials("pytest")) as driver:
        joined = driver.execute_query("RETURN apoc.text.join(['a', 'b'], '-') AS s")
        assert joined.records[0]["s"] == "a-b"
        for call in (
            "CALL apoc.load.json('file:///etc/hostname')",
            "CALL apoc.import.csv([], [], {})",
            "CALL apoc.cypher.runFile('x')",
        ):
            with pytest.raises(neo4j.exceptions.ClientError, match=r"(?i)not found|no procedure"):
                driver.execute_query(call)


def test_the_jvm_sees_no_secret_of_the_caller(neo4j_server: Any) -> None:
    raw = Path(f"/proc/{neo4j_server.pid}/environ").read_bytes()
    keys = {entry.split(b"=", 1)[0].decode() for entry in raw.split(b"\0") if entry}
    allowed = set(runner.JVM_ENV_KEEP) | {"MEDKG_NEO4J_AUTH_USER", "MEDKG_NEO4J_AUTH_PASSWORD"}
    assert keys <= allowed, keys - allowed
    assert "MEDKG_HOME" not in keys and "HOME" not in keys


def test_server_files_are_private(neo4j_server: Any) -> None:
    def mode(p: Path | str) -> int:
        return stat.S_IMODE(Path(p).stat().st_mode)

    assert mode(neo4j_server.data_dir) == 0o700
    assert mode(neo4j_server.log_path) == 0o600
    assert mode(neo4j_credentials_path("pytest")) == 0o600
    assert mode(runner.state_path("pytest")) == 0o600
    store_files = [p for p in (Path(neo4j_server.data_dir) / "data").rglob("*") if p.is_file()]
    assert store_files and all(mode(p) & 0o077 == 0 for p in store_files)


def test_a_non_bolt_uri_is_a_clear_error_without_the_password(monkeypatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "http://curator:hunter2@127.0.0.1:7474")
    with pytest.raises(UsageError, match="not a Bolt URI") as err:
        Neo4jSettings.from_env()
    assert "hunter2" not in str(err.value) and "curator:***@" in str(err.value)
