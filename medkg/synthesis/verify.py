"""Independent validity check of a QA item against the graph.

:func:`verify_item` re-derives the answer from the graph, using nothing the family
computed but the ids it names: the options, the cues (``entity_ids``), the path. It returns
a list of problems, each ``"<reason>: <detail>"`` (empty = valid). The reasons are the
reject reasons families count (:func:`reason_of`):

* ``bad_shape`` — :meth:`QAItem.check_shape` fails; ``unknown_id`` — an id is not a node;
  ``option_text_mismatch`` — an option's text is not its entity's name;
  ``distractor_ids_mismatch`` — ``distractor_ids`` are not the non-answer options;
* ``path_edge_missing`` — two consecutive path nodes are not joined by an edge of the
  stated relation (in either direction); ``answer_not_on_path``;
* ``answer_does_not_fit`` — the answer does not satisfy the question;
* ``distractor_also_fits`` — a distractor satisfies it too (e.g. a distractor disease that
  has every presented phenotype, directly or through an annotated descendant, itself or
  through a MAPS_TO equivalent: sources attach facts to their own ids);
* ``answer_not_unique`` — two options are the same entity for a reader (a MAPS_TO link or
  the same name), or the question has several equally valid answers (most specific
  common ancestor);
* ``not_phenotype_cue`` — a cue is annotated NOT (or "Excluded") for the disease, or
  under such a term; ``cue_not_in_question`` — a cue's name is missing from the stem;
  ``too_few_phenotypes``;
* ``answer_in_question`` — in the families whose answer is not the subject of the stem
  (:data:`ANSWER_HIDDEN_FAMILIES`), the answer's name appears in the stem as a whole phrase:
  a phenotype cue that shares the answer disease's name ("congenital diaphragmatic hernia"
  for the disease of that name), or a feature named inside the disease's own name ("Solar
  urticaria" → urticaria). Category and drug stems name a subject whose class names often
  share words with it, so they are not checked.

What "satisfies" means is one predicate per family, in :data:`FAMILY_CHECKS`, added with
:func:`register_check` (a new family registers its check in its own module, beside it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medkg.errors import UsageError
from medkg.kg.index import BRANCH_SCHEMES, SynthesisGraph
from medkg.kg.model import DISEASE, MODIFIER, PHENOTYPE
from medkg.synthesis.clinical import related_to, with_equivalents
from medkg.synthesis.items import QAItem
from medkg.text import names_in, normalise

Check = Callable[[QAItem, SynthesisGraph, "Rows"], list[str]]


class Rows:
    """The item's ids as graph rows."""

    def __init__(self, item: QAItem, g: SynthesisGraph) -> None:
        r = g.row_of
        self.answer = r[item.answer_id]
        self.options = [r[i] for i in item.option_ids]
        self.distractors = [r[i] for i in item.distractor_ids]
        self.entities = [r[i] for i in item.entity_ids]
        self.path = [r[i] for i in item.path_nodes]
        self.g = g

    def of_kind(self, kind: str, exclude_answer: bool = True) -> list[int]:
        code = self.g.kind_codes.get(kind, -1)
        return [
            e
            for e in self.entities
            if int(self.g.kind[e]) == code and not (exclude_answer and e == self.answer)
        ]


def reason_of(problem: str) -> str:
    """The reason code of one problem string."""
    return problem.split(":", 1)[0]


def verify_item(item: QAItem, graph: SynthesisGraph) -> list[str]:
    """Every reason ``item`` is not a valid, graph-grounded question (empty = valid)."""
    try:
        item.check_shape()
    except ValueError as exc:
        return [f"bad_shape: {exc}"]
    ids = {item.answer_id, *item.option_ids, *item.entity_ids, *item.path_nodes}
    missing = sorted(i for i in ids | set(item.distractor_ids) if i not in graph.row_of)
    if missing:
        return [f"unknown_id: {', '.join(missing[:3])}"]
    rows = Rows(item, graph)
    problems: list[str] = []
    for oid, text in zip(item.option_ids, item.options, strict=True):
        if graph.names[graph.row_of[oid]] != text:
            problems.append(f"option_text_mismatch: {oid} shown as {text!r}")
    expected = [o for o in item.option_ids if o != item.answer_id]
    if sorted(expected) != sorted(item.distractor_ids):
        problems.append("distractor_ids_mismatch: distractor_ids are not the other options")
    # related() is symmetric: the answer's side is worked out once
    answer_related = (
        None if item.family in CLASS_OPTION_FAMILIES else related_to(graph, rows.answer)
    )
    for d in rows.distractors:
        if graph.equivalent(d, rows.answer):
            problems.append(f"answer_not_unique: {graph.ids[d]} is the answer under another id")
        elif answer_related is not None and answer_related(d):
            problems.append(
                f"distractor_related: {graph.ids[d]} is a subtype, supertype or numbered "
                f"sibling of the answer {item.answer_id}"
            )
    for i, a in enumerate(rows.distractors):  # two wrong options, one entity: a giveaway
        for b in rows.distractors[i + 1 :]:
            if graph.equivalent(a, b):
                problems.append(
                    f"answer_not_unique: {graph.ids[a]} and {graph.ids[b]} are one entity"
                )
    problems += _check_path(item, graph, rows)
    problems += _check_answer_hidden(item, graph, rows)
    check = family_check(item.family)
    if check is None:
        problems.append(f"unknown_family: {item.family}")
    else:
        problems += check(item, graph, rows)
    return problems


