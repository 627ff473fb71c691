"""Entity linking on a small real-format graph and on the bundled graph with MMLU."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import polars as pl
import pytest

from medkg.coverage.linking import (
    MENTION_SCHEMA,
    Linker,
    LinkerConfig,
    SchwartzHearstDetector,
    surface_key,
)
from medkg.io import Item, mmlu_medical_items
from medkg.kg.model import KnowledgeGraph, SourceInfo, edges_frame, nodes_frame, stamp
from medkg.outputs import OutputError
from tests.factories.graphs import small_graph


@pytest.fixture(scope="module")
def small() -> KnowledgeGraph:
    return small_graph()


@pytest.fixture(scope="module")
def linker(small: KnowledgeGraph) -> Linker:
    return Linker.from_graph(small, LinkerConfig(tfidf=False))


@pytest.fixture(scope="module")
def full_linker(bundled_kg: KnowledgeGraph) -> Linker:
    return Linker.from_graph(bundled_kg)


def rows(frame: pl.DataFrame) -> list[tuple[int, int, str, str, str]]:
    return [
        (r["start"], r["end"], r["text"], r["entity_id"], r["method"])
        for r in frame.iter_rows(named=True)
    ]


def test_name_and_synonym_link_by_documented_priority(linker: Linker) -> None:
    text = "Marfan syndrome, or Marfan's syndrome, with myopia and spider fingers."
    got = rows(linker.link_text(text))
    # three sources name Marfan syndrome: MESH wins by prefix priority; the synonym
    # "Marfan's Syndrome" is MeSH's; Myopia is named by a phenotype and two diseases,
    # and Disease comes before Phenotype in the default kinds.
    assert got == [
        (0, 15, "Marfan syndrome", "MESH:D056846", "exact"),
        (20, 37, "Marfan's syndrome", "MESH:D056846", "exact"),
        (44, 50, "myopia", "MESH:D009216", "exact"),
        (55, 69, "spider fingers", "HP:0001166", "exact"),
    ]
    phenotypes_first = Linker.from_graph(
        small_graph(), LinkerConfig(kinds=("Phenotype", "Disease"), tfidf=False)
    )
    assert rows(phenotypes_first.link_text("Myopia"))[0][3] == "HP:0000545"


def test_offsets_with_punctuation_case_and_accents(linker: Linker) -> None:
    text = "  (MARFAN--Syndrome!!) ;Nearsightedness... Marfán   syndrome? arachnodactylyX"
    got = linker.link_text(text)
    for r in got.iter_rows(named=True):
        assert text[r["start"] : r["end"]] == r["text"]
    assert rows(got) == [
        (3, 19, "MARFAN--Syndrome", "MESH:D056846", "exact"),
        (24, 39, "Nearsightedness", "HP:0000545", "exact"),
        (43, 60, "Marfán   syndrome", "MESH:D056846", "exact"),
    ]  # "arachnodactylyX" is not a whole word


def test_accents_written_as_combining_marks(linker: Linker) -> None:
    """Decomposed text (NFD): the mark is part of its word, and of the span when it ends
    the mention (it used to split "Marfa\u0301n" in two, so nothing matched)."""
    text = "Marfa\u0301n syndrome and myopia\u0301; MARFA\u0301N\tSYNDROME"
    got = linker.link_text(text)
    assert rows(got) == [
        (0, 16, "Marfa\u0301n syndrome", "MESH:D056846", "exact"),
        (21, 28, "myopia\u0301", "MESH:D009216", "exact"),
        (30, 46, "MARFA\u0301N\tSYNDROME", "MESH:D056846", "exact"),
    ]


def test_the_table_does_not_depend_on_the_batch_size(linker: Linker) -> None:
    """Rows come in item order, each item's by start: a batch was sorted by item id on
    its own, so items "b", "a" linked one at a time and together gave two orders."""
    items = [("b", "Myopia and Marfan syndrome."), ("a", "Marfan syndrome."), ("c", "x")]
    one = linker.link(items, batch_size=1)
    assert one.equals(linker.link(items, batch_size=2))
    assert one.equals(linker.link(items))
    assert rows(one.filter(pl.col("item_id") == "b")) == [
        (0, 6, "Myopia", "MESH:D009216", "exact"),
        (11, 26, "Marfan syndrome", "MESH:D056846", "exact"),
    ]
    assert one.get_column("item_id").to_list() == ["b", "b", "a"]


def test_acronyms_match_only_in_capitals(linker: Linker) -> None:
    got = rows(linker.link_text("FBN1 variants; fbn1 is lower case; TGFB2."))
    assert [(g[2], g[3]) for g in got] == [("FBN1", "NCBIGene:2200"), ("TGFB2", "NCBIGene:7042")]


@pytest.mark.parametrize("synonyms", [["CCTGA", "ccTGA"], ["ccTGA", "CCTGA"]])
def test_a_form_in_capitals_and_in_mixed_case_matches_any_case(synonyms: list[str]) -> None:
    """HPO's HP:0011605 has the EXACT synonyms "CCTGA" and "ccTGA" (one key, one rank):
    the graph writes it in mixed case too, so the key matches text in any case, whatever
    the order of the synonyms (the tie was left to the sort, so it depended on it)."""
    info = SourceInfo(name="HPO", version="2024-08-13", license="HPO license")
    node = {"id": "HP:0011605", "kind": "Phenotype", "synonyms": synonyms,
            "synonym_scopes": ["EXACT", "EXACT"], "name": "Congenitally corrected "
            "transposition of the great arteries with ventricular septal defect"}  # fmt: skip
    kg = KnowledgeGraph.from_frames(
        stamp(nodes_frame([node]), info), stamp(edges_frame([]), info), [info]
    )
    got = rows(Linker.from_graph(kg, LinkerConfig(tfidf=False)).link_text("ccTGA or CCTGA."))
    assert [(g[2], g[3]) for g in got] == [("ccTGA", "HP:0011605"), ("CCTGA", "HP:0011605")]


def test_short_and_stopword_forms_are_skipped_and_counted(small: KnowledgeGraph) -> None:
    lk = Linker.from_graph(small, LinkerConfig(kinds=("Modifier", "Phenotype"), tfidf=False))
    assert lk.stats["skipped_short"] == 1  # "AD", Autosomal dominant inheritance
    assert surface_key(" AD ") not in set(lk.surfaces.get_column("key").to_list())
    assert lk.link_text("AD").height == 0


def test_longest_match_wins(full_linker: Linker) -> None:
    text = "Marfan syndrome type 1 differs from Marfan syndrome; marfans syndrome."
    got = full_linker.link_text(text).filter(pl.col("method") == "exact")
    spans = [(r[0], r[1], r[2]) for r in rows(got)]
    assert spans[0] == (0, 22, "Marfan syndrome type 1")  # not the contained "Marfan syndrome"
    assert spans[1:] == [(36, 51, "Marfan syndrome"), (53, 69, "marfans syndrome")]
    assert set(got.get_column("entity_id")) == {"MESH:D008382"}


def test_abbreviation_resolution(linker: Linker) -> None:
    text = "Marfan syndrome (MFS) is inherited. In MFS, aortic root aneurysm (ARA) matters; ARA."
    got = rows(linker.link_text(text))
    abbr = [(g[0], g[2], g[3]) for g in got if g[4] == "abbreviation"]
    assert abbr == [
        (17, "MFS", "MESH:D056846"),
        (39, "MFS", "MESH:D056846"),
        (66, "ARA", "HP:0002616"),
        (80, "ARA", "HP:0002616"),
    ]
    # "SF (long form)" order, and no link when the long form is not in the dictionary
    got = rows(linker.link_text("ARA (aortic root aneurysm) again: ARA. XYZ (not a disease) XYZ"))
    assert [(g[2], g[4]) for g in got] == [
        ("ARA", "abbreviation"),
        ("aortic root aneurysm", "exact"),
        ("ARA", "abbreviation"),
    ]
    off = Linker.from_graph(small_graph(), LinkerConfig(abbreviations=None, tfidf=False))
    assert "abbreviation" not in off.link_text(text).get_column("method").to_list()


def test_schwartz_hearst_spans() -> None:
    text = "Patients with hypertrophic cardiomyopathy (HCM) and HCM relatives."
    ((short, long),) = SchwartzHearstDetector().find(text)
    assert text[short[0] : short[1]] == "HCM"
    assert text[long[0] : long[1]] == "hypertrophic cardiomyopathy"
    assert SchwartzHearstDetector().find("a value (p < 0.05) and (ok)") == []


def test_tfidf_fallback_threshold(small: KnowledgeGraph) -> None:
    text = "Findings suggest Marfan syndrom in this patient."
    loose = Linker.from_graph(small, LinkerConfig(tfidf=True, tfidf_threshold=0.0))
    hit = loose.link_text(text).filter(pl.col("text") == "Marfan syndrom")
    assert hit.height == 1
    score = hit.item(0, "score")
    assert hit.item(0, "entity_id") == "MESH:D056846" and hit.item(0, "method") == "tfidf"
    assert 0.5 < score < 1.0
    assert text[hit.item(0, "start") : hit.item(0, "end")] == "Marfan syndrom"
    at = Linker.from_graph(small, LinkerConfig(tfidf=True, tfidf_threshold=score - 1e-9))
    above = Linker.from_graph(small, LinkerConfig(tfidf=True, tfidf_threshold=score + 1e-6))
    assert "Marfan syndrom" in at.link_text(text).get_column("text").to_list()
    assert "Marfan syndrom" not in above.link_text(text).get_column("text").to_list()
    # exact mentions are never re-linked by the fallback
    assert loose.link_text("Marfan syndrome").get_column("method").to_list() == ["exact"]


def test_streaming_batches_and_persistence(linker: Linker, tmp_path: Path) -> None:
    items = [Item("a", "Myopia."), Item("b", "nothing here"), Item("c", "FBN1 and myopia")]
    frames = list(linker.iter_link(items, batch_size=1))
    assert len(frames) == 3 and all(f.schema == MENTION_SCHEMA for f in frames)
    whole = linker.link(items)
    assert whole.equals(pl.concat(frames))
    assert whole.get_column("item_id").to_list() == ["a", "c", "c"]
    reloaded = Linker.load(linker.save(tmp_path / "linker"))
    assert reloaded.link(items).equals(whole)
    assert linker.link([]).schema == MENTION_SCHEMA


def test_saving_a_linker_is_staged(linker: Linker, tmp_path: Path) -> None:
    """Linker.save writes through a staged folder: a folder of someone else's files is
    refused and left as it is; a save that fails half way leaves the earlier save whole
    (it wrote in place: the earlier folder lost its surfaces and kept a stale linker.json)."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(OutputError):
        linker.save(theirs)
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]

    folder = linker.save(tmp_path / "linker")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # another linker whose save fails at its last file (linker.json: a stat JSON cannot hold)
    unwritable = cast(dict[str, int], {"bad": object()})
    other = Linker(linker.surfaces.head(3), linker.config, unwritable, linker.senses)
    with pytest.raises(TypeError):
        other.save(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    assert Linker.load(folder).link_text("Marfan syndrome").height > 0


def test_mmlu_medical_end_to_end(full_linker: Linker) -> None:
    items = mmlu_medical_items()
    t = time.perf_counter()
    mentions = full_linker.link(items)
    elapsed = time.perf_counter() - t
    texts = pl.DataFrame({"item_id": [i.id for i in items], "full": [i.text for i in items]})
    joined = mentions.join(texts, on="item_id")
    assert joined.height == mentions.height
    spans = [full[s:e] for full, s, e in joined.select("full", "start", "end").iter_rows()]
    assert spans == joined.get_column("text").to_list()  # every offset points at its text
    linked = mentions.get_column("item_id").n_unique()
    by_method = dict(mentions.group_by("method").len().iter_rows())
    print(f"MMLU medical: {linked}/1089 items with >=1 mention, {by_method}, {elapsed:.1f} s")
    # 750 at the defaults when written (the TF-IDF fallback is off: 725 by exact +
    # abbreviation before variants, qualifiers, composites and the abbreviation list)
    assert linked >= 740
    assert {"exact", "abbreviation", "composite", "abbreviation_list"} <= set(by_method)
    assert "tfidf" not in by_method
    # every mention carries its entity's exact-mapping equivalents (never itself)
    assert mentions.filter(pl.col("equivalents").list.len() > 0).height > 0
    assert not any(e in q for e, q in mentions.select("entity_id", "equivalents").iter_rows())


def test_scispacy_backend_agrees_with_schwartz_hearst(small: KnowledgeGraph) -> None:
    pytest.importorskip("scispacy", reason="optional: pip install scispacy==0.6.2")
    from medkg.coverage.linking import ScispacyDetector

    text = "Patients with hypertrophic cardiomyopathy (HCM); Marfan syndrome (MFS) and MFS."
    sci = ScispacyDetector().find(text)
    ours = SchwartzHearstDetector().find(text)
    assert set(ours) <= set(sci)  # scispaCy also lists the later occurrences of each SF
    assert {long for _, long in sci} == {long for _, long in ours}
    both = [
        Linker.from_graph(small, LinkerConfig(abbreviations=name, tfidf=False)).link_text(text)
        for name in ("schwartz_hearst", "scispacy")
    ]
    assert both[0].equals(both[1])


def test_shard_task_carries_the_sense_context(small: KnowledgeGraph) -> None:
    # a worker rebuilds the linker from the task: it must keep the senses and mappings,
    # or sharded runs would lose the equivalents and the context choice
    import pickle

    from medkg.coverage.sharded import LinkShard

    lk = Linker.from_graph(small, LinkerConfig())
    task = pickle.loads(pickle.dumps(LinkShard(lk)))
    pairs = [("a", "Marfan syndrome with myopia."), ("b", "MFS")]
    local = lk.link_texts(pairs)
    assert local.filter(pl.col("equivalents").list.len() > 0).height == 2
    assert task.run(pairs).equals(local)
