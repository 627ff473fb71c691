"""SSSOM import/export (medkg.kg.mappings) and measured mapping precision (medkg.kg.identity)."""

from pathlib import Path

import polars as pl
import pytest

from medkg.kg.build import assemble
from medkg.kg.derive import source_layer
from medkg.kg.identity import GOLD_DIR, GoldRow, judge, load_gold, measure, wilson_low
from medkg.kg.mappings import graph_mappings, mapping_source, read_sssom, write_sssom
from medkg.kg.sources.base import SourceError
from tests.factories.graphs import small_graph

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mappings"
HEADER = (
    "#curie_map:\n#  HP: http://purl.obolibrary.org/obo/HP_\n"
    "#  MESH: http://id.nlm.nih.gov/mesh/\n#mapping_set_id: https://example.org/x\n"
    "subject_id\tpredicate_id\tpredicate_modifier\tobject_id\tmapping_justification\n"
)


def test_read_normalises_curies_and_keeps_negations():
    table = read_sssom(FIXTURES / "marfan.sssom.tsv")
    f = table.frame
    assert f.get_column("subject_id").to_list()[0] == "ORPHA:558"  # orphanet: -> ORPHA
    assert f.get_column("line").to_list() == [11, 12, 13, 14, 15]  # file lines
    assert f.filter(pl.col("negated")).get_column("subject_id").to_list() == ["HP:0001519"]
    assert table.version == "2024-06"
    assert table.counts == {"rows": 5, "negated": 1, "one_to_many_exact": 0}


@pytest.mark.parametrize(
    ("row", "line", "message"),
    [
        ("FOO:1\tskos:exactMatch\t\tMESH:D1\tsemapv:ManualMappingCuration\n", 6, "FOO"),
        ("HP:1\tskos:exactMatch\n", 6, "object_id"),
        ("HP:1\tskos:exactMatch\t\tMESH:D1\tsemapv:ManualMappingCuration\n"
         "HP:1\tskos:exactMatch\tNot\tMESH:D1\tsemapv:ManualMappingCuration\n", 7, "lines 6 and 7"),
    ],
)  # fmt: skip
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, line: int, message: str):
    path = tmp_path / "bad.sssom.tsv"
    path.write_text(HEADER + row, encoding="utf-8")
    with pytest.raises(SourceError, match=message) as err:
        read_sssom(path)
    assert err.value.line == line and err.value.path == str(path)


def test_bad_front_matter_is_an_error(tmp_path: Path):
    path = tmp_path / "bad.sssom.tsv"
    path.write_text("#curie_map: [unclosed\nsubject_id\tobject_id\n", encoding="utf-8")
    with pytest.raises(SourceError, match="front matter"):
        read_sssom(path)


def test_imported_mappings_become_maps_to_edges_and_place_nodes():
    mappings = mapping_source(read_sssom(FIXTURES / "marfan.sssom.tsv"), name="marfan")
    e = {(s, d): (m, c, p) for s, d, m, c, p in mappings.edges.select(
        "src", "dst", "method", "confidence", "props").iter_rows()}  # fmt: skip
    assert e[("ORPHA:558", "MESH:D008382")][:2] == ("sssom", 0.95)  # manual curation
    assert e[("HP:0001166", "MESH:D054119")][:2] == ("sssom", 0.9)  # as the file says
    assert e[("ORPHA:558", "MESH:D000013")][1] == 0.8  # narrowMatch turned around, broad
    assert '"match":"broad"' in e[("ORPHA:558", "MESH:D000013")][2]
    assert len(e) == 3  # the negated and the relatedMatch rows are not loaded
    assert mappings.report == {"marfan.rows_not_loaded.negated": 1,
                               "marfan.rows_not_loaded.predicate skos:relatedMatch": 1}  # fmt: skip


