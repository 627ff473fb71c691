"""The deprecated import paths left behind by the layer moves are the moved modules."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    ("medkg.synthesis.graphview", "medkg.kg.index"),
    ("medkg.coverage.embed", "medkg.embed.embedders"),
    ("medkg.coverage.textnorm", "medkg.text.fold"),
    ("medkg.synthesis.text", "medkg.text.names"),
    ("medkg.coverage.datasets", "medkg.io"),
    ("medkg.training.generators.base", "medkg.llm.base"),
    ("medkg.training.generators.local", "medkg.llm.local"),
    ("medkg.training.generators.openai_compat", "medkg.llm.openai_compat"),
]


@pytest.mark.parametrize(("old", "new"), MOVED)
def test_old_path_is_the_moved_module(old: str, new: str) -> None:
    # the same object, not a copy: a second copy would register its classes twice and
    # break isinstance checks and monkeypatching
    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_generators_package_reexports_the_llm_package() -> None:
    old = importlib.import_module("medkg.training.generators")
    new = importlib.import_module("medkg.llm")
    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name)
