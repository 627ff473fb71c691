"""The contract of a source, a question family and a retriever: shared by the conformance
suite and by the worked examples of docs/architecture.md (which build plug-ins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medkg.kg.curie import normalise_curie
from medkg.kg.model import EDGE_SCHEMA, NODE_SCHEMA, KnowledgeGraph
from tests.factories.graphs import small_graph, synthetic_graph


def check_source(name: str, args: tuple[Any, ...], options: dict[str, Any]) -> KnowledgeGraph:
    """Built by name, the source loads a well-formed graph, the same one twice."""
    from medkg.kg.sources.base import SOURCES

    # It lists the options it reads, so the registry refuses a misspelt one.
    assert SOURCES.get_class(name).option_names is not None
    source = SOURCES.build(name, *args, **options)
    assert source.key == name
    kg = source.load()
    assert isinstance(kg, KnowledgeGraph)
    assert dict(kg.nodes.schema) == NODE_SCHEMA and dict(kg.edges.schema) == EDGE_SCHEMA
    assert kg.nodes.height + kg.edges.height > 0
    declared = {s.name for s in kg.sources}
    for frame in (kg.nodes, kg.edges):
        assert set(frame.get_column("source").unique().to_list()) <= declared
    ids = kg.nodes.get_column("id")
    assert ids.n_unique() == kg.nodes.height, "duplicate node ids"
    assert all(normalise_curie(i) == i for i in ids.to_list())
    # Same file, same options: the same graph, to the byte.
    again = SOURCES.build(name, *args, **options).load()
    assert again.content_hash() == kg.content_hash()
    return kg


def check_family(name: str, args: tuple[Any, ...], options: dict[str, Any]) -> list[Any]:
    """Built by name over the synthetic graph, the family makes items from its eligible
    seeds, and every item it makes passes the independent verifier."""
    from medkg.synthesis.questions import make_family
    from medkg.synthesis.verify import verify_item

    graph = synthetic_graph()
    family = make_family(name, graph, *args, **options)
    mask = family.eligible()
    assert mask.dtype == bool and mask.shape == (len(graph.ids),) and mask.any()
    made = []
    for seed in np.flatnonzero(mask)[:40]:
        item = family.make(int(seed), np.random.default_rng(int(seed)))
        if not hasattr(item, "reason"):
            made.append(item)
    assert made, f"{name}: no item from 40 eligible seeds"
    for item in made:
        assert item.family == name
        item.check_shape()
        assert verify_item(item, graph) == [], item.question
    return made


def check_retriever(
    name: str, args: tuple[Any, ...], options: dict[str, Any], tmp_path: Path
) -> Any:
    """Built by name, the retriever indexes the small graph's cards, finds Marfan syndrome
    first for its name, and a saved index loads back to the same ranking."""
    from medkg.retrieval.base import build_retriever
    from medkg.retrieval.graph_corpus import graph_chunks
    from medkg.retrieval.retrievers import load_retriever

    chunks = graph_chunks(small_graph())
    retriever = build_retriever(name, *args, **options)
    retriever.add(chunks)
    assert retriever.size == len(chunks)
    [hits] = retriever.search(["Marfan syndrome"], k=3)
    assert 0 < len(hits) <= 3
    assert "Marfan" in hits[0].chunk.title + hits[0].chunk.text
    folder = retriever.save(tmp_path / f"index-{name}")
    loaded = load_retriever(folder) if name != "graph" else type(retriever).load(folder)
    assert loaded.key == name
    [again] = loaded.search(["Marfan syndrome"], k=3)
    assert [h.chunk.chunk_id for h in again] == [h.chunk.chunk_id for h in hits]
    return retriever
