"""Where a GRPO stage's reward label comes from: the graph's verified key, or a pseudo-label.

A stage's ``labels`` key (see :mod:`medkg.training.recipe`) names the source::

    labels: graph            # verifiable reward: every row must carry the graph's key
    labels: {source: pseudo, margin: 0.1, min_verified: 30, use_keys: true}

* ``graph`` - the accuracy reward compares each completion with the item's **verified key**
  (:func:`verified_key`): the answer of a ``medkg synth`` row (it names its answer entity,
  ``answer_id``, and passed the graph verifier), or the ``graph_answer`` a pseudo-label row
  keeps. A dataset with a row that has no key is an error naming the file, line and id,
  raised when the recipe is loaded, before any stage trains.
* ``pseudo`` - the reward compares with the row's pseudo-label (``medkg train pseudo-label``
  writes it to ``answer`` and keeps the graph's in ``graph_answer``). With ``use_keys``
  (default) a row that has a verified key is rewarded against the key, so pseudo-labels
  only stand in for items without one. Before such a stage may run, the pseudo-labels are
  measured against the graph on the rows that carry both (the *verified sample*): their
  accuracy must exceed chance (the mean of 1 / options) by ``margin``, on at least
  ``min_verified`` rows; otherwise loading the recipe stops with the measured accuracy,
  chance and the threshold (:class:`PseudoLabelGateError`).

:func:`apply_labels` writes the chosen label into ``answer`` (what the accuracy reward
reads) and its source into ``label_source``; the pseudo-label, when there was one, stays
in ``pseudo_answer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medkg.synthesis.items import LETTERS

SOURCES = ("graph", "pseudo")
LABEL_COLUMN = "answer"


class LabelError(ValueError):
    """A stage's rows cannot give the labels its ``labels`` key asks for."""


class PseudoLabelGateError(LabelError):
    """Pseudo-labels not above chance by the recipe's margin on the verified sample."""

    def __init__(self, message: str, measured: dict[str, Any]) -> None:
        super().__init__(message)
        self.measured = measured


