"""PubMed book records on the real local Ray cluster (tests/engines/conftest.py): a
baseline mixing citations and ``PubmedBookArticle`` records plus an update file that
revises and deletes books (tests/factories/pubmed_books.py), linked with
``--repeated-ids last`` on Ray Data, write the local engine's bytes and counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus
from medkg.engines import LocalEngine, RayEngine
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.graphs import small_graph
from tests.factories.pubmed_books import write_book_updates

pytestmark = pytest.mark.ray


def test_books_on_ray_write_the_local_bytes(ray_cluster: str, tmp_path: Path) -> None:
    up = write_book_updates(tmp_path / "pubmed")
    linker = Linker.from_graph(small_graph())
    shards = plan_shards(str(up.folder), 2)
    files, counts = {}, {}
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        files[name] = tmp_path / f"{name}.parquet"
        res = link_corpus(linker, shards, ShardItems(), engine, files[name], repeated_ids="last")
        counts[name] = (res.items, res.superseded, res.deleted, res.mentions)
    assert counts["local"][:3] == (len(up.kept), up.repeated, 1)
    assert counts["ray"] == counts["local"]
    assert files["ray"].read_bytes() == files["local"].read_bytes()
