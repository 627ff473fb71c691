"""The independent verifier: valid items pass; each kind of broken item is caught with
its reason, including a distractor that has every presented phenotype."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medkg.kg.index import SynthesisGraph
from medkg.synthesis.items import QAItem, Reject
from medkg.synthesis.questions import make_family
from medkg.synthesis.verify import reason_of, verify_item
from tests.factories.graphs import synthetic_graph


@pytest.fixture(scope="module")
def g() -> SynthesisGraph:
    return synthetic_graph()


def first_item(g: SynthesisGraph, name: str, seed: int = 0) -> QAItem:
    fam = make_family(name, g)
    rng = np.random.default_rng(seed)
    for s in np.flatnonzero(fam.eligible()):
        out = fam.make(int(s), rng)
        if isinstance(out, QAItem):
            return out
    raise AssertionError(f"no {name} item")


def swap_distractor(g: SynthesisGraph, it: QAItem, new_id: str) -> QAItem:
    """The item with its first distractor replaced by ``new_id`` (text and ids kept consistent)."""
    old = it.distractor_ids[0]
    i = it.option_ids.index(old)
    options, option_ids = list(it.options), list(it.option_ids)
    options[i], option_ids[i] = g.names[g.row(new_id)], new_id
    return dataclasses.replace(
        it,
        options=options,
        option_ids=option_ids,
        distractor_ids=[new_id, *it.distractor_ids[1:]],
    )


def reasons(it: QAItem, g: SynthesisGraph) -> set[str]:
    return {reason_of(p) for p in verify_item(it, g)}


def cues_of(g: SynthesisGraph, it: QAItem) -> list[int]:
    code = g.kind_codes["Phenotype"]
    return [g.row(e) for e in it.entity_ids if g.kind[g.row(e)] == code]


def test_distractor_with_every_presented_phenotype_is_rejected():
    """Disease B is annotated with a child of every cue given for A: B fits, item invalid,
    and the family's own check turns it into Reject('distractor_also_fits')."""
    import polars as pl

    from tests.factories.graphs import synthetic_kg

    kg = synthetic_kg()
    g0 = SynthesisGraph.from_kg(kg, content_hash="x")
    it = first_item(g0, "diagnosis")
    cue_ids = [g0.ids[c] for c in cues_of(g0, it)]
    # B: a new disease annotated with every cue's parent group's leaf... here: the cue itself
    # for all but one cue, and for that one a new child term under it.
    child = "HP:3999999"
    nodes = pl.concat(
        [
            kg.nodes,
            kg.nodes.filter(pl.col("id") == cue_ids[0]).with_columns(
                pl.lit(child).alias("id"), pl.lit("Very specific finding").alias("name")
            ),
            kg.nodes.filter(pl.col("id") == it.answer_id).with_columns(
                pl.lit("ORPHA:999").alias("id"), pl.lit("Mimic syndrome").alias("name")
            ),
        ]
    )
    template = kg.edges.filter(pl.col("rel") == "HAS_PHENOTYPE").head(1)
    extra = [
        template.with_columns(pl.lit("ORPHA:999").alias("src"), pl.lit(p).alias("dst"),
                              pl.lit(False).alias("negated"))
        for p in [child, *cue_ids[1:]]
    ]  # fmt: skip
    isa = kg.edges.filter(pl.col("rel") == "IS_A").head(1)
    extra.append(isa.with_columns(pl.lit(child).alias("src"), pl.lit(cue_ids[0]).alias("dst")))
    kg2 = dataclasses.replace(kg, nodes=nodes, edges=pl.concat([kg.edges, *extra]))
    g2 = SynthesisGraph.from_kg(kg2, content_hash="x")
    assert g2.has_phenotype(g2.row("ORPHA:999"), np.array([g2.row(c) for c in cue_ids])).all()
    bad = swap_distractor(g2, it, "ORPHA:999")
    assert reasons(bad, g2) == {"distractor_also_fits"}
    # the family never picks it when it has all of that item's cues ...
    fam = make_family("diagnosis", g2)
    picked = 0
    for seed in range(40):
        out = fam.make(g2.row(it.answer_id), np.random.default_rng(seed))
        if isinstance(out, QAItem) and "ORPHA:999" in out.distractor_ids:
            picked += 1
            cues = np.array(cues_of(g2, out))
            assert not g2.has_phenotype(g2.row("ORPHA:999"), cues).all()
    assert picked, "the mimic is the closest neighbour: it is used whenever a cue excludes it"
    # ... and its pre-emission check rejects such an item with the verifier's reason
    assert verify_item(it, g2) == []


