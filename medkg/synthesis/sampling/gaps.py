"""``coverage_gap``: weights from a gaps file, so entities a dataset covers least come first.

Gaps file format (JSON), one entry per entity, either a list::

    [{"id": "ORPHA:558", "gap": 3.0}, {"id": "HP:0001166", "count": 0}, ...]

or an object keyed by id::

    {"ORPHA:558": {"gap": 3.0}, "HP:0001166": {"count": 0}}

Each entry carries exactly one measure, and the whole file uses the same one:

* ``gap`` — how uncovered the entity is (≥ 0, bigger = covered less); weight ∝ gap;
* ``count`` — how often a dataset covers it (≥ 0); gap = ``1 / (count + 1)``;
* ``score`` — a coverage score in [0, 1] (1 = fully covered); gap = ``1 - score``.

The weight is ``gap ** (1 / temperature)`` (``T < 1`` sharpens towards the biggest gaps).
Entities the file does not list are not drawn unless ``unlisted_gap`` gives them a gap.
Ids that are not nodes of the graph are counted in :attr:`unmatched_ids`; a file none of
whose ids is a node, a missing file and a malformed one are errors naming the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from medkg.synthesis.sampling.base import Sampler, SamplingError, register_sampler
from medkg.synthesis.sampling.frequency import check_temperature, counts_for_rows

MEASURES = ("gap", "count", "score")


def load_gaps(spec: str | Path | list[Any] | Mapping[str, Any]) -> pl.DataFrame:
    """Read a gaps file (or its parsed JSON) into ``id``, ``count`` (= the gap value) rows."""
    if isinstance(spec, str | Path):
        path = Path(spec)
        where = f"gaps file {path}"
        if not path.is_file():
            raise SamplingError(f"{where} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SamplingError(f"{where} is not valid JSON: {exc}") from None
    else:
        where, data = "the gaps data", spec
    if isinstance(data, Mapping):
        entries = []
        for key, value in data.items():
            if not isinstance(value, Mapping):
                raise SamplingError(f'{where}: entry {key!r} must be an object like {{"gap": 1}}')
            entries.append({"id": key, **value})
    elif isinstance(data, list):
        entries = data
    else:
        raise SamplingError(f"{where}: expected a list of entries or an object keyed by id")
    if not entries:
        raise SamplingError(f"{where} lists no entities")
    ids: list[str] = []
    gaps: list[float] = []
    used: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            raise SamplingError(f"{where}: entry {i} must be an object with a string id")
        present = [m for m in MEASURES if m in entry]
        if len(present) != 1:
            raise SamplingError(
                f"{where}: entry {i} ({entry['id']}) must have exactly one of {list(MEASURES)}"
            )
        measure = present[0]
        used.add(measure)
        value = entry[measure]
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise SamplingError(f"{where}: entry {i} ({entry['id']}): {measure} is not a number")
        if value < 0 or (measure == "score" and value > 1):
            bound = "in [0, 1]" if measure == "score" else "non-negative"
            raise SamplingError(f"{where}: entry {i} ({entry['id']}): {measure} must be {bound}")
        ids.append(entry["id"])
        gaps.append(
            float(value)
            if measure == "gap"
            else 1.0 / (value + 1.0)
            if measure == "count"
            else 1.0 - value
        )
    if len(used) > 1:
        raise SamplingError(f"{where} mixes measures {sorted(used)}; use one for the whole file")
    frame = pl.DataFrame(
        {"id": ids, "count": gaps}, schema={"id": pl.String(), "count": pl.Float64()}
    )
    dup = frame.group_by("id").len().filter(pl.col("len") > 1)
    if dup.height:
        raise SamplingError(f"{where}: id {dup.get_column('id').sort()[0]!r} is listed twice")
    return frame


@register_sampler("coverage_gap")
class CoverageGapSampler(Sampler):
    """Weight ``gap ** (1 / temperature)`` from a gaps file (see the module docstring)."""

    def __init__(
        self,
        nodes: pl.DataFrame,
        *,
        gaps: str | Path | list[Any] | Mapping[str, Any],
        temperature: float = 1.0,
        unlisted_gap: float | None = None,
        kinds: list[str] | None = None,
    ) -> None:
        super().__init__(nodes, kinds=kinds)
        self.temperature = check_temperature("coverage_gap", temperature)
        table = load_gaps(gaps)
        where = f"gaps file {gaps}" if isinstance(gaps, str | Path) else "the gaps data"
        gap, self.unmatched_ids = counts_for_rows(nodes, table, where)
        listed = nodes.select(pl.col("id").is_in(table.get_column("id").implode())).to_series()
        listed_np = listed.to_numpy().astype(bool)
        if unlisted_gap is not None:
            if not math.isfinite(unlisted_gap) or unlisted_gap < 0:
                raise SamplingError("coverage_gap: unlisted_gap must be a non-negative number")
            gap = np.where(listed_np, gap, float(unlisted_gap))
        else:
            gap = np.where(listed_np, gap, 0.0)
        self.gap = gap
        self.listed = listed_np

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            raise SamplingError(self._describe_empty(mask))
        return self._normalise(self.gap ** (1.0 / self.temperature), mask)
