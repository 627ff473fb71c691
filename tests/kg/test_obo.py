"""OBO parsing on a real-format HPO excerpt, and the bad-input paths."""

from pathlib import Path

import polars as pl
import pytest

from medkg.kg.sources.base import SourceError
from medkg.kg.sources.hpo import HpoOntologySource
from medkg.kg.sources.obo import graph_from_obo, parse_obo

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hpo"


def test_parse_terms_synonyms_xrefs_and_header():
    doc = parse_obo(FIXTURES / "mini.obo")
    assert doc.data_version == "hp/releases/2025-01-16"
    assert doc.license == "https://hpo.jax.org/app/license"
    terms = {t.id: t for t in doc.terms}
    arach = terms["HP:0001166"]
    assert arach.name == "Arachnodactyly"
    assert arach.definition == 'Abnormally long and slender fingers ("spider fingers").'
    assert arach.synonyms == ["Long slender fingers", "Spider fingers"]
    assert arach.synonym_scopes == ["EXACT", "EXACT"]
    assert arach.xrefs == ["SNOMEDCT:62250003", "UMLS:C0003706"]
    assert [p for p, _ in arach.parents] == ["HP:0001238", "HP:0040064"]
    assert arach.alt_ids == ["HP:0001505"]
    assert terms["HP:0000002"].obsolete and terms["HP:0000002"].replaced_by == ["HP:0000118"]
    assert doc.report["obo.skipped_stanza.Typedef"] == 1


def test_hpo_kinds_provenance_and_edges():
    kg = HpoOntologySource(FIXTURES / "mini.obo").load()
    kinds = dict(kg.nodes.select("id", "kind").iter_rows())
    assert kinds["HP:0001166"] == "Phenotype"
    assert kinds["HP:0000118"] == "Phenotype"
    assert kinds["HP:0000006"] == "Modifier"
    assert kinds["HP:0000001"] == "Category"
    assert kg.nodes.select(pl.col("source").unique()).item() == "HPO"
    assert kg.nodes.select(pl.col("source_version").unique()).item() == "2025-01-16"
    assert kg.edges.filter(pl.col("source").is_null() | pl.col("license").is_null()).is_empty()
    isa = set(kg.edges.filter(pl.col("rel") == "IS_A").select("src", "dst").iter_rows())
    assert ("HP:0001166", "HP:0001238") in isa and ("HP:0001166", "HP:0040064") in isa
    assert ("HP:0000002", "REPLACED_BY", "HP:0000118") in set(
        kg.edges.select("src", "rel", "dst").iter_rows()
    )


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.obo"
    p.write_text(text, encoding="utf-8")
    return p


def test_malformed_line_names_file_and_line(tmp_path):
    p = _write(
        tmp_path, "format-version: 1.2\n\n[Term]\nid: X:1\nname: a\nthis line has no colon\n"
    )
    with pytest.raises(SourceError, match=r"bad\.obo:6: malformed line"):
        parse_obo(p)


def test_duplicate_id_names_both_lines(tmp_path):
    p = _write(tmp_path, "[Term]\nid: X:1\nname: a\n\n[Term]\nid: X:1\nname: b\n")
    with pytest.raises(
        SourceError, match=r"bad\.obo:6: duplicate id X:1 \(first defined at line 2\)"
    ):
        parse_obo(p)


def test_id_without_prefix_is_an_error(tmp_path):
    p = _write(tmp_path, "[Term]\nid: 0000001\nname: a\n")
    with pytest.raises(SourceError, match=r"bad\.obo:2: id: not a CURIE"):
        parse_obo(p)


def test_bad_synonym_scope(tmp_path):
    p = _write(tmp_path, '[Term]\nid: X:1\nname: a\nsynonym: "b" SIMILAR []\n')
    with pytest.raises(SourceError, match=r"bad\.obo:4: synonym scope 'SIMILAR'"):
        parse_obo(p)


def test_empty_missing_and_non_utf8_files(tmp_path):
    empty = tmp_path / "empty.obo"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty\.obo: file is empty"):
        parse_obo(empty)
    with pytest.raises(SourceError, match=r"nope\.obo: file not found"):
        parse_obo(tmp_path / "nope.obo")
    latin = tmp_path / "latin.obo"
    latin.write_bytes(b"[Term]\nid: X:1\nname: caf\xe9\n")
    with pytest.raises(SourceError, match=r"latin\.obo:3: not UTF-8"):
        parse_obo(latin)
    no_terms = _write(tmp_path, "format-version: 1.2\n")
    with pytest.raises(SourceError, match="no \\[Term\\] stanzas"):
        parse_obo(no_terms)


