"""Install a throw-away plug-in package the way pip would: its modules plus a ``.dist-info``
folder whose ``entry_points.txt`` names what it registers; importlib.metadata finds it on
``sys.path`` like any installed distribution."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from medkg.registry import Registry


def write_distribution(
    site: Path,
    package: str,
    files: Mapping[str, str],
    entry_points: Mapping[str, Mapping[str, str]],
) -> None:
    """``site/<package>/<file>`` for each file, and ``site/<package>-0.1.dist-info``."""
    pkg = site / package
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    dist = site / f"{package}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in names.items())
            for group, names in entry_points.items()
        ),
        encoding="utf-8",
    )


@contextmanager
def plugin_installed(
    site: Path,
    package: str,
    files: Mapping[str, str],
    entry_points: Mapping[str, Mapping[str, str]],
    registries: list[Registry[Any]],
) -> Iterator[None]:
    """The plug-in is importable and its entry points are read for the ``with`` block; then
    it is gone again: path, modules, registered names and cached entry points."""
    write_distribution(site, package, files, entry_points)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    for registry in registries:
        registry.reload_entry_points()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[module]
        for registry in registries:
            for name in entry_points.get(registry.group, {}):
                obj = registry._registered.get(name)
                if getattr(obj, "__module__", "").startswith(package + "."):
                    registry.unregister(name)
            registry.reload_entry_points()
        importlib.invalidate_caches()
