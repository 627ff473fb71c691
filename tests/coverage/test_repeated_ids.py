"""The policy for records that share an id in a sharded corpus (``--repeated-ids``):
``last`` audits a PubMed baseline with its update files (the update's version of a revised
citation is the one linked, a ``DeleteCitation`` removes its citation, the counts say how
many records were left out), ``error`` still refuses them naming both records, and an
unknown policy is a usage error. The expected ids come from the XML text
(tests/factories/pubmed_updates.py). Ray: tests/engines/test_repeated_ids_ray.py."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.linking import Linker
from medkg.coverage.record_ids import LatestSpool, wide_id_hashes
from medkg.coverage.sharded import CorpusSource, link_corpus
from medkg.engines import LocalEngine
from medkg.errors import InputError
from medkg.kg.stores import open_store
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.corpora import write_keyed_jsonl
from tests.factories.graphs import small_graph
from tests.factories.pubmed_updates import (
    REVISED_TITLE,
    UpdatedPubmed,
    without_revision,
    write_updated_pubmed,
)


def test_a_baseline_with_its_update_links_the_latest_versions(tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    linker = Linker.from_graph(small_graph())
    out = tmp_path / "m.parquet"
    res = link_corpus(linker, plan_shards(str(pm.folder), 100), ShardItems(), LocalEngine(),
                      out, repeated_ids="last")  # fmt: skip
    assert (res.items, res.superseded, res.deleted) == (len(pm.kept), 1, 1)
    m = pl.read_parquet(out)
    assert pm.deleted not in set(m.get_column("item_id"))
    revised = m.filter(pl.col("item_id") == pm.revised)
    # the update's text is what was linked: its terms, spans that index the revised title
    assert {"arachnodactyly", "marfan syndrome"} <= {t.lower() for t in revised["text"]}
    for start, end, text in revised.select("start", "end", "text").iter_rows():
        assert REVISED_TITLE[start:end] == text
    # the kept items are exactly the expected ones: an audit of them alone links the same
    only = tmp_path / "only"
    only.mkdir()
    write_keyed_jsonl(only / "kept.jsonl", pm.kept, [t for _, t in _texts(pm)])
    alone = link_corpus(linker, plan_shards(str(only), 100), ShardItems(("q",), "key"),
                        LocalEngine(), tmp_path / "alone.parquet")  # fmt: skip
    assert pl.read_parquet(tmp_path / "alone.parquet").equals(m)
    assert (alone.items, alone.mentions, alone.linked_items) == (res.items, res.mentions,
                                                                 res.linked_items)  # fmt: skip


def _texts(pm: UpdatedPubmed) -> list[tuple[str, str]]:
    """The kept citations' texts, read file by file and kept by the expected PMIDs: the
    update's version for the revised one."""
    by_id: dict[str, str] = {}
    for shard in plan_shards(str(pm.folder), 100):
        by_id.update(ShardItems()(shard))  # later files overwrite earlier ones
    assert by_id[pm.revised] == REVISED_TITLE
    return [(p, by_id[p]) for p in pm.kept]


