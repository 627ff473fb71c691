"""A Neo4j connection for :class:`medkg.kg.stores.neo4j.Neo4jStore`: the driver (created on
first use), driver errors turned into one-line :class:`StoreError` s that name the server and
user but never the password, and managed read and write transactions (retried by the
driver on transient errors such as deadlocks)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from medkg.config import Neo4jSettings
from medkg.kg.stores.base import StoreError
from medkg.redact import redact_url

if TYPE_CHECKING:
    from neo4j import Driver, Session

T = TypeVar("T")
START_HINT = "start one with `medkg neo4j start` (or `docker compose up -d`) and set NEO4J_URI"


class Neo4jConnection:
    """Driver, error translation and transactions; the store adds the graph layout."""

    settings: Neo4jSettings
    _driver_obj: Driver | None = None

    @property
    def uri(self) -> str:
        return self.settings.uri

    def describe_location(self) -> str:
        db = f" database {self.settings.database!r}" if self.settings.database else ""
        return f"Neo4j {redact_url(self.settings.uri)}{db}"

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into StoreErrors that name the server and user, never the password."""
        from neo4j import exceptions as ne

        where = redact_url(self.settings.uri)
        try:
            yield
        except StoreError:
            raise
        except ne.AuthError as exc:
            raise StoreError(
                f"Neo4j at {where} rejected user {self.settings.user!r} while {action}: wrong "
                "user name or password (set NEO4J_USER and NEO4J_PASSWORD)"
            ) from exc
        except (ne.ServiceUnavailable, ne.SessionExpired) as exc:
            raise StoreError(
                f"cannot reach Neo4j at {where} while {action} ({exc}); is the server running? "
                f"{START_HINT[0].upper()}{START_HINT[1:]}"
            ) from exc
        except ne.ClientError as exc:
            if exc.code == "Neo.ClientError.Database.DatabaseNotFound":
                raise StoreError(
                    f"database {self.settings.database!r} does not exist on Neo4j at {where}; "
                    "create it or unset NEO4J_DATABASE to use the default database"
                ) from exc
            raise StoreError(
                f"Neo4j at {where} refused a query while {action}: {exc.code}: {exc.message}"
            ) from exc
        except ne.ConfigurationError as exc:
            raise StoreError(f"invalid Neo4j settings for {where}: {exc}") from exc
        except (ne.Neo4jError, ne.DriverError) as exc:
            raise StoreError(f"Neo4j at {where} failed while {action}: {exc}") from exc

    def _driver(self) -> Driver:
        if self._driver_obj is None:
            import neo4j

            auth = (self.settings.user, self.settings.password) if self.settings.password else None
            with self._errors("connecting"):
                try:
                    driver = neo4j.GraphDatabase.driver(
                        self.settings.uri,
                        auth=auth,
                        connection_timeout=15.0,
                        # "property key does not exist" warnings on a fresh database are noise
                        notifications_min_severity="OFF",
                    )
                except ValueError as exc:  # malformed URI
                    raise StoreError(
                        f"invalid NEO4J_URI {redact_url(self.settings.uri)!r}: {exc}"
                    ) from exc
                try:
                    driver.verify_connectivity()
                except BaseException:
                    driver.close()
                    raise
            self._driver_obj = driver
        return self._driver_obj

    def _session(self) -> Session:
        return self._driver().session(database=self.settings.database)

    def close(self) -> None:
        if self._driver_obj is not None:
            self._driver_obj.close()
            self._driver_obj = None

    def read(self, work: Callable[[Callable[..., list[dict[str, Any]]]], T], action: str) -> T:
        """``work(run)`` in one read transaction (one session, one snapshot, retried on
        transient errors); ``run(query, **params)`` returns a query's rows as dicts."""

        def in_tx(tx: Any) -> T:
            return work(lambda query, **params: [r.data() for r in tx.run(query, **params)])

        with self._errors(action), self._session() as session:
            return session.execute_read(in_tx)

    def _read(self, query: str, action: str, /, **params: Any) -> list[dict[str, Any]]:
        return self.read(lambda run: run(query, **params), action)

    def _run(self, query: str, action: str, /, **params: Any) -> dict[str, int]:
        """One query (meta, schema changes) in a managed write transaction, retried on
        transient errors (deadlocks) like the data writes; returns its counters."""
        with self._errors(action), self._session() as session:
            return session.execute_write(
                lambda tx: summary_counters(tx.run(query, **params).consume())
            )

    def _read_write(self, query: str, action: str, /, **params: Any) -> list[dict[str, Any]]:
        with self._errors(action), self._session() as session:
            return session.execute_write(lambda tx: [r.data() for r in tx.run(query, **params)])


def summary_counters(summary: Any) -> dict[str, int]:
    c = summary.counters
    return {
        "nodes_created": c.nodes_created,
        "nodes_deleted": c.nodes_deleted,
        "relationships_created": c.relationships_created,
        "relationships_deleted": c.relationships_deleted,
        "properties_set": c.properties_set,
    }


__all__ = ["START_HINT", "Neo4jConnection", "summary_counters"]
