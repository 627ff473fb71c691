"""Source loaders, one module per source. Importing this package registers them all."""

from medkg.kg.sources.base import SOURCES, Source, SourceError, register_source

__all__ = ["SOURCES", "Source", "SourceError", "register_source"]
