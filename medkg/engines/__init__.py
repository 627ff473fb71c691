"""How a stage's shards run: in this process (``local``, the default) or on a Ray cluster
(``ray``, the optional ``[ray]`` extra). Both give the same outputs in the same order.

A stage describes its work as a :class:`ShardTask` (heavy state built once per worker by
``setup``, then one call per shard) and hands the shards to an engine built by registry
key with :func:`build_engine`: ``map`` returns all results, ``stream`` yields them in
order as they come (on Ray through Ray Data), for outputs larger than memory.
"""

from __future__ import annotations

from medkg.engines.base import (
    ENGINES,
    Engine,
    EngineError,
    ShardTask,
    build_engine,
    register_engine,
)
from medkg.engines.local import LocalEngine
from medkg.engines.ray import RayEngine

__all__ = [
    "ENGINES",
    "Engine",
    "EngineError",
    "LocalEngine",
    "RayEngine",
    "ShardTask",
    "build_engine",
    "register_engine",
]