def test_not_annotated_cue_is_caught(g: SynthesisGraph):
    it = first_item(g, "diagnosis")
    a = g.row(it.answer_id)
    not_id = g.ids[int(g.dis_not.row(a)[0])]
    cue = cues_of(g, it)[0]
    bad = dataclasses.replace(
        it,
        entity_ids=[not_id if e == g.ids[cue] else e for e in it.entity_ids],
        question=it.question.replace(g.names_lower[cue], g.names_lower[g.row(not_id)]),
        path_nodes=[not_id if e == g.ids[cue] else e for e in it.path_nodes],
    )
    got = reasons(bad, g)
    assert "not_phenotype_cue" in got and "answer_does_not_fit" in got


def test_structural_problems_are_named(g: SynthesisGraph):
    it = first_item(g, "gene")
    assert verify_item(it, g) == []
    unknown = dataclasses.replace(it, entity_ids=[*it.entity_ids, "NCBIGene:0"])
    assert reasons(unknown, g) == {"unknown_id"}
    wrong_text = list(it.options)
    wrong_text[it.answer_index] = "Something else"
    assert "option_text_mismatch" in reasons(dataclasses.replace(it, options=wrong_text), g)
    broken = list(it.path_rels)
    broken[-1] = "IS_A"
    assert "path_edge_missing" in reasons(dataclasses.replace(it, path_rels=broken), g)
    assert "bad_shape" in reasons(dataclasses.replace(it, options=it.options[:3]), g)
    assert "distractor_ids_mismatch" in reasons(
        dataclasses.replace(it, distractor_ids=it.distractor_ids[:-1]), g
    )
    assert "unknown_family" in reasons(dataclasses.replace(it, family="mystery"), g)


def test_answer_named_in_the_stem_is_rejected(g: SynthesisGraph):
    """A cue phenotype that shares the answer disease's name gives the answer away (seen on
    the real graph: "congenital diaphragmatic hernia" among the cues of the disease of that
    name); a category stem may share words with its answer and is not checked."""
    it = first_item(g, "diagnosis")
    assert verify_item(it, g) == []
    answer = g.names[g.row(it.answer_id)]
    leaky = dataclasses.replace(it, question=it.question.replace("?", f" ({answer})?", 1))
    assert reasons(leaky, g) == {"answer_in_question"}
    inside_a_word = dataclasses.replace(it, question=it.question + f" x{answer.lower()}y")
    assert "answer_in_question" not in reasons(inside_a_word, g)
    cat = first_item(g, "category")
    cat_answer = g.names[g.row(cat.answer_id)]
    assert "answer_in_question" not in reasons(
        dataclasses.replace(cat, question=f"{cat.question} {cat_answer}"), g
    )


def test_gene_distractor_of_a_fitting_disease_is_rejected(g: SynthesisGraph):
    fam = make_family("gene", g)
    multi = [s for s in np.flatnonzero(fam.eligible()) if g.dis_gene.size(int(s)) >= 2]
    it = fam.make(int(multi[0]), np.random.default_rng(0))
    assert isinstance(it, QAItem)
    hidden = g.row(it.seed_entity)
    other = next(x for x in g.dis_gene.row(hidden).tolist() if g.ids[x] != it.answer_id)
    bad = swap_distractor(g, it, g.ids[other])  # another gene of the very disease described
    assert "distractor_also_fits" in reasons(bad, g)


def test_equivalent_option_is_answer_not_unique(g: SynthesisGraph):
    it = first_item(g, "diagnosis")
    twin = g.row(it.distractor_ids[0])
    names_lower = list(g.names_lower)
    names_lower[twin] = names_lower[g.row(it.answer_id)]  # the same disease under another id
    g2 = dataclasses.replace(g, names_lower=names_lower)
    assert "answer_not_unique" in reasons(it, g2)
    assert verify_item(it, g) == []


