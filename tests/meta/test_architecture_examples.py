"""The worked examples of docs/architecture.md, run: each example file is written into a
throw-away package, installed with the entry points the doc shows, found through the
registry and checked by the conformance contract of its kind. An example that stops
working fails here, so the doc cannot rot."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from medkg.errors import MedkgError
from medkg.kg.build import resolve_source_keys
from medkg.kg.sources.base import SOURCES
from medkg.retrieval.base import RETRIEVERS
from medkg.synthesis import verify
from medkg.synthesis.pipeline import SynthConfig, synthesize
from medkg.synthesis.questions.base import FAMILIES
from tests.factories.contracts import check_family, check_retriever, check_source
from tests.factories.graphs import synthetic_kg
from tests.factories.plugins import plugin_installed

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)```", re.S)
ENTRY_POINTS = re.compile(r"<!-- entry-points -->\n```toml\n(.*?)```", re.S)


def examples() -> dict[str, tuple[str, dict[str, dict[str, str]]]]:
    """file name -> (its code, the entry points shown after it)."""
    text = DOC.read_text(encoding="utf-8")
    files = EXAMPLE.findall(text)
    tomls = [tomllib.loads(t)["project"]["entry-points"] for t in ENTRY_POINTS.findall(text)]
    assert len(files) == len(tomls) == 3
    return {name: (code, eps) for (name, code), eps in zip(files, tomls, strict=True)}


def installed(tmp_path: Path, name: str, registry: Any) -> Any:
    code, entry_points = examples()[name]
    return plugin_installed(
        tmp_path / "site", "medkg_example", {name: code}, entry_points, [registry]
    )


def test_the_source_example_loads_and_reports_bad_lines(tmp_path: Path) -> None:
    tsv = tmp_path / "rare.tsv"
    tsv.write_text("ORPHA:558\tMarfan syndrome\nORPHA:284963\tCoffin-Siris syndrome\n")
    with installed(tmp_path, "rare_list.py", SOURCES):
        kg = check_source("rare_list", (tsv,), {"version": "2026-01"})
        assert kg.nodes.get_column("id").to_list() == ["ORPHA:558", "ORPHA:284963"]
        assert kg.source_versions() == {"RareList": "2026-01"}
        assert "rare_list" in resolve_source_keys(["+rare_list"])
        bad = tmp_path / "bad.tsv"
        bad.write_text("ORPHA:558\tMarfan syndrome\nORPHA:1\n")
        with pytest.raises(MedkgError, match=r"bad.tsv:2: expected 'id<TAB>name'"):
            SOURCES.build("rare_list", bad).load()
    assert "rare_list" not in SOURCES


def test_the_family_example_makes_verified_items_in_a_run(tmp_path: Path) -> None:
    try:
        with installed(tmp_path, "phenotype_parent.py", FAMILIES):
            made = check_family("phenotype_parent", (), {})
            assert all(i.template == "phenotype_parent.v1" for i in made)
            result = synthesize(
                synthetic_kg(),
                SynthConfig(n=8, seed=3, families=["phenotype_parent"], rare_share=None),
            )
            assert len(result.items) == 8
            assert {i.family for i in result.items} == {"phenotype_parent"}
    finally:  # the check registered beside the family goes with it
        verify.FAMILY_CHECKS.pop("phenotype_parent", None)
        verify.CLASS_OPTION_FAMILIES.discard("phenotype_parent")
    assert "phenotype_parent" not in FAMILIES


def test_the_retriever_example_indexes_searches_and_reloads(tmp_path: Path) -> None:
    with installed(tmp_path, "title_words.py", RETRIEVERS):
        check_retriever("title_words", (), {}, tmp_path)
    assert "title_words" not in RETRIEVERS


def test_the_plug_in_table_names_each_registry_and_its_group() -> None:
    rows = re.findall(r"^\| [a-z ]+ \| `([\w.]+)\.(\w+)` \| `@(\w+)` \| `([\w.]+)` \|$",
                      DOC.read_text(encoding="utf-8"), re.M)  # fmt: skip
    assert len(rows) == 7
    for module, attr, decorator, group in rows:
        namespace = vars(importlib.import_module(module))
        assert namespace[attr].group == group
        assert callable(namespace[decorator])
