"""Shard tasks the engine tests run: a tiny one every engine must run the same way, one
that fails, one slow enough to kill its worker mid-shard."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from medkg.engines import ShardTask


class SquareTask(ShardTask[int, int]):
    """Squares a shard (an int): the result depends on the shard only."""

    def run(self, shard: int) -> int:
        return shard * shard


class SlowFirstAttempt(ShardTask[list[int], list[int]]):
    """Shard 0's first attempt announces its pid in a file and sleeps: time to kill it."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def run(self, shard: list[int]) -> list[int]:
        marker = Path(self.folder) / f"started-{shard[0]}"
        if shard[0] == 0 and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(60)
        return [x + 1 for x in shard]


def kill_when_started(marker: Path) -> None:
    """Wait for a shard to write its pid into ``marker``, then SIGKILL that worker."""
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the shard never started"
    time.sleep(0.2)  # the pid is written before the sleep starts
    os.kill(int(marker.read_text()), signal.SIGKILL)


class Fails(ShardTask[list[int], list[int]]):
    def run(self, shard: list[int]) -> list[int]:
        if 7 in shard:
            raise ValueError("seven is not allowed")
        return shard


def check_cli_audit_on_ray(tmp_path: Path, args: list[str]) -> list[str]:
    """Run ``medkg coverage audit ARGS`` on the small graph with ``--engine local`` and with
    ``--engine ray`` (the test session's cluster) and check the two folders hold the same
    files, byte for byte (``manifest.json`` aside: its provenance names the engine); the
    names of the files."""
    from typer.testing import CliRunner

    from medkg.cli.main import app
    from medkg.kg.stores import open_store
    from tests.factories.graphs import small_graph

    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / engine
        res = CliRunner().invoke(app, ["coverage", "audit", *args, "--path", str(store), "--out",
                                       str(outs[engine]), "--amcs-ref", "none", "--no-report",
                                       "--engine", engine])  # fmt: skip
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs["local"].iterdir())
    assert names == sorted(p.name for p in outs["ray"].iterdir())
    for name in names:
        if name != "manifest.json":
            assert (outs["ray"] / name).read_bytes() == (outs["local"] / name).read_bytes(), name
    return names