def test_phenotype_and_category_and_drug_predicates(g: SynthesisGraph):
    ph = first_item(g, "phenotype")
    s = g.row(ph.seed_entity)
    feature = next(g.ids[int(p)] for p in g.dis_pheno.row(s) if g.ids[int(p)] not in ph.option_ids)
    bad = swap_distractor(g, ph, feature)
    expect = "distractor_also_fits"
    if ph.template == "phenotype.negative.v1":  # a feature is a valid distractor there
        absent = next(
            g.ids[p]
            for p in g.children.row(g.row("HP:2000000")).tolist()
            if not g.dis_closed.has(s, p) and g.ids[p] not in ph.option_ids
        )
        bad = swap_distractor(g, ph, absent)
    assert expect in reasons(bad, g)

    fam = make_family("category", g, msca_share=0.0)
    cat = next(
        out
        for s in np.flatnonzero(fam.eligible())
        if isinstance(out := fam.make(int(s), np.random.default_rng(1)), QAItem)
        and ".branch." in out.template
    )
    subject = g.row(cat.entity_ids[0])
    other_branch = [
        g.ids[b]
        for b in g.branches("mesh_disease_category").tolist()
        if g.ids[b] not in cat.option_ids
    ]
    assert verify_item(swap_distractor(g, cat, other_branch[0]), g) == [] if other_branch else 1
    above = next(g.ids[a] for a in g.anc.row(subject).tolist() if g.ids[a] not in cat.option_ids)
    assert "distractor_also_fits" in reasons(swap_distractor(g, cat, above), g)

    drug = first_item(g, "drug")
    d = g.row(drug.seed_entity)
    grand = next(g.ids[a] for a in g.anc.row(d).tolist() if a != d and g.ids[a] != drug.answer_id)
    assert "distractor_also_fits" in reasons(swap_distractor(g, drug, grand), g)


def test_family_turns_verifier_problem_into_reject(g: SynthesisGraph, monkeypatch):
    from medkg.synthesis.questions import base

    monkeypatch.setattr(
        base, "verify_item", lambda item, graph: ["distractor_also_fits: constructed"]
    )
    fam = make_family("diagnosis", g)
    out = fam.make(int(np.flatnonzero(fam.eligible())[0]), np.random.default_rng(0))
    assert isinstance(out, Reject) and out.reason == "distractor_also_fits"


def _with_equivalent_holding_a_gene(it: QAItem, also: str | None = None):
    """The synthetic graph plus OMIM:999, the item's hidden disease under another id (a
    MAPS_TO edge, no phenotypes), holding the new gene NCBIGene:999 (as sources attach genes
    to their own ids: FCGR3B is a gene of ORPHA:536 only, the same lupus as OMIM:152700);
    ``also``: a new disease that NCBIGene:999 is associated with too."""
    import polars as pl

    from tests.factories.graphs import synthetic_kg

    kg = synthetic_kg()
    seed_row = kg.nodes.filter(pl.col("id") == it.seed_entity)
    gene_row = kg.nodes.filter(pl.col("id") == it.entity_ids[-1 if it.family == "gene" else -2])
    new = [
        seed_row.with_columns(pl.lit("OMIM:999").alias("id"), pl.lit("Twin entry").alias("name")),
        gene_row.with_columns(pl.lit("NCBIGene:999").alias("id"), pl.lit("NEWG").alias("name")),
    ]
    links = [("NCBIGene:999", "OMIM:999")]
    if also is not None:
        new.append(
            seed_row.with_columns(pl.lit(also).alias("id"), pl.lit("Far disease").alias("name"))
        )
        links.append(("NCBIGene:999", also))
    gene_edge = kg.edges.filter(pl.col("rel") == "GENE_ASSOCIATED_WITH").head(1)
    extra = [gene_edge.with_columns(pl.lit(s).alias("src"), pl.lit(d).alias("dst"))
             for s, d in links]  # fmt: skip
    extra.append(
        gene_edge.with_columns(
            pl.lit("OMIM:999").alias("src"),
            pl.lit("MAPS_TO").alias("rel"),
            pl.lit(it.seed_entity).alias("dst"),
        )
    )
    kg2 = dataclasses.replace(
        kg, nodes=pl.concat([kg.nodes, *new]), edges=pl.concat([kg.edges, *extra])
    )
    return SynthesisGraph.from_kg(kg2, content_hash="x")


