"""HPO annotation loaders on real-format excerpts and on the bundled release."""

import json
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.sources.base import SourceError
from medkg.kg.sources.hpoa import HpoAnnotationSource, HpoGeneSource

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hpo"


def test_hpoa_keeps_qualifiers_and_counts_duplicates():
    kg = HpoAnnotationSource(FIXTURES / "mini.hpoa").load()
    assert sorted(kg.nodes.get_column("id")) == ["OMIM:154700", "OMIM:999999", "ORPHA:558"]
    e = kg.edges
    assert kg.report["HPOA.duplicate_rows_dropped"] == 1
    neg = e.filter(pl.col("negated"))
    assert neg.select("src", "dst").rows() == [("OMIM:154700", "HP:0000545")]
    aorta = e.filter((pl.col("src") == "OMIM:154700") & (pl.col("dst") == "HP:0002616")).sort(
        "onset"
    )
    assert aorta.get_column("onset").to_list() == ["HP:0003577", "HP:0011463"]
    assert aorta.get_column("frequency_value").to_list() == [0.875, 0.375]
    inh = e.filter(pl.col("rel") == "HAS_INHERITANCE")
    assert inh.select("src", "dst").rows() == [("OMIM:154700", "HP:0000006")]
    orpha = e.filter(pl.col("src") == "ORPHA:558").row(0, named=True)
    assert orpha["frequency_value"] == 0.5 and orpha["props"] == '{"sex":"female"}'
    term = e.filter((pl.col("src") == "OMIM:154700") & (pl.col("dst") == "HP:0001166")).row(
        0, named=True
    )
    assert term["frequency"] == "HP:0040281" and term["frequency_value"] == pytest.approx(0.895)
    assert kg.sources[0].version == "2025-01-16"


def test_gene_annotations():
    kg = HpoGeneSource(FIXTURES / "genes_to_phenotype.txt").load()
    assert dict(kg.nodes.select("id", "name").iter_rows()) == {
        "NCBIGene:2200": "FBN1",
        "NCBIGene:7042": "TGFB2",
    }
    gd = set(
        kg.edges.filter(pl.col("rel") == "GENE_ASSOCIATED_WITH").select("src", "dst").iter_rows()
    )
    assert gd == {
        ("NCBIGene:2200", "OMIM:154700"),
        ("NCBIGene:2200", "ORPHA:558"),
        ("NCBIGene:7042", "ORPHA:558"),
    }
    gp = kg.edges.filter((pl.col("rel") == "GENE_HAS_PHENOTYPE") & (pl.col("dst") == "HP:0001166"))
    assert gp.get_column("reference").to_list() == ["OMIM:154700;ORPHA:558"]
    # the sibling phenotype.hpoa is not next to this fixture name, so no version is known
    assert kg.sources[0].version in ("unknown", "2025-01-16")


def test_bundled_release_counts():
    kg = HpoAnnotationSource().load()
    counts = kg.sources[0].counts
    assert counts["diseases"] >= 12_000
    assert counts["edges.HAS_PHENOTYPE"] >= 250_000
    assert counts["negated"] > 500
    genes = HpoGeneSource().load()
    assert genes.sources[0].counts["genes"] >= 5_000


def _hpoa(tmp_path: Path, rows: str) -> Path:
    head = (FIXTURES / "mini.hpoa").read_text().split("database_id")[0]
    p = tmp_path / "bad.hpoa"
    p.write_text(
        head + "database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\t"
        "frequency\tsex\tmodifier\taspect\tbiocuration\n" + rows
    )
    return p