# Families whose options are classes placed against each other by design: sibling top-level
# branches (named alike: "Abnormality of the eye" / "... of the ear") or, for the most
# specific common category, the more general classes above the key.
CLASS_OPTION_FAMILIES: set[str] = set()

ANSWER_HIDDEN_FAMILIES: set[str] = set()

#: Family name -> its predicate; filled by :func:`register_check`.
FAMILY_CHECKS: dict[str, Check] = {}


def register_check(
    family: str, *, answer_hidden: bool = False, class_options: bool = False
) -> Callable[[Check], Check]:
    """Decorator: ``check`` is what "the answer satisfies the question" means for ``family``.

    ``answer_hidden``: the answer is not the stem's subject, so naming it in the stem is a
    fault (:data:`ANSWER_HIDDEN_FAMILIES`). ``class_options``: the options are classes set
    against each other by design, so related options are not a fault
    (:data:`CLASS_OPTION_FAMILIES`). A second check for one family is an error.
    """

    def deco(check: Check) -> Check:
        taken = FAMILY_CHECKS.get(family)
        if taken is not None and taken is not check:
            raise UsageError(f"question family {family!r} already has the check {taken!r}")
        FAMILY_CHECKS[family] = check
        if answer_hidden:
            ANSWER_HIDDEN_FAMILIES.add(family)
        if class_options:
            CLASS_OPTION_FAMILIES.add(family)
        return check

    return deco


def family_check(family: str) -> Check | None:
    """The check of ``family``, importing the family's module if it registers it there."""
    if family not in FAMILY_CHECKS:
        from medkg.synthesis.questions.base import FAMILIES

        if family in FAMILIES:
            FAMILIES.get_class(family)
    return FAMILY_CHECKS.get(family)