def test_gene_of_the_hidden_disease_under_another_id_is_not_a_valid_distractor(
    g: SynthesisGraph,
):
    """A distractor gene that the graph associates with the described disease through its
    MAPS_TO equivalent is a correct answer too (seen on the bundled graph: all four
    distractors of a lupus vignette were genes of ORPHA:536, the OMIM entry's twin)."""
    it = first_item(g, "gene")
    g2 = _with_equivalent_holding_a_gene(it)
    assert verify_item(it, g2) == []
    bad = swap_distractor(g2, it, "NCBIGene:999")
    assert "distractor_also_fits" in reasons(bad, g2)
    # the family's own distractor filter keeps it out (checked on the raw edges: the gene's
    # only disease is the seed's MAPS_TO twin)
    from medkg.synthesis.questions.gene import fitting_genes

    cues = cues_of(g2, it)
    assert g2.row("NCBIGene:999") in fitting_genes(g2, cues, maybe=True)[1]


def test_chain_disease_reached_through_the_hidden_diseases_twin_is_not_a_valid_distractor(
    g: SynthesisGraph,
):
    it = first_item(g, "chain")
    g2 = _with_equivalent_holding_a_gene(it, also="ORPHA:1999")
    assert verify_item(it, g2) == []
    bad = swap_distractor(g2, it, "ORPHA:1999")  # another disease of the twin's gene
    assert "distractor_also_fits" in reasons(bad, g2)


def _with_twin_annotated(g: SynthesisGraph, it: QAItem, phenotype: str) -> SynthesisGraph:
    """The synthetic graph plus OMIM:999, a MAPS_TO twin of the item's disease annotated
    with ``phenotype`` (OMIM and Orphanet annotate one disease apart)."""
    import polars as pl

    from tests.factories.graphs import synthetic_kg

    kg = synthetic_kg()
    twin = kg.nodes.filter(pl.col("id") == it.seed_entity).with_columns(
        pl.lit("OMIM:999").alias("id"), pl.lit("Twin entry").alias("name")
    )
    hp = kg.edges.filter(pl.col("rel") == "HAS_PHENOTYPE", ~pl.col("negated")).head(1)
    extra = [
        hp.with_columns(pl.lit("OMIM:999").alias("src"), pl.lit(phenotype).alias("dst")),
        hp.with_columns(
            pl.lit("OMIM:999").alias("src"),
            pl.lit("MAPS_TO").alias("rel"),
            pl.lit(it.seed_entity).alias("dst"),
        ),
    ]
    kg2 = dataclasses.replace(
        kg, nodes=pl.concat([kg.nodes, twin]), edges=pl.concat([kg.edges, *extra])
    )
    return SynthesisGraph.from_kg(kg2, content_hash="x")


def test_phenotype_options_read_the_diseases_equivalents(g: SynthesisGraph):
    """A feature of the disease's MAPS_TO twin is a feature of the disease: it is no wrong
    option of "a characteristic feature of D", and no key of "NOT a feature of D" (seen on
    the bundled graph: 9 of 271 positive items offered a feature of the Orphanet twin)."""
    fam = make_family("phenotype", g)
    by_template: dict[str, QAItem] = {}
    for s in np.flatnonzero(fam.eligible()).tolist():
        for r in range(6):
            out = fam.make(int(s), np.random.default_rng(r))
            if isinstance(out, QAItem):
                by_template.setdefault(out.template, out)
    pos, neg = by_template["phenotype.positive.v1"], by_template["phenotype.negative.v1"]
    g2 = _with_twin_annotated(g, pos, pos.distractor_ids[0])
    assert g2.dis_pheno.has(g2.row("OMIM:999"), g2.row(pos.distractor_ids[0]))
    assert "distractor_also_fits" in reasons(pos, g2)
    g3 = _with_twin_annotated(g, neg, neg.answer_id)
    assert "answer_does_not_fit" in reasons(neg, g3)
    # the family itself never offers a feature of the twin
    fam2 = make_family("phenotype", g2)
    seed, made = g2.row(pos.seed_entity), 0
    for r in range(30):
        out = fam2.make(seed, np.random.default_rng(r))
        if isinstance(out, QAItem) and out.template == "phenotype.positive.v1":
            made += 1
            assert pos.distractor_ids[0] not in out.distractor_ids
    assert made


