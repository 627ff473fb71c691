"""LLM generators behind one interface, built by registry key (``local``, ``openai``).

Importing this package is cheap: backends import torch, transformers or open sockets only
when they first generate.
"""

from medkg.llm.base import (
    GENERATORS,
    Generator,
    GeneratorError,
    GenParams,
    GenStats,
    Messages,
    build_generator,
    register_generator,
)
from medkg.llm.local import LocalGenerator, ensure_smollm2, export_gguf
from medkg.llm.openai_compat import OpenAIGenerator

__all__ = [
    "GENERATORS",
    "GenParams",
    "GenStats",
    "Generator",
    "GeneratorError",
    "LocalGenerator",
    "Messages",
    "OpenAIGenerator",
    "build_generator",
    "ensure_smollm2",
    "export_gguf",
    "register_generator",
]
