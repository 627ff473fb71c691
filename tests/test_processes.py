"""``pid_alive``: the one liveness check behind locks, staging recovery and the Neo4j runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from medkg.processes import pid_alive


def test_a_running_child_is_alive_and_an_exited_unreaped_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
    finally:
        child.kill()
    # killed but not yet waited for: a zombie, which holds its pid but runs nothing
    deadline = time.monotonic() + 10
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)


def test_this_process_is_alive_and_no_pid_is_not() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(-1)
