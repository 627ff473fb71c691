"""Fixtures of the training tests: one torch thread, and a tiny random-init model."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.training.tiny import build_tiny_model


@pytest.fixture(autouse=True)
def one_thread() -> None:
    """Training tests run torch on one thread (the machine's two cores are shared)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a BPE tokenizer trained here (see medkg/training/tiny.py)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama") / "model")
