"""Streaming shard tasks through Ray Data: ``from_items`` of shard descriptors, then
``map_batches`` on a fixed pool of actors that each build the task's heavy state once.

A stage that reads a corpus larger than memory hands :meth:`Engine.stream` small shard
descriptors (a file and a range of it); each actor reads its shard itself (the corpus never
passes through the driver), runs the task and returns the result, pickled, in a binary
column. Ray Data streams the results back with back-pressure, in shard order
(``preserve_order``), so the driver writes them away one at a time.

A shard that fails stops the run with the task's own error when it is a
:class:`~medkg.errors.MedkgError` (bad input: it names the file and line), else with an
:class:`~medkg.engines.EngineError` naming the shard; the results before it have been
yielded, so a stage writes to a staged output that the error leaves unpublished.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from medkg.engines.base import EngineError, R, S, ShardTask
from medkg.errors import MedkgError
from medkg.progress import Progress


class TaskBatches:
    """The ``map_batches`` callable: one per actor, the task's state built once in
    ``__init__`` (:meth:`ShardTask.setup`), then one call per batch of shards."""

    def __init__(self, task: ShardTask[Any, Any]) -> None:
        self.task = task
        task.setup()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = []
        for index, blob in zip(batch["index"], batch["shard"], strict=True):
            shard = pickle.loads(blob)
            try:
                result: Any = self.task.run(shard)
            except MedkgError as exc:  # bad input: names its file and line; travels as is
                result = ShardFailure(exc)
            except Exception as exc:
                result = ShardFailure(EngineError(f"shard {int(index)} failed: {exc!r}"))
            results.append(pickle.dumps(result, protocol=5))
        return {"index": batch["index"], "result": np.array(results, dtype=object)}


class ShardFailure:
    """A shard's error, returned as its result: Ray Data would wrap a raised one in a
    ``UserCodeException`` that keeps only its text, and the driver re-raises it as it was."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def stream_batches(
    ray: Any,
    task: ShardTask[S, R],
    shards: list[S],
    *,
    workers: int,
    cpus_per_worker: float,
    progress: Progress | None,
) -> Iterator[R]:
    """Results of ``task`` over ``shards`` in shard order, computed by Ray Data on a pool of
    ``workers`` actors (the cluster must be connected)."""
    import ray.data

    ctx = ray.data.DataContext.get_current()
    # process-wide settings of Ray Data (this driver runs no other Ray Data work)
    ctx.execution_options.preserve_order = True  # results come back in shard order
    ctx.enable_progress_bars = False  # the caller draws its own (progress callback)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # no notes on stderr
    rows = [
        {"index": i, "shard": ray.cloudpickle.dumps(s)}  # descriptors, not data
        for i, s in enumerate(shards)
    ]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        TaskBatches,
        fn_constructor_args=(task,),
        batch_size=1,  # one shard per call: a shard is already a unit of work
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(shards))),
        num_cpus=cpus_per_worker,
        zero_copy_batch=True,
    )
    expected = 0
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            for index, blob in zip(batch["index"], batch["result"], strict=True):
                if int(index) != expected:  # preserve_order guarantees it; never write out of order
                    raise EngineError(f"ray data returned shard {int(index)}, expected {expected}")
                expected += 1
                result = pickle.loads(blob)
                if isinstance(result, ShardFailure):
                    raise result.error
                yield result
                if progress is not None:
                    progress("shards", expected, len(shards))
    except MedkgError:
        raise
    except Exception as exc:  # Ray itself failed (a worker lost for good, ...)
        raise EngineError(f"ray data run failed at shard {expected}: {exc}") from exc
    if expected != len(shards):
        raise EngineError(f"ray data returned {expected} results for {len(shards)} shards")


__all__ = ["ShardFailure", "TaskBatches", "stream_batches"]
