"""Deprecated import path: use :mod:`medkg.llm.openai_compat` (moved there; removed after this release).

At run time this name *is* medkg.llm.openai_compat (same module object, private names and monkeypatching
included), so code written before the move keeps working. A package rather than a
module file, so that git records the original file as renamed and merges follow it.
"""

import importlib
import sys

from medkg.llm.openai_compat import *  # noqa: F403  (for type checkers)

sys.modules[__name__] = importlib.import_module("medkg.llm.openai_compat")
