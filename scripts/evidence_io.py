"""Shared by the ``make_*`` scripts: write a derived evidence table deterministically."""

from __future__ import annotations

import gzip
from pathlib import Path


def write_table_gz(out: Path, lines: list[str]) -> None:
    """Write ``lines`` (header and rows) as gzip without a timestamp, atomically (a temp
    file beside ``out``, then rename), so the same inputs give the same bytes."""
    text = "\n".join(lines) + "\n"
    tmp = out.with_suffix(".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    tmp.replace(out)