def test_export_round_trips_through_the_reader(tmp_path: Path):
    kg = small_graph()
    out = tmp_path / "out" / "graph.sssom.tsv"
    n = write_sssom(kg, out, "https://example.org/medkg.sssom.tsv")
    table = read_sssom(out)
    assert n == table.frame.height == kg.edges.filter(pl.col("rel") == "MAPS_TO").height
    rows = graph_mappings(kg)
    assert table.frame.get_column("subject_id").to_list() == rows["subject_id"].to_list()
    assert set(table.frame.get_column("predicate_id")) <= {"skos:exactMatch", "skos:broadMatch"}
    assert [p.name for p in out.parent.iterdir()] == ["graph.sssom.tsv"]  # no temp file left
    # what we export imports again as the same edges
    again = mapping_source(table)
    assert (
        again.edges.select("src", "dst")
        .sort("src", "dst")
        .equals(kg.edges.filter(pl.col("rel") == "MAPS_TO").select("src", "dst").sort("src", "dst"))
    )


def test_judge_reads_predicates_strictly():
    gold = {
        "OMIM:1": [GoldRow("MESH:D1", "chorea", "skos:exactMatch", True, "g"),
                   GoldRow("MESH:D1", "chorea", "skos:broadMatch", False, "g")],
        "HP:1": [GoldRow("MESH:D2", "myopia", "skos:exactMatch", False, "g")],
    }  # fmt: skip
    assert judge("OMIM:1", "MESH:D1", "chorea", "synonym_exact", gold) is False
    assert judge("OMIM:1", "MESH:D1", "chorea", "synonym_exact", gold, placement=True) is True
    assert judge("OMIM:1", "MESH:D1", "chorea", "name_stem", gold) is True
    # a MeSH UI corrected later still matches by name (MESHX counts as MeSH)
    assert judge("HP:1", "MESHX:myopia", "myopia", "name_exact", gold) is True
    # identity to another concept of the same vocabulary is wrong; nothing known is None
    assert judge("HP:1", "MESH:D3", "high myopia", "name_exact", gold) is False
    assert judge("HP:1", "MESH:D3", "high myopia", "name_stem", gold) is None
    assert judge("HP:2", "MESH:D3", "x", "name_exact", gold) is None


def test_gold_sets_are_valid_sssom_and_cover_the_name_methods():
    files = sorted(p.name for p in GOLD_DIR.glob("*.sssom.tsv"))
    assert files == [
        "biomappings_hp_mesh.sssom.tsv",
        "hand_checked.sssom.tsv",
        "hand_checked_xref.sssom.tsv",
    ]
    hand = read_sssom(GOLD_DIR / "hand_checked.sssom.tsv").frame
    assert hand.height >= 140
    # the xref census: 38 HP -> ICD-10 pairs, each an exactMatch or a negated one
    xref = read_sssom(GOLD_DIR / "hand_checked_xref.sssom.tsv").frame
    exact = xref.filter(pl.col("predicate_id") == "skos:exactMatch")
    assert exact.height == exact.select("subject_id", "object_id").n_unique() == 38
    gold = load_gold()
    assert "HP:0000256" in gold or len(gold) > 400


def test_measure_counts_and_assigns_priors_when_unjudged():
    kg = small_graph()
    q = measure(kg.nodes, kg.edges)
    assert q["name_exact"]["edges"] >= 3
    assert q["name_exact"]["precision"] is None  # fewer than MIN_JUDGED judged: unmeasured
    report = kg.report["resolve.identity_quality"]
    assert report["methods"]["name_exact"]["confidence"] == 0.95  # the prior
    assert report["methods"]["name_exact"]["measured"] is False
    assert report["placement_min_precision"] == 0.9


def test_wilson_interval():
    assert wilson_low(39, 40) == pytest.approx(0.8712, abs=1e-4)
    assert wilson_low(0, 0) == 0.0


