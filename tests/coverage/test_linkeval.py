"""Annotated corpus readers and the linking evaluation, on a hand-annotated corpus in the
real PubTator, BioC XML, BioC JSON and JSONL formats (tests/fixtures/linking/marfan.*),
whose scores are worked out by hand below."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.annotated import CorpusError, parse_ids, read_corpus
from medkg.coverage.equivalence import Equivalence
from medkg.coverage.linkeval import evaluate_linker, score_linking
from medkg.kg.stores import open_store
from tests.factories.graphs import small_graph

FIX = Path(__file__).parents[1] / "fixtures" / "linking"
FORMS = ("marfan.pubtator.txt", "marfan.jsonl", "marfan.bioc.xml", "marfan.bioc.json")
runner = CliRunner()


def test_four_formats_read_the_same_documents() -> None:
    docs = [read_corpus(FIX / f) for f in FORMS]
    assert all(d == docs[0] for d in docs[1:])
    first = docs[0][0]
    assert first.id == "100" and first.text.startswith("Marfan syndrome and myopia. In Marfan")
    assert [(m.text, m.ids) for m in first.mentions[:3]] == [
        ("Marfan syndrome", ("MESH:D056846",)),
        ("myopia", ("MESH:D009216",)),
        ("Marfan syndrome", ("OMIM:154700",)),
    ]
    for m in first.mentions:
        assert first.text[m.start : m.end] == m.text
    assert docs[0][0].mentions[0].line == 3  # PubTator mentions know their line


def test_composite_and_missing_ids() -> None:
    assert parse_ids("D001943|D010051", "x") == ("MESH:D001943", "MESH:D010051")
    assert parse_ids("OMIM:300322+OMIM:102600", "x") == ("OMIM:300322", "OMIM:102600")
    assert parse_ids("-1", "x") == ()
    assert parse_ids("ncbigene:7157", "x") == ("NCBIGene:7157",)
    # a bare number is an NCBI Gene id on a gene mention only
    assert parse_ids("7157", "x", 4, "Gene") == ("NCBIGene:7157",)
    with pytest.raises(CorpusError, match="x:4: concept id '7157' has no known prefix"):
        parse_ids("7157", "x", 4, "Disease")


def _pubtator(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.txt"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1|t|Marfan syndrome.\n1|a|Text.\n1\t0\t99\tMarfan syndrome\tDisease\tD056846\n",
         "bad.txt:3: document 1: mention 'Marfan syndrome' has offsets 0-99 outside its text"),
        ("1|t|Marfan syndrome.\n1|a|Text.\n1\t1\t16\tMarfan syndrome\tDisease\tD056846\n",
         "bad.txt:3: document 1: mention 'Marfan syndrome' at 1-16 but the text there is"),
        ("1|t|Marfan syndrome.\n1|a|Text.\n1\t0\t15\tMarfan syndrome\tDisease\tFOO:12\n",
         "bad.txt:3: concept id 'FOO:12' has no known prefix"),
        ("1|t|\n1|a|  \n", "bad.txt:1: document 1 is empty"),
        ("1|t|Marfan syndrome.\n1|a|Text.\n1 0 15 Marfan syndrome\n",
         "bad.txt:3: malformed line"),
        ("1|t|Marfan.\n1|a|Text.\n1\tx\t3\tMar\tDisease\tD056846\n",
         "bad.txt:3: offsets 'x' '3' are not integers"),
        ("\n\n", "bad.txt: no documents"),
        ("1|t|Myopia.\n1|a|Text.\n\n2|t|Other.\n\n1|t|Myopia again.\n1|a|Text.\n",
         "bad.txt:6: document id 1 appears twice (first at line 1)"),
    ],
)  # fmt: skip
def test_pubtator_errors_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CorpusError) as err:
        read_corpus(_pubtator(tmp_path, body))
    assert message in str(err.value)


def test_jsonl_and_bioc_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "Myopia.", "mentions": []}\n{"id": "b", "text": \n')
    with pytest.raises(CorpusError, match=r"bad.jsonl:2: malformed JSON"):
        read_corpus(bad)
    bad.write_text(
        '{"id": "a", "text": "Myopia.", "mentions": [{"start": 0, "end": 6, "id": "X:1"}]}\n'
    )
    with pytest.raises(CorpusError, match=r"bad.jsonl:1: concept id 'X:1' has no known prefix"):
        read_corpus(bad)
    xml = (FIX / "marfan.bioc.xml").read_text().replace("D999999", "WHAT:1")
    path = tmp_path / "bad.xml"
    path.write_text(xml)
    with pytest.raises(CorpusError, match=r"document 100, annotation 14: concept id 'WHAT:1'"):
        read_corpus(path)
    path.write_text("<collection><document>")
    with pytest.raises(CorpusError, match="not a BioC XML collection"):
        read_corpus(path)


def test_scores_worked_out_by_hand() -> None:
    docs = read_corpus(FIX / "marfan.pubtator.txt")
    kind_of = {"MESH:D056846": "Disease", "MESH:D009216": "Disease", "HP:0000545": "Phenotype"}
    eq = Equivalence([("OMIM:154700", "MESH:D056846")])
    pred = pl.DataFrame(
        [
            ("100", 0, 15, "MESH:D056846", "exact"),  # right
            ("100", 20, 26, "MESH:D009216", "exact"),  # right
            ("100", 31, 46, "MESH:D056846", "exact"),  # gold OMIM:154700: right via MAPS_TO
            ("100", 48, 51, "MESH:D009216", "abbreviation"),  # right span, wrong concept
            ("100", 76, 83, "MESH:D009216", "exact"),  # no gold there
            ("100", 54, 60, "HP:0000545", "exact"),  # a Phenotype: not scored (Disease corpus)
            ("200", 0, 6, "MESH:D009216", "exact"),  # right
        ],
        schema=["item_id", "start", "end", "entity_id", "method"],
        orient="row",
    )
    s = score_linking(docs, pred, kind_of, eq)
    assert s.kinds == ("Disease",)
    o = s.overall
    # 6 scored predictions, 9 gold mentions
    assert (o["span"]["tp_predicted"], o["span"]["predicted"], o["span"]["gold"]) == (5, 6, 9)
    assert (o["mention strict"]["tp_predicted"], o["mention strict"]["tp_gold"]) == (3, 3)
    assert (o["mention via MAPS_TO"]["tp_predicted"], o["mention via MAPS_TO"]["tp_gold"]) == (4, 4)
    assert o["mention via MAPS_TO"]["precision"] == pytest.approx(4 / 6, abs=1e-4)
    assert o["mention via MAPS_TO"]["f1"] == pytest.approx(
        2 * (4 / 6) * (4 / 9) / (4 / 6 + 4 / 9), abs=1e-4
    )
    # documents: gold {D056846, D009216, OMIM:154700, D999999} + {D009216}; predicted
    # {D056846, D009216} + {D009216}
    assert (o["document strict"]["tp_gold"], o["document strict"]["gold"]) == (3, 5)
    assert (o["document via MAPS_TO"]["tp_gold"], o["document via MAPS_TO"]["predicted"]) == (4, 3)
    assert s.by_method["abbreviation"]["span"]["tp_predicted"] == 1
    assert s.by_method["abbreviation"]["mention strict"]["tp_predicted"] == 0
    assert s.by_type["DiseaseClass"]["span"]["tp_gold"] == 0
    assert "precision" not in s.by_type["Modifier"]["span"]


def test_linker_on_the_corpus_end_to_end() -> None:
    # the small graph names Marfan syndrome (MeSH, OMIM, Orphanet, mapped) and myopia;
    # "zebra fever" is nowhere: 8 predictions, all on gold spans; the OMIM-annotated
    # mention is linked to MeSH (preferred source), right only via MAPS_TO
    scores, mentions = evaluate_linker(small_graph(), read_corpus(FIX / "marfan.bioc.xml"))
    o = scores.overall
    assert mentions.height == 8
    assert (o["span"]["precision"], o["span"]["tp_gold"]) == (1.0, 8)
    assert (o["mention strict"]["tp_gold"], o["mention via MAPS_TO"]["tp_gold"]) == (7, 8)
    assert (o["document strict"]["tp_gold"], o["document via MAPS_TO"]["tp_gold"]) == (3, 4)
    assert set(scores.by_method) == {"exact", "abbreviation"}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "graph"
    with open_store("embedded", path=path) as s:
        s.save(small_graph())
    return path


def test_cli_json_and_table(store_path: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["coverage", "eval-linking", str(FIX / "marfan.jsonl"),
                              "--path", str(store_path), "--json",
                              "--mentions", str(tmp_path / "m.parquet")])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["documents"] == 2 and data["kinds"] == ["Disease"]
    assert data["overall"]["mention via MAPS_TO"]["recall"] == pytest.approx(8 / 9, abs=1e-4)
    assert pl.read_parquet(tmp_path / "m.parquet").height == 8
    res = runner.invoke(app, ["coverage", "eval-linking", str(FIX / "marfan.pubtator.txt"),
                              "--path", str(store_path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "MAPS_TO" in res.stdout and "abbreviation" in res.stdout


def test_cli_mention_filter_flag_reaches_the_linker(store_path: Path, tmp_path: Path) -> None:
    """``--mention-filter`` turns the learned filter on (off by default); the JSON says which
    linker settings produced the scores, and the mentions are those of a linker built with
    the filter on."""
    from medkg.coverage.annotated import read_corpus
    from medkg.coverage.linkeval import evaluate_linker
    from medkg.coverage.linking import LinkerConfig

    base = ["coverage", "eval-linking", str(FIX / "marfan.jsonl"), "--path", str(store_path),
            "--json"]  # fmt: skip
    off = runner.invoke(app, base)
    on = runner.invoke(app, [*base, "--mention-filter", "--mentions", str(tmp_path / "m.parquet")])
    assert off.exit_code == 0 and on.exit_code == 0, off.output + on.output
    assert json.loads(off.stdout)["linker"]["mention_filter"] is False
    assert json.loads(on.stdout)["linker"]["mention_filter"] is True
    with open_store("embedded", path=store_path) as s:
        kg = s.load()
    config = LinkerConfig(tfidf=False, mention_filter=True)
    _, expected = evaluate_linker(kg, read_corpus(FIX / "marfan.jsonl", None), config, None)
    assert pl.read_parquet(tmp_path / "m.parquet").equals(expected)


def test_cli_unmapped_types_exit_2(store_path: Path, tmp_path: Path) -> None:
    odd = _pubtator(tmp_path, "1|t|Hi there.\n1|a|x\n1\t0\t2\tHi\tFooType\tD000001\n")
    res = runner.invoke(app, ["coverage", "eval-linking", str(odd), "--path", str(store_path)])
    assert res.exit_code == 2 and "map to no graph kind" in res.output


def test_cli_bad_corpus_exits_2_naming_the_line(store_path: Path, tmp_path: Path) -> None:
    bad = _pubtator(tmp_path, "1|t|Myopia.\n1|a|Text.\n1\t0\t50\tMyopia\tDisease\tD009216\n")
    res = runner.invoke(app, ["coverage", "eval-linking", str(bad), "--path", str(store_path)])
    assert res.exit_code == 2
    assert "bad.txt:3:" in res.output and "outside its text" in res.output


@pytest.mark.parametrize("name", FORMS)
def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path: Path, name: str) -> None:
    """A UTF-8 byte order mark (Windows editors write one) starts the file, not the first
    document: the PubTator reader used to read it into the first PMID and then refuse the
    document's own mention lines ("document \\ufeff100: line of document 100 ..."); the JSON
    readers refused the file."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + (FIX / name).read_bytes())
    assert read_corpus(path) == read_corpus(FIX / name)


