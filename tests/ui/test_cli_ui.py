"""`medkg ui` refuses bad start-up input with a message and exit code 2 (nothing served)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores.base import open_store
from tests.factories.ui import free_port

runner = CliRunner()


def test_ui_without_a_graph(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", "--path", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no graph in" in result.output and "medkg kg build" in result.output


def test_ui_with_a_folder_that_is_not_a_dataset(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    (tmp_path / "notes").mkdir()
    result = runner.invoke(
        app, ["ui", "--path", str(tmp_path / "graph"), "--dataset", str(tmp_path / "notes")]
    )
    assert result.exit_code == 2 and "is not a medkg dataset" in result.output
    result = runner.invoke(
        app, ["ui", "--path", str(tmp_path / "graph"), "--audit", str(tmp_path / "notes")]
    )
    assert result.exit_code == 2 and "coverage.json not found" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph", "notes"]


@contextlib.contextmanager
def _serve(args: list[str]) -> Iterator[str]:
    """Run `medkg ui` as a real process while the block runs; yield the URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "medkg.cli.main", "ui", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        found = re.search(r"medkg ui on (http://\S+)", line)
        if found:
            try:
                yield found.group(1)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
            return
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise AssertionError("medkg ui did not print its URL")


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing answers at {url}")


def test_medkg_ui_serves_and_guards_with_a_token(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    port = free_port()
    with _serve(["--path", str(tmp_path / "graph"), "--port", str(port)]) as url:
        assert url == f"http://127.0.0.1:{port}/"
        _wait(url)
        assert _get(url + "entity/ORPHA:558") == 200
    port = free_port()
    with _serve(
        ["--path", str(tmp_path / "graph"), "--host", "0.0.0.0", "--port", str(port)]
    ) as url:
        base, _, token = url.partition("?token=")
        assert base == f"http://0.0.0.0:{port}/" and len(token) >= 30
        local = f"http://127.0.0.1:{port}/"
        _wait(local)
        assert _get(local) == 403
        assert _get(local + "?token=" + token) == 200


def test_port_zero_prints_the_port_it_listens_on(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    """`--port 0` ("a free one") must print the URL of the port actually bound, not :0."""
    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    with _serve(["--path", str(tmp_path / "graph"), "--port", "0"]) as url:
        found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/", url)
        assert found and int(found.group(1)) > 0, url
        _wait(url)
        assert _get(url + "entity/ORPHA:558") == 200


def test_a_taken_port_is_a_clear_error(tmp_path: Path, small_kg: KnowledgeGraph) -> None:
    import socket

    with open_store("embedded", path=tmp_path / "graph") as store:
        store.save(small_kg)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        args = ["ui", "--path", str(tmp_path / "graph"), "--port", str(port)]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
