"""``inverse_frequency``: rarely seen entities first, with a temperature.

Weight of a row: ``(count + 1) ** (-1 / T)``. ``T = 1`` is plain inverse frequency;
smaller ``T`` sharpens towards the least-counted rows (``T → 0``: only the minimum
count is drawn); larger ``T`` flattens towards uniform (``T → ∞``). So the preference for
low counts is strongest at small ``T`` and fades as ``T`` grows — the usual meaning of a
sampling temperature.

Counts: the nodes frame's ``annotation_degree`` by default (the long-tail signal of the
MET), another numeric column (``column=``), or a counts table (``counts=``) such as a
coverage audit of an existing dataset: a polars frame with ``id`` and ``count`` columns,
a CSV/TSV file with those header names, or JSON — ``{"ID": count, ...}`` or a list of
``{"id": ..., "count": ...}``. Rows missing from a counts table count 0 (never seen);
ids in the table that are not rows are counted in :attr:`unmatched_ids`.
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

CountsSpec = pl.DataFrame | str | Path | Mapping[str, float]


def check_temperature(key: str, temperature: float) -> float:
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise SamplingError(f"{key}: temperature must be a positive finite number, got {t}")
    return t


def load_counts(spec: CountsSpec) -> pl.DataFrame:
    """A counts table (``id``: str, ``count``: float) from a frame, a mapping or a file."""
    if isinstance(spec, pl.DataFrame):
        return _check_counts(spec, "the counts frame")
    if isinstance(spec, Mapping):
        return _counts_from_json(spec, "the counts mapping")
    path = Path(spec)
    if not path.is_file():
        raise SamplingError(f"counts file {path} does not exist")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SamplingError(f"counts file {path} is not valid JSON: {exc}") from None
        return _counts_from_json(data, f"counts file {path}")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pl.read_csv(path, separator=sep, infer_schema_length=10000)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise SamplingError(f"counts file {path} could not be read as CSV: {exc}") from None
    return _check_counts(frame, f"counts file {path}")


def _counts_from_json(data: Any, where: str) -> pl.DataFrame:
    if isinstance(data, Mapping):
        ids, values = list(data.keys()), list(data.values())
    elif isinstance(data, list):
        ids, values = [], []
        for i, entry in enumerate(data):
            if not isinstance(entry, Mapping) or "id" not in entry or "count" not in entry:
                raise SamplingError(f"{where}: entry {i} must be an object with id and count")
            ids.append(entry["id"])
            values.append(entry["count"])
    else:
        raise SamplingError(f"{where}: expected an object {{id: count}} or a list of entries")
    bad = [i for i, v in zip(ids, values, strict=True) if not _is_number(v)]
    if bad:
        raise SamplingError(f"{where}: count of {bad[0]!r} is not a number")
    frame = pl.DataFrame(
        {"id": [str(i) for i in ids], "count": [float(v) for v in values]},
        schema={"id": pl.String(), "count": pl.Float64()},
    )
    return _check_counts(frame, where)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_counts(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    missing = [c for c in ("id", "count") if c not in frame.columns]
    if missing:
        raise SamplingError(f"{where} needs columns id and count (missing {missing})")
    try:
        out = frame.select(pl.col("id").cast(pl.String), pl.col("count").cast(pl.Float64))
    except pl.exceptions.PolarsError:
        raise SamplingError(f"{where}: the count column must be numeric") from None
    if out.get_column("id").null_count() or out.get_column("count").null_count():
        raise SamplingError(f"{where}: empty id or count cells")
    if (out.get_column("count") < 0).any() or not out.get_column("count").is_finite().all():
        raise SamplingError(f"{where}: counts must be finite and non-negative")
    dup = out.group_by("id").len().filter(pl.col("len") > 1)
    if dup.height:
        raise SamplingError(f"{where}: id {dup.get_column('id').sort()[0]!r} is listed twice")
    return out


def counts_for_rows(
    nodes: pl.DataFrame, counts: pl.DataFrame, where: str
) -> tuple[np.ndarray, int]:
    """Counts aligned to the rows of ``nodes`` (0 where absent), and how many ids matched none."""
    joined = nodes.select("id").join(counts, on="id", how="left", maintain_order="left")
    matched = joined.get_column("count").is_not_null().sum()
    unmatched = counts.height - int(matched)
    if counts.height and matched == 0:
        raise SamplingError(f"{where}: none of its {counts.height} id(s) is a node of the graph")
    return joined.get_column("count").fill_null(0.0).to_numpy().astype(np.float64), unmatched


@register_sampler("inverse_frequency")
class InverseFrequencySampler(Sampler):
    """Weight ``(count + 1) ** (-1 / temperature)`` over a frequency table."""

    def __init__(
        self,
        nodes: pl.DataFrame,
        *,
        temperature: float = 1.0,
        counts: CountsSpec | None = None,
        column: str = "annotation_degree",
        kinds: list[str] | None = None,
    ) -> None:
        super().__init__(nodes, kinds=kinds)
        self.temperature = check_temperature("inverse_frequency", temperature)
        self.unmatched_ids = 0
        if counts is not None:
            table = load_counts(counts)
            self.counts, self.unmatched_ids = counts_for_rows(nodes, table, "the counts table")
        else:
            if column not in nodes.columns:
                raise SamplingError(f"inverse_frequency: the nodes frame has no column {column!r}")
            col = nodes.get_column(column)
            if not col.dtype.is_numeric():
                raise SamplingError(f"inverse_frequency: column {column!r} is not numeric")
            self.counts = col.fill_null(0).cast(pl.Float64).to_numpy().astype(np.float64)
            if (self.counts < 0).any():
                raise SamplingError(f"inverse_frequency: column {column!r} has negative counts")

    def _probabilities(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            raise SamplingError(self._describe_empty(mask))
        # Log space, shifted by the largest drawable log-weight: small T never underflows
        # every weight to zero.
        logw = -np.log1p(self.counts) / self.temperature
        logw = np.where(mask, logw, -np.inf)
        return self._normalise(np.exp(logw - logw[mask].max()), mask)
