"""Shared registry plumbing: build a registered backend from its key and its own options."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from medkg.errors import UsageError

T = TypeVar("T")
C = TypeVar("C", bound=type)


def accepted_options(cls: type) -> set[str]:
    """Keyword options a class's ``__init__`` chain accepts (for clear errors on typos)."""
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
    return accepted


def build_registered(
    registry: Mapping[str, type[T]],
    key: str,
    what: str,
    options: Mapping[str, Any],
    error: type[Exception] = UsageError,
) -> T:
    """Instantiate ``registry[key]`` with ``options``; unknown keys or options raise ``error``
    (unknown keys always UsageError) naming what is known."""
    cls = registry.get(key)
    if cls is None:
        raise UsageError(f"unknown {what} {key!r}; known: {sorted(registry)}")
    accepted = accepted_options(cls)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise error(f"{what} {key!r} does not take {unknown}; it takes {sorted(accepted)}")
    return cls(**options)


def registrar(registry: dict[str, Any], what: str) -> Callable[[str], Callable[[C], C]]:
    """A class decorator factory: ``@register(key)`` adds a backend to ``registry`` and sets
    ``cls.key``; a key taken by another class is an error."""

    def register(key: str) -> Callable[[C], C]:
        def deco(cls: C) -> C:
            if key in registry and registry[key] is not cls:
                raise UsageError(f"{what} key {key!r} is already taken by {registry[key]}")
            cls.key = key  # type: ignore[attr-defined]
            registry[key] = cls
            return cls

        return deco

    return register
