"""The one progress protocol of medkg's long steps.

A library function that takes a while accepts ``progress: Progress | None`` and calls
``progress(stage, done, total)`` as work completes: ``stage`` names the step (``"embed"``,
``"generate"``, ``"link"``, a store's save step, ...), ``done`` counts finished units and
``total`` is how many there are, ``None`` when unknown (a step reported by its name only,
such as starting a server). Rendering is the caller's business: the CLI draws rich bars
(:func:`medkg.cli.common.progress_bars`); library code never imports rich.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``progress(stage, done, total)``; see the module docstring."""

    def __call__(self, stage: str, done: int, total: int | None, /) -> None: ...


__all__ = ["Progress"]
