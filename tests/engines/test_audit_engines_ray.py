"""``coverage audit`` of a dataset read whole on the real local Ray cluster
(tests/engines/conftest.py) writes the files of ``--engine local``, the mention table
included (line-number ids, whose string order is not their input order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.engines import check_cli_audit_on_ray

pytestmark = pytest.mark.ray


def test_cli_audit_of_a_file_on_ray_writes_the_local_files(
    ray_cluster: str, tmp_path: Path
) -> None:
    texts = ["fever and cough", "Myopia", "Marfan syndrome", "FBN1 and Myopia"]
    (tmp_path / "d.jsonl").write_text("".join(f'{{"q": "{texts[n % 4]}"}}\n' for n in range(120)))
    names = check_cli_audit_on_ray(tmp_path, [str(tmp_path / "d.jsonl"), "--fields", "q",
                                              "--shard-size", "50", "--workers", "2"])  # fmt: skip
    assert "mentions.parquet" in names
