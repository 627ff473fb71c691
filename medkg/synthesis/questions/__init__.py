"""Question families, one module each, registered by name in :data:`FAMILIES`.

from medkg.synthesis.questions import make_family
fam = make_family("diagnosis", graph, n_options=5)
item_or_reject = fam.make(seed_row, np.random.default_rng(0))
"""

from __future__ import annotations

from typing import Any

from medkg.kg.index import SynthesisGraph
from medkg.synthesis.questions.base import (
    FAMILIES,
    Draft,
    QuestionFamily,
    difficulty,
    register_family,
)


def make_family(
    name: str, graph: SynthesisGraph, n_options: int = 5, **params: Any
) -> QuestionFamily:
    """Build the family registered as ``name``; an unknown name is an error naming the choices."""
    # The family checks its own parameters (``defaults()``), naming the unknown ones.
    return FAMILIES.get_class(name)(graph, n_options=n_options, **params)


__all__ = ["FAMILIES", "Draft", "QuestionFamily", "difficulty", "make_family", "register_family"]
