"""Question families, one module each, chosen by name from :data:`FAMILIES`.

from medkg.synthesis.questions import make_family
fam = make_family("diagnosis", graph, n_options=5)
item_or_reject = fam.make(seed_row, np.random.default_rng(0))
"""

from __future__ import annotations

from typing import Any

from medkg.errors import UsageError
from medkg.kg.index import SynthesisGraph
from medkg.synthesis.questions.base import Draft, QuestionFamily, difficulty
from medkg.synthesis.questions.category import CategoryFamily
from medkg.synthesis.questions.chain import ChainFamily
from medkg.synthesis.questions.diagnosis import DiagnosisFamily
from medkg.synthesis.questions.drug import DrugFamily
from medkg.synthesis.questions.gene import GeneFamily
from medkg.synthesis.questions.phenotype import PhenotypeFamily

FAMILIES: dict[str, type[QuestionFamily]] = {
    cls.name: cls
    for cls in (
        DiagnosisFamily,
        GeneFamily,
        PhenotypeFamily,
        CategoryFamily,
        ChainFamily,
        DrugFamily,
    )
}


def make_family(
    name: str, graph: SynthesisGraph, n_options: int = 5, **params: Any
) -> QuestionFamily:
    """Build the family registered as ``name``; an unknown name is an error naming the choices."""
    try:
        cls = FAMILIES[name]
    except KeyError:
        raise UsageError(
            f"unknown question family {name!r}; choose from {sorted(FAMILIES)}"
        ) from None
    return cls(graph, n_options=n_options, **params)


__all__ = ["FAMILIES", "Draft", "QuestionFamily", "difficulty", "make_family"]
