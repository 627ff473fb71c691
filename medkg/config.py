"""Where medkg keeps its files and how it reaches Neo4j; read from the environment on call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def medkg_home() -> Path:
    """Working folder for stores and caches: $MEDKG_HOME, else ./.medkg."""
    return Path(os.environ.get("MEDKG_HOME", ".medkg")).expanduser()


def default_graph_dir() -> Path:
    return medkg_home() / "graph"


def cache_dir() -> Path:
    """Caches that outlive a project folder (Neo4j jars): $MEDKG_CACHE, else ~/.cache/medkg."""
    return Path(os.environ.get("MEDKG_CACHE", Path.home() / ".cache" / "medkg")).expanduser()


@dataclass(frozen=True)
class Neo4jSettings:
    """Connection settings; the password is never printed."""

    uri: str
    user: str = "neo4j"
    password: str = ""
    database: str | None = None

    @classmethod
    def from_env(cls) -> Neo4jSettings | None:
        uri = os.environ.get("NEO4J_URI")
        if not uri:
            return None
        return cls(
            uri=uri,
            user=os.environ.get("NEO4J_USER", os.environ.get("NEO4J_USERNAME", "neo4j")),
            password=os.environ.get("NEO4J_PASSWORD", ""),
            database=os.environ.get("NEO4J_DATABASE") or None,
        )
