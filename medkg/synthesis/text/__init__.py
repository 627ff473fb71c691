"""Deprecated import path: use :mod:`medkg.text.names` (moved there; removed after this release).

At run time this name *is* medkg.text.names (same module object, private names and monkeypatching
included), so code written before the move keeps working. A package rather than a
module file, so that git records the original file as renamed and merges follow it.
"""

import importlib
import sys

from medkg.text.names import *  # noqa: F403  (for type checkers)

sys.modules[__name__] = importlib.import_module("medkg.text.names")
