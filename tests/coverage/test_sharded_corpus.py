"""Linking and auditing sharded corpora (folders / globs of JSONL, Parquet and PubMed XML) on
the local engine: the shards read back exactly the records a plain reader in this test
finds, the mention table equals linking those records in one go, bad input names its file
and line and leaves nothing behind. The Ray Data side is in tests/engines/test_raydata.py."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.linking import Linker, LinkerConfig
from medkg.coverage.pipeline import DatasetSpec, run_audit
from medkg.coverage.sharded import CorpusSource, link_corpus
from medkg.engines import LocalEngine
from medkg.io import DatasetError, mmlu_medical_items
from medkg.kg.stores import open_store
from medkg.retrieval.base import RetrievalError
from medkg.retrieval.shards import ShardItems, is_sharded_source, plan_shards
from tests.factories.corpora import PUBMED, write_corpus
from tests.factories.graphs import small_graph


def test_shards_read_back_every_record_once_in_order(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    for size in (1, 7, 40, 1000):
        shards = plan_shards(str(tmp_path / "corpus"), size)
        read = ShardItems(("q",))
        got = [pair for s in shards for pair in read(s)]
        assert got == expected, size
    shards = plan_shards(str(tmp_path / "corpus"), 40)
    assert {s.fmt for s in shards} == {"jsonl", "parquet"}
    # Parquet shards are whole row groups (the file has groups of 45, 45 and 30 rows)
    assert [(s.start, s.stop) for s in shards if s.fmt == "parquet"] == [(0, 45), (45, 90),
                                                                         (90, 120)]  # fmt: skip
    # a glob names the same files
    glob_shards = plan_shards(str(tmp_path / "corpus" / "**" / "*.jsonl"), 33)
    jsonl = [p for p in expected if ".jsonl:" in p[0]]
    assert [p for s in glob_shards for p in ShardItems(("q",))(s)] == jsonl


def test_pubmed_shard_ids_are_the_files_pmids(tmp_path: Path) -> None:
    raw = gzip.decompress(PUBMED.read_bytes()).decode()
    pmids = re.findall(r'<MedlineCitation[^>]*>\s*<PMID Version="1">(\d+)</PMID>', raw)
    titles = re.findall(r"<ArticleTitle>(.*?)</ArticleTitle>", raw, re.S)
    assert len(pmids) == 8 and is_sharded_source(str(PUBMED))
    pairs = ShardItems()(plan_shards(str(PUBMED), 100)[0])
    assert [i for i, _ in pairs] == pmids
    # the text starts with the title (plain titles only: inline markup is flattened)
    plain = [(p, t) for p, t in zip(pairs, titles, strict=True) if "<" not in t]
    assert plain and all(p[1].startswith(t.strip()) for p, t in plain)


def test_link_corpus_equals_linking_the_records_at_once(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    linker = Linker.from_graph(small_graph())
    reference = linker.link_texts(expected)
    assert reference.height > 0
    out = tmp_path / "m.parquet"
    shards = plan_shards(str(tmp_path / "corpus"), 40)
    ticks: list[tuple[str, int, int | None]] = []
    res = link_corpus(linker, shards, ShardItems(("q",)), LocalEngine(), out,
                      progress=lambda s, d, t: ticks.append((s, d, t)))  # fmt: skip
    assert pl.read_parquet(out).equals(reference)
    assert (res.items, res.mentions) == (len(expected), reference.height)
    assert res.linked_items == reference.get_column("item_id").n_unique()
    assert ticks[-1] == ("shards", len(shards), len(shards))


def test_a_malformed_line_names_its_file_and_line(tmp_path: Path) -> None:
    write_corpus(tmp_path / "corpus")
    bad = tmp_path / "corpus" / "sub" / "b.jsonl"
    lines = bad.read_text().split("\n")
    lines[12] = '{"q": "unterminated'
    bad.write_text("\n".join(lines))  # line 13 of the file
    linker = Linker.from_graph(small_graph())
    with pytest.raises(DatasetError, match=r"sub/b\.jsonl:13: malformed JSON"):
        link_corpus(linker, plan_shards(str(tmp_path / "corpus"), 5), ShardItems(("q",)),
                    LocalEngine(), tmp_path / "m.parquet")  # fmt: skip
    lines[12] = '{"other": 1}'
    bad.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"sub/b\.jsonl:13: field 'q': text field missing"):
        link_corpus(linker, plan_shards(str(tmp_path / "corpus"), 5), ShardItems(("q",)),
                    LocalEngine(), tmp_path / "m.parquet")  # fmt: skip


def test_gzipped_jsonl_is_one_shard_with_the_plain_files_records(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    plain = tmp_path / "corpus" / "a.jsonl"
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "a.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    shards = plan_shards(str(packed), 7)
    assert len(shards) == 1 and shards[0].fmt == "jsonl"
    assert is_sharded_source(str(packed / "a.jsonl.gz")) and not is_sharded_source(str(plain))
    got = ShardItems(("q",))(shards[0])
    assert got == [(i.split(":", 1)[1], t) for i, t in expected if i.startswith("a.jsonl:")]
    (packed / "a.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes())[:-300])  # cut
    with pytest.raises(DatasetError, match=r"a\.jsonl\.gz.*unreadable gzip"):
        ShardItems(("q",))(plan_shards(str(packed), 7)[0])


def test_an_upper_case_gz_suffix_is_read_as_gzip(tmp_path: Path) -> None:
    """``A.JSONL.GZ`` is a corpus file (suffixes are matched case-blind) and must be read as
    the gzip stream it is, not cut into lines of compressed bytes ("not UTF-8 text")."""
    expected = write_corpus(tmp_path / "corpus")
    plain = tmp_path / "corpus" / "a.jsonl"
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "A.JSONL.GZ").write_bytes(gzip.compress(plain.read_bytes()))
    assert is_sharded_source(str(packed / "A.JSONL.GZ"))
    shards = plan_shards(str(packed), 7)
    assert len(shards) == 1 and (shards[0].start, shards[0].stop) == (0, None)
    got = ShardItems(("q",))(shards[0])
    assert got == [(i.split(":", 1)[1], t) for i, t in expected if i.startswith("a.jsonl:")]


def test_a_lone_surrogate_escape_names_its_file_and_line(tmp_path: Path) -> None:
    """JSON may escape half of a UTF-16 pair (``"\\ud800"``): Python reads it as a string
    that no UTF-8 writer takes (the linker's table, the id hashes), so a corpus or a file
    read whole failed with a bare UnicodeEncodeError. A pair that is whole stays text."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"key": "k1", "q": "\\ud83d\\ude00 Myopia"}\n'
                                    '{"key": "\\ud800", "q": "Myopia"}\n')  # fmt: skip
    first = ShardItems(("q",), "key")(plan_shards(str(folder), 1)[0])
    assert first == [("k1", "\U0001f600 Myopia")]
    with pytest.raises(DatasetError, match=r"a\.jsonl:2: .*surrogate"):
        link_corpus(Linker.from_graph(small_graph()), plan_shards(str(folder), 1),
                    ShardItems(("q",), "key"), LocalEngine(), tmp_path / "m.parquet")  # fmt: skip
    with pytest.raises(DatasetError, match=r"a\.jsonl:2: .*surrogate"):
        DatasetSpec("d", str(folder / "a.jsonl"), ("q",), "key").items()


