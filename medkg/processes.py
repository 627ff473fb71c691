"""Is a process still running? The one check behind stale locks, orphaned staging folders,
server records and pending JVM class archives."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True while ``pid`` names a live process on this machine.

    Another user's process counts as alive (``kill`` is refused, not failed); a zombie
    (exited, not yet reaped by its parent) counts as dead, read from ``/proc`` where there
    is one."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