def test_crlf_line_ends_and_no_final_newline(tmp_path: Path) -> None:
    raw = (FIX / "marfan.pubtator.txt").read_text(encoding="utf-8")
    path = tmp_path / "crlf.txt"
    path.write_bytes(raw.rstrip("\n").replace("\n", "\r\n").encode())
    assert read_corpus(path) == read_corpus(FIX / "marfan.pubtator.txt")


def test_bc5cdr_relation_lines_are_not_mentions(tmp_path: Path) -> None:
    """BC5CDR (BioCreative V CDR) PubTator files end each document with chemical-induced
    disease relations, ``PMID<TAB>CID<TAB>chemical<TAB>disease`` (four fields, the corpus's
    readme), and mark composite mentions with a seventh field; a relation is not a
    malformed line."""
    title = "Paracetamol-associated coma, metabolic acidosis, renal and hepatic failure."
    body = (
        f"3403780|t|{title}\n3403780|a|A case is presented.\n"
        "3403780\t0\t11\tParacetamol\tChemical\tD000082\t\n"
        "3403780\t23\t27\tcoma\tDisease\tD003128\t\n"
        "3403780\t49\t74\trenal and hepatic failure\tDisease\tD058186|D017093\t"
        "renal failure|hepatic failure\n"
        "3403780\tCID\tD000082\tD003128\n"
    )
    (doc,) = read_corpus(_pubtator(tmp_path, body))
    assert [(m.text, m.type, m.ids) for m in doc.mentions] == [
        ("Paracetamol", "Chemical", ("MESH:D000082",)),
        ("coma", "Disease", ("MESH:D003128",)),
        ("renal and hepatic failure", "Disease", ("MESH:D058186", "MESH:D017093")),
    ]
    # a four-field line with integer offsets is still a malformed mention
    with pytest.raises(CorpusError, match=r"bad.txt:3: malformed line"):
        read_corpus(_pubtator(tmp_path, f"1|t|{title}\n1|a|x\n1\t0\t11\tParacetamol\n"))