def _check_answer_hidden(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    if item.family not in ANSWER_HIDDEN_FAMILIES:
        return []
    name = g.names_lower[rows.answer]
    if names_in(normalise(item.question), [name], min_chars=1):
        return [f"answer_in_question: the stem names the answer {item.answer_id} ({name!r})"]
    return []


def _check_path(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    out = []
    for a, rel, b in zip(rows.path, item.path_rels, rows.path[1:], strict=False):
        if not (g.has_edge(a, rel, b) or g.has_edge(b, rel, a)):
            out.append(f"path_edge_missing: {g.ids[a]} -{rel}- {g.ids[b]}")
    if rows.answer not in rows.path:
        out.append("answer_not_on_path: the path does not reach the answer")
    return out


# ---------------------------------------------------------------------- predicates
def absent_phenotype(g: SynthesisGraph, disease: int, p: int) -> bool:
    """``p`` is safely not a feature of ``disease``: neither annotated (nor implied by an
    annotated descendant), nor a refinement of an annotated phenotype, for the disease nor
    for any of its MAPS_TO equivalents (OMIM and Orphanet annotate one disease apart:
    ORPHA:353298 Roifman syndrome has an abnormal nasal bridge, OMIM:616651 does not)."""
    up = g.anc.row(p)
    for d in with_equivalents(g, disease):
        if g.dis_maybe_closed.has(d, p) or g.dis_maybe.contains(d, up).any():
            return False
    return True


def negated_cue(g: SynthesisGraph, disease: int, p: int) -> bool:
    """``p`` (or a term above it) is annotated NOT / Excluded for ``disease``."""
    nots = g.dis_not.row(disease)
    return bool(nots.size) and bool(g.anc.contains(p, nots).any())


def _cue_checks(item: QAItem, g: SynthesisGraph, cues: list[int], disease: int) -> list[str]:
    out = []
    if len(cues) < 2:
        out.append(f"too_few_phenotypes: {len(cues)} cue(s)")
    stem = item.question.lower()
    for c in cues:
        if g.names_lower[c] not in stem:
            out.append(f"cue_not_in_question: {g.ids[c]}")
        if negated_cue(g, disease, c):
            out.append(f"not_phenotype_cue: {g.ids[c]} is annotated NOT for {g.ids[disease]}")
    return out


@register_check("diagnosis", answer_hidden=True)
def _check_diagnosis(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    cues = rows.of_kind(PHENOTYPE)
    out = _cue_checks(item, g, cues, rows.answer)
    cue_arr = np.asarray(cues, dtype=np.int64)
    if not g.has_phenotype(rows.answer, cue_arr).all():
        out.append(f"answer_does_not_fit: {item.answer_id} lacks a presented phenotype")
    for d in rows.distractors:  # conservative: 0-of-n cohort annotations count here
        twins = with_equivalents(g, d)  # sources annotate one disease apart
        if cues and any(g.may_have_phenotype(t, cue_arr).all() for t in twins):
            out.append(f"distractor_also_fits: {g.ids[d]} has every presented phenotype")
    for m in rows.of_kind(MODIFIER):  # an onset cue must be the answer's clinical course
        if not g.course.has(rows.answer, m):
            out.append(f"answer_does_not_fit: {item.answer_id} lacks {g.ids[m]}")
    return out


def fitting_genes(
    g: SynthesisGraph, cues: list[int], maybe: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Diseases with every cue, and the genes associated with any of them (``maybe``: the
    conservative set that distractors must avoid: it counts 0-of-n cohort annotations, and
    the genes of the fitting diseases' MAPS_TO equivalents, since sources attach genes to
    their own ids: FCGR3B is a gene of ORPHA:536 only, the same lupus as OMIM:152700)."""
    dstar = g.diseases_with_all(cues, maybe=maybe)
    holders = dstar
    if maybe and dstar.size:
        holders = np.unique(np.concatenate([dstar, *(g.equiv.row(int(d)) for d in dstar)]))
    genes = [g.dis_gene.row(int(d)) for d in holders]
    gstar = np.unique(np.concatenate(genes)) if genes else np.zeros(0, dtype=np.int32)
    return dstar, gstar


@register_check("gene", answer_hidden=True)
def _check_gene(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    cues = rows.of_kind(PHENOTYPE)
    hidden = rows.of_kind(DISEASE)
    out = []
    for d in hidden:
        out += _cue_checks(item, g, cues, d)
    _, gstar = fitting_genes(g, cues)
    if rows.answer not in set(gstar.tolist()):
        out.append(f"answer_does_not_fit: {item.answer_id} is not a gene of a fitting disease")
    fits = set(fitting_genes(g, cues, maybe=True)[1].tolist())
    for d in rows.distractors:
        if d in fits:
            out.append(f"distractor_also_fits: {g.ids[d]} is a gene of a fitting disease")
    return out


def _reach(g: SynthesisGraph, genes: np.ndarray) -> set[int]:
    """Diseases associated with any of ``genes``."""
    if not genes.size:
        return set()
    return set(np.unique(np.concatenate([g.gene_dis.row(int(x)) for x in genes])).tolist())


@register_check("chain", answer_hidden=True)
def _check_chain(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    cues = rows.of_kind(PHENOTYPE)
    first = rows.of_kind(DISEASE)
    out = []
    for d in first:
        out += _cue_checks(item, g, cues, d)
    dstar, gstar = fitting_genes(g, cues)
    reach_set, dstar_set = _reach(g, gstar), set(dstar.tolist())
    maybe_d, maybe_g = fitting_genes(g, cues, maybe=True)
    unsafe = _reach(g, maybe_g) | set(maybe_d.tolist())
    a = rows.answer
    if a not in reach_set or a in dstar_set:
        out.append(f"answer_does_not_fit: {item.answer_id} is not another disease of the gene")
    elif any(g.equivalent(a, d) for d in dstar[:50].tolist()) or not dstar_set.isdisjoint(
        g.equiv.row(a).tolist()
    ):
        out.append(f"answer_not_unique: {item.answer_id} is the presented disease itself")
    for d in rows.distractors:
        if not unsafe.isdisjoint(with_equivalents(g, d)):  # itself or a MAPS_TO twin
            out.append(f"distractor_also_fits: {g.ids[d]} is reachable through a fitting gene")
    return out


@register_check("phenotype", answer_hidden=True)
def _check_phenotype(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    diseases = [e for e in rows.entities if g.kind_of(e) == DISEASE]
    if len(diseases) != 1:
        return [f"answer_does_not_fit: expected one disease in entity_ids, got {len(diseases)}"]
    s = diseases[0]
    out = []
    negative = ".negative" in item.template
    if negative:
        if not absent_phenotype(g, s, rows.answer):
            out.append(f"answer_does_not_fit: {item.answer_id} is a feature of {g.ids[s]}")
        for d in rows.distractors:
            if not g.dis_pheno.has(s, d) or negated_cue(g, s, d):
                out.append(f"distractor_also_fits: {g.ids[d]} is not an annotated feature")
    else:
        if not g.dis_pheno.has(s, rows.answer) or negated_cue(g, s, rows.answer):
            out.append(f"answer_does_not_fit: {item.answer_id} is not annotated to {g.ids[s]}")
        for d in rows.distractors:
            if not absent_phenotype(g, s, d):
                out.append(f"distractor_also_fits: {g.ids[d]} is (under) a feature of the disease")
    return out


def most_specific_common_ancestors(g: SynthesisGraph, a: int, b: int) -> np.ndarray:
    """Common IS_A ancestors of ``a`` and ``b`` that have no common ancestor below them."""
    common = np.intersect1d(g.anc.row(a), g.anc.row(b))
    keep = [
        c for c in common.tolist() if not any(o != c and g.anc.has(o, c) for o in common.tolist())
    ]
    return np.asarray(keep, dtype=np.int64)


@register_check("category", class_options=True)
def _check_category(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    out = []
    subjects = [e for e in rows.entities if e != rows.answer]
    if item.template.startswith("category.msca"):
        if len(subjects) != 2:
            return [f"answer_does_not_fit: msca needs two entities, got {len(subjects)}"]
        msca = most_specific_common_ancestors(g, subjects[0], subjects[1]).tolist()
        if rows.answer not in msca:
            out.append(f"answer_does_not_fit: {item.answer_id} is not the most specific")
        elif len(msca) > 1:
            out.append(f"answer_not_unique: {len(msca)} most specific common ancestors")
        for d in rows.distractors:
            if d in msca:
                out.append(f"distractor_also_fits: {g.ids[d]} is a most specific ancestor")
        return out
    scheme = item.template.split(".")[2] if item.template.count(".") >= 2 else ""
    if scheme not in BRANCH_SCHEMES or len(subjects) != 1:
        return [f"answer_does_not_fit: unknown scheme or subject in {item.template}"]
    e = subjects[0]
    branches = g.branches(scheme)
    in_scheme = set(branches.tolist())
    if rows.answer not in in_scheme or not g.is_ancestor(rows.answer, e):
        out.append(f"answer_does_not_fit: {item.answer_id} is not a {scheme} above {g.ids[e]}")
    for d in rows.distractors:
        if d not in in_scheme:
            out.append(f"distractor_also_fits: {g.ids[d]} is not a {scheme} (off-scheme option)")
        elif g.is_ancestor(d, e):
            out.append(f"distractor_also_fits: {g.ids[d]} is also above {g.ids[e]}")
    return out


@register_check("drug")
def _check_drug(item: QAItem, g: SynthesisGraph, rows: Rows) -> list[str]:
    subjects = [e for e in rows.entities if e != rows.answer]
    if len(subjects) != 1:
        return [f"answer_does_not_fit: expected one drug, got {len(subjects)}"]
    drug = subjects[0]
    out = []
    if not g.parents.has(drug, rows.answer):
        out.append(f"answer_does_not_fit: {item.answer_id} is not a class of {g.ids[drug]}")
    for d in rows.distractors:
        if g.is_ancestor(d, drug):
            out.append(f"distractor_also_fits: {g.ids[drug]} is under {g.ids[d]} too")
    return out


__all__ = [
    "ANSWER_HIDDEN_FAMILIES",
    "CLASS_OPTION_FAMILIES",
    "FAMILY_CHECKS",
    "absent_phenotype",
    "fitting_genes",
    "most_specific_common_ancestors",
    "negated_cue",
    "reason_of",
    "register_check",
    "verify_item",
]
