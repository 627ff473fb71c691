"""The conformance entries: for every registered name of every kind, how to build it on small
real-format inputs. ``test_contracts.py`` builds each one and checks the contract of its kind;
``test_every_name_has_an_entry`` fails when a name is registered without an entry here.

Adding a backend = its own module + one entry below (see docs/architecture.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass(frozen=True)
class Entry:
    """How to build one registered name: ``build(tmp_path)`` -> (positional args, options)."""

    build: Callable[[Path], tuple[tuple[Any, ...], dict[str, Any]]]
    marks: tuple[Any, ...] = field(default=())


def path_only(relative: str, **options: Any) -> Entry:
    """A source read from one fixture file with ``options``."""
    return Entry(lambda _tmp: ((FIXTURES / relative,), dict(options)))


def no_args(**options: Any) -> Entry:
    return Entry(lambda _tmp: ((), dict(options)))


def _gaps(tmp: Path) -> tuple[tuple[Any, ...], dict[str, Any]]:
    path = tmp / "gaps.json"
    path.write_text(json.dumps([{"id": "ORPHA:558", "gap": 2.0}, {"id": "HP:0000545", "gap": 1.0}]))
    return (), {"gaps": path}


SOURCES: dict[str, Entry] = {
    "hpo": path_only("hpo/mini.obo"),
    "hpoa": path_only("hpo/mini.hpoa"),
    "hpo_genes": path_only("hpo/genes_to_phenotype.txt"),
    "mesh": path_only("sources/mesh_descriptors_excerpt.tsv"),
    "mesh_scr": path_only("sources/mesh_scr_excerpt.tsv"),
    "icd10": path_only("sources/icd10_v2019_excerpt.xml"),
    "icd10cm": path_only("sources/icd10c-tabular-April-1-2026-excerpt.xml"),
    "drugs": path_only("sources/drugs_excerpt.tsv", disease_mesh_ids=set()),
    "obo": path_only("obo/mondo_excerpt.obo"),
    "owl": path_only("generic/mini_hp.owl"),
    "tables": path_only(
        "generic/clinic_nodes.csv",
        edges=FIXTURES / "generic" / "clinic_edges.csv",
        name="clinic",
        version="2024-03",
        license="CC-BY-4.0",
    ),
    "sssom": path_only("mappings/marfan.sssom.tsv"),
}

# Stores are built with a folder (embedded) or the session's Neo4j server (neo4j, marked).
STORES: dict[str, Entry] = {
    "embedded": Entry(lambda tmp: ((), {"path": tmp / "graph"})),
    "neo4j": Entry(lambda _tmp: ((), {}), marks=(pytest.mark.neo4j,)),
}

# Samplers over the small graph's nodes (the MET tree columns included).
SAMPLERS: dict[str, Entry] = {
    "uniform": no_args(),
    "tree_balanced": no_args(),
    "spread": no_args(floor=2),
    "inverse_frequency": no_args(temperature=0.5),
    "rare_mixture": no_args(alpha=0.4, base="tree_balanced"),
    "target": no_args(shares={"Disease": 0.5, "Phenotype": 0.5}),
    "coverage_gap": Entry(_gaps),
}

# Question families over the synthetic graph (tests/factories/graphs.py).
FAMILIES: dict[str, Entry] = {
    name: no_args() for name in ("diagnosis", "gene", "phenotype", "category", "chain", "drug")
}

RETRIEVERS: dict[str, Entry] = {
    "bm25": no_args(),
    "dense": no_args(embedder="hashing"),
    "hybrid": no_args(dense_options={"embedder": "hashing"}),
    "graph": no_args(),
}

EMBEDDERS: dict[str, Entry] = {
    "hashing": no_args(),
    # The bundled all-MiniLM-L6-v2 (torch + a 90 MB model: slow).
    "sentence-transformers": Entry(lambda _tmp: ((), {}), marks=(pytest.mark.slow,)),
}

# ``openai`` talks to the test chat server; ``local`` runs a tiny random-init Llama (slow).
GENERATORS: dict[str, Entry] = {
    "openai": no_args(model="smollm2", timeout_s=5.0),
    "local": Entry(lambda _tmp: ((), {"threads": 1, "batch_size": 2}), marks=(pytest.mark.slow,)),
}

ENGINES: dict[str, Entry] = {
    "local": no_args(),
    "ray": Entry(lambda _tmp: ((), {}), marks=(pytest.mark.ray, pytest.mark.slow)),
}

#: kind -> (registry import path "module:attr", its entries)
KINDS: dict[str, tuple[str, dict[str, Entry]]] = {
    "source": ("medkg.kg.sources.base:SOURCES", SOURCES),
    "store": ("medkg.kg.stores.base:STORES", STORES),
    "sampler": ("medkg.synthesis.sampling.base:SAMPLERS", SAMPLERS),
    "family": ("medkg.synthesis.questions.base:FAMILIES", FAMILIES),
    "retriever": ("medkg.retrieval.base:RETRIEVERS", RETRIEVERS),
    "embedder": ("medkg.embed.embedders:EMBEDDERS", EMBEDDERS),
    "generator": ("medkg.llm.base:GENERATORS", GENERATORS),
    "engine": ("medkg.engines.base:ENGINES", ENGINES),
}


def params(kind: str) -> list[Any]:
    """``pytest.param(name, entry)`` for every entry of ``kind``, with the entry's marks."""
    return [pytest.param(name, e, id=name, marks=e.marks) for name, e in KINDS[kind][1].items()]
