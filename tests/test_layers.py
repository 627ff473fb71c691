"""The package layers of medkg (docs/architecture.md), checked on the source.

Every ``import`` of a medkg module anywhere in a file (top level, inside functions, under
``TYPE_CHECKING``) must point to the same package, a lower layer, or a package of the
same layer that the layer allows (only the foundation modules may use each other).
Nothing imports a ``_private`` name from another module, and only the interfaces
(``cli``, ``ui``) import rich or tqdm.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "medkg"

FOUNDATION = {"medkg", "errors", "config", "registry", "outputs", "io", "text", "progress",
              "redact", "xmlsafe", "apportion", "processes"}  # fmt: skip

# bottom -> top; a package may import its own layer only where ``sideways`` is True. This
# refines the picture of docs/architecture.md: infrastructure (foundation + services) < kg
# < stages < cli/ui, with no imports between stages except from training, the last one.
LAYERS: list[tuple[str, frozenset[str], bool]] = [
    ("foundation", frozenset(FOUNDATION), True),
    # engines run shard tasks and know nothing of what runs: the embedder spreads its cache
    # misses over them, so they sit below the other services
    ("engines", frozenset({"engines"}), False),
    ("services", frozenset({"llm", "embed"}), False),
    ("graph", frozenset({"kg"}), False),
    ("stages", frozenset({"synthesis", "coverage", "retrieval"}), False),
    ("consumers", frozenset({"training"}), False),  # reads datasets, uses the linker
    ("ui", frozenset({"ui"}), False),
    ("cli", frozenset({"cli"}), False),
]
RICH_ALLOWED = frozenset({"cli", "ui"})
# Modules moved down by the layering (#16), by their old path; the old paths are gone (no
# alias re-exports), so each module has one name to import it by.
MOVED: dict[str, tuple[str, str]] = {
    "medkg.synthesis.graphview": ("medkg.kg.index", "SynthesisGraph"),
    "medkg.coverage.embed": ("medkg.embed.embedders", "HashingEmbedder"),
    "medkg.coverage.textnorm": ("medkg.text.fold", "fold"),
    "medkg.synthesis.text": ("medkg.text.names", "names_in"),
    "medkg.coverage.datasets": ("medkg.io", "read_items"),
    "medkg.training.generators": ("medkg.llm", "build_generator"),
    "medkg.training.generators.base": ("medkg.llm.base", "Generator"),
    "medkg.training.generators.local": ("medkg.llm.local", "LocalGenerator"),
    "medkg.training.generators.openai_compat": ("medkg.llm.openai_compat", "OpenAIGenerator"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the imported module
    names: tuple[str, ...]  # names taken from it (``from x import a, b``)
    where: str  # file:line


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package(module: str) -> str:
    """The top-level package of a medkg module (``medkg`` for ``medkg/__init__.py``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path) -> list[Import]:
    rel = str(path.relative_to(ROOT.parent))
    return parse_imports(
        path.read_text(encoding="utf-8"),
        module_name(path),
        rel,
        is_package=path.name == "__init__.py",
    )


