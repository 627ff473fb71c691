"""One typed registry for every pluggable kind: sources, stores, samplers, question families,
retrievers, embedders, generators (and engines).

A :class:`Registry` maps a name to a class (or factory) and knows three ways a name arrives:

* **registered** — ``@REGISTRY.register("name")`` on the class, in its own module;
* **lazy** — a ``"name": "module:attr"`` table given at construction: the name is known
  (listed, validated) without importing the module, which is imported on first use — so
  ``import medkg`` stays fast and heavy backends (torch, Ray, the Neo4j driver) load only
  when asked for;
* **entry points** — a third-party package declares, in its own ``pyproject.toml``::

      [project.entry-points."medkg.sources"]
      my_source = "my_package.my_source:MySource"

  and the name appears in the registry of that kind (group ``medkg.<kind>``), read through
  :mod:`importlib.metadata` once and loaded on first use.

:meth:`Registry.build` instantiates a name with its options and checks them first: an
unknown name or option is a clear error naming the kind, the name and the valid choices.
A name claimed twice (two classes, or an entry point shadowing a built-in) is an error too.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from medkg.errors import UsageError

T = TypeVar("T")
C = TypeVar("C")


class RegistryError(UsageError):
    """An unknown name or option, or a name claimed twice; the message names kind and choices."""


class OptionError(RegistryError, TypeError):
    """Options a backend does not take (also a ``TypeError``, as a bad keyword is)."""


def accepted_options(cls: Any) -> set[str] | None:
    """Keyword options a class's ``__init__`` chain (or a factory) accepts, plus the names in
    its ``option_names``; ``None`` (not checked) when the class sets ``open_options = True``
    (it reads options its signature does not list) without listing them."""
    declared = getattr(cls, "option_names", None)
    if getattr(cls, "open_options", False) and declared is None:
        return None
    if not isinstance(cls, type):
        return {
            name
            for name, p in inspect.signature(cls).parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if klass is object or init is None:
            continue
        accepted |= {
            name
            for name, p in inspect.signature(init).parameters.items()
            if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
    return accepted | set(declared or ())


def _split_target(target: str) -> tuple[str, str]:
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise RegistryError(f"lazy target {target!r} is not 'module:attr'")
    return module, attr


# Every installed distribution's entry points by group, read once (one scan serves every kind).
_ENTRY_POINTS: dict[str, list[importlib.metadata.EntryPoint]] | None = None


def _installed_entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    global _ENTRY_POINTS
    if _ENTRY_POINTS is None:
        found = importlib.metadata.entry_points()
        _ENTRY_POINTS = {g: list(found.select(group=g)) for g in found.groups}
    return _ENTRY_POINTS.get(group, [])


class Registry(Mapping[str, T], Generic[T]):
    """Names of one kind mapped to their classes; a read-only :class:`Mapping` view.

    ``kind`` names the kind in messages ("source", "question family"); ``group`` is the
    entry-point group (default ``medkg.<kind>s`` with spaces as underscores); ``error`` is
    the exception raised for unknown names and options (a :class:`MedkgError` subclass
    whose constructor takes one message). Iterating lists names without importing anything;
    looking a name up (``reg[name]``, :meth:`get`, :meth:`build`) imports its module.
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str | None = None,
        lazy: Mapping[str, str] | None = None,
        error: Callable[[str], Exception] = RegistryError,
        option_error: Callable[[str], Exception] | None = None,
        set_key: bool = True,
    ) -> None:
        self.kind = kind
        self.group = group or "medkg." + kind.replace(" ", "_") + "s"
        self.error = error
        self.option_error = option_error or error
        self.set_key = set_key
        self._registered: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points: dict[str, importlib.metadata.EntryPoint] | None = None
        for name, target in (lazy or {}).items():
            self.add_lazy(name, target)

    # ------------------------------------------------------------------ registering
    def add_lazy(self, name: str, target: str) -> None:
        """Declare ``name`` as ``"module:attr"``, imported on first use."""
        _split_target(target)
        if name in self._lazy and self._lazy[name] != target:
            raise RegistryError(
                f"{self.kind} {name!r} is already declared as {self._lazy[name]}, not {target}"
            )
        self._lazy[name] = target

    def register(self, name: str) -> Callable[[C], C]:
        """Class decorator adding the class under ``name`` (and setting ``cls.key``).

        Registering a second, different class under a taken name is a :class:`RegistryError`;
        the class a lazy entry names may register itself under that entry's name.
        """

        def deco(obj: C) -> C:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: Any) -> None:
        """Add ``obj`` under ``name`` (the non-decorator form of :meth:`register`)."""
        taken = self._registered.get(name)
        if taken is not None and taken is not obj:
            raise RegistryError(f"{self.kind} name {name!r} is already taken by {taken!r}")
        target = self._lazy.get(name)
        if target is not None and taken is None:
            module, attr = _split_target(target)
            here = (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None))
            if here != (module, attr):
                raise RegistryError(
                    f"{self.kind} name {name!r} is reserved for {target}, not {here[0]}:{here[1]}"
                )
        if self.set_key and isinstance(obj, type):
            obj.key = name  # type: ignore[attr-defined]
        self._registered[name] = obj

    def unregister(self, name: str) -> None:
        """Forget a registered (not lazy) name — for tests that add a temporary backend."""
        self._registered.pop(name, None)

    # ------------------------------------------------------------------ entry points
    def _eps(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self._entry_points is None:
            found = {ep.name: ep for ep in _installed_entry_points(self.group)}
            self._entry_points = found
        return self._entry_points

    def reload_entry_points(self) -> None:
        """Re-read the entry points (after installing or removing a plug-in package)."""
        global _ENTRY_POINTS
        _ENTRY_POINTS = None
        self._entry_points = None

    # ------------------------------------------------------------------ looking up
    def names(self) -> list[str]:
        """Every known name (registered, lazy, entry points), sorted; imports nothing."""
        return sorted({*self._registered, *self._lazy, *self._eps()})

    def builtin_names(self) -> list[str]:
        """Names medkg itself registers (lazy table and decorators), not entry points."""
        eps = self._eps()
        return sorted(
            {*self._lazy, *(n for n in self._registered if n not in eps or n in self._lazy)}
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._registered or name in self._lazy or name in self._eps()
        )

    def __getitem__(self, name: str) -> T:
        if name in self._registered:
            return self._registered[name]
        if name in self._lazy:
            return self._resolve_lazy(name)
        ep = self._eps().get(name)
        if ep is not None:
            obj = ep.load()
            self.add(name, obj)
            return obj
        raise KeyError(name)

    def _resolve_lazy(self, name: str) -> T:
        module_name, attr = _split_target(self._lazy[name])
        module = importlib.import_module(module_name)
        if name not in self._registered:  # the module did not register itself
            self.add(name, getattr(module, attr))
        return self._registered[name]

    def get_class(self, name: str) -> T:
        """The class registered as ``name``; the registry's error lists the choices otherwise."""
        if name not in self:
            raise self.error(f"unknown {self.kind} {name!r}; choose from {self.names()}")
        ep = self._eps().get(name)
        if ep is not None and name in self._lazy and ep.value != self._lazy[name]:
            raise RegistryError(
                f"{self.kind} {name!r} is both built in ({self._lazy[name]}) and the entry "
                f"point {ep.value} of group {self.group}"
            )
        return self[name]

    def check_options(self, name: str, options: Mapping[str, Any]) -> None:
        """Raise the registry's option error for options ``name`` does not take."""
        cls = self.get_class(name)
        accepted = accepted_options(cls)
        if accepted is None:
            return
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise self.option_error(
                f"{self.kind} {name!r} does not take {unknown}; it takes {sorted(accepted)}"
            )

    def build(self, name: str, /, *args: Any, **options: Any) -> Any:
        """Instantiate ``name`` with positional ``args`` and checked keyword ``options``."""
        self.check_options(name, options)
        return self.get_class(name)(*args, **options)  # type: ignore[operator]

    def load_all(self) -> dict[str, T]:
        """Every name resolved to its class (imports every module), in name order."""
        return {name: self.get_class(name) for name in self.names()}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"


# ---------------------------------------------------------------------------- old helpers
def build_registered(
    registry: Mapping[str, Any],
    key: str,
    what: str,
    options: Mapping[str, Any],
    error: Callable[[str], Exception] = UsageError,
) -> Any:
    """Instantiate ``registry[key]`` with ``options`` (plain-dict registries; prefer
    :meth:`Registry.build`)."""
    if isinstance(registry, Registry):
        registry.check_options(key, options)
        return registry.get_class(key)(**options)
    cls = registry.get(key)
    if cls is None:
        raise UsageError(f"unknown {what} {key!r}; known: {sorted(registry)}")
    accepted = accepted_options(cls) or set(options)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise error(f"{what} {key!r} does not take {unknown}; it takes {sorted(accepted)}")
    return cls(**options)


__all__ = ["OptionError", "Registry", "RegistryError", "accepted_options", "build_registered"]
