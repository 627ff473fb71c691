"""Coverage of datasets against the entity tree: linking, audits and AMCS.

Importing this package is cheap: torch and sentence-transformers load when an embedder
first embeds, faiss when the approximate AMCS mode first runs. The embedder names
re-exported here live in :mod:`medkg.embed` (import them from there; these re-exports
are kept for code written before the move).
"""

from medkg.coverage.amcs import (
    AMCS_MODES,
    AmcsError,
    AmcsResult,
    HnswParams,
    amcs,
    amcs_approx,
    compute_amcs,
)
from medkg.embed import (
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    TEXT_RECIPES,
    Embedder,
    EmbeddingError,
    EntityEmbeddings,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    build_embedder,
    embed_entities,
    entity_texts,
    register_embedder,
)

__all__ = [
    "AMCS_MODES",
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "TEXT_RECIPES",
    "AmcsError",
    "AmcsResult",
    "Embedder",
    "EmbeddingError",
    "EntityEmbeddings",
    "HashingEmbedder",
    "HnswParams",
    "SentenceTransformerEmbedder",
    "amcs",
    "amcs_approx",
    "build_embedder",
    "compute_amcs",
    "embed_entities",
    "entity_texts",
    "register_embedder",
]