def parse_imports(
    source: str, module: str, filename: str, is_package: bool = False
) -> list[Import]:
    """Every import statement of ``source``, the source of ``module``."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, (), where) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(Import(module, target, tuple(a.name for a in node.names), where))
    return found


def all_imports() -> list[Import]:
    out: list[Import] = []
    for path in sorted(ROOT.rglob("*.py")):
        out += imports_of(path)
    return out


def layer_of(pkg: str) -> tuple[int, bool]:
    for i, (_, members, sideways) in enumerate(LAYERS):
        if pkg in members:
            return i, sideways
    raise AssertionError(f"package medkg.{pkg} is in no layer of tests/test_layers.py")


def layer_violations(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        if imp.target != "medkg" and not imp.target.startswith("medkg."):
            continue
        src, dst = package(imp.module), package(imp.target)
        if src == dst:
            continue
        (ls, sideways), (ld, _) = layer_of(src), layer_of(dst)
        if ld > ls or (ld == ls and not sideways):
            what = "upward" if ld > ls else "sideways"
            bad.append(
                f"{imp.where}: {what} import of {imp.target} ({LAYERS[ls][0]} -> {LAYERS[ld][0]})"
            )
    return bad


def private_violations(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        if not imp.target.startswith("medkg") or imp.target == imp.module:
            continue
        hidden = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
        hidden += [p for p in imp.target.split(".") if p.startswith("_") and p != "__init__"]
        if hidden:
            bad.append(f"{imp.where}: private {', '.join(hidden)} from {imp.target}")
    return bad


def rich_violations(imports: list[Import]) -> list[str]:
    """rich (and tqdm) draw on the terminal: the interfaces' business. Library code reports
    through :class:`medkg.progress.Progress` and logging."""
    return [
        f"{imp.where}: {imp.target} imported outside cli/ui"
        for imp in imports
        if imp.target.split(".")[0] in ("rich", "tqdm") and package(imp.module) not in RICH_ALLOWED
    ]


def test_every_package_is_in_a_layer() -> None:
    for path in ROOT.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        if (path.suffix == ".py" and name != "__init__") or (path / "__init__.py").is_file():
            layer_of(name)


def test_no_upward_or_sideways_imports() -> None:
    assert layer_violations(all_imports()) == []


def test_no_private_names_imported_from_other_modules() -> None:
    assert private_violations(all_imports()) == []


def test_rich_only_in_the_interfaces() -> None:
    assert rich_violations(all_imports()) == []


# The checks themselves, on small made-up sources: each must flag what it is for.
@pytest.mark.parametrize(
    ("module", "source", "check", "flagged"),
    [
        ("medkg.kg.model", "from medkg.synthesis.items import QAItem", layer_violations, True),
        ("medkg.coverage.pipeline", "import medkg.synthesis.inspect", layer_violations, True),
        ("medkg.training.dpo", "from medkg.synthesis.items import QAItem", layer_violations, False),
        ("medkg.kg.model", "from medkg.errors import MedkgError", layer_violations, False),
        ("medkg.errors", "from medkg.kg.model import X", layer_violations, True),
        ("medkg.llm.base", "from medkg.kg.model import X", layer_violations, True),
        ("medkg.kg.index", "from medkg.embed import build_embedder", layer_violations, False),
        ("medkg.retrieval.dense", "from medkg.training import x", layer_violations, True),
        ("medkg.cli.run", "from medkg.cli.kg import _print_stats", private_violations, True),
        ("medkg.kg.build", "from medkg.kg.build import _x", private_violations, False),
        ("medkg.kg.build", "from medkg.io import read_items", private_violations, False),
        ("medkg.coverage.report", "from rich.table import Table", rich_violations, True),
        ("medkg.cli.kg", "from rich.table import Table", rich_violations, False),
        ("medkg.training.evaluate", "from tqdm import tqdm", rich_violations, True),
    ],
)
def test_checks_flag_what_they_should(
    module: str, source: str, check: Callable[[list[Import]], list[str]], flagged: bool
) -> None:
    assert bool(check(parse_imports(source, module, "made-up.py"))) is flagged


def test_importing_the_library_loads_no_terminal_ui() -> None:
    """At run time too: every library module imports without rich or tqdm (a dependency
    pulling them in at import would defeat the rule above)."""
    import subprocess
    import sys

    code = (
        "import importlib, pathlib, sys\n"
        f"root = pathlib.Path({str(ROOT)!r})\n"
        "for p in sorted(root.rglob('*.py')):\n"
        "    parts = p.relative_to(root.parent).with_suffix('').parts\n"
        "    if parts[1:2] in (('cli',), ('ui',)):\n"
        "        continue\n"
        "    name = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('rich', 'tqdm') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT.parent)  # fmt: skip
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("old", "new", "name"), [(o, n, a) for o, (n, a) in MOVED.items()])
def test_moved_modules_have_only_their_new_path(old: str, new: str, name: str) -> None:
    """The name is importable from the new module and not from the old path. (A stale
    ``__pycache__`` folder can leave the old path importable as an empty namespace package,
    so the check is on the name, not on the module.)"""
    import importlib

    assert hasattr(importlib.import_module(new), name)
    with pytest.raises(ImportError):
        exec(f"from {old} import {name}", {})