def test_error_policy_still_names_both_records(tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    with pytest.raises(InputError, match=rf"item id '{pm.revised}' appears twice in the corpus: "
                       r"\S*pubmed26n0001\.xml\.gz: citation 2 and "
                       r"\S*pubmed26n0002\.xml\.gz: citation 1\."):  # fmt: skip
        link_corpus(Linker.from_graph(small_graph()), plan_shards(str(pm.folder), 100),
                    ShardItems(), LocalEngine(), tmp_path / "m.parquet")  # fmt: skip


def test_error_policy_refuses_a_citation_a_later_file_deletes(tmp_path: Path) -> None:
    """The update without its revised citation: no PMID repeats, but its DeleteCitation
    names a baseline citation. ``error`` read no deletion and audited the deleted citation;
    it refuses it, naming the citation and the deleting file, as it refuses a repeat. A
    deletion of a PMID the corpus does not hold (the other one) stays harmless, and so
    does the same file deleting it twice over (the excerpt twice, by the CLI test)."""
    import gzip

    pm = write_updated_pubmed(tmp_path / "pubmed")
    raw, update = without_revision(pm), pm.folder / "pubmed26n0002.xml.gz"
    linker = Linker.from_graph(small_graph())
    with pytest.raises(InputError, match=rf"citation '{pm.deleted}' \(\S*pubmed26n0001\.xml\.gz: "
                       r"citation 3\) is deleted by \S*pubmed26n0002\.xml\.gz's DeleteCitation "
                       r"list.*--repeated-ids last"):  # fmt: skip
        link_corpus(linker, plan_shards(str(pm.folder), 100), ShardItems(), LocalEngine(),
                    tmp_path / "m.parquet")  # fmt: skip
    # the update alone deletes only PMIDs it does not hold: linked as before
    alone = link_corpus(linker, plan_shards(str(update), 100), ShardItems(), LocalEngine(),
                        tmp_path / "u.parquet")  # fmt: skip
    assert alone.items == 2
    # a file deleting a citation it holds itself (checked on the worker)
    own = raw.replace(
        "<DeleteCitation>", f'<DeleteCitation>\n<PMID Version="1">{pm.kept[-1]}</PMID>', 1
    )
    update.write_bytes(gzip.compress(own.encode()))
    with pytest.raises(InputError, match=rf"citation '{pm.kept[-1]}' \(\S*pubmed26n0002\.xml\.gz"
                       r": citation 2\) is deleted by \S*pubmed26n0002\.xml\.gz's"):  # fmt: skip
        link_corpus(linker, plan_shards(str(update), 100), ShardItems(), LocalEngine(),
                    tmp_path / "u.parquet")  # fmt: skip


def test_last_keeps_the_last_jsonl_record_of_an_id_in_any_shard(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_keyed_jsonl(folder / "a.jsonl", ["x", "y", "z", "y", "x"],
                      ["Myopia", "Marfan syndrome", "Arachnodactyly", "FBN1", "plain"])  # fmt: skip
    write_keyed_jsonl(folder / "b.jsonl", ["w", "z"], ["Aortic root aneurysm", "Myopia"])
    linker = Linker.from_graph(small_graph())
    tables = []
    for size in (1, 2, 100):
        out = tmp_path / f"m{size}.parquet"
        res = link_corpus(linker, plan_shards(str(folder), size), ShardItems(("q",), "key"),
                          LocalEngine(), out, repeated_ids="last")  # fmt: skip
        assert (res.items, res.superseded, res.deleted) == (4, 3, 0)
        m = pl.read_parquet(out)
        # y: line 4 (FBN1), x: line 5 (no mention), z: b.jsonl (Myopia), w
        assert dict(m.select("item_id", "text").unique().sort("item_id").iter_rows()) == {
            "w": "Aortic root aneurysm",
            "y": "FBN1",
            "z": "Myopia",
        }
        tables.append(m)
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])  # row groups differ


def test_a_deletion_is_undone_by_a_later_version_and_a_collision_free_spool(
    tmp_path: Path,
) -> None:
    """Positions and counts of dropped records, by hand: a re-added id survives an
    earlier deletion; a deletion at a file's end removes the same file's record."""
    with LatestSpool(tmp_path, buckets=4) as spool:
        spool.add(0, wide_id_hashes(["a", "b", "c", "d"]), wide_id_hashes([]))
        spool.add(1, wide_id_hashes(["b", "e"]), wide_id_hashes(["c", "e", "nowhere"]))
        spool.add(2, wide_id_hashes(["c", "b"]), wide_id_hashes([]))
        got = spool.resolve()
    assert {k: v.tolist() for k, v in got.positions.items()} == {0: [1, 2], 1: [0, 1]}
    assert (got.superseded, got.deleted) == (3, 1)
    with LatestSpool(tmp_path, buckets=8) as spool:  # many ids: only real repeats drop
        ids = [f"PMID{n}" for n in range(20000)]
        spool.add(0, wide_id_hashes(ids[:12000]), wide_id_hashes([]))
        spool.add(1, wide_id_hashes(ids[10000:]), wide_id_hashes(ids[:5]))
        got = spool.resolve()
    assert got.positions[0].tolist() == list(range(5)) + list(range(10000, 12000))
    assert 1 not in got.positions and (got.superseded, got.deleted) == (2000, 5)


