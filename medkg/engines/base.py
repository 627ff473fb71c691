"""The engine interface: run a :class:`ShardTask` over shards, results in shard order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from medkg.errors import MedkgError
from medkg.progress import Progress
from medkg.registry import Registry

S = TypeVar("S")  # a shard
R = TypeVar("R")  # what one shard gives


class EngineError(MedkgError, RuntimeError):
    """An engine that cannot start (e.g. Ray not installed) or a shard that failed for good."""


class ShardTask(ABC, Generic[S, R]):
    """One stage's work, split by shard. Instances travel to workers (pickled), so keep the
    constructor's state small and build heavy state (an automaton, a model) in :meth:`setup`,
    which every worker calls once before its first shard."""

    def setup(self) -> None:
        """Build per-worker state; the default needs none."""

    @abstractmethod
    def run(self, shard: S) -> R:
        """The result of one shard; must depend on the shard only (not on which worker or
        in which order), so every engine gives the same results."""


class Engine(ABC):
    """Runs a task's shards and returns their results in shard order."""

    key: ClassVar[str] = ""

    def map(
        self,
        task: ShardTask[S, R],
        shards: Sequence[S],
        *,
        progress: Progress | None = None,
    ) -> list[R]:
        """``[task.run(s) for s in shards]``, however the engine spreads the work."""
        shards = list(shards)
        if not shards:
            return []
        results = self._map(task, shards, progress)
        if len(results) != len(shards):
            raise EngineError(
                f"{self.key} engine returned {len(results)} results for {len(shards)} shards"
            )
        return results

    @abstractmethod
    def _map(self, task: ShardTask[S, R], shards: list[S], progress: Progress | None) -> list[R]:
        """The hook: results of ``shards`` in order."""

    def stream(
        self,
        task: ShardTask[S, R],
        shards: Iterable[S],
        *,
        progress: Progress | None = None,
    ) -> Iterator[R]:
        """``task.run(s)`` for each shard, yielded in shard order as they are ready, so a
        caller can write each result away before the next arrives (a corpus larger than
        memory). The shards are small descriptors (a file and a range), listed up front;
        ``progress("shards", done, total)`` ticks per shard. Stopping the iteration early
        stops the work."""
        shards = list(shards)
        if not shards:
            return iter(())
        return self._stream(task, shards, progress)

    def _stream(
        self, task: ShardTask[S, R], shards: list[S], progress: Progress | None
    ) -> Iterator[R]:
        """The hook of :meth:`stream`; the default runs :meth:`map` (results held at once)."""
        yield from self.map(task, shards, progress=progress)

    def describe(self) -> dict[str, Any]:
        """Provenance for manifests (outputs do not depend on it)."""
        return {"engine": self.key}


# Engines by name, imported on first use (Ray only when ``ray`` is asked for);
# third-party ones arrive through the ``medkg.engines`` entry-point group.
ENGINES: Registry[type[Engine]] = Registry(
    "engine",
    group="medkg.engines",
    lazy={"local": "medkg.engines.local:LocalEngine", "ray": "medkg.engines.ray:RayEngine"},
)
#: Class decorator: ``@register_engine("name")`` adds an engine to :data:`ENGINES`.
register_engine = ENGINES.register


def build_engine(key: str = "local", **options: Any) -> Engine:
    """Build the engine registered as ``key`` with its own options (checked by name)."""
    return ENGINES.build(key, **options)


__all__ = [
    "ENGINES",
    "Engine",
    "EngineError",
    "ShardTask",
    "build_engine",
    "register_engine",
]
