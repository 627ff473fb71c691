"""The learned mention filter: its features, how the linker applies it, the shipped weights."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.linking_filter import (
    FEATURES,
    MentionFilter,
    mention_features,
    packaged_filter,
)
from medkg.errors import MedkgError
from medkg.kg.model import KnowledgeGraph
from tests.factories.graphs import small_graph

TEXT = (
    "Expression of the von Hippel-Lindau disease tumour suppressor gene. Marfan syndrome "
    "(MFS) is rare; Atm-deficient mice and myopia syndrome were seen."
)


def feats(span: str, **kw: object) -> dict[str, float]:
    start = TEXT.index(span)
    args: dict[str, object] = {
        "method": "exact", "entity": "MESH:D000001", "rank": 0, "senses": 1,
        "gene_symbol": False, "entity_count": 1, "entity_first": True,
    }  # fmt: skip
    args.update(kw)
    return mention_features(TEXT, start, start + len(span), **args)  # type: ignore[arg-type]


def test_features_of_hand_written_mentions() -> None:
    tumour = feats("tumour", rank=2, entity_count=2, entity_first=False)
    assert {k for k, v in tumour.items() if v and k != "chars_log"} == {
        "method_exact", "prefix_MESH_D", "rank_other_syn", "words_1", "case_lower",
        "one_lower_word", "next_gene_word", "entity_repeated",
    }  # fmt: skip
    mfs = feats("MFS", method="abbreviation", entity="OMIM:154700", senses=3, gene_symbol=True)
    assert {k for k, v in mfs.items() if v and k != "chars_log"} == {
        "method_abbreviation", "prefix_OMIM", "rank_name", "words_1", "case_upper",
        "gene_symbol", "ambiguous", "in_brackets", "entity_first",
    }  # fmt: skip
    marfan = feats("Marfan syndrome", entity="MESH:C000001", rank=4)
    assert marfan["sentence_initial"] == marfan["case_title"] == marfan["words_2"] == 1.0
    assert marfan["prefix_MESH_C"] == marfan["rank_variant"] == 1.0
    atm = feats("Atm", method="rule", entity="ORPHA:100")
    assert atm["hyphen_attached"] == atm["method_rule"] == atm["prefix_ORPHA"] == 1.0
    assert feats("myopia")["next_head_word"] == 1.0
    assert feats("von Hippel-Lindau disease")["has_hyphen_slash"] == 1.0
    assert feats("von Hippel-Lindau disease")["words_3plus"] == 1.0
    assert feats("von Hippel-Lindau disease")["case_mixed"] == 1.0
    assert set(tumour) | set(mfs) | set(marfan) | set(atm) <= set(FEATURES)


@pytest.fixture(scope="module")
def small() -> KnowledgeGraph:
    return small_graph()


def test_filter_judges_only_its_kinds_and_keeps_what_it_accepts(small: KnowledgeGraph) -> None:
    text = "Marfan syndrome (MFS) with myopia, spider fingers and FBN1 variants."
    plain = Linker.from_graph(small, LinkerConfig(tfidf=False))
    base = plain.link_text(text)
    assert set(base.get_column("entity_id")) >= {"MESH:D056846", "HP:0001166", "NCBIGene:2200"}
    on = LinkerConfig(tfidf=False, mention_filter=True)
    # a filter that rejects every Disease mention: the phenotype and the gene stay
    reject = MentionFilter({}, intercept=-20.0, threshold=0.5, kinds=("Disease",))
    got = Linker.from_graph(small, on, reject).link_text(text)
    kind = dict(small.nodes.select("id", "kind").iter_rows())
    assert [kind[e] for e in got.get_column("entity_id")] == [
        kind[e] for e in base.get_column("entity_id") if kind[e] != "Disease"
    ]
    # one weight decides: upper-case mentions (the abbreviation) go, the rest stays
    caps = MentionFilter({"case_upper": -30.0}, intercept=5.0, threshold=0.5, kinds=("Disease",))
    got = Linker.from_graph(small, on, caps).link_text(text)
    assert got.get_column("text").to_list() == [
        t for t in base.get_column("text").to_list() if t != "MFS"
    ]
    accept = MentionFilter({}, intercept=20.0, threshold=0.5, kinds=("Disease",))
    assert Linker.from_graph(small, on, accept).link_text(text).equals(base)


def test_candidate_features_are_the_unfiltered_mentions(small: KnowledgeGraph) -> None:
    items = [("a", "Marfan syndrome (MFS) and myopia; MFS again."), ("b", "spider fingers")]
    linker = Linker.from_graph(small, LinkerConfig(tfidf=False))
    linked = linker.link(items)
    cands = linker.candidate_features(items)
    assert [(c[0], c[1], c[2], c[3], c[4]) for c in cands] == list(
        linked.select("item_id", "start", "end", "entity_id", "method").iter_rows()
    )
    mfs = [f for i, s, e, ent, m, f in cands if m == "abbreviation"]
    assert len(mfs) == 2 and all(f["entity_repeated"] for f in mfs)
    assert [f.get("entity_first", 0.0) for f in mfs] == [0.0, 0.0]  # "Marfan syndrome" first


def test_packaged_filter_is_off_by_default_and_well_formed() -> None:
    # off by default: on the NCBI development set's held-out check half it lowered
    # mention F1 (bench/README.md, "Linking accuracy")
    assert LinkerConfig().mention_filter is False
    flt = packaged_filter()
    assert flt.kinds == ("Disease",) and 0.0 < flt.threshold < 1.0
    assert set(flt.weights) == set(FEATURES)
    data = flt.to_dict()
    assert MentionFilter.from_dict(json.loads(json.dumps(data))) == flt
    assert replace(LinkerConfig(), mention_filter=True).mention_filter


def test_a_malformed_filter_names_the_file() -> None:
    with pytest.raises(MedkgError, match=r"f\.json: unknown features bogus"):
        MentionFilter.from_dict(
            {"weights": {"bogus": 1.0}, "intercept": 0, "threshold": 0.5, "kinds": []}, "f.json"
        )
    with pytest.raises(MedkgError, match=r"f\.json: not a mention filter"):
        MentionFilter.from_dict({"weights": {}}, "f.json")


def test_a_saved_linker_keeps_the_filter_setting(small: KnowledgeGraph, tmp_path: Path) -> None:
    on = Linker.from_graph(small, LinkerConfig(tfidf=False, mention_filter=True))
    text = "Marfan syndrome (MFS) with myopia; MFS."
    again = Linker.load(on.save(tmp_path / "linker"))
    assert again.config.mention_filter
    assert again.link_text(text).equals(on.link_text(text))
