"""The audit of a sharded corpus from per-shard counts (medkg.coverage.rollup): the same
files, to the byte, as the audit of the corpus's whole mention table, the counts equal
Python sets over that table, repeated item ids are named (file and line of both records),
and the driver's memory does not grow with the corpus. Ray: tests/engines/test_raydata.py."""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medkg.cli.main import app
from medkg.coverage.linking import Linker
from medkg.coverage.pipeline import DatasetSpec, run_audit
from medkg.coverage.record_ids import IdSpool, id_hashes
from medkg.coverage.sharded import CorpusSource, _check_repeats, link_corpus
from medkg.engines import LocalEngine, ShardTask
from medkg.errors import InputError
from medkg.kg.model import KnowledgeGraph
from medkg.kg.stores import open_store
from medkg.progress import Progress
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.corpora import (
    PUBMED,
    check_rolled_up_audit,
    write_keyed_jsonl,
    write_mixed_corpus,
)
from tests.factories.graphs import small_graph


def test_rolled_up_audit_equals_the_whole_table_audit(tmp_path: Path) -> None:
    check_rolled_up_audit(small_graph(), tmp_path, 40)


@pytest.mark.slow
def test_rolled_up_audit_equals_the_whole_table_audit_on_the_bundled_graph(
    bundled_kg: KnowledgeGraph, tmp_path: Path
) -> None:
    """The bundled graph's linker finds thousands of mentions (MeSH, ICD-10, HPO, with
    exact-mapping equivalents) in the MMLU records and the MEDLINE excerpt."""
    check_rolled_up_audit(bundled_kg, tmp_path, 25)


