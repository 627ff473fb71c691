"""Run the real `medkg` command in a subprocess (kill -9 and concurrency tests need one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def medkg_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("NEO4J_URI", None)
    env.update(extra)
    return env


def medkg_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "medkg.cli.main", *args]


def run_medkg(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        medkg_cmd(*args), env=medkg_env(**env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def start_medkg(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        medkg_cmd(*args), env=medkg_env(**env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes), to compare folders exactly."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
