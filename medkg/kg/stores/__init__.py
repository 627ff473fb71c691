"""Graph stores: one interface (base), one module per backend."""

from medkg.kg.stores.base import (
    STORES,
    GraphStore,
    GraphValidationError,
    SaveReport,
    StoreError,
    open_store,
    register_store,
)

__all__ = [
    "STORES",
    "GraphStore",
    "GraphValidationError",
    "SaveReport",
    "StoreError",
    "open_store",
    "register_store",
]
