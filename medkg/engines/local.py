"""The default engine: every shard in this process, one after the other."""

from __future__ import annotations

from collections.abc import Iterator

from medkg.engines.base import Engine, R, S, ShardTask, register_engine
from medkg.progress import Progress


def _in_order(task: ShardTask[S, R], shards: list[S], progress: Progress | None) -> Iterator[R]:
    task.setup()
    for done, shard in enumerate(shards, 1):
        yield task.run(shard)
        if progress is not None:
            progress("shards", done, len(shards))


@register_engine("local")
class LocalEngine(Engine):
    """Runs shards in order in the calling process (no extra dependency)."""

    def _map(self, task: ShardTask[S, R], shards: list[S], progress: Progress | None) -> list[R]:
        return list(_in_order(task, shards, progress))

    def _stream(
        self, task: ShardTask[S, R], shards: list[S], progress: Progress | None
    ) -> Iterator[R]:
        return _in_order(task, shards, progress)