@pytest.mark.parametrize(
    ("mention", "message"),
    [
        ('{"start": 0, "end": 6, "ids": 9216}', "mention 0 has ids 9216; give a string or a list"),
        ('{"start": 0.9, "end": 6.2, "id": "D009216"}', "mention 0 needs integer 'start' and"),
        ('{"start": true, "end": 6, "id": "D009216"}', "mention 0 needs integer 'start' and"),
    ],
)
def test_jsonl_values_of_the_wrong_type_name_the_line(
    tmp_path: Path, mention: str, message: str
) -> None:
    """An id field that is neither a string nor a list was a TypeError traceback; offsets
    0.9-6.2 were truncated to 0-6 and read as the mention "Myopia"."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "text": "Myopia.", "mentions": []}\n'
        f'{{"id": "b", "text": "Myopia.", "mentions": [{mention}]}}\n'
    )
    with pytest.raises(CorpusError, match=rf"bad.jsonl:2: document b: {re.escape(message)}"):
        read_corpus(bad)
    bad.write_text('{"id": "c", "text": "Myopia.", "mentions": 5}\n')  # was a TypeError
    with pytest.raises(CorpusError, match=r"bad.jsonl:1: document c: 'mentions' must be a list"):
        read_corpus(bad)
    ok = tmp_path / "ok.jsonl"  # integral numbers in any JSON spelling are offsets
    ok.write_text('{"id": "a", "text": "Myopia.", "mentions": [{"start": 0.0, "end": "6"}]}\n')
    assert [(m.start, m.end) for m in read_corpus(ok)[0].mentions] == [(0, 6)]


def test_only_the_scored_kinds_gold_counts(tmp_path: Path) -> None:
    """``kinds`` (``--kinds``: "graph kinds linked and scored") restricts the gold as well
    as the predictions: scoring the Disease mentions of a chemical + disease corpus (the
    BC5CDR format) with every disease found is recall 1, not 2 of 3 with the chemical
    counted as a miss. A type that maps to no kind stays scored (the user named its kind)."""
    title = "Paracetamol-associated coma, metabolic acidosis, renal and hepatic failure."
    body = (
        f"3403780|t|{title}\n3403780|a|A case is presented.\n"
        "3403780\t0\t11\tParacetamol\tChemical\tD000082\t\n"
        "3403780\t23\t27\tcoma\tDisease\tD003128\t\n"
        "3403780\t29\t47\tmetabolic acidosis\tDisease\tD000138\t\n"
    )
    docs = read_corpus(_pubtator(tmp_path, body))
    kind_of = {"MESH:D003128": "Disease", "MESH:D000138": "Disease", "MESH:D000082": "Drug"}
    pred = pl.DataFrame(
        [("3403780", 23, 27, "MESH:D003128", "exact"),
         ("3403780", 29, 47, "MESH:D000138", "exact")],
        schema=["item_id", "start", "end", "entity_id", "method"], orient="row",
    )  # fmt: skip
    o = score_linking(docs, pred, kind_of, Equivalence([]), ["Disease"]).overall
    for level in ("span", "mention strict", "document strict"):
        assert (o[level]["gold"], o[level]["recall"], o[level]["precision"]) == (2, 1.0, 1.0)
    both = score_linking(docs, pred, kind_of, Equivalence([])).overall  # corpus kinds
    assert (both["span"]["gold"], both["span"]["tp_gold"]) == (3, 2)
    odd = _pubtator(tmp_path, f"1|t|{title}\n1|a|x\n1\t23\t27\tcoma\tFooType\tD003128\n")
    pred = pred.with_columns(pl.lit("1").alias("item_id"))
    o = score_linking(read_corpus(odd), pred, kind_of, Equivalence([]), ["Disease"]).overall
    assert (o["mention strict"]["gold"], o["mention strict"]["tp_gold"]) == (1, 1)


def test_a_span_counts_once_at_span_level(tmp_path: Path) -> None:
    """Span scores are over distinct spans: a composite mention the linker reports as one
    row per concept ("breast and ovarian cancer": two rows, one span) is one predicted
    span, and a gold line listed twice is one gold mention (it made one found span two
    true positives of recall, and one prediction two of precision)."""
    raw = (FIX / "marfan.pubtator.txt").read_text(encoding="utf-8")
    dup = "100\t0\t15\tMarfan syndrome\tSpecificDisease\tD056846\n"
    docs = read_corpus(_pubtator(tmp_path, raw.replace(dup, dup + dup)))
    assert len(docs[0].mentions) == 8  # the reader keeps what the file says
    kind_of = {"MESH:D056846": "Disease", "OMIM:154700": "Disease", "MESH:D009216": "Disease"}
    pred = pl.DataFrame(
        [("100", 0, 15, "MESH:D056846", "composite"),  # right
         ("100", 0, 15, "OMIM:154700", "composite"),  # same span, not the gold id
         ("100", 76, 83, "MESH:D009216", "exact")],  # no gold there
        schema=["item_id", "start", "end", "entity_id", "method"], orient="row",
    )  # fmt: skip
    o = score_linking(docs, pred, kind_of, Equivalence([])).overall
    # 2 predicted spans, 1 right; 9 gold spans (7 + 2), 1 found
    assert [o["span"][k] for k in ("predicted", "tp_predicted", "gold", "tp_gold")] == [2, 1, 9, 1]
    # mention level: each (span, id) row is a claim; the duplicate gold line is one mention
    strict = o["mention strict"]
    assert [strict[k] for k in ("predicted", "tp_predicted", "gold", "tp_gold")] == [3, 1, 9, 1]
