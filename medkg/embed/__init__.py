"""Text embedders behind one interface (shared by coverage and dense retrieval).

Importing this package is cheap: torch and sentence-transformers load when an embedder
first embeds. The code lives in :mod:`medkg.embed.embedders`.
"""

from medkg.embed.embedders import (
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    MODEL_PACKAGE,
    TEXT_RECIPES,
    Embedder,
    EmbeddingError,
    EntityEmbeddings,
    FloatArray,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    build_embedder,
    bundled_model_path,
    default_model_missing,
    embed_entities,
    embedding_cache_dir,
    embedding_cache_key,
    entity_texts,
    register_embedder,
    resolve_embedder,
)

__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "MODEL_PACKAGE",
    "TEXT_RECIPES",
    "Embedder",
    "EmbeddingError",
    "EntityEmbeddings",
    "FloatArray",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "bundled_model_path",
    "default_model_missing",
    "embed_entities",
    "embedding_cache_dir",
    "embedding_cache_key",
    "entity_texts",
    "register_embedder",
    "resolve_embedder",
]
