"""Class-data sharing for the local Neo4j server's JVM: its classes parsed and verified once.

The server loads some twelve thousand classes from the runner's jars on every start (the
DBMS, Cypher, Bolt, the importer); a dynamic CDS archive holds them pre-parsed and
pre-verified, so a start maps them instead. The first start without an archive runs with
``-XX:ArchiveClassesAtExit`` (the JVM writes the classes it loaded when it exits, i.e. when
the server stops) into a file of its own; a later start adopts a finished one as the
archive. The archive lies beside the jars in the runtime cache folder, keyed by the JVM
(its real path, size and time), so a new JVM builds a new one; the JVM itself checks that
the class path is the one the archive was made with and otherwise runs without it
(``-Xshare:auto``), so the archive is never required. ``MEDKG_NEO4J_CDS=0`` turns it off.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from medkg.processes import pid_alive

ENV_SWITCH = "MEDKG_NEO4J_CDS"


@dataclass(frozen=True)
class CdsPlan:
    """The JVM options for one start, and where a new archive would be written."""

    options: tuple[str, ...]
    pending: Path | None = None  # the file this JVM writes at exit, when it makes one

    def started(self, pid: int) -> None:
        """Record the JVM's pid beside its pending archive, so a later start knows when
        the file is complete (its writer has exited)."""
        if self.pending is not None:
            self.pending.with_suffix(".pid").write_text(str(pid), encoding="utf-8")


def _key(java: str) -> str:
    real = Path(os.path.realpath(java))
    st = real.stat()
    return hashlib.sha256(f"{real}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _adopt(folder: Path, key: str, archive: Path) -> None:
    """Make a finished pending archive (its JVM has exited) the archive; drop the others
    that are finished (a later JVM would write the same classes again)."""
    for pid_file in sorted(folder.glob(f"{key}.*.pid")):
        pending = pid_file.with_suffix(".jsa")
        try:
            pid = int(pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        if pid_alive(pid):
            continue
        if not archive.is_file() and pending.is_file() and pending.stat().st_size > 0:
            os.replace(pending, archive)
        pending.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)


def plan(runtime_root: Path, java: str) -> CdsPlan:
    """The CDS options for a JVM started from ``runtime_root``'s jars by ``java``: use the
    archive when there is one, else have this JVM write one at exit (never both)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return CdsPlan(())
    folder = runtime_root / "cds"
    try:
        key = _key(java)
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"{key}.jsa"
        _adopt(folder, key, archive)
    except OSError:  # an unreadable cache folder costs the speed-up, never the start
        return CdsPlan(())
    if archive.is_file():
        return CdsPlan((f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"))
    pending = folder / f"{key}.{secrets.token_hex(6)}.jsa"
    return CdsPlan((f"-XX:ArchiveClassesAtExit={pending}",), pending)


__all__ = ["ENV_SWITCH", "CdsPlan", "plan"]
