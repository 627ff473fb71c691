"""medkg: a knowledge-graph-centric data engine for medical AI."""

__version__ = "0.1.0"
