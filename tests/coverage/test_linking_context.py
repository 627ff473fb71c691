"""The linker's context rules on a hand-made graph in the real node/edge format: sense
choice by co-mentioned entities, preferred sources, variants, qualifier and composite
spans, short forms (in-text, initials of an earlier mention, the curated list), and the
TF-IDF fallback's default against its hand-labelled precision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.spans import crosses_boundary
from medkg.coverage.variants import key_variants, plural, singular
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.text import surface_key

FIX = Path(__file__).parents[1] / "fixtures" / "linking"
INFO = SourceInfo(name="hand-made", version="1", license="CC0-1.0")


def graph() -> KnowledgeGraph:
    d = "Disease"
    nodes = nodes_frame([
        {"id": "MESH:D001943", "kind": d, "name": "Breast Neoplasms",
         "synonyms": ["breast cancer", "mammary cancer"]},
        {"id": "MESH:D010051", "kind": d, "name": "Ovarian Neoplasms", "synonyms": ["ovarian cancer"]},
        {"id": "OMIM:114480", "kind": d, "name": "Breast cancer"},
        {"id": "X:sickle", "kind": d, "name": "Sickle cell crisis", "synonyms": ["crisis"]},
        {"id": "X:addison-crisis", "kind": d, "name": "Addisonian crisis", "synonyms": ["crisis"]},
        {"id": "X:sca", "kind": d, "name": "Sickle cell anemia"},
        {"id": "X:addison", "kind": d, "name": "Addison disease"},
        {"id": "MESH:D009223", "kind": d, "name": "Myotonic Dystrophy",
         "synonyms": ["dystrophia myotonica"]},
        {"id": "MESH:D003920", "kind": d, "name": "Diabetes Mellitus"},
        {"id": "MESH:D015658", "kind": d, "name": "HIV Infections"},
        {"id": "MESH:D009396", "kind": d, "name": "Wilms Tumor", "synonyms": ["Wilms tumor 1"]},
        {"id": "X:g6pd", "kind": d, "name": "G6PD deficiency"},
        {"id": "X:ha", "kind": d, "name": "Anemia, Hemolytic"},
        {"id": "NCBIGene:7490", "kind": "Gene", "name": "WT1"},
    ])  # fmt: skip
    edges = edges_frame([
        {"src": "X:sickle", "rel": "IS_A", "dst": "X:sca"},
        {"src": "X:addison-crisis", "rel": "IS_A", "dst": "X:addison"},
        {"src": "OMIM:114480", "rel": "MAPS_TO", "dst": "MESH:D001943", "method": "name_exact"},
    ])  # fmt: skip
    return KnowledgeGraph.from_frames(stamp(nodes, INFO), stamp(edges, INFO), [INFO])


@pytest.fixture(scope="module")
def lk() -> Linker:
    return Linker.from_graph(graph(), LinkerConfig(kinds=("Disease", "Gene")))


def links(lk: Linker, text: str) -> list[tuple[str, str, str]]:
    return [(r[3], r[4], r[5]) for r in lk.link_text(text).iter_rows()]


def test_context_picks_the_sense_of_a_shared_form(lk: Linker) -> None:
    assert ("crisis", "X:sickle", "exact") in links(lk, "Sickle cell anemia: a crisis.")
    assert ("crisis", "X:addison-crisis", "exact") in links(lk, "Addison disease: a crisis.")
    # no context: the dictionary order (by id here: same rank, kind and prefix)
    assert links(lk, "A crisis.") == [("crisis", "X:addison-crisis", "exact")]


def test_preferred_source_among_equivalents_and_equivalents_returned() -> None:
    g = graph()
    text = "Breast cancer risk."
    mesh = Linker.from_graph(g).link_text(text).row(0, named=True)
    assert (mesh["entity_id"], mesh["equivalents"]) == ("MESH:D001943", ["OMIM:114480"])
    omim = Linker.from_graph(g, LinkerConfig(prefix_priority=("OMIM", "MESH")))
    row = omim.link_text(text).row(0, named=True)
    assert (row["entity_id"], row["equivalents"]) == ("OMIM:114480", ["MESH:D001943"])


def test_variants_qualifiers_and_composites(lk: Linker) -> None:
    assert links(lk, "Two breast cancers.") == [("breast cancers", "MESH:D001943", "exact")]
    # the inverted entry "Anemia, Hemolytic" in natural order, British spelling, plural
    assert links(lk, "haemolytic anaemias") == [("haemolytic anaemias", "X:ha", "exact")]
    assert links(lk, "ovarian neoplasm")[0][1] == "MESH:D010051"  # singular variant
    assert links(lk, "hereditary breast cancer") == [
        ("hereditary breast cancer", "MESH:D001943", "exact")
    ]
    # severity and course describe the case, not the disease: left outside the span
    assert links(lk, "severe hereditary breast cancer") == [
        ("hereditary breast cancer", "MESH:D001943", "exact")
    ]
    assert links(lk, "idiopathic Addison disease") == [("Addison disease", "X:addison", "exact")]
    got = links(lk, "Families with breast and ovarian cancer.")
    assert got == [
        ("breast and ovarian cancer", "MESH:D001943", "composite"),
        ("breast and ovarian cancer", "MESH:D010051", "composite"),
    ]
    # conjuncts that name one entity give one row
    assert links(lk, "breast/mammary cancer") == [
        ("breast/mammary cancer", "MESH:D001943", "composite")
    ]
    off = Linker.from_graph(graph(), LinkerConfig(qualifiers=False))
    assert [r[0] for r in links(off, "hereditary breast and ovarian cancer")] == ["ovarian cancer"]


def test_variant_rules() -> None:
    assert [plural(w) for w in ("tumor", "metastasis", "deficiency", "carcinoma", "cancers")] == [
        "tumors", "metastases", "deficiencies", "carcinomas", None,
    ]  # fmt: skip
    assert [singular(w) for w in ("diseases", "diabetes", "deficiencies", "carcinomata")] == [
        "disease", None, "deficiency", "carcinoma",
    ]  # fmt: skip
    assert " abdominal neoplasms " in key_variants("Neoplasms, Abdominal", " neoplasms abdominal ")
    assert " haemolytic anaemia " in key_variants("hemolytic anemia", " hemolytic anemia ")


@pytest.mark.parametrize(
    ("form", "text"),
    [  # real graph names (Orphanet / OMIM) and the text order they stand for
        ("Familial partial lipodystrophy, Köbberling type",
         "Köbberling type familial partial lipodystrophy"),
        ("Acrofacial dysostosis, Rodríguez type", "Rodriguez-type acrofacial dysostosis"),
    ],
)  # fmt: skip
def test_word_order_variant_folds_like_the_text(form: str, text: str) -> None:
    """The inverted variant is keyed like every other form (accents folded): it used to
    keep ASCII letters only, so "Köbberling" became "k bberling" and never matched."""
    assert surface_key(text) in key_variants(form, surface_key(form))


def test_matches_do_not_cross_brackets_or_sentences(lk: Linker) -> None:
    assert crosses_boundary("G6PD) deficiency") and crosses_boundary("coli. Familial")
    assert not crosses_boundary("Marfan's syndrome") and not crosses_boundary("(G6PD) deficiency")
    assert links(lk, "red-cell G6PD) deficiency") == []
    assert links(lk, "G6PD deficiency")[0][1] == "X:g6pd"


def test_short_forms(lk: Linker) -> None:
    # defined in the text; an earlier mention's initials; the curated list; gene symbols
    got = links(lk, "Myotonic dystrophy is common. DM patients; HIV and DM.")
    assert got[1:] == [
        ("DM", "MESH:D009223", "abbreviation"),
        ("HIV", "MESH:D015658", "abbreviation_list"),
        ("DM", "MESH:D009223", "abbreviation"),
    ]
    # DM before any mention of myotonic dystrophy: the curated sense
    assert links(lk, "DM is common.") == [("DM", "MESH:D003920", "abbreviation_list")]
    # "WT1" is the initials of "Wilms tumor 1", but a gene symbol of the graph
    assert ("WT1", "MESH:D009396", "abbreviation") not in links(lk, "Wilms tumor. WT1 binds.")
    off = Linker.from_graph(graph(), LinkerConfig(clinical_abbreviations=False))
    assert links(off, "DM is common.") == []


def test_fallback_default_follows_its_measured_precision() -> None:
    rows = [json.loads(line) for line in (FIX / "tfidf_sample.jsonl").read_text().splitlines()]
    assert len(rows) >= 100 and all(isinstance(r["correct"], bool) for r in rows)
    assert all(r["text"] in r["context"] for r in rows)
    config = LinkerConfig()
    kept = [r for r in rows if r["score"] >= config.tfidf_threshold]
    precision = sum(r["correct"] for r in kept) / len(kept)
    # the fallback may be on by default only where its labelled precision reaches 0.9
    assert not config.tfidf or precision >= 0.9