def test_an_unknown_policy_is_a_usage_error(tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    with pytest.raises(ValueError, match=r"unknown policy for repeated ids 'first'; choose "
                       r"one of error, last"):  # fmt: skip
        CorpusSource(tuple(plan_shards(str(pm.folder), 10)), ShardItems(), "first")
    for cmd in (["link", "--out", str(tmp_path / "m.parquet")],
                ["audit", "--out", str(tmp_path / "audit")]):  # fmt: skip
        res = CliRunner().invoke(app, ["coverage", *cmd, str(pm.folder), "--repeated-ids",
                                       "first"])  # fmt: skip
        assert res.exit_code == 2, res.output
        assert "--repeated-ids: unknown policy for repeated ids 'first'" in " ".join(
            res.output.split()
        )
        assert not (tmp_path / "m.parquet").exists() and not (tmp_path / "audit").exists()
    # a dataset read whole (not a sharded corpus) has no "last" to keep: said, not ignored
    (tmp_path / "plain.jsonl").write_text('{"q": "Myopia"}\n')
    res = CliRunner().invoke(app, ["coverage", "link", str(tmp_path / "plain.jsonl"), "--out",
                                   str(tmp_path / "m.parquet"), "--repeated-ids", "last"])  # fmt: skip
    assert res.exit_code == 2 and "applies to a sharded corpus" in " ".join(res.output.split())
    assert not (tmp_path / "m.parquet").exists()


def test_audit_with_last_and_no_sharded_corpus_says_so(tmp_path: Path) -> None:
    """As ``coverage link`` does: ``last`` applies to sharded corpora only, so an audit of
    datasets read whole must not take it silently (its coverage.json would not say it)."""
    (tmp_path / "plain.jsonl").write_text('{"q": "Myopia"}\n')
    store, out = tmp_path / "graph", tmp_path / "audit"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    res = CliRunner().invoke(app, ["coverage", "audit", str(tmp_path / "plain.jsonl"), "--out",
                                   str(out), "--path", str(store), "--fields", "q",
                                   "--amcs-ref", "none",
                                   "--no-report", "--repeated-ids", "last"])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "applies to a sharded corpus" in " ".join(res.output.split())
    assert not out.exists()


def test_cli_link_and_audit_report_superseded_and_deleted(tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    res = CliRunner().invoke(app, ["coverage", "link", str(pm.folder), "--path", str(store),
                                   "--out", str(tmp_path / "m.parquet"), "--repeated-ids",
                                   "last", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (data["items"], data["superseded"], data["deleted"]) == (len(pm.kept), 1, 1)
    res = CliRunner().invoke(app, ["coverage", "audit", str(pm.folder), "--path", str(store),
                                   "--out", str(tmp_path / "audit"), "--amcs-ref", "none",
                                   "--no-report", "--repeated-ids", "last"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "1 superseded" in res.output and "1 deleted" in res.output
    summary = json.loads((tmp_path / "audit" / "coverage.json").read_text())
    first = summary["datasets"][0]["summary"] if "datasets" in summary else summary
    assert (first["n_items"], first["superseded"], first["deleted"]) == (len(pm.kept), 1, 1)


def test_the_pubmed_reader_gives_a_files_deleted_citations() -> None:
    """The real excerpt's ``DeleteCitation`` PMIDs (read here with a regex), in file order,
    as ids; its citations' ids unchanged."""
    import gzip
    import re

    from medkg.retrieval.readers import ReadReport, read_documents
    from tests.factories.corpora import PUBMED

    raw = gzip.decompress(PUBMED.read_bytes()).decode()
    block = re.search(r"<DeleteCitation>(.*?)</DeleteCitation>", raw, re.S)
    assert block is not None
    expected = re.findall(r'<PMID Version="1">(\d+)</PMID>', block[1])
    report = ReadReport()
    docs = list(read_documents(PUBMED, "pubmed", report=report))
    assert len(expected) == 3 and report.deleted == expected
    assert not set(expected) & {d.doc_id for d in docs}
    assert "deleted" not in report.to_dict()  # reports elsewhere keep their shape
    ids, deleted = ShardItems().ids(plan_shards(str(PUBMED), 10)[0])
    assert ids == [d.doc_id for d in docs] and deleted == expected


def test_resolving_holds_one_bucket_not_the_corpus(tmp_path: Path) -> None:
    """200,000 ids (4.8 MB of spooled rows) and 10,000 revisions: resolving them peaks at
    under a fifth of the spool (one of 64 buckets plus the dropped places)."""
    import tracemalloc

    ids = [str(30_000_000 + i) for i in range(200_000)]
    with LatestSpool(tmp_path, buckets=64) as spool:
        for shard, start in enumerate(range(0, len(ids), 30_000)):
            spool.add(shard, wide_id_hashes(ids[start : start + 30_000]), wide_id_hashes([]))
        spool.add(99, wide_id_hashes(ids[::20]), wide_id_hashes([]))
        spooled = sum(f.stat().st_size for f in spool.folder.iterdir())
        tracemalloc.start()
        got = spool.resolve()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert spooled == 210_000 * 24 and got.superseded == 10_000
    assert peak < spooled / 5, (peak, spooled)  # one bucket (buckets=1) peaks at ~2.6x spooled
