"""Source loaders, one module per source, each registering itself with ``@register_source``.

``medkg.kg.build.available_sources()`` imports every source module and returns the
registry; importing this package alone loads only the interface (so ``medkg`` starts fast).
"""

from medkg.kg.sources.base import SOURCES, Source, SourceError, register_source

__all__ = ["SOURCES", "Source", "SourceError", "register_source"]
