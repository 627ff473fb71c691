"""Rarity rules (medkg.kg.rarity) on an excerpt of the real phenotype.hpoa and MeSH-like terms."""

from pathlib import Path

from medkg.kg.build import assemble
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.kg.rarity import parse_prevalence, rarity
from medkg.kg.sources.hpoa import HpoAnnotationSource

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rarity"
MESHLIKE = SourceInfo(name="MeSH-test", version="2024", license="public domain")


def _mesh_like() -> KnowledgeGraph:
    """MeSH descriptors as the bundled dictionary has them, entry terms included."""
    rows = [
        ("MESH:C", "Category", "Diseases", []),
        ("MESH:D012559", "Disease", "Schizophrenia", []),
        (
            "MESH:D003924",
            "Disease",
            "Diabetes Mellitus, Type 2",
            ["MODY", "Diabetes Mellitus, Noninsulin-Dependent"],
        ),
        ("MESH:D001281", "Disease", "Atrial Fibrillation", ["Familial Atrial Fibrillation"]),
        ("MESH:D002819", "Disease", "Chorea", ["Hereditary Chorea"]),
        ("MESH:D008382", "Disease", "Marfan Syndrome", []),
        ("MESH:D016750", "Disease", "Stiff-Person Syndrome", []),
        ("MESH:D007562", "Disease", "Creutzfeldt-Jakob Syndrome", ["Creutzfeldt-Jakob Disease"]),
        ("MESH:D015473", "Disease", "Leukemia, Promyelocytic, Acute", []),
    ]
    nodes = nodes_frame(
        [
            {"id": i, "kind": k, "name": n, "synonyms": s, "synonym_scopes": ["EXACT"] * len(s)}
            for i, k, n, s in rows
        ]
    )
    edges = edges_frame([{"src": i, "rel": "IS_A", "dst": "MESH:C"} for i, _, _, _ in rows[1:]])
    return KnowledgeGraph.from_frames(stamp(nodes, MESHLIKE), stamp(edges, MESHLIKE), [MESHLIKE])


def _reasons() -> dict[str, tuple[bool, str]]:
    kg = assemble([HpoAnnotationSource(FIXTURES / "excerpt.hpoa").load(), _mesh_like()])
    return {i: (r, why) for i, r, why in kg.nodes.select("id", "rare", "rare_reason").iter_rows()}


def test_omim_entry_types_decide_rarity():
    r = _reasons()
    assert r["ORPHA:558"] == (True, "orphanet")
    assert r["OMIM:154700"] == (True, "orphanet_name:ORPHA:558")
    assert r["OMIM:600807"] == (False, "omim_susceptibility")  # Asthma, susceptibility to
    assert r["OMIM:133239"] == (False, "omim_somatic")  # Esophageal cancer, somatic
    assert r["OMIM:181500"] == (False, "common_disease:MESH:D012559")  # Schizophrenia
    assert r["OMIM:125853"] == (False, "common_disease:MESH:D003924")  # T2D via MeSH synonym
    assert r["OMIM:600511"] == (False, "locus_of_common:MESH:D012559")  # Schizophrenia 3


def test_orphanet_population_wide_or_broader_form_outranks_a_common_name_match():
    # MeSH has a descriptor of the same name, which alone made these OMIM entries "common";
    # Orphanet lists their sporadic form / a broader spectrum as rare diseases.
    r = _reasons()
    assert r["OMIM:123400"] == (True, "orphanet_form:ORPHA:204")  # Sporadic CJD
    assert r["OMIM:184850"] == (True, "orphanet_form:ORPHA:3198")  # Stiff person spectrum
    assert r["MESH:D016750"] == (True, "maps_to:ORPHA:3198")
    # Orphanet's narrower forms say nothing about the whole: Familial atrial fibrillation
    # and MODY leave their MeSH diseases common.
    assert r["MESH:D001281"][0] is False and r["MESH:D003924"][0] is False
    assert r["OMIM:125853"] == (False, "common_disease:MESH:D003924")


def test_rarity_does_not_spread_through_entry_terms():
    r = _reasons()
    assert r["MESH:D008382"] == (True, "maps_to:ORPHA:558")  # same preferred name
    # ... in any word order (MeSH inverts: Orphanet's "Acute promyelocytic leukemia")
    assert r["MESH:D015473"] == (True, "maps_to:ORPHA:520")
    # "MODY" and "Familial Atrial Fibrillation" are MeSH entry terms of common diseases
    assert r["MESH:D003924"] == (False, "no_rare_evidence")
    assert r["MESH:D001281"] == (False, "no_rare_evidence")
    assert r["MESH:D002819"] == (False, "no_rare_evidence")
    assert r["MESH:C"] == (False, "not_a_disease")


def test_subsets_and_prevalence_are_evidence():
    nodes = nodes_frame(
        [
            {"id": "X:1", "kind": "Disease", "name": "a", "props": '{"rare_subset":"rare"}'},
            {
                "id": "X:2",
                "kind": "Disease",
                "name": "b",
                "props": '{"prevalence":"1-9 / 100 000"}',
            },
            {"id": "X:3", "kind": "Disease", "name": "c", "props": '{"prevalence":"1/500"}'},
            {"id": "X:4", "kind": "Phenotype", "name": "d", "props": '{"rare_subset":"rare"}'},
        ]
    )
    out = {i: (r, w) for i, r, w in rarity(nodes, edges_frame([])).iter_rows()}
    assert out["X:1"] == (True, "subset:rare")
    assert out["X:2"] == (True, "prevalence:1-9 / 100 000")
    assert out["X:3"] == (False, "prevalence:1/500")
    assert out["X:4"] == (False, "not_a_disease")


def test_parse_prevalence():
    assert parse_prevalence("1-5 / 10 000") == 5 / 10_000
    assert parse_prevalence("1/2000") == 1 / 2000
    assert parse_prevalence("0.0001") == 0.0001
    assert parse_prevalence("unknown") is None
    assert parse_prevalence(None) is None
    assert parse_prevalence("<1 / 1 000 000") == 1e-6


def test_prevalence_at_the_eu_threshold_is_rare():
    """The EU definition (Regulation (EC) No 141/2000) is "not more than five in 10 000"
    and Orphanet's class "1-5 / 10 000" holds rare diseases: an upper bound of exactly
    1/2,000 is rare (it read not rare: the comparison was strict); 6-9 / 10 000 is not."""
    nodes = nodes_frame(
        [
            {"id": "X:1", "kind": "Disease", "name": "a", "props": '{"prevalence":"1-5 / 10 000"}'},
            {"id": "X:2", "kind": "Disease", "name": "b", "props": '{"prevalence":"1/2000"}'},
            {"id": "X:3", "kind": "Disease", "name": "c", "props": '{"prevalence":"6-9 / 10 000"}'},
        ]
    )  # fmt: skip
    out = {i: r for i, r, _ in rarity(nodes, edges_frame([])).iter_rows()}
    assert out == {"X:1": True, "X:2": True, "X:3": False}