def test_dangling_parents_and_cycles_are_repaired_and_counted(tmp_path):
    p = _write(
        tmp_path,
        "[Term]\nid: X:1\nname: a\nis_a: X:3\n\n"
        "[Term]\nid: X:2\nname: b\nis_a: X:1\nis_a: X:404\n\n"
        "[Term]\nid: X:3\nname: c\nis_a: X:2\n",
    )
    kg = graph_from_obo(p, name="x")
    assert kg.report["X.obo.dangling_is_a_dropped"] == 1
    assert kg.report["X.obo.is_a_cycle_edges_removed"] == 1
    isa = sorted(kg.edges.filter(pl.col("rel") == "IS_A").select("src", "dst").iter_rows())
    assert len(isa) == 2  # three cycle edges, one removed deterministically
    again = sorted(graph_from_obo(p, name="x").edges.select("src", "dst").iter_rows())
    assert again == isa


def test_generic_obo_declared_prefix_and_kind(tmp_path):
    p = _write(
        tmp_path,
        "ontology: mondo\ndata-version: 2024-01-01\n\n[Term]\nid: mondo:0000001\nname: disease\n\n"
        "[Term]\nid: mondo:0005015\nname: diabetes mellitus\nis_a: mondo:0000001\n",
    )
    kg = graph_from_obo(p, prefixes={"mondo": "MONDO"}, kind="Disease")
    assert sorted(kg.nodes.get_column("id")) == ["MONDO:0000001", "MONDO:0005015"]
    assert set(kg.nodes.get_column("kind")) == {"Disease"}
    assert kg.sources[0].version == "2024-01-01"


MONDO = Path(__file__).parent.parent / "fixtures" / "obo" / "mondo_excerpt.obo"


def test_obo14_qualifiers_and_comments_on_every_tag():
    terms = {t.id: t for t in parse_obo(MONDO).terms}
    hd = terms["MONDO:0007739"]
    # "is_a: X {qualifiers} ! comment" is a parent, not a dangling id
    assert [p for p, _ in hd.parents] == ["MONDO:0005071"]
    assert [p for p, _ in terms["MONDO:0005071"].parents] == ["MONDO:0000001"]
    assert hd.xrefs == ["OMIM:143100", "ORPHA:399"]
    assert hd.synonyms == ["HD", "Huntington chorea"]
    assert hd.synonym_scopes == ["EXACT", "EXACT"]
    assert hd.subsets == ["gard_rare", "ordo_disease", "rare"]
    assert terms["MONDO:0005148"].name == "type 2 diabetes mellitus"


def test_split_value_keeps_quoted_and_escaped_marks():
    from medkg.kg.sources.obo import split_value

    assert split_value('X:1 {source="a"} ! b') == ("X:1", 'source="a"', "b")
    assert split_value('"a ! b" EXACT [] ! c') == ('"a ! b" EXACT []', None, "c")
    assert split_value("Tumour\\! of x") == ("Tumour! of x", None, None)


def test_imported_ontology_names_kinds_subsets_and_rarity():
    kg = graph_from_obo(MONDO, rare_subsets=["rare"])
    info = kg.sources[0]
    assert info.name == "MONDO"  # from "ontology: http://.../mondo.owl", not the file path
    assert info.license == "http://creativecommons.org/licenses/by/4.0/"
    nodes = {r["id"]: r for r in kg.nodes.iter_rows(named=True)}
    assert {r["kind"] for r in nodes.values()} == {"Disease"}  # MONDO ids: diseases
    assert kg.edges.filter(pl.col("rel") == "IS_A").height == 3
    assert "obo.dangling_is_a_dropped" not in str(kg.report)
    import json

    props = json.loads(nodes["MONDO:0007739"]["props"])
    assert props["subsets"] == ["gard_rare", "ordo_disease", "rare"]
    assert props["rare_subset"] == "rare"
    from medkg.kg.build import assemble

    built = {r["id"]: r for r in assemble([kg]).nodes.iter_rows(named=True)}
    assert (built["MONDO:0007739"]["rare"], built["MONDO:0007739"]["rare_reason"]) == (
        True,
        "subset:rare",
    )
    assert built["MONDO:0005148"]["rare"] is False


def test_unknown_rare_subset_is_an_error():
    with pytest.raises(SourceError, match=r"rare subset\(s\) \['orphan'\] not in the file"):
        graph_from_obo(MONDO, rare_subsets=["orphan"])


