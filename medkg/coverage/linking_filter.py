"""A learned mention filter: drop linker mentions an annotated corpus would not keep.

The dictionary linker proposes every span a form of the graph matches; annotators keep
some and not others by conventions a rule list does not capture well ("tumour" in
"tumour suppressor gene" is no disease mention; "combined" is a MeSH entry term of
Multiple Carboxylase Deficiency but rarely means it). :class:`MentionFilter` is a
logistic regression over transparent features of each candidate mention
(:func:`mention_features`: linking method, id prefix, rank of the matched form, span
shape and case, the neighbouring words, repetition in the text) whose weights are shipped
as package data (``data/mention_filter.json``) together with the script that fits them
(``scripts/fit_mention_filter.py``: supervised learning on the *look* half of the NCBI
disease corpus development set only, cross-validated by document within that half).

The filter only judges mentions of the kinds it was fitted on (``kinds`` in the JSON:
Disease); other kinds pass unchanged. Applying it is a dot product per mention (no
scikit-learn at link time).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from medkg.errors import MedkgError

FILE = "mention_filter.json"

# form ranks of medkg.coverage.surfaces (name, EXACT synonym, other synonym, MONDO/DOID
# evidence, variant, composed)
RANK_NAMES = ("name", "exact_syn", "other_syn", "evidence", "variant", "composed")
_PREFIXES = ("MESH_D", "MESH_C", "OMIM", "ORPHA")
_METHODS = ("exact", "rule", "composite", "abbreviation", "abbreviation_list")
# words after a span that make it part of a gene or protein name, not a disease mention
_GENE_WORDS = frozenset(
    {"gene", "genes", "protein", "proteins", "suppressor", "suppressors", "locus", "loci",
     "mrna", "transcript", "transcripts", "product", "allele", "alleles", "cdna"}
)  # fmt: skip
# words after a span that say the disease name runs on ("jaw tumor syndrome")
_HEAD_WORDS = frozenset(
    {"syndrome", "syndromes", "disease", "diseases", "disorder", "disorders", "deficiency",
     "type", "types"}
)  # fmt: skip
_NEXT_WORD = re.compile(r"[\s(]*([^\W_]+)")
_PREV_WORD = re.compile(r"([^\W_]+)[\s,;:(]*$")

FEATURES: tuple[str, ...] = (
    *(f"method_{m}" for m in _METHODS),
    *(f"prefix_{p}" for p in (*_PREFIXES, "other")),
    *(f"rank_{r}" for r in RANK_NAMES),
    "words_1",
    "words_2",
    "words_3plus",
    "chars_log",
    "case_lower",
    "case_title",
    "case_upper",
    "case_mixed",
    "one_lower_word",
    "has_digit",
    "has_hyphen_slash",
    "gene_symbol",
    "ambiguous",
    "next_gene_word",
    "next_head_word",
    "hyphen_attached",
    "in_brackets",
    "sentence_initial",
    "entity_repeated",
    "entity_first",
)


def _case(span: str) -> str:
    letters = [c for c in span if c.isalpha()]
    if not letters or all(c.islower() for c in letters):
        return "lower"
    if all(c.isupper() for c in letters):
        return "upper"
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return "title"  # capitalised: "Marfan syndrome", "Cancer"
    return "mixed"


def mention_features(
    text: str,
    start: int,
    end: int,
    method: str,
    entity: str,
    rank: int,
    senses: int,
    gene_symbol: bool,
    entity_count: int,
    entity_first: bool,
) -> dict[str, float]:
    """Feature values (names in :data:`FEATURES`; absent = 0) of one candidate mention
    ``text[start:end]`` linked to ``entity`` by ``method``; ``rank`` is the matched form's
    rank (:data:`RANK_NAMES` order), ``senses`` how many entities share the form,
    ``entity_count`` how many mentions of the text link to ``entity`` and
    ``entity_first`` whether this is the first of them."""
    span = text[start:end]
    f: dict[str, float] = {}
    f[f"method_{method}" if method in _METHODS else "method_exact"] = 1.0
    prefix, _, local = entity.partition(":")
    p = f"MESH_{local[:1]}" if prefix == "MESH" else prefix
    f[f"prefix_{p}" if p in _PREFIXES else "prefix_other"] = 1.0
    f[f"rank_{RANK_NAMES[min(max(rank, 0), len(RANK_NAMES) - 1)]}"] = 1.0
    n_words = len(span.split())
    f["words_1" if n_words <= 1 else "words_2" if n_words == 2 else "words_3plus"] = 1.0
    f["chars_log"] = math.log(max(len(span), 1))
    case = _case(span)
    f[f"case_{case}"] = 1.0
    if n_words <= 1 and case == "lower":
        f["one_lower_word"] = 1.0
    if any(c.isdigit() for c in span):
        f["has_digit"] = 1.0
    if "-" in span or "/" in span:
        f["has_hyphen_slash"] = 1.0
    if gene_symbol:
        f["gene_symbol"] = 1.0
    if senses > 1:
        f["ambiguous"] = 1.0
    after = _NEXT_WORD.match(text, end)
    nxt = after.group(1).lower() if after else ""
    if nxt in _GENE_WORDS:
        f["next_gene_word"] = 1.0
    if nxt in _HEAD_WORDS:
        f["next_head_word"] = 1.0
    if (start > 0 and text[start - 1] == "-") or (end < len(text) and text[end] == "-"):
        f["hyphen_attached"] = 1.0
    if start > 0 and end < len(text) and text[start - 1] == "(" and text[end] == ")":
        f["in_brackets"] = 1.0
    before = text[max(0, start - 3) : start].strip()
    if start == 0 or not before or before[-1] in ".!?":
        f["sentence_initial"] = 1.0
    if entity_count > 1:
        f["entity_repeated"] = 1.0
    if entity_first:
        f["entity_first"] = 1.0
    return f


@dataclass(frozen=True)
class MentionFilter:
    """Logistic regression weights over :data:`FEATURES`; keeps a mention whose
    probability of being right is at least ``threshold``."""

    weights: Mapping[str, float]
    intercept: float
    threshold: float
    kinds: tuple[str, ...]

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.intercept + sum(self.weights.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-z))

    def keep(self, features: Mapping[str, float]) -> bool:
        return self.probability(features) >= self.threshold

    def to_dict(self) -> dict[str, object]:
        return {
            "features": list(FEATURES),
            "weights": {k: self.weights.get(k, 0.0) for k in FEATURES},
            "intercept": self.intercept,
            "threshold": self.threshold,
            "kinds": list(self.kinds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object], where: str = FILE) -> MentionFilter:
        try:
            weights = dict(data["weights"])  # type: ignore[call-overload]
            unknown = sorted(set(weights) - set(FEATURES))
            if unknown:
                raise MedkgError(f"{where}: unknown features {', '.join(unknown)}")
            kinds: Sequence[str] = data["kinds"]  # type: ignore[assignment]
            return cls(
                weights={k: float(v) for k, v in weights.items()},
                intercept=float(data["intercept"]),  # type: ignore[arg-type]
                threshold=float(data["threshold"]),  # type: ignore[arg-type]
                kinds=tuple(kinds),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MedkgError(f"{where}: not a mention filter ({exc!r})") from exc


@cache
def packaged_filter() -> MentionFilter:
    """The fitted filter shipped with medkg (``data/mention_filter.json``)."""
    raw = (files("medkg.coverage") / "data" / FILE).read_text(encoding="utf-8")
    return MentionFilter.from_dict(json.loads(raw))


__all__ = ["FEATURES", "RANK_NAMES", "MentionFilter", "mention_features", "packaged_filter"]
