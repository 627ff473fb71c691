"""Every registered name of every kind, built from its conformance entry and checked against
the contract of its kind; and no registered name without an entry."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from medkg.registry import Registry
from tests.conformance.entries import KINDS, Entry, params
from tests.factories.contracts import check_family, check_retriever, check_source
from tests.factories.graphs import make_small_kg
from tests.factories.stores import assert_same_graph


def registry_of(kind: str) -> Registry[Any]:
    module, attr = KINDS[kind][0].split(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_name_has_an_entry(kind: str) -> None:
    """A backend registered without a conformance entry fails here (and an entry left over
    after a backend is removed, too)."""
    registered = registry_of(kind).builtin_names()
    assert sorted(KINDS[kind][1]) == registered, (
        f"{kind}: add an entry to tests/conformance/entries.py for every registered name"
    )


# ----------------------------------------------------------------------------- sources
@pytest.mark.parametrize(("name", "entry"), params("source"))
def test_source_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    check_source(name, *entry.build(tmp_path))


# ----------------------------------------------------------------------------- stores
@pytest.mark.parametrize(("name", "entry"), params("store"))
def test_store_contract(
    name: str, entry: Entry, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from medkg.kg.stores.base import open_store

    args, options = entry.build(tmp_path)
    if name == "neo4j":
        options["uri"] = request.getfixturevalue("neo4j_server").uri
    kg = make_small_kg()
    with open_store(name, *args, **options) as store:
        assert store.key == name
        store.save(kg)
        assert_same_graph(store.load(), kg)
        marfan = store.get_node("ORPHA:558")
        assert marfan is not None and marfan["name"] == "Marfan syndrome"


# ----------------------------------------------------------------------------- samplers
@pytest.mark.parametrize(("name", "entry"), params("sampler"))
def test_sampler_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    from medkg.synthesis.sampling import build_sampler

    nodes = make_small_kg().nodes
    args, options = entry.build(tmp_path)
    sampler = build_sampler(name, nodes, *args, **options)
    a = sampler.sample(300, np.random.default_rng(1))
    assert a.dtype == np.int64 and a.shape == (300,)
    assert np.array_equal(a, sampler.sample(300, np.random.default_rng(1)))
    drawn = nodes[np.unique(a)]
    assert not drawn.get_column("obsolete").any()
    assert "Category" not in set(drawn.get_column("kind").to_list())
    p = sampler.probabilities()
    assert p.shape == (nodes.height,) and abs(p.sum() - 1) < 1e-12
    assert (p[np.unique(a)] > 0).all(), "drew a row of probability zero"


# ----------------------------------------------------------------------------- families
@pytest.mark.parametrize(("name", "entry"), params("family"))
def test_family_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    check_family(name, *entry.build(tmp_path))


# ----------------------------------------------------------------------------- retrievers
@pytest.mark.parametrize(("name", "entry"), params("retriever"))
def test_retriever_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    check_retriever(name, *entry.build(tmp_path), tmp_path)


# ----------------------------------------------------------------------------- embedders
@pytest.mark.parametrize(("name", "entry"), params("embedder"))
def test_embedder_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    from medkg.embed import build_embedder

    args, options = entry.build(tmp_path)
    embedder = build_embedder(name, *args, **options)
    texts = ["Marfan syndrome", "arachnodactyly", "long slender fingers"]
    vectors = embedder.embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (3, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, build_embedder(name, *args, **options).embed(texts))
    # An engine's worker gets the embedder pickled: its configuration, not loaded weights.
    import pickle

    blob = pickle.dumps(embedder)
    assert len(blob) < 100_000, f"{name} pickles {len(blob)} bytes (a loaded model?)"
    travelled = pickle.loads(blob)
    travelled.load()
    assert np.array_equal(travelled.embed(texts), vectors)


# ----------------------------------------------------------------------------- generators
@pytest.mark.parametrize(("name", "entry"), params("generator"))
def test_generator_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    from medkg.llm import GenParams, build_generator
    from medkg.training.tiny import build_tiny_model
    from tests.factories.chat import ChatServer

    args, options = entry.build(tmp_path)
    prompts = [[{"role": "user", "content": f"question {i}"}] for i in range(3)]
    run = GenParams(n=2, seed=3, max_new_tokens=4)
    if name == "openai":
        with ChatServer() as server:
            generator = build_generator(name, *args, base_url=server.base_url, **options)
            out = generator.generate(prompts, run)
            assert out == generator.generate(prompts, run)
    else:
        model = build_tiny_model(tmp_path / "tiny")
        generator = build_generator(name, *args, model=model, **options)
        out = generator.generate(prompts, run)
        assert out == generator.generate(prompts, run)
    assert generator.key == name
    assert len(out) == 3 and all(len(c) == 2 and all(isinstance(t, str) for t in c) for c in out)
    generator.close()


# ----------------------------------------------------------------------------- engines
def shutdown_private_ray() -> None:
    """A Ray engine built without an address starts a private Ray instance in this process;
    it is shut down so that later tests (the real cluster of tests/engines) can connect."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.mark.parametrize(("name", "entry"), params("engine"))
def test_engine_contract(name: str, entry: Entry, tmp_path: Path) -> None:
    from medkg.engines import build_engine
    from tests.factories.engines import SquareTask

    args, options = entry.build(tmp_path)
    engine = build_engine(name, *args, **options)
    assert engine.key == name
    try:
        assert engine.map(SquareTask(), [3, 1, 2]) == [9, 1, 4]
        assert engine.map(SquareTask(), []) == []
    finally:
        shutdown_private_ray()