def test_an_answer_index_outside_the_options_is_bad_shape(g: SynthesisGraph):
    """A read-back item whose answer_index is -1 pointed at the last option (Python's
    negative index) and passed, exported with answer letter 'H'; one past the options
    crashed the verifier with an IndexError instead of naming the problem."""
    it = first_item(g, "diagnosis")
    last = len(it.options) - 1
    swapped = list(it.option_ids)
    swapped[it.answer_index], swapped[last] = swapped[last], swapped[it.answer_index]
    texts = [g.names[g.row(i)] for i in swapped]
    negative = dataclasses.replace(it, option_ids=swapped, options=texts, answer_index=-1)
    assert reasons(negative, g) == {"bad_shape"}
    assert reasons(dataclasses.replace(it, answer_index=len(it.options)), g) == {"bad_shape"}


def test_two_distractors_that_are_one_entity_are_answer_not_unique(g: SynthesisGraph):
    """The module's contract: two options that are one entity for a reader are
    answer_not_unique, not only a distractor and the key (two distractors named alike
    were let through, and a reader rules out both at once)."""
    it = first_item(g, "diagnosis")
    a, b = (g.row(x) for x in it.distractor_ids[:2])
    names_lower = list(g.names_lower)
    names_lower[b] = names_lower[a]
    g2 = dataclasses.replace(g, names_lower=names_lower)
    assert reasons(it, g2) == {"answer_not_unique"}
    assert verify_item(it, g) == []


def _with_distractor_twin(it: QAItem, rel: str, targets: list[str]) -> SynthesisGraph:
    """The synthetic graph plus OMIM:999, a MAPS_TO twin of the item's first distractor,
    with ``rel`` edges: HAS_PHENOTYPE to ``targets``, or GENE_ASSOCIATED_WITH from them."""
    import polars as pl

    from tests.factories.graphs import synthetic_kg

    kg = synthetic_kg()
    d0 = it.distractor_ids[0]
    twin = kg.nodes.filter(pl.col("id") == d0).with_columns(
        pl.lit("OMIM:999").alias("id"), pl.lit("Twin entry").alias("name")
    )
    template = kg.edges.filter(pl.col("rel") == "HAS_PHENOTYPE", ~pl.col("negated")).head(1)
    pairs = [("OMIM:999", "MAPS_TO", d0)] + [
        ("OMIM:999", rel, t) if rel == "HAS_PHENOTYPE" else (t, rel, "OMIM:999") for t in targets
    ]
    extra = [
        template.with_columns(
            pl.lit(s).alias("src"), pl.lit(r).alias("rel"), pl.lit(d).alias("dst")
        )
        for s, r, d in pairs
    ]
    kg2 = dataclasses.replace(
        kg, nodes=pl.concat([kg.nodes, twin]), edges=pl.concat([kg.edges, *extra])
    )
    return SynthesisGraph.from_kg(kg2, content_hash="x")


def test_a_distractor_whose_twin_fits_is_rejected(g: SynthesisGraph):
    """Diagnosis: a distractor disease whose MAPS_TO twin has every finding is a correct
    diagnosis (ORPHA:776 / OMIM:309520 on the bundled graph); chain: a distractor whose
    twin is a disease of the implicated gene is a correct answer (OMIM:151623 /
    ORPHA:524 Li-Fraumeni syndrome)."""
    dx = first_item(g, "diagnosis")
    cue_ids = [g.ids[c] for c in cues_of(g, dx)]
    g2 = _with_distractor_twin(dx, "HAS_PHENOTYPE", cue_ids)
    assert verify_item(dx, g) == []
    assert reasons(dx, g2) == {"distractor_also_fits"}
    chain = first_item(g, "chain")
    g3 = _with_distractor_twin(chain, "GENE_ASSOCIATED_WITH", [chain.entity_ids[-2]])
    assert verify_item(chain, g) == []
    assert reasons(chain, g3) == {"distractor_also_fits"}
