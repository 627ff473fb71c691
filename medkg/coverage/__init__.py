"""Coverage of datasets against the entity tree: embeddings and AMCS.

Importing this package is cheap: torch and sentence-transformers load when an embedder
first embeds, faiss when the approximate AMCS mode first runs.
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