def test_hpoa_bad_rows_name_the_line(tmp_path):
    ok = "OMIM:1\tA\t\tHP:0000001\tx\tTAS\t\t\t\t\tP\tb\n"
    p = _hpoa(tmp_path, ok + "OMIM:1\tA\tMAYBE\tHP:0000001\tx\tTAS\t\t\t\t\tP\tb\n")
    with pytest.raises(SourceError, match=r"bad\.hpoa:7: qualifier must be empty or NOT"):
        HpoAnnotationSource(p).load()
    p = _hpoa(tmp_path, ok + ok + "OMIM:1\tA\t\t0000001\tx\tTAS\t\t\t\t\tP\tb\n")
    with pytest.raises(
        SourceError, match=r"bad\.hpoa:8: column 'hpo_id': '0000001' is not a CURIE"
    ):
        HpoAnnotationSource(p).load()
    p = _hpoa(tmp_path, "OMIM:1\tA\t\tHP:0000001\tx\tTAS\t\t\t\t\tZ\tb\n")
    with pytest.raises(SourceError, match=r"bad\.hpoa:6: unknown aspect 'Z'"):
        HpoAnnotationSource(p).load()


def test_hpoa_missing_column_and_empty(tmp_path):
    p = tmp_path / "cols.hpoa"
    p.write_text("database_id\tdisease_name\nOMIM:1\tA\n")
    with pytest.raises(SourceError, match=r"cols\.hpoa:1: missing column"):
        HpoAnnotationSource(p).load()
    e = tmp_path / "empty.hpoa"
    e.write_text("")
    with pytest.raises(SourceError, match="file is empty"):
        HpoAnnotationSource(e).load()


def test_gene_phenotype_frequency_is_not_one_diseases_frequency(tmp_path: Path):
    """Rows of the bundled genes_to_phenotype.txt (2025-01-16): ABCA1 - Hypertriglyceridemia
    is 0/7 in OMIM:604091 and Very frequent in ORPHA:31150. The gene-phenotype edge stated
    the first disease's 0/7 (frequency_value 0: "never") as the pair's frequency; where the
    diseases disagree there is no one frequency: each disease's is in props.frequencies."""
    path = tmp_path / "genes_to_phenotype.txt"
    path.write_text(
        "ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id\n"
        "19\tABCA1\tHP:0002155\tHypertriglyceridemia\t-\tOMIM:205400\n"
        "19\tABCA1\tHP:0002155\tHypertriglyceridemia\t0/7\tOMIM:604091\n"
        "19\tABCA1\tHP:0002155\tHypertriglyceridemia\tHP:0040281\tORPHA:31150\n"
        "2200\tFBN1\tHP:0002616\tAortic root aneurysm\t7/8\tOMIM:154700\n"
        "2200\tFBN1\tHP:0002616\tAortic root aneurysm\t-\tORPHA:558\n",
        encoding="utf-8",
    )
    gp = HpoGeneSource(path).load().edges.filter(pl.col("rel") == "GENE_HAS_PHENOTYPE")
    rows = {r["src"]: r for r in gp.iter_rows(named=True)}
    abca1 = rows["NCBIGene:19"]
    assert abca1["frequency"] is None and abca1["frequency_value"] is None
    assert json.loads(abca1["props"]) == {
        "frequencies": {"OMIM:604091": "0/7", "ORPHA:31150": "HP:0040281"}
    }
    assert abca1["reference"] == "OMIM:205400;OMIM:604091;ORPHA:31150"
    fbn1 = rows["NCBIGene:2200"]  # one disease states a frequency: it is the pair's
    assert (fbn1["frequency"], fbn1["frequency_value"], fbn1["props"]) == ("7/8", 0.875, None)


def test_a_long_row_names_its_line(tmp_path):
    """A row with a field too many (a stray tab) named no line ("cannot parse as TSV")."""
    ok = "OMIM:1\tA\t\tHP:0000001\tx\tTAS\t\t\t\t\tP\tb\n"
    p = _hpoa(tmp_path, ok + ok + "OMIM:1\tA\t\tHP:0000001\tx\tTAS\t\t\t\t\tP\tb\textra\n")
    with pytest.raises(SourceError, match=r"bad\.hpoa:8: long row: 13 tab-separated fields"):
        HpoAnnotationSource(p).load()
    g = tmp_path / "genes_to_phenotype.txt"
    g.write_text(
        "ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id\n"
        "19\tABCA1\tHP:0002155\tHypertriglyceridemia\t-\tOMIM:205400\tx\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"genes_to_phenotype\.txt:2: long row: 7"):
        HpoGeneSource(g).load()
