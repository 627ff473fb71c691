"""Single-writer locks for the stores: one build or write-back at a time.

The embedded store locks a file beside its folder (``.<name>.lock``, removed on release)
with ``flock``: the kernel drops the lock when the holder dies, even by ``kill -9``, so a
lock is never stale (a killed holder leaves only the empty file, which the next writer
reuses).
The Neo4j store keeps a ``(:MedkgLock {id: "writer"})`` node (unique by a constraint) with
the owner's pid, host, start time and a heartbeat a background thread refreshes; a lock
whose heartbeat is older than :data:`STALE_AFTER` seconds, or whose owner is a dead
process on this host, is taken over.

A second writer fails at once with :class:`~medkg.errors.LockedError` naming the holder,
or waits up to ``wait`` seconds for it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medkg.errors import LockedError
from medkg.kg import cypher
from medkg.processes import pid_alive

STALE_AFTER = 60.0
"""Seconds without a heartbeat after which a Neo4j writer lock is considered abandoned."""
HEARTBEAT_EVERY = 10.0
POLL_EVERY = 0.5


@dataclass(frozen=True)
class LockOwner:
    """Who holds a writer lock."""

    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    token: str = field(default_factory=lambda: os.urandom(8).hex())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started_at}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockOwner:
        return cls(
            pid=int(data.get("pid", -1)),
            host=str(data.get("host", "?")),
            started_at=str(data.get("started_at", "?")),
            token=str(data.get("token", "")),
        )

    def dead_on_this_host(self) -> bool:
        """True when the owner ran on this machine and its process is gone."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        return not pid_alive(self.pid)


def refusal(where: str, owner: LockOwner | None, waited: float) -> LockedError:
    """The error a second writer gets."""
    holder = owner.describe() if owner else "another process"
    after = f" (waited {waited:.0f} s)" if waited else ""
    return LockedError(
        f"{where} is being written by {holder}{after}; wait for it to finish, or pass "
        "--wait SECONDS to queue behind it"
    )


@contextlib.contextmanager
def file_lock(path: Path, where: str, wait: float = 0.0) -> Iterator[LockOwner]:
    """Hold an exclusive ``flock`` on ``path`` for the block; the file holds the owner and
    is removed on release. (After locking, the path must still name the locked file:
    otherwise a releasing holder unlinked it meanwhile, and the lock is taken again.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = LockOwner()
    began = time.monotonic()
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            waited = time.monotonic() - began
            if waited >= wait:
                raise refusal(where, _read_owner(path), waited) from None
            time.sleep(POLL_EVERY)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner.to_dict()).encode("utf-8"), 0)
        yield owner
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # drops the flock


@contextlib.contextmanager
def neo4j_lock(connect: Callable[[], Any], database: str | None, where: str, wait: float = 0.0,
               guard: Callable[[str], contextlib.AbstractContextManager[Any]] | None = None,
               ) -> Iterator[LockOwner]:  # fmt: skip
    """Hold the database's writer lock node for the block, refreshing its heartbeat.
    ``connect`` gives the driver; ``guard(action)`` turns driver errors into the store's."""
    with (guard or (lambda _: contextlib.nullcontext()))("taking the writer lock"):
        driver = connect()
        owner = _acquire(driver, database, where, wait)
    stop = threading.Event()
    params = {"lock_id": cypher.LOCK_ID, "owner": owner.to_dict()}

    def write(query: str, **extra: Any) -> None:
        with driver.session(database=database) as session:
            session.execute_write(lambda tx: tx.run(query, {**params, **extra}).consume())

    def beat() -> None:
        while not stop.wait(HEARTBEAT_EVERY):
            with contextlib.suppress(Exception):  # a missed beat only ages the lock
                write(cypher.heartbeat_lock(), token=owner.token)

    thread = threading.Thread(target=beat, name="medkg-lock-heartbeat", daemon=True)
    thread.start()
    try:
        yield owner
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(Exception):  # an unreleased lock goes stale by itself
            write(cypher.release_lock(), token=owner.token)


def _acquire(driver: Any, database: str | None, where: str, wait: float) -> LockOwner:
    """Create the lock node for a new owner, or take over an abandoned one; else refuse."""
    owner = LockOwner()
    params = {"lock_id": cypher.LOCK_ID, "owner": owner.to_dict()}

    def write(query: str, **extra: Any) -> list[dict[str, Any]]:
        with driver.session(database=database) as session:
            return session.execute_write(
                lambda tx: [r.data() for r in tx.run(query, {**params, **extra})]
            )

    with driver.session(database=database) as session:
        session.execute_write(lambda tx: tx.run(cypher.lock_constraint()).consume())
    began = time.monotonic()
    while True:
        row = write(cypher.acquire_lock())[0]
        held, now = row["lock"], row["now"]
        if held.get("token") == owner.token:
            break
        holder = LockOwner.from_dict(held)
        age = (now - int(held.get("heartbeat", 0))) / 1000.0
        if (age > STALE_AFTER or holder.dead_on_this_host()) and write(
            cypher.take_over_lock(), old_token=holder.token
        ):
            break
        waited = time.monotonic() - began
        if waited >= wait:
            raise refusal(where, holder, waited)
        time.sleep(POLL_EVERY)
    return owner


def _read_owner(path: Path) -> LockOwner | None:
    try:
        return LockOwner.from_dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None


__all__ = [
    "HEARTBEAT_EVERY",
    "STALE_AFTER",
    "LockOwner",
    "file_lock",
    "neo4j_lock",
    "refusal",
]