def test_a_corpus_audit_holds_no_mention_table(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_mixed_corpus(folder)
    corpus = CorpusSource(tuple(plan_shards(str(folder), 40)), ShardItems(("q",)))
    res = run_audit(small_graph(), [DatasetSpec("d", str(folder), ("q",), None, corpus)],
                    out=tmp_path / "a", amcs_reference=None, report=False)  # fmt: skip
    assert res.mentions == {} and res.files["mentions.parquet"].is_file()


def test_a_repeated_id_across_files_names_both_records(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    texts = ["fever and cough", "a rash", "headache", "nothing here"]
    write_keyed_jsonl(folder / "a.jsonl", ["k1", "k2", "k3", "k4"], texts)
    write_keyed_jsonl(folder / "sub" / "b.jsonl", ["k5", "k6", "k2", "k7"], texts)
    linker = Linker.from_graph(small_graph())
    for size in (1, 2, 10):  # the two records in other shards of other files, every way
        with pytest.raises(InputError, match=r"item id 'k2' appears twice in the corpus: "
                           r"\S*a\.jsonl:2 and \S*sub/b\.jsonl:3\.") as err:  # fmt: skip
            link_corpus(linker, plan_shards(str(folder), size), ShardItems(("q",), "key"),
                        LocalEngine(), tmp_path / "m.parquet")  # fmt: skip
        assert "more records" not in str(err.value)
    assert not list(tmp_path.glob(".medkg-ids-*"))  # the spooled hashes are gone


def test_a_repeated_id_within_a_shard_names_both_lines(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_keyed_jsonl(folder / "a.jsonl", ["x", "y", "z", "y", "x"], ["a", "b", "c", "d", "e"])
    with pytest.raises(InputError, match=r"item id 'y' appears twice in the corpus: "
                       r"\S*a\.jsonl:2 and \S*a\.jsonl:4\."):  # fmt: skip
        link_corpus(Linker.from_graph(small_graph()), plan_shards(str(folder), 100),
                    ShardItems(("q",), "key"), LocalEngine(), tmp_path / "m.parquet")  # fmt: skip


def test_a_dataset_read_whole_with_a_repeated_id_is_refused_like_a_corpus(
    tmp_path: Path,
) -> None:
    """The same JSONL file audited as a file (read whole) and as a one-file corpus: two
    records of one id are one item to the counts and two to n_items (linked share 1/3 where
    2 of 3 records link), so both refuse it naming the lines (the blank line counts)."""
    folder = tmp_path / "corpus"
    write_keyed_jsonl(folder / "a.jsonl", ["k1", "k2", "k1"], ["Myopia", "plain", "FBN1"])
    path = folder / "a.jsonl"
    path.write_text(path.read_text().replace("\n", "\n\n", 1))  # line 2 blank: k1 at 1 and 4
    kg = small_graph()
    corpus = CorpusSource(tuple(plan_shards(str(folder), 10)), ShardItems(("q",), "key"))
    for spec in (DatasetSpec("d", str(path), ("q",), "key"),
                 DatasetSpec("d", str(folder), ("q",), "key", corpus)):  # fmt: skip
        out = tmp_path / "audit"
        with pytest.raises(InputError, match=r"item id 'k1' appears twice in .*\S*a\.jsonl:1 "
                           r"and \S*a\.jsonl:4\."):  # fmt: skip
            run_audit(kg, [spec], out=out, amcs_reference=None, report=False)
        assert not out.exists()


def test_a_dataset_read_whole_writes_one_mention_table_with_or_without_an_engine(
    tmp_path: Path,
) -> None:
    """``coverage audit --engine local`` links in batches of 500 in this process,
    ``--engine ray`` in shards of ``--shard-size`` on an engine. While the linker ordered
    each batch by item id, line-number ids ("1", "10", "11", ... "2") made the two write
    other mentions.parquet bytes. Ray's shards are these LocalEngine shards
    (tests/engines/test_audit_engines_ray.py)."""
    import polars as pl

    texts = ["fever and cough", "Myopia", "Marfan syndrome", "FBN1 and Myopia"]
    (tmp_path / "d.jsonl").write_text("".join(f'{{"q": "{texts[n % 4]}"}}\n' for n in range(120)))
    spec = DatasetSpec("d", str(tmp_path / "d.jsonl"), ("q",))
    kg, files = small_graph(), {}
    for name, engine in (("here", None), ("engine", LocalEngine())):
        res = run_audit(kg, [spec], out=tmp_path / name, amcs_reference=None, report=False,
                        engine=engine, shard_size=50)  # fmt: skip
        files[name] = res.files
    assert pl.read_parquet(files["here"]["mentions.parquet"]).height > 100
    assert sorted(files["here"]) == sorted(files["engine"])
    for name, file in files["here"].items():
        assert files["engine"][name].read_bytes() == file.read_bytes(), name


def test_the_same_pubmed_file_twice_is_refused_by_the_cli(tmp_path: Path) -> None:
    """A baseline file copied twice (or an update file beside its baseline): every PMID
    twice. The audit names the first PMID and both files, exits non-zero, writes nothing."""
    import gzip
    import re

    folder = tmp_path / "pubmed"
    folder.mkdir()
    for name in ("pubmed21n1298.xml.gz", "pubmed21n1299.xml.gz"):
        (folder / name).write_bytes(PUBMED.read_bytes())
    first = re.search(r'<PMID Version="1">(\d+)</PMID>', gzip.decompress(PUBMED.read_bytes())
                      .decode())[1]  # type: ignore[index]  # fmt: skip
    store = tmp_path / "graph"
    with open_store("embedded", path=store) as s:
        s.save(small_graph())
    out = tmp_path / "audit"
    res = CliRunner().invoke(app, ["coverage", "audit", str(folder), "--path", str(store),
                                   "--out", str(out), "--amcs-ref", "none", "--no-report"])  # fmt: skip
    assert res.exit_code != 0
    text = " ".join(res.output.split())
    assert f"item id '{first}' appears twice" in text
    assert "1298.xml.gz: citation 1 and" in text and "1299.xml.gz: citation 1" in text
    assert "(7 more records repeat an earlier id)" in text
    assert not out.exists() and not list(tmp_path.glob(".medkg-*"))


def test_the_id_spool_finds_every_repeat_and_only_repeats(tmp_path: Path) -> None:
    ids = [f"PMID{n}" for n in range(5000)]
    with IdSpool(tmp_path, buckets=8) as spool:
        spool.add(0, id_hashes(ids[:3000]))
        spool.add(1, id_hashes([*ids[3000:], "PMID17", "PMID4999"]))
        assert spool.records == 5002
        assert spool.repeats() == [((0, 17), (1, 2000)), ((1, 1999), (1, 2001))]
    with IdSpool(tmp_path) as spool:
        spool.add(0, id_hashes(ids))
        assert spool.repeats() == []
    assert list(tmp_path.iterdir()) == []


def test_naming_the_first_repeat_holds_a_bucket_not_every_repeat(tmp_path: Path) -> None:
    """A corpus whose every id repeats (a baseline beside its copy; a baseline with a year
    of update files under the default policy: millions of revised PMIDs): the error names
    the first repeat and counts the rest with the driver holding one bucket and a window of
    candidates, not Python pairs of every repeated record (10x the spool: 1.6 GB for 5 M
    revised PMIDs)."""
    ids = [str(30_000_000 + i) for i in range(100_000)]
    folder = tmp_path / "corpus"
    for name in ("a.jsonl", "b.jsonl"):
        write_keyed_jsonl(folder / name, ids, ["x"] * len(ids))
    read, shards = ShardItems(("q",), "key"), plan_shards(str(folder), 500)
    with IdSpool(tmp_path, buckets=64) as spool:
        for n, shard in enumerate(shards):
            spool.add(n, id_hashes(read.ids(shard)[0]))
        spooled = sum(f.stat().st_size for f in spool.folder.iterdir())
        gc.collect()
        tracemalloc.start()
        try:
            with pytest.raises(InputError, match=r"item id '30000000' appears twice in the "
                               r"corpus: \S*a\.jsonl:1 and \S*b\.jsonl:1\. .*\(99999 more "
                               r"records repeat an earlier id\)"):  # fmt: skip
                _check_repeats(spool, shards, read)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert spooled == 200_000 * 16 and peak < spooled / 2, (peak, spooled)


def test_a_hash_collision_moves_the_check_to_the_next_window(tmp_path: Path) -> None:
    """Hand-made hashes: k1 and k3 share one (a 64-bit collision), k2 repeats. In windows of
    one candidate the collision is read, found to differ, and the next window names k2."""
    import numpy as np

    folder = tmp_path / "corpus"
    write_keyed_jsonl(folder / "a.jsonl", ["k1", "k2"], ["x", "y"])
    write_keyed_jsonl(folder / "b.jsonl", ["k3", "k2"], ["x", "y"])
    read, shards = ShardItems(("q",), "key"), plan_shards(str(folder), 10)
    with IdSpool(tmp_path, buckets=1) as spool:
        for n in (0, 1):
            spool.add(n, np.array([7, 9], dtype="<u8"))
        assert spool.first_repeats(1) == ([((0, 0), (1, 0))], 2)
        assert spool.first_repeats(1, after=1 << 32) == ([((0, 1), (1, 1))], 1)
        for window in (1, 2):
            with pytest.raises(InputError, match=r"item id 'k2' appears twice in the corpus: "
                               r"\S*a\.jsonl:2 and \S*b\.jsonl:2\.") as err:  # fmt: skip
                _check_repeats(spool, shards, read, window=window)
            assert "more records" not in str(err.value)


def _peak(kg: KnowledgeGraph, linker: Linker, folder: Path, out: Path) -> int:
    corpus = CorpusSource(tuple(plan_shards(str(folder), 500)), ShardItems(("q",)))
    gc.collect()  # garbage of earlier tests is not this audit's
    tracemalloc.start()
    try:
        run_audit(kg, [DatasetSpec("d", str(folder), ("q",), None, corpus)], out=out,
                  linker=linker, amcs_reference=None, report=False)  # fmt: skip
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_the_drivers_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    """tracemalloc's peak (Python objects and numpy arrays on the driver; polars' own
    buffers are not traced) over a corpus of 5,000 and of 20,000 records in shards of
    500: ids held on the driver (a set or a hash array) would add ≥ 120 kB."""
    kg = small_graph()
    linker = Linker.from_graph(kg)
    texts = ["fever and cough", "a rash on the arm", "headache", "nothing to link here"]
    peaks: dict[int, int] = {}
    for n in (5000, 20000):
        folder = tmp_path / f"c{n}"
        for part in range(n // 2500):
            write_keyed_jsonl(folder / f"p{part}.jsonl", [f"r{part}-{i}" for i in range(2500)],
                              [texts[i % 4] for i in range(2500)])  # fmt: skip
    # twice each, the lower peak: a one-off resize of an interpreter-wide table (interned
    # strings, after earlier tests) lands in whichever run crosses its threshold
    for run in range(4):
        n = (5000, 20000)[run % 2]
        peak = _peak(kg, linker, tmp_path / f"c{n}", tmp_path / f"audit{n}-{run}")
        peaks[n] = min(peaks.get(n, peak), peak)
    assert peaks[20000] < peaks[5000] + 100_000, peaks


class CountingEngine(LocalEngine):
    """The local engine, counting its ``stream`` calls (each is one worker pool on Ray)."""

    def __init__(self) -> None:
        self.streams = 0

    def _stream(
        self, task: ShardTask[Any, Any], shards: list[Any], progress: Progress | None
    ) -> Iterator[Any]:
        self.streams += 1
        return super()._stream(task, shards, progress)


def test_two_corpora_of_one_audit_share_one_stream(tmp_path: Path) -> None:
    """One pool of workers for every corpus of an audit; each corpus's files are those of
    its audit alone."""
    write_mixed_corpus(tmp_path / "one")
    write_keyed_jsonl(tmp_path / "two" / "a.jsonl", ["k1", "k2", "k3"],
                      ["fever and cough", "a rash", "nothing"])  # fmt: skip
    kg = small_graph()

    def spec(name: str, folder: str, size: int, key: str | None) -> DatasetSpec:
        corpus = CorpusSource(tuple(plan_shards(folder, size)), ShardItems(("q",), key))
        return DatasetSpec(name, folder, ("q",), key, corpus)

    one, two = (
        spec("one", str(tmp_path / "one"), 40, None),
        spec("two", str(tmp_path / "two"), 2, "key"),
    )
    engine = CountingEngine()
    both = run_audit(kg, [one, two], out=tmp_path / "both", amcs_reference=None,
                     report=False, engine=engine)  # fmt: skip
    assert engine.streams == 1
    for s in (one, two):
        alone = run_audit(kg, [s], out=tmp_path / f"alone-{s.name}", amcs_reference=None,
                          report=False)  # fmt: skip
        for name in ("gaps", "nodes", "branches", "levels", "uncovered", "mentions"):
            ext = "json" if name == "gaps" else "parquet" if name == "mentions" else "csv"
            got = both.files[f"{name}.{s.name}.{ext}"].read_bytes()
            assert got == alone.files[f"{name}.{ext}"].read_bytes(), (s.name, name)
        data = json.loads((tmp_path / "both" / "coverage.json").read_text())
        mine = next(d for d in data["datasets"] if d["name"] == s.name)
        assert mine == json.loads(alone.files["coverage.json"].read_text())["datasets"][0]
