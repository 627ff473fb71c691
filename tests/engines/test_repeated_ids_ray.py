"""``--repeated-ids last`` on the real local Ray cluster (tests/engines/conftest.py): a
PubMed baseline with its update file (tests/factories/pubmed_updates.py) plus JSONL files
that repeat ids, linked and audited on Ray Data, write the local engine's bytes and counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.coverage.linking import Linker
from medkg.coverage.sharded import link_corpus
from medkg.engines import LocalEngine, RayEngine
from medkg.errors import InputError
from medkg.retrieval.shards import ShardItems, plan_shards
from tests.factories.corpora import write_keyed_jsonl
from tests.factories.engines import check_cli_audit_on_ray
from tests.factories.graphs import small_graph
from tests.factories.pubmed_updates import without_revision, write_updated_pubmed

pytestmark = pytest.mark.ray


def test_last_policy_on_ray_writes_the_local_bytes(ray_cluster: str, tmp_path: Path) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    write_keyed_jsonl(pm.folder / "x.jsonl", ["k1", "k2", "k1"], ["Myopia", "FBN1", "TGFB2"])
    linker = Linker.from_graph(small_graph())
    shards = plan_shards(str(pm.folder), 2)
    files, counts = {}, {}
    for name, engine in (("local", LocalEngine()), ("ray", RayEngine(workers=2))):
        files[name] = tmp_path / f"{name}.parquet"
        res = link_corpus(linker, shards, ShardItems(("q",), None), engine, files[name],
                          repeated_ids="last")  # fmt: skip
        counts[name] = (res.items, res.superseded, res.deleted, res.mentions)
    # citations: the expected ones; JSONL ids are file:line (x.jsonl:1..3 differ): none drop
    assert counts["local"][:3] == (len(pm.kept) + 3, 1, 1)
    assert counts["ray"] == counts["local"]
    assert files["ray"].read_bytes() == files["local"].read_bytes()


def test_cli_audit_with_updates_on_ray_writes_the_local_audit(
    ray_cluster: str, tmp_path: Path
) -> None:
    pm = write_updated_pubmed(tmp_path / "pubmed")
    names = check_cli_audit_on_ray(tmp_path, [str(pm.folder), "--repeated-ids", "last"])
    assert "coverage.json" in names


def test_a_deleted_citation_on_ray_is_refused_as_locally(ray_cluster: str, tmp_path: Path) -> None:
    """Under ``error`` the ids a file deletes come back from the Ray Data workers too: a
    baseline citation its update deletes is refused naming both files."""
    pm = write_updated_pubmed(tmp_path / "pubmed")
    without_revision(pm)
    with pytest.raises(InputError, match=rf"citation '{pm.deleted}' \(\S*pubmed26n0001\.xml\.gz: "
                       r"citation 3\) is deleted by \S*pubmed26n0002\.xml\.gz's"):  # fmt: skip
        link_corpus(Linker.from_graph(small_graph()), plan_shards(str(pm.folder), 1),
                    ShardItems(), RayEngine(workers=2), tmp_path / "m.parquet")  # fmt: skip
