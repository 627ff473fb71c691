"""The Ray engine: shards spread over a pool of Ray actors, results in shard order.

Each actor builds the task's heavy state once (:meth:`ShardTask.setup`), then takes one
shard at a time, so a fast worker takes more shards. An actor that dies (a killed worker
process, a lost node) is restarted by Ray and its shard retried, up to ``max_retries``
times; after that the run fails with an :class:`EngineError` naming the shard, and nothing
is written by the stage (stages write only after ``map`` returns). :meth:`Engine.stream`
(a corpus larger than memory, embedding) goes through Ray Data instead
(:mod:`medkg.engines.raydata`: ``map_batches`` on an actor pool, results streamed back in
order). Ray is the optional ``[ray]`` extra and is imported only when this engine runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from medkg.engines.base import (
    Engine,
    EngineError,
    R,
    S,
    ShardTask,
    register_engine,
)
from medkg.progress import Progress

RAY_HINT = "the ray engine needs Ray: pip install 'medkg[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or an :class:`EngineError` naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise EngineError(RAY_HINT) from exc
    return ray


class _ShardWorker:
    """The actor: holds one task with its state built."""

    def __init__(self, task: ShardTask[Any, Any]) -> None:
        self.task = task
        task.setup()

    def run(self, index: int, shard: Any) -> tuple[int, Any]:
        return index, self.task.run(shard)

    def pid(self) -> int:
        return os.getpid()


@register_engine("ray")
class RayEngine(Engine):
    """Shards on Ray actors.

    ``address``: a running cluster (``"auto"``, ``"ray://host:port"``, or the
    ``RAY_ADDRESS`` environment variable); None starts a local Ray instance with
    ``workers × cpus_per_worker`` CPUs for this process. ``workers``: actors in the pool.
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int = 2,
        cpus_per_worker: float = 1.0,
        max_retries: int = 3,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if cpus_per_worker <= 0:
            raise ValueError(f"cpus_per_worker must be > 0, got {cpus_per_worker}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.address = address
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.max_retries = max_retries
        self.actors: list[Any] = []  # the current pool (tests reach workers through it)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.key, "workers": self.workers, "address": self.address}

    def connect(self, ray: Any) -> None:
        """Join the cluster (or start the private instance) unless Ray is up already;
        ``map`` does it on first use, a caller may do it earlier to time start-up apart."""
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        address = self.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, **kwargs)
        else:  # a private instance on this machine (Ray's token authentication stays on)
            # address="local": always a new instance, never a cluster some other process
            # on this machine happens to have left running.
            ray.init(
                address="local",
                num_cpus=max(1, int(self.workers * self.cpus_per_worker + 0.999)),
                **kwargs,
            )

    def _stream(
        self, task: ShardTask[S, R], shards: list[S], progress: Progress | None
    ) -> Iterator[R]:
        """Through Ray Data (:mod:`medkg.engines.raydata`): the shards stream through
        ``map_batches`` on an actor pool of ``workers`` actors, results back in order."""
        from medkg.engines.raydata import stream_batches

        ray = import_ray()
        self.connect(ray)
        yield from stream_batches(
            ray,
            task,
            shards,
            workers=self.workers,
            cpus_per_worker=self.cpus_per_worker,
            progress=progress,
        )

    def _map(self, task: ShardTask[S, R], shards: list[S], progress: Progress | None) -> list[R]:
        ray = import_ray()
        self.connect(ray)
        from ray.exceptions import RayActorError, RayTaskError

        worker = ray.remote(
            num_cpus=self.cpus_per_worker,
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )(_ShardWorker)
        task_ref = ray.put(task)
        self.actors = [worker.remote(task_ref) for _ in range(min(self.workers, len(shards)))]
        results: list[Any] = [None] * len(shards)
        pending: dict[Any, tuple[int, Any]] = {}
        next_shard = 0

        def submit(actor: Any) -> None:
            nonlocal next_shard
            ref = actor.run.remote(next_shard, shards[next_shard])
            pending[ref] = (next_shard, actor)
            next_shard += 1

        try:
            for actor in self.actors:
                submit(actor)
            done = 0
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                index, actor = pending.pop(ready[0])
                try:
                    _, results[index] = ray.get(ready[0])
                except RayTaskError as exc:
                    raise EngineError(f"shard {index} failed: {exc.cause!r}") from exc
                except RayActorError as exc:
                    raise EngineError(
                        f"shard {index}: its Ray worker died more than {self.max_retries} "
                        f"times ({exc})"
                    ) from exc
                done += 1
                if progress is not None:
                    progress("shards", done, len(shards))
                if next_shard < len(shards):
                    submit(actor)
        finally:
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []
        return results
