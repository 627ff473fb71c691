"""Where medkg keeps its files and how it reaches Neo4j; read from the environment on call."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from medkg.errors import UsageError
from medkg.redact import redact_url

BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def medkg_home() -> Path:
    """Working folder for stores and caches: $MEDKG_HOME, else ./.medkg."""
    return Path(os.environ.get("MEDKG_HOME", ".medkg")).expanduser()


def default_graph_dir() -> Path:
    return medkg_home() / "graph"


def cache_dir() -> Path:
    """Caches that outlive a project folder (Neo4j jars): $MEDKG_CACHE, else ~/.cache/medkg."""
    return Path(os.environ.get("MEDKG_CACHE", Path.home() / ".cache" / "medkg")).expanduser()


def neo4j_state_dir() -> Path:
    """Where `medkg neo4j start` keeps its state, credentials and (by default) databases."""
    return medkg_home() / "neo4j"


def neo4j_credentials_path(name: str) -> Path:
    """The 0600 file holding the generated password of the local server ``name``."""
    return neo4j_state_dir() / f"{name}.credentials.json"


def check_bolt_uri(uri: str) -> str:
    """Refuse a URI the Neo4j driver cannot use (``http://...``), naming it without secrets."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise UsageError(f"NEO4J_URI {redact_url(uri)!r} is not a valid URI") from None
    if parts.scheme not in BOLT_SCHEMES or not parts.hostname:
        raise UsageError(
            f"NEO4J_URI {redact_url(uri)!r} is not a Bolt URI: use one of "
            f"{', '.join(s + '://host:port' for s in ('bolt', 'neo4j'))} (TLS: bolt+s, neo4j+s)"
        )
    return uri


def local_neo4j_credentials(uri: str) -> tuple[str, str] | None:
    """``(user, password)`` of the server `medkg neo4j start` runs at ``uri`` (under this
    $MEDKG_HOME), or None when ``uri`` is not such a server."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.hostname not in LOCAL_HOSTS or port is None:
        return None
    folder = neo4j_state_dir()
    for state in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if state.name.endswith(".credentials.json"):
            continue
        try:
            info = json.loads(state.read_text("utf-8"))
            if int(info.get("port", -1)) != port:
                continue
            cred = json.loads(neo4j_credentials_path(state.stem).read_text("utf-8"))
            return str(cred["user"]), str(cred["password"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


@dataclass(frozen=True)
class Neo4jSettings:
    """Connection settings; the password is never printed."""

    uri: str
    user: str = "neo4j"
    password: str = ""
    database: str | None = None

    @classmethod
    def resolve(cls, uri: str, user: str | None, password: str | None, database: str | None,
                env: Neo4jSettings | None) -> Neo4jSettings:  # fmt: skip
        """Explicit values, else ``env``'s; with no password given anywhere, the generated
        one of a server `medkg neo4j start` runs at ``uri`` (an explicit "" stays empty)."""
        check_bolt_uri(uri)
        user = user if user is not None else (env.user if env else "neo4j")
        resolved = password if password is not None else (env.password if env else "")
        if password is None and not resolved:
            local = local_neo4j_credentials(uri)
            if local is not None and user == local[0]:
                resolved = local[1]
        database = database if database is not None else (env.database if env else None)
        return cls(uri=uri, user=user, password=resolved, database=database)

    @classmethod
    def from_env(cls) -> Neo4jSettings | None:
        uri = os.environ.get("NEO4J_URI")
        if not uri:
            return None
        check_bolt_uri(uri)
        user = os.environ.get("NEO4J_USER", os.environ.get("NEO4J_USERNAME"))
        password = os.environ.get("NEO4J_PASSWORD", "")
        if not password:  # a server `medkg neo4j start` runs: its generated credentials
            local = local_neo4j_credentials(uri)
            if local is not None and user in (None, local[0]):
                user, password = local
        return cls(
            uri=uri,
            user=user or "neo4j",
            password=password,
            database=os.environ.get("NEO4J_DATABASE") or None,
        )
