"""UI-test helpers: the bundled artefacts the UI tests share, and a free local port."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Bundled:
    """The bundled graph in an embedded store, a small synthetic dataset and its audit."""

    graph: Path
    dataset: Path
    audit: Path
    home: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
