"""A tiny shard task every engine must run the same way."""

from __future__ import annotations

from medkg.engines import ShardTask


class SquareTask(ShardTask[int, int]):
    """Squares a shard (an int): the result depends on the shard only."""

    def run(self, shard: int) -> int:
        return shard * shard
