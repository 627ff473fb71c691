"""The Neo4j runner's class-data-sharing archive: made by a first JVM at its exit, adopted
once that JVM is gone, used by later JVMs, never required."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from medkg.kg import neo4j_cds

JAVA = shutil.which("java")
needs_java = pytest.mark.skipif(JAVA is None, reason="no java on PATH (the Neo4j runner needs it)")


def run_java(options: tuple[str, ...], *extra: str) -> subprocess.CompletedProcess[str]:
    assert JAVA is not None
    return subprocess.run(
        [JAVA, *options, *extra, "-version"], capture_output=True, text=True, check=False
    )


@needs_java
def test_a_first_jvm_writes_the_archive_that_later_jvms_use(tmp_path: Path) -> None:
    assert JAVA is not None
    first = neo4j_cds.plan(tmp_path, JAVA)
    assert first.pending is not None and first.options[0].startswith("-XX:ArchiveClassesAtExit=")
    # while the first JVM runs, a second start neither uses nor waits for its file
    proc = subprocess.Popen([JAVA, *first.options, "-version"], stderr=subprocess.DEVNULL)
    first.started(proc.pid)
    assert proc.wait(timeout=120) == 0
    assert first.pending.is_file() and first.pending.stat().st_size > 0

    second = neo4j_cds.plan(tmp_path, JAVA)  # the writer has exited: its file is adopted
    assert second.pending is None
    archive = Path(second.options[0].removeprefix("-XX:SharedArchiveFile="))
    assert archive.is_file() and archive.parent == tmp_path / "cds"
    assert not list((tmp_path / "cds").glob("*.pid")) and not first.pending.exists()
    # -Xshare:on fails when the archive cannot be mapped: this JVM really uses it
    used = run_java(second.options[:1], "-Xshare:on")
    assert used.returncode == 0, used.stderr


@needs_java
def test_a_running_writer_keeps_its_file_and_a_broken_archive_is_not_required(
    tmp_path: Path,
) -> None:
    assert JAVA is not None
    first = neo4j_cds.plan(tmp_path, JAVA)
    assert first.pending is not None
    first.pending.write_bytes(b"half written")
    first.started(1)  # pid 1 is alive: the file may still be growing
    again = neo4j_cds.plan(tmp_path, JAVA)
    assert again.pending is not None and again.pending != first.pending
    assert first.pending.is_file()
    # an archive that is no archive: the JVM warns and runs without it (-Xshare:auto)
    archive = tmp_path / "cds" / "broken.jsa"
    archive.write_bytes(b"not a CDS archive")
    ran = run_java((f"-XX:SharedArchiveFile={archive}", "-Xshare:auto"))
    assert ran.returncode == 0, ran.stderr


def test_cds_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(neo4j_cds.ENV_SWITCH, "0")
    assert neo4j_cds.plan(tmp_path, "/no/such/java") == neo4j_cds.CdsPlan(())
    assert not (tmp_path / "cds").exists()


def test_an_unusable_cache_folder_costs_only_the_speed_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert neo4j_cds.plan(blocker, JAVA or "/no/such/java") == neo4j_cds.CdsPlan(())
