"""The generic node/edge table loader: a small clinic table in CSV, TSV and Parquet, and bad input."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import polars as pl
import pytest

from medkg.kg.model import IS_A, KnowledgeGraph
from medkg.kg.sources.base import SOURCES, SourceError
from medkg.kg.sources.tables import TablesSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "generic"
PROVENANCE = {"name": "clinic", "version": "2024-03", "license": "CC-BY-4.0"}


def load(ext: str, **options: object) -> KnowledgeGraph:
    return TablesSource(
        FIXTURES / f"clinic_nodes.{ext}",
        edges=FIXTURES / f"clinic_edges.{ext}",
        **{**PROVENANCE, **options},
    ).load()


def node(kg: KnowledgeGraph, node_id: str) -> dict:
    row = kg.node(node_id)
    assert row is not None, f"{node_id} missing"
    return row


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, edges: Path | None = None, **options: object) -> SourceError:
    with pytest.raises(SourceError) as err:
        TablesSource(path, edges=edges, **options).load()
    return err.value


NODES_OK = "id,name\nCLIN:1,Alpha\nCLIN:2,Beta\n"


@pytest.fixture(scope="module")
def csv_kg() -> KnowledgeGraph:
    return load("csv")


def test_registered_and_not_default() -> None:
    assert SOURCES["tables"] is TablesSource
    assert TablesSource.default_enabled is False
    with pytest.raises(SourceError, match="no bundled file"):
        TablesSource()


def test_nodes_with_optional_columns_and_props(csv_kg: KnowledgeGraph) -> None:
    assert csv_kg.nodes.height == 5
    dravet = node(csv_kg, "CLIN:0002")
    assert dravet["name"] == "Dravet syndrome"
    assert dravet["kind"] == "Disease"
    assert dravet["definition"].startswith("A severe developmental and epileptic encephalopathy")
    assert dravet["synonyms"] == ["Severe myoclonic epilepsy of infancy", "SMEI"]
    assert dravet["synonym_scopes"] == ["RELATED", "RELATED"]  # no scope column: RELATED
    assert dravet["xrefs"] == ["MONDO:0100135", "OMIM:607208", "ORPHA:33069"]  # MIM -> OMIM
    assert json.loads(dravet["props"]) == {"curator": "A. Moreau"}
    assert node(csv_kg, "CLIN:0003")["props"] is None  # empty extra cell adds nothing
    assert node(csv_kg, "CLIN:0003")["definition"] is None
    assert node(csv_kg, "NCBIGene:6323")["kind"] == "Gene"
    assert csv_kg.nodes["obsolete"].sum() == 0


def test_prefix_spellings_normalised_and_counted(csv_kg: KnowledgeGraph) -> None:
    # clin:0004 (id and edge src) and hp:0001250 (edge dst) are respelled
    lgs = node(csv_kg, "CLIN:0004")
    assert lgs["name"] == "Lennox-Gastaut syndrome"
    assert "clin:0004" not in set(csv_kg.nodes["id"])
    assert ("CLIN:0004", "HAS_PHENOTYPE", "HP:0001250") in set(
        csv_kg.edges.select("src", "rel", "dst").iter_rows()
    )
    assert csv_kg.report["clinic.tables.prefix_spellings_normalised"] == 3
    assert csv_kg.report["clinic.tables.prefix_spellings_normalised.detail"] == {
        "clin->CLIN": 2,
        "hp->HP": 1,
    }
    # the Wikipedia URL is kept as written, and counted
    assert "https://en.wikipedia.org/wiki/Lennox-Gastaut_syndrome" in lgs["xrefs"]
    assert csv_kg.report["clinic.tables.xrefs_not_curie_kept_as_written"] == 1


def test_parent_column_becomes_is_a(csv_kg: KnowledgeGraph) -> None:
    is_a = set(csv_kg.edges.filter(pl.col("rel") == IS_A).select("src", "dst").iter_rows())
    assert is_a == {
        ("CLIN:0002", "CLIN:0001"),
        ("CLIN:0003", "CLIN:0001"),
        ("CLIN:0004", "CLIN:0001"),
    }


def test_edge_qualifiers_and_props(csv_kg: KnowledgeGraph) -> None:
    edges = csv_kg.edges
    assert edges.height == 9
    first = edges.filter((pl.col("src") == "CLIN:0002") & (pl.col("dst") == "HP:0001250")).row(
        0, named=True
    )
    assert first["negated"] is False
    assert (first["frequency"], first["onset"], first["evidence"], first["reference"]) == (
        "HP:0040281",
        "HP:0003593",
        "PCS",
        "PMID:16713920",
    )
    assert json.loads(first["props"]) == {"note": "febrile first"}
    negated = edges.filter(pl.col("src") == "CLIN:0003").filter(pl.col("rel") != IS_A)
    assert negated["negated"].to_list() == [True]
    mapping = edges.filter(pl.col("rel") == "MAPS_TO").row(0, named=True)
    assert (mapping["dst"], mapping["method"], mapping["confidence"]) == (
        "ORPHA:33069",
        "manual_curation",
        0.95,
    )
    # endpoints in HP/ORPHA are other sources' nodes: kept without stubs, counted
    assert csv_kg.report["clinic.tables.endpoints_in_other_sources"] == 5
    assert csv_kg.sources[0].counts == {
        "nodes": 5,
        "stub_nodes": 0,
        "edges.GENE_ASSOCIATED_WITH": 1,
        "edges.HAS_PHENOTYPE": 4,
        "edges.IS_A": 3,
        "edges.MAPS_TO": 1,
    }


def test_every_row_stamped_with_provenance(csv_kg: KnowledgeGraph) -> None:
    for frame in (csv_kg.nodes, csv_kg.edges):
        assert frame.select("source", "source_version", "license").unique().rows() == [
            ("clinic", "2024-03", "CC-BY-4.0")
        ]
    (info,) = csv_kg.sources
    assert (info.name, info.version, info.license) == ("clinic", "2024-03", "CC-BY-4.0")
    assert info.path == str(FIXTURES / "clinic_nodes.csv")


def test_csv_tsv_and_parquet_give_identical_graphs(csv_kg: KnowledgeGraph) -> None:
    nodes, edges = csv_kg.canonical()
    for ext in ("tsv", "parquet"):
        kg = load(ext)
        other_nodes, other_edges = kg.canonical()
        assert other_nodes.equals(nodes), ext
        assert other_edges.equals(edges), ext
        assert kg.report == csv_kg.report
        assert kg.content_hash() == csv_kg.content_hash()


def test_folder_with_nodes_and_edges(csv_kg: KnowledgeGraph, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "clinic_nodes.tsv", tmp_path / "nodes.tsv")
    shutil.copy(FIXTURES / "clinic_edges.parquet", tmp_path / "edges.parquet")
    kg = TablesSource(tmp_path, **PROVENANCE).load()
    assert kg.content_hash() == csv_kg.content_hash()
    shutil.copy(FIXTURES / "clinic_nodes.csv", tmp_path / "nodes.csv")
    with pytest.raises(SourceError, match=r"several nodes tables: nodes\.csv, nodes\.tsv"):
        TablesSource(tmp_path).load()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match=r"no nodes\.csv, nodes\.tsv or nodes\.parquet"):
        TablesSource(empty).load()


def test_nodes_only_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", NODES_OK)
    kg = TablesSource(nodes=path).load()
    assert kg.edges.height == 0
    assert set(kg.nodes["kind"]) == {"Category"}
    assert kg.source_versions() == {"tables": "unknown"}
    assert set(TablesSource(path, default_kind="Disease").load().nodes["kind"]) == {"Disease"}


def test_synonym_scopes_obsolete_and_multiple_parents(tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.tsv",
        "id\tname\tsynonyms\tsynonym_scopes\tobsolete\tparent\n"
        "X:1\tRoot\t\t\t\t\n"
        "X:2\tOther root\t\t\tno\t\n"
        "X:3\tChild\tKid|Offspring\texact|narrow\tyes\tX:1|x:2\n",
    )
    kg = TablesSource(path, prefixes={"X": "http://example.org/x/"}).load()
    child = node(kg, "X:3")
    assert list(zip(child["synonyms"], child["synonym_scopes"], strict=True)) == [
        ("Kid", "EXACT"),
        ("Offspring", "NARROW"),
    ]
    assert child["obsolete"] is True
    assert set(kg.edges.select("src", "dst").iter_rows()) == {("X:3", "X:1"), ("X:3", "X:2")}


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "id,name\n\nCLIN:1,Alpha\n,\n\nCLIN:2,Beta\n\n")
    assert sorted(TablesSource(path).load().nodes["id"]) == ["CLIN:1", "CLIN:2"]


def test_allow_external_keeps_unknown_endpoints_as_flagged_stubs(tmp_path: Path) -> None:
    nodes = write(tmp_path / "n.csv", NODES_OK)
    edges = write(
        tmp_path / "e.csv", "src,rel,dst\nCLIN:1,RELATED_TO,LOCAL:99\nCLIN:2,RELATED_TO,LOCAL:99\n"
    )
    kg = TablesSource(nodes, edges=edges, allow_external=True).load()
    stub = node(kg, "LOCAL:99")
    assert json.loads(stub["props"]) == {"stub": True}
    assert kg.report["tables.tables.external_endpoints_stubbed"] == 1
    assert kg.sources[0].counts["stub_nodes"] == 1
    assert kg.edges.height == 2


def test_duplicate_edges_dropped_and_counted(tmp_path: Path) -> None:
    nodes = write(tmp_path / "n.csv", "id,name,parent\nCLIN:1,Alpha,\nCLIN:2,Beta,CLIN:1\n")
    edges = write(tmp_path / "e.csv", "src,rel,dst\nCLIN:2,IS_A,CLIN:1\nclin:2,IS_A,CLIN:1\n")
    kg = TablesSource(nodes, edges=edges).load()
    assert kg.edges.height == 1
    assert kg.report["tables.tables.duplicate_edges_dropped"] == 2


def test_is_a_cycle_broken_and_counted(tmp_path: Path) -> None:
    nodes = write(tmp_path / "n.csv", "id,name,parent\nCLIN:1,Alpha,CLIN:2\nCLIN:2,Beta,CLIN:1\n")
    kg = TablesSource(nodes).load()
    assert kg.edges.height == 1
    assert kg.report["tables.tables.is_a_cycle_edges_removed"] == 1


# ------------------------------------------------------------------ bad input
def test_missing_required_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "nodes.csv", "id,label\nCLIN:1,Alpha\n")
    err = error_of(path)
    assert err.line == 1
    assert str(err).startswith(f"{path}:1: missing required column(s) 'name'")
    nodes = write(tmp_path / "n.csv", NODES_OK)
    edges = write(tmp_path / "edges.tsv", "src\trel\ttarget\nCLIN:1\tIS_A\tCLIN:2\n")
    assert str(error_of(nodes, edges)).startswith(f"{edges}:1: missing required column(s) 'dst'")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("id,name\nCLIN:1,Alpha\n,Beta\n", 3, "empty id"),
        ("id,name\nCLIN:1,Alpha\n   ,Beta\n", 3, "empty id"),
        (
            "id,name\nCLIN:1,Alpha\nBeta-2,Beta\n",
            3,
            "id 'Beta-2' is not a CURIE (expected PREFIX:local)",
        ),
        ("id,name\nCLIN:1,Alpha\nCLIN:2,\n", 3, "empty name for CLIN:2"),
        (
            "id,name\nCLIN:1,Alpha\nCLIN:2,Beta\nCLIN:1,Gamma\n",
            4,
            "duplicate id CLIN:1 (first on line 2)",
        ),
        # a duplicate hidden by prefix case is still a duplicate
        ("id,name\nCLIN:1,Alpha\n\nclin:1,Gamma\n", 4, "duplicate id CLIN:1 (first on line 2)"),
        (
            "id,name,parent\nCLIN:1,Alpha,\nCLIN:2,Beta,CLIN:9\n",
            3,
            "parent CLIN:9 is not in the nodes table",
        ),
        ("id,name,parent\nCLIN:1,Alpha,not a curie\n", 2, "parent 'not a curie' is not a CURIE"),
        (
            "id,name,obsolete\nCLIN:1,Alpha,maybe\n",
            2,
            "column 'obsolete': 'maybe' is not a boolean",
        ),
        (
            "id,name\nCLIN:1,Alpha\nCLIN:2,Beta,extra\n",
            3,
            "expected 2 fields (as in the header), found 3",
        ),
        ("id,name\nCLIN:1,Alpha\nCLIN:2\n", 3, "expected 2 fields (as in the header), found 1"),
        # a quoted field spanning lines: the error after it still names the right line
        (
            'id,name,definition\nCLIN:1,Alpha,"two\nlines"\nCLIN:1,Beta,\n',
            4,
            "duplicate id CLIN:1 (first on line 2)",
        ),
        (
            'id,name,definition\nCLIN:1,Alpha,"two\nlines"\nCLIN:2,Beta,x,y\n',
            4,
            "expected 3 fields",
        ),
        (
            "id,name,synonyms,synonym_scopes\nCLIN:1,Alpha,A|B,EXACT\n",
            2,
            "synonym_scopes must give one of",
        ),
        ("id,name,id\nCLIN:1,Alpha,CLIN:2\n", 1, "duplicate column 'id' in the header"),
    ],
)
def test_bad_nodes_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path / "nodes.csv", text)
    err = error_of(path)
    assert err.path == str(path)
    assert err.line == line
    assert str(err).startswith(f"{path}:{line}: {message}")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "src,rel,dst\nCLIN:1,IS_A,CLIN:2\nCLIN:2,has phenotype,HP:0001250\n",
            3,
            "relation 'has phenotype' must be upper snake case (^[A-Z][A-Z0-9_]*$), e.g. HAS_PHENOTYPE",
        ),
        ("src,rel,dst\nCLIN:2,isA,CLIN:1\n", 2, "relation 'isA' must be upper snake case"),
        ("src,rel,dst\nCLIN:2,,CLIN:1\n", 2, "empty rel"),
        ("src,rel,dst\nCLIN:2,IS_A,\n", 2, "empty dst"),
        ("src,rel,dst\nCLIN:2,IS_A,CLIN-1\n", 2, "dst 'CLIN-1' is not a CURIE"),
        (
            "src,rel,dst\nCLIN:1,IS_A,CLIN:2\nLOCAL:7,RELATED_TO,CLIN:1\n",
            3,
            "src LOCAL:7 is not in the nodes table and 'LOCAL' is not a known prefix; add the node, "
            "declare the prefix (prefixes=), or pass allow_external=True",
        ),
        ("src,rel,dst\nCLIN:2,IS_A,CLIN:3\n", 2, "dst CLIN:3 is not in the nodes table"),
        (
            "src,rel,dst,confidence\nCLIN:2,MAPS_TO,CLIN:1,high\n",
            2,
            "column 'confidence': 'high' is not a number",
        ),
        (
            "src,rel,dst,confidence\nCLIN:2,MAPS_TO,CLIN:1,1.5\n",
            2,
            "confidence 1.5 is outside [0, 1]",
        ),
        (
            "src,rel,dst,negated\nCLIN:2,HAS_PHENOTYPE,HP:0001250,NOT\n",
            2,
            "column 'negated': 'NOT' is not a boolean",
        ),
    ],
)
def test_bad_edges_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    nodes = write(tmp_path / "nodes.csv", NODES_OK)
    edges = write(tmp_path / "edges.csv", text)
    err = error_of(nodes, edges)
    assert err.path == str(edges)
    assert err.line == line
    assert str(err).startswith(f"{edges}:{line}: {message}")


def test_declared_prefix_makes_endpoint_known(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.csv", NODES_OK)
    edges = write(tmp_path / "edges.csv", "src,rel,dst\nlocal:7,RELATED_TO,CLIN:1\n")
    kg = TablesSource(nodes, edges=edges, prefixes={"LOCAL": "http://example.org/local/"}).load()
    assert kg.edges["src"].to_list() == ["LOCAL:7"]
    assert kg.node("LOCAL:7") is None  # known prefix: another source's node, no stub
    assert kg.report["tables.tables.endpoints_in_other_sources"] == 1


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nodes.csv"
    path.write_bytes("id,name\nCLIN:1,Alpha\nCLIN:2,Sjögren\n".encode("latin-1"))
    err = error_of(path)
    assert err.line == 3
    assert str(err).startswith(f"{path}:3: not UTF-8 (byte 0xf6")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "nodes.csv"
    path.write_bytes("\ufeffid,name\nCLIN:1,Sjögren syndrome\n".encode())
    assert node(TablesSource(path).load(), "CLIN:1")["name"] == "Sjögren syndrome"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nodes.csv", b"", "file is empty"),
        ("nodes.tsv", b"\n  \n", "file is empty"),
        ("nodes.csv", b"id,name\n", "no data rows (only a header)"),
        (
            "nodes.txt",
            b"id,name\nCLIN:1,a\n",
            "cannot tell the table format from the extension '.txt'",
        ),
        ("nodes.parquet", b"PAR1 not really", "cannot read Parquet"),
    ],
)
def test_empty_or_unreadable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    err = error_of(path)
    assert str(err).startswith(f"{path}: {message}")


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    assert "file not found" in str(error_of(tmp_path / "nodes.csv"))
    with pytest.raises(ValueError, match="unknown tables source options"):
        TablesSource(tmp_path / "n.csv", edge=tmp_path / "e.csv")


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "nodes.parquet"
    pl.DataFrame({"id": ["CLIN:1", "CLIN:2", "CLIN:1"], "name": ["a", "b", "c"]}).write_parquet(
        path
    )
    err = error_of(path)
    assert err.line is None
    assert str(err) == f"{path}: row 3: duplicate id CLIN:1 (first on row 1)"


# ------------------------------------------------------------------ scale
@pytest.mark.slow  # 100k rows: seconds on two shared cores
def test_loads_100k_rows_quickly(tmp_path: Path) -> None:
    n = 100_000
    nodes = tmp_path / "nodes.csv"
    edges = tmp_path / "edges.csv"
    with nodes.open("w") as f:
        f.write("id,name,kind,synonyms,xrefs,parent,curator\n")
        for i in range(1, n + 1):
            parent = f"CLIN:{(i - 1) // 4 + 1}" if i > 1 else ""
            f.write(f"CLIN:{i},Disease {i},Disease,Syn {i}|Alt {i},OMIM:{600000 + i},{parent},x\n")
    with edges.open("w") as f:
        f.write("src,rel,dst,frequency,evidence\n")
        for i in range(1, n + 1):
            f.write(f"CLIN:{i},HAS_PHENOTYPE,HP:{i % 5000:07d},HP:0040281,PCS\n")
    start = time.perf_counter()
    kg = TablesSource(nodes, edges=edges).load()
    elapsed = time.perf_counter() - start
    print(f"\n100k nodes + 200k edges (CSV) loaded in {elapsed:.2f} s")
    assert kg.nodes.height == n
    assert kg.edges.height == 2 * n - 1
    assert elapsed < 30  # a few seconds on two shared cores