def test_assembled_import_keeps_imported_edges(tmp_path: Path):
    base = source_layer(small_graph())
    imported = mapping_source(read_sssom(FIXTURES / "marfan.sssom.tsv"), name="marfan")
    kg = assemble([base, imported])
    maps = kg.edges.filter((pl.col("rel") == "MAPS_TO") & (pl.col("method") == "sssom"))
    # MESH:D008382 and MESH:D054119 are not in the small graph: dropped and counted
    assert maps.select("src", "dst").rows() == [("ORPHA:558", "MESH:D000013")]
    assert kg.report["build.dangling_edges_dropped.by_rel"]["MAPS_TO"] == 2


def test_close_match_is_neither_exported_as_exact_nor_read_as_identity(tmp_path: Path):
    """A curated skos:closeMatch says "similar", not "the same": importing it and exporting
    the graph must keep closeMatch, and fact sharing must not follow it (it was exported
    as skos:exactMatch and, at confidence >= 0.95, read as an equivalence)."""
    from medkg.kg.equivalents import equivalence_map

    src = tmp_path / "close.sssom.tsv"
    src.write_text(
        HEADER + "HP:0001166\tskos:closeMatch\t\tMESH:D054119\tsemapv:ManualMappingCuration\n",
        encoding="utf-8",
    )
    edges = mapping_source(read_sssom(src), name="close").edges
    assert '"match":"close"' in edges.get_column("props")[0]
    assert equivalence_map(edges) == {}
    kg = small_graph()
    kg = type(kg)(nodes=kg.nodes, edges=pl.concat([kg.edges, edges], how="diagonal_relaxed"),
                  sources=kg.sources, report=kg.report)  # fmt: skip
    out = tmp_path / "graph.sssom.tsv"
    write_sssom(kg, out, "https://example.org/medkg.sssom.tsv")
    back = read_sssom(out).frame.filter(pl.col("subject_id") == "HP:0001166")
    assert back.get_column("predicate_id").to_list() == ["skos:closeMatch"]


def test_gold_reads_broad_and_narrow_in_their_direction(tmp_path: Path):
    """``A broadMatch B`` says B is broader; read from B's side it is ``B narrowMatch A``.
    The gold reader kept broadMatch for both directions and a broad method's edge counted as
    correct under any positive row, so a placement under a *narrower* concept was judged a
    good parent (a narrowMatch row, or the reverse of a broadMatch row)."""
    from medkg.kg.identity import judge, load_gold

    path = tmp_path / "gold.sssom.tsv"
    path.write_text(
        "#curie_map:\n#  ORPHA: http://www.orpha.net/ORDO/Orphanet_\n"
        "#  MESH: http://id.nlm.nih.gov/mesh/\n#mapping_set_id: https://example.org/g\n"
        "subject_id\tsubject_label\tpredicate_id\tobject_id\tobject_label\tmapping_justification\n"
        "ORPHA:1\tdisease one\tskos:narrowMatch\tMESH:D1\tnarrow one\tsemapv:ManualMappingCuration\n"
        "MESH:D2\tnarrow two\tskos:broadMatch\tORPHA:2\tdisease two\tsemapv:ManualMappingCuration\n"
        "ORPHA:3\tdisease three\tskos:broadMatch\tMESH:D3\tbroad three\tsemapv:ManualMappingCuration\n",
        encoding="utf-8",
    )
    gold = load_gold([path])
    # placing ORPHA:1 / ORPHA:2 under a narrower MeSH descriptor is wrong
    assert judge("ORPHA:1", "MESH:D1", "narrow one", "name_stem", gold) is False
    assert judge("ORPHA:2", "MESH:D2", "narrow two", "name_stem", gold) is False
    assert judge("ORPHA:2", "MESH:D2", "narrow two", "name_exact", gold, placement=True) is False
    # under a broader one it is right, and the narrower side maps up correctly
    assert judge("ORPHA:3", "MESH:D3", "broad three", "name_stem", gold) is True
    assert judge("MESH:D2", "ORPHA:2", "disease two", "name_stem", gold) is True