def test_truncated_pubmed_shard_names_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "pubmed"
    folder.mkdir()
    (folder / "a.xml.gz").write_bytes(PUBMED.read_bytes())
    (folder / "b.xml.gz").write_bytes(PUBMED.read_bytes()[:-400])  # cut gzip stream
    shards = plan_shards(str(folder), 10)
    assert len(shards) == 2 and len(ShardItems()(shards[0])) == 8
    with pytest.raises(RetrievalError, match=r"b\.xml\.gz"):
        ShardItems()(shards[1])


def _store(tmp_path: Path) -> Path:
    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    return store


def test_cli_links_a_folder_and_leaves_nothing_on_bad_input(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    store = _store(tmp_path)
    out = tmp_path / "mentions.parquet"
    args = ["coverage", "link", str(tmp_path / "corpus"), "--fields", "q", "--path", str(store),
            "--out", str(out), "--shard-size", "50", "--json"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    reference = Linker.from_graph(small_graph()).link_texts(expected)
    assert pl.read_parquet(out).equals(reference)
    assert (
        data["items"] == len(expected) and data["shards"] == 4 + 2 + 3
    )  # lines / row groups (45, 45, 30) / lines
    assert data["linker"]["mention_filter"] is False  # the default linker
    written = pl.read_parquet(out).group_by("method").len().iter_rows()
    assert data["by_method"] == dict(sorted(written)) and sum(data["by_method"].values()) > 0
    res = CliRunner().invoke(app, [*args, "--mention-filter"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["linker"]["mention_filter"] is True
    on = Linker.from_graph(small_graph(), LinkerConfig(mention_filter=True))
    assert pl.read_parquet(out).equals(on.link_texts(expected))
    out.unlink()
    (tmp_path / "corpus" / "a.jsonl").open("a").write("{not json\n")
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and "a.jsonl:152: malformed JSON" in res.output
    assert not out.exists() and not list(tmp_path.glob(".mentions*"))  # nothing half-written


def test_an_empty_corpus_among_several_is_named(tmp_path: Path) -> None:
    """An audit of two corpora, one whose files hold no record: the error names that
    corpus's files (not "the corpus has no items" of either), and a corpus of empty files
    fails when planned, naming its folder; exit 2, nothing written."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.jsonl").write_text('{"q": "Myopia"}\n')
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "b.jsonl").write_text("\n\n")  # a shard of no record
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "c.jsonl").write_text("")  # no shard at all
    store, out = _store(tmp_path), tmp_path / "audit"
    for empty, message in (("blank", r"has no items \(1 shard read: \S*blank/b\.jsonl\)"),
                           ("none", r"\S*none: no records \(its 1 corpus file is empty\)")):  # fmt: skip
        res = CliRunner().invoke(app, ["coverage", "audit", str(tmp_path / "full"),
                                       str(tmp_path / empty), "--fields", "q", "--path",
                                       str(store), "--out", str(out), "--amcs-ref", "none",
                                       "--no-report"])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert re.search(message, " ".join(res.output.split())), res.output
        assert not out.exists()
    with pytest.raises(DatasetError, match=r"no records \(its 1 corpus file is empty\)"):
        plan_shards(str(tmp_path / "none"), 10)


def test_audit_of_a_corpus_equals_the_audit_of_its_records(tmp_path: Path) -> None:
    expected = write_corpus(tmp_path / "corpus")
    whole = tmp_path / "whole.jsonl"
    whole.write_text("".join(json.dumps({"id": i, "q": t}) + "\n" for i, t in expected))
    kg = small_graph()
    plain = run_audit(kg, [DatasetSpec("d", str(whole), ("q",), "id")], out=tmp_path / "plain",
                      amcs_reference=None, report=False)  # fmt: skip
    corpus = CorpusSource(tuple(plan_shards(str(tmp_path / "corpus"), 60)), ShardItems(("q",)))
    sharded = run_audit(kg, [DatasetSpec("d", str(tmp_path / "corpus"), ("q",), None, corpus)],
                        out=tmp_path / "sharded", amcs_reference=None, report=False)  # fmt: skip
    assert sharded.audits[0].n_items == len(expected)
    assert not list(tmp_path.glob(".medkg-audit-spool-*"))  # the spooled table moved in
    assert sorted(plain.files) == sorted(sharded.files)
    for name, file in plain.files.items():
        if name.endswith(".parquet") and name.startswith("mentions"):
            assert pl.read_parquet(sharded.files[name]).equals(pl.read_parquet(file)), name
        else:
            assert sharded.files[name].read_bytes() == file.read_bytes(), name


def test_a_linkers_own_mention_filter_travels_to_the_workers() -> None:
    """A shard task rebuilds the linker on the worker: with the caller's mention filter,
    not the packaged one (a filter that keeps nothing drops every mention it scores)."""
    import pickle
    from dataclasses import replace

    from medkg.coverage.linking import LinkerConfig
    from medkg.coverage.linking_filter import MentionFilter
    from medkg.coverage.sharded import LinkShard

    pairs = [(i.id, i.text) for i in mmlu_medical_items()[:400]]
    kg = small_graph()
    plain = Linker.from_graph(kg).link_texts(pairs)
    config = replace(LinkerConfig(), mention_filter=True)
    nothing = MentionFilter({}, intercept=-50.0, threshold=0.5, kinds=("Disease", "Phenotype"))
    linker = Linker.from_graph(kg, config, mention_filter=nothing)
    own = linker.link_texts(pairs)
    assert own.height < plain.height  # the filter dropped mentions here
    task = pickle.loads(pickle.dumps(LinkShard(linker)))  # what travels to a worker
    assert task.run(pairs).equals(own)


def test_a_corpus_on_ray_without_ray_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from medkg.engines import EngineError, RayEngine

    write_corpus(tmp_path / "corpus")
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    linker = Linker.from_graph(small_graph())
    out = tmp_path / "m.parquet"
    with pytest.raises(EngineError, match=r"pip install 'medkg\[ray\]'"):
        link_corpus(linker, plan_shards(str(tmp_path / "corpus"), 50), ShardItems(("q",)),
                    RayEngine(), out)  # fmt: skip
    res = CliRunner().invoke(app, ["coverage", "link", str(tmp_path / "corpus"), "--fields", "q",
                                   "--out", str(out), "--engine", "ray"])  # fmt: skip
    assert res.exit_code != 0 and "pip install 'medkg[ray]'" in res.output


def test_the_scale_bench_splits_pubmed_into_the_same_citations(tmp_path: Path) -> None:
    """bench/bench_scale.py's split: well-formed files holding every citation once, in
    order (checked with the PubMed reader against the whole file)."""
    import importlib.util

    from medkg.retrieval.readers import read_documents

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_scale.py"
    spec = importlib.util.spec_from_file_location("bench_scale", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    files = bench.split_pubmed(PUBMED, 3, tmp_path)
    assert len(files) == 3
    whole = [(d.doc_id, d.title, d.text) for d in read_documents(PUBMED, "pubmed")]
    parts = [(d.doc_id, d.title, d.text) for f in files for d in read_documents(f, "pubmed")]
    assert parts == whole and len(whole) == 8