def test_omim_phenotypic_series_is_not_the_omim_entry(tmp_path):
    """MONDO writes an OMIM phenotypic series (a group of diseases) as ``OMIMPS:203655``;
    ``OMIM:203655`` is one entry of it (MONDO's curation guide: OMIMPS:606176 "diabetes
    mellitus, permanent neonatal" is the grouping class, OMIM:606176 its form 1). The
    prefix was read as OMIM, so the MONDO grouping class got an exact ``xref`` MAPS_TO to
    the single entry."""
    from medkg.kg.build import assemble
    from medkg.kg.curie import normalise_curie
    from medkg.kg.sources.hpoa import HpoAnnotationSource

    assert normalise_curie("OMIMPS:203655") == "OMIMPS:203655"
    assert normalise_curie("OMIM_PS:203655") == "OMIMPS:203655"
    obo = tmp_path / "mondo.obo"
    obo.write_text(
        "format-version: 1.2\nontology: mondo\n\n[Term]\nid: MONDO:0000005\n"
        "name: alopecia, isolated\n"
        'xref: OMIMPS:203655 {source="MONDO:equivalentTo"}\n',
        encoding="utf-8",
    )
    hpoa = _hpoa(
        tmp_path,
        "OMIM:203655\tAlopecia universalis congenita\t\tHP:0002293\tOMIM:203655\tIEA"
        "\t\t\t\t\tP\tHPO:iea[2009-02-17]\n",
    )
    mondo = graph_from_obo(obo)
    assert mondo.nodes.get_column("xrefs").to_list() == [["OMIMPS:203655"]]
    kg = assemble([mondo, HpoAnnotationSource(hpoa).load()])
    maps = kg.edges.filter(pl.col("rel") == "MAPS_TO").select("src", "dst").rows()
    assert ("MONDO:0000005", "OMIM:203655") not in maps
    assert ("OMIM:203655", "MONDO:0000005") not in maps


def test_mondo_related_xref_is_not_an_identity(tmp_path):
    """MONDO marks its precise 1:1 equivalences ``{source="MONDO:equivalentTo"}``; other
    xrefs (``MONDO:relatedTo``, ``MONDO:obsoleteEquivalent`` ...) are loose. Every xref was
    an identity: a relatedTo xref became an exact ``xref`` MAPS_TO edge. Such xrefs now go
    to ``props.related_xrefs`` and make no edge; unqualified and equivalentTo ones stay."""
    from medkg.kg.build import assemble
    from medkg.kg.sources.hpoa import HpoAnnotationSource

    obo = tmp_path / "mondo.obo"
    obo.write_text(
        "format-version: 1.2\nontology: mondo\n\n[Term]\nid: MONDO:0000002\n"
        "name: intermediate disease\n"
        'xref: OMIM:100200 {source="MONDO:equivalentTo"}\n'
        'xref: Orphanet:456 {source="MONDO:relatedTo"}\n'
        'xref: DOID:99 {source="MONDO:obsoleteEquivalent"}\n'
        "xref: UMLS:C0000002\n",
        encoding="utf-8",
    )
    hpoa = _hpoa(
        tmp_path,
        "OMIM:100200\tSome disease\t\tHP:0002293\tOMIM:100200\tIEA\t\t\t\t\tP\tHPO:iea\n"
        "ORPHA:456\tOther disease\t\tHP:0002293\tORPHA:456\tIEA\t\t\t\t\tP\tHPO:iea\n",
    )
    mondo = graph_from_obo(obo)
    row = mondo.nodes.row(0, named=True)
    assert row["xrefs"] == ["OMIM:100200", "UMLS:C0000002"]
    assert '"related_xrefs":["ORPHA:456","DOID:99"]' in row["props"]
    kg = assemble([mondo, HpoAnnotationSource(hpoa).load()])
    maps = kg.edges.filter(pl.col("rel") == "MAPS_TO").select("src", "dst", "method").rows()
    assert ("MONDO:0000002", "OMIM:100200", "xref") in maps
    assert not [m for m in maps if "ORPHA:456" in m[:2] and m[2] == "xref"]


def _hpoa(tmp_path, rows: str):
    """A ``phenotype.hpoa`` in the real format (its header line) with ``rows``."""
    path = tmp_path / "phenotype.hpoa"
    path.write_text(
        "#version: 2025-01-16\n"
        "database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\t"
        "frequency\tsex\tmodifier\taspect\tbiocuration\n" + rows,
        encoding="utf-8",
    )
    return path
