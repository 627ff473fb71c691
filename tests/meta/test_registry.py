"""The typed registry: duplicate and option checks, lazy modules, entry points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medkg.engines import ENGINES, build_engine
from medkg.errors import MedkgError
from medkg.registry import Registry, RegistryError
from tests.factories.engines import SquareTask
from tests.factories.plugins import plugin_installed

INLINE_ENGINE = '''
from medkg.engines.base import Engine


class InlineEngine(Engine):
    """Runs shards one after the other in this process."""

    def _map(self, task, shards, progress):
        task.setup()
        return [task.run(s) for s in shards]
'''


class Alpha:
    def __init__(self, *, size: int = 1) -> None:
        self.size = size


class Beta:
    pass


def test_a_name_taken_by_another_class_is_an_error() -> None:
    reg: Registry[type] = Registry("widget")
    reg.register("a")(Alpha)
    reg.register("a")(Alpha)  # the same class again is harmless (a module re-imported)
    with pytest.raises(RegistryError, match=r"widget name 'a' is already taken"):
        reg.register("a")(Beta)
    assert reg["a"] is Alpha and Alpha.key == "a"  # type: ignore[attr-defined]


def test_a_lazy_name_is_reserved_for_its_target() -> None:
    reg: Registry[type] = Registry("widget", lazy={"a": "tests.meta.test_registry:Alpha"})
    with pytest.raises(RegistryError, match=r"reserved for tests.meta.test_registry:Alpha"):
        reg.register("a")(Beta)
    assert reg.get_class("a") is Alpha


def test_unknown_names_and_options_name_the_kind_the_name_and_the_choices() -> None:
    reg: Registry[type] = Registry("widget", group="test.widgets")
    reg.register("a")(Alpha)
    with pytest.raises(RegistryError, match=r"unknown widget 'b'; choose from \['a'\]"):
        reg.build("b")
    with pytest.raises(
        RegistryError, match=r"widget 'a' does not take \['colour'\]; it takes \['size'\]"
    ) as info:
        reg.build("a", colour="red")
    assert isinstance(info.value, MedkgError)
    assert reg.build("a", size=3).size == 3


@pytest.mark.parametrize(
    ("module", "call", "error", "message"),
    [
        ("medkg.retrieval.base", "build_retriever('bm25', nonsense=1)", "RetrievalError",
         r"retriever 'bm25' does not take \['nonsense'\]; it takes \[.*'k1'"),
        ("medkg.kg.stores.base", "open_store('embedded', uri='x')", "StoreError",
         r"store 'embedded' does not take \['uri'\]; it takes \['path'\]"),
        ("medkg.kg.stores.base", "open_store('mongo')", "StoreError",
         r"unknown store 'mongo'; choose from \['embedded', 'neo4j'\]"),
        ("medkg.synthesis.sampling.base", "sampler_class('zipf')", "SamplingError",
         r"unknown sampling strategy 'zipf'; choose from \[.*'uniform'\]"),
        ("medkg.embed", "build_embedder('hashing', model_path='x')", "OptionError",
         r"embedder 'hashing' does not take \['model_path'\]"),
        # A misspelt source option used to be ignored (and the bundled MeSH loaded).
        ("medkg.kg.build", "load_sources(['mesh'], options={'mesh': {'trust_pikle': True}})",
         "SourceError", r"source 'mesh' does not take \['trust_pikle'\]; it takes \['path', "
         r"'trust_pickle', 'verify_ids', 'version'\]"),
    ],
)  # fmt: skip
def test_real_registries_report_bad_names_and_options(
    module: str, call: str, error: str, message: str
) -> None:
    import importlib

    namespace = vars(importlib.import_module(module))
    with pytest.raises(MedkgError, match=message) as info:
        eval(call, dict(namespace))
    assert type(info.value).__name__ == error


def test_listing_names_imports_no_backend() -> None:
    """Names are known from the lazy tables: the Neo4j driver, torch and Ray stay unloaded
    until a backend is asked for."""
    script = (
        "import sys\n"
        "from medkg.kg.stores.base import STORES\n"
        "from medkg.engines.base import ENGINES\n"
        "from medkg.llm.base import GENERATORS\n"
        "from medkg.kg.sources.base import SOURCES\n"
        "assert STORES.names() == ['embedded', 'neo4j'], STORES.names()\n"
        "assert 'ray' in ENGINES and 'local' in GENERATORS and 'mesh' in SOURCES\n"
        "heavy = ['medkg.kg.stores.neo4j', 'neo4j', 'ray', 'torch', 'medkg.kg.sources.mesh']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "STORES['neo4j']\n"
        "print('medkg.kg.stores.neo4j' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


def test_an_entry_point_adds_a_backend_without_touching_medkg(tmp_path: Path) -> None:
    with plugin_installed(
        tmp_path / "site",
        "medkg_inline",
        {"engine.py": INLINE_ENGINE},
        {"medkg.engines": {"inline": "medkg_inline.engine:InlineEngine"}},
        [ENGINES],
    ):
        assert "inline" in ENGINES.names() and "inline" not in ENGINES.builtin_names()
        engine = build_engine("inline")
        assert engine.key == "inline"
        assert engine.map(SquareTask(), [2, 3]) == [4, 9]
    assert "inline" not in ENGINES


def test_an_entry_point_cannot_shadow_a_built_in_name(tmp_path: Path) -> None:
    with (
        plugin_installed(
            tmp_path / "site",
            "medkg_shadow",
            {"engine.py": INLINE_ENGINE},
            {"medkg.engines": {"local": "medkg_shadow.engine:InlineEngine"}},
            [ENGINES],
        ),
        pytest.raises(RegistryError, match=r"engine 'local' is both built in"),
    ):
        build_engine("local")
    assert build_engine("local").key == "local"
