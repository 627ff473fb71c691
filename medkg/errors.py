"""One error root for medkg.

Every error medkg raises on purpose (bad input, a refused output, a store that cannot
be reached) derives from :class:`MedkgError`. The CLI prints these as one line and
exits with code 2; anything else is a bug and surfaces with its traceback.

The kinds below also derive from the builtin they replaced (``ValueError`` for bad
input, ``RuntimeError`` for an environment that fails, ``OSError`` for outputs), so
code that caught the builtin keeps working.
"""

from __future__ import annotations


class MedkgError(Exception):
    """Root of the errors medkg raises on purpose; the message names what and why."""


class UsageError(MedkgError, ValueError):
    """An option or argument is invalid; raised before any work starts."""


class InputError(MedkgError, ValueError):
    """An input file is malformed or unsafe (names the file, line or id)."""


class OutputError(MedkgError, OSError, ValueError):
    """An output could not be written or would replace something medkg did not write."""


class LockedError(MedkgError, RuntimeError):
    """Another process holds the single-writer lock of a store."""


__all__ = ["InputError", "LockedError", "MedkgError", "OutputError", "UsageError"]