@dataclass(frozen=True)
class LabelSpec:
    """A stage's ``labels`` value, checked."""

    source: str
    margin: float = 0.1
    min_verified: int = 30
    use_keys: bool = True

    @classmethod
    def parse(cls, value: Any) -> LabelSpec:
        """``graph``, ``pseudo`` or a mapping with ``source`` and the pseudo options."""
        if isinstance(value, str):
            value = {"source": value}
        if not isinstance(value, Mapping):
            raise LabelError(f"labels must be 'graph', 'pseudo' or a mapping, got {value!r}")
        known = {"source", "margin", "min_verified", "use_keys"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise LabelError(f"labels does not take {unknown}; it takes {sorted(known)}")
        source = value.get("source")
        if source not in SOURCES:
            raise LabelError(f"labels source must be one of {SOURCES}, got {source!r}")
        if source == "graph" and set(value) - {"source"}:
            raise LabelError("labels 'graph' takes no options (they are the pseudo gate's)")
        spec = cls(
            source=source,
            margin=value.get("margin", 0.1),
            min_verified=value.get("min_verified", 30),
            use_keys=value.get("use_keys", True),
        )
        if isinstance(spec.margin, bool) or not isinstance(spec.margin, int | float):
            raise LabelError(f"labels margin must be a number, got {spec.margin!r}")
        if not 0 <= spec.margin < 1:
            raise LabelError(f"labels margin must be in [0, 1), got {spec.margin}")
        if isinstance(spec.min_verified, bool) or not isinstance(spec.min_verified, int):
            raise LabelError(f"labels min_verified must be an integer, got {spec.min_verified!r}")
        if spec.min_verified < 1:
            raise LabelError(f"labels min_verified must be >= 1, got {spec.min_verified}")
        if not isinstance(spec.use_keys, bool):
            raise LabelError(f"labels use_keys must be true or false, got {spec.use_keys!r}")
        return spec

    def to_dict(self) -> dict[str, Any]:
        if self.source == "graph":
            return {"source": "graph"}
        return {
            "source": self.source,
            "margin": self.margin,
            "min_verified": self.min_verified,
            "use_keys": self.use_keys,
        }


def _letter(value: Any, n: int | None) -> str | None:
    if not isinstance(value, str):
        return None
    letter = value.strip().upper()
    if len(letter) != 1 or letter not in LETTERS[: n or len(LETTERS)]:
        return None
    return letter


def option_total(row: Mapping[str, Any]) -> int | None:
    """How many options a row's item has (``letters`` or ``options``), None if unknown."""
    for col in ("letters", "options"):
        value = row.get(col)
        if isinstance(value, Sequence) and not isinstance(value, str) and value:
            return len(value)
    return None


def is_pseudo_row(row: Mapping[str, Any]) -> bool:
    """A ``medkg train pseudo-label`` row: ``answer`` is a pseudo-label."""
    return "graph_answer" in row or "pseudo_label" in row


def verified_key(row: Mapping[str, Any]) -> str | None:
    """The graph's verified answer letter of a row, or None.

    Pseudo-label rows keep it in ``graph_answer``; ``medkg synth`` rows name their answer
    entity (``answer_id``) and their ``answer`` letter is the key. A row marked
    ``key_verified: false`` (an LLM-written item) and human-labelled rows without an
    answer entity have none.
    """
    if row.get("key_verified") is False:
        return None
    n = option_total(row)
    if "graph_answer" in row:
        return _letter(row.get("graph_answer"), n)
    if "pseudo_label" in row or not row.get("answer_id"):
        return None
    return _letter(row.get(LABEL_COLUMN), n)


def pseudo_label(row: Mapping[str, Any]) -> str | None:
    """A row's pseudo-label letter (None when it is not a pseudo-label row)."""
    if not is_pseudo_row(row):
        return None
    value = row.get("pseudo_label", row.get(LABEL_COLUMN))
    return _letter(value, option_total(row))


def _where(path: Path | str, number: int, row: Mapping[str, Any]) -> str:
    rid = row.get("id")
    return f"{path}:{number}" + (f" (id {rid})" if rid else "")


def measure_pseudo(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pseudo-label accuracy against the verified keys on the rows that carry both."""
    sample = [(pseudo_label(r), verified_key(r), option_total(r)) for r in rows]
    sample = [(p, k, n) for p, k, n in sample if p is not None and k is not None]
    right = sum(p == k for p, k, _ in sample)
    chances = [1 / n for _, _, n in sample if n]
    return {
        "verified_sample": len(sample),
        "correct": right,
        "accuracy": round(right / len(sample), 4) if sample else None,
        "chance": round(sum(chances) / len(chances), 4) if chances else None,
    }


def check_rows(
    rows: Sequence[Mapping[str, Any]], spec: LabelSpec, path: Path | str = "dataset"
) -> dict[str, Any]:
    """Check that ``rows`` give the labels ``spec`` asks for; raise :class:`LabelError`
    (or :class:`PseudoLabelGateError`) when not. Returns what was measured."""
    if spec.source == "graph":
        missing = [(i, r) for i, r in enumerate(rows, 1) if verified_key(r) is None]
        if missing:
            first = "; ".join(_where(path, i, r) for i, r in missing[:3])
            raise LabelError(
                f"labels 'graph': {len(missing)} of {len(rows)} rows have no verified graph "
                f"key for a graph-keyed reward (first: {first}); give `medkg synth` items (or "
                "a pseudo-label folder, which keeps graph_answer), or use labels: pseudo"
            )
        return {"source": "graph", "rows": len(rows), "keyed": len(rows)}
    unlabelled = [
        (i, r) for i, r in enumerate(rows, 1) if pseudo_label(r) is None and verified_key(r) is None
    ]
    if unlabelled:
        first = "; ".join(_where(path, i, r) for i, r in unlabelled[:3])
        raise LabelError(
            f"labels 'pseudo': {len(unlabelled)} of {len(rows)} rows have neither a "
            f"pseudo-label nor a verified key (first: {first}); label them with "
            "`medkg train pseudo-label`"
        )
    m = measure_pseudo(rows)
    threshold = None if m["chance"] is None else round(m["chance"] + spec.margin, 4)
    measured = {"source": "pseudo", "rows": len(rows), **m, "margin": spec.margin,
                "threshold": threshold}  # fmt: skip
    if m["verified_sample"] < spec.min_verified:
        raise PseudoLabelGateError(
            f"labels 'pseudo': only {m['verified_sample']} rows carry both a pseudo-label and "
            f"a verified graph key, fewer than the recipe's min_verified {spec.min_verified}: "
            "pseudo-label accuracy cannot be measured, so the stage does not run",
            measured,
        )
    if threshold is not None and m["accuracy"] <= threshold:
        raise PseudoLabelGateError(
            f"labels 'pseudo': pseudo-labels are right on {m['accuracy']:.3f} of "
            f"{m['verified_sample']} items with a verified graph key (chance {m['chance']:.3f}); "
            f"the recipe's gate needs more than chance + margin {spec.margin:g} = "
            f"{threshold:.3f}: stopping before any training. Label with stronger experts "
            "(`medkg train pseudo-label --expert ... --agree-with-graph`) or train on the "
            "graph's keys (labels: graph)",
            measured,
        )
    return measured


def apply_labels(rows: Sequence[Mapping[str, Any]], spec: LabelSpec) -> list[dict[str, Any]]:
    """Rows with ``answer`` set to the reward label and ``label_source`` to its source."""
    out = []
    for row in rows:
        new = dict(row)
        key, pseudo = verified_key(row), pseudo_label(row)
        if pseudo is not None:
            new["pseudo_answer"] = pseudo
        if spec.source == "graph" or (spec.use_keys and key is not None) or pseudo is None:
            new[LABEL_COLUMN], new["label_source"] = key, "graph"
        else:
            new[LABEL_COLUMN], new["label_source"] = pseudo, "pseudo"
        out.append(new)
    return out


__all__ = [
    "LABEL_COLUMN",
    "SOURCES",
    "LabelError",
    "LabelSpec",
    "PseudoLabelGateError",
    "apply_labels",
    "check_rows",
    "is_pseudo_row",
    "measure_pseudo",
    "option_total",
    "pseudo_label",
    "verified_key",
]
