"""Coverage of datasets against the entity tree: linking, audits and AMCS.

Importing this package is cheap: torch and sentence-transformers load when an embedder
(:mod:`medkg.embed`) first embeds, faiss when the approximate AMCS mode first runs.
"""

from medkg.coverage.amcs import (
    AMCS_MODES,
    AmcsError,
    AmcsResult,
    HnswParams,
    amcs,
    amcs_approx,
    compute_amcs,
)

__all__ = [
    "AMCS_MODES",
    "AmcsError",
    "AmcsResult",
    "HnswParams",
    "amcs",
    "amcs_approx",
    "compute_amcs",
]
