"""A hand-damaged corpus registry (corpora.json) is an error naming the file and the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medkg.retrieval.base import RetrievalError
from medkg.retrieval.corpus import CorpusRegistry, CorpusSpec


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"chunk_size": "1000"}, r"corpus 'notes': chunk_size must be a positive integer"),
        ({"format": "xml"}, r"corpus 'notes': unknown format 'xml'"),
        ({"name": "a:b"}, r"corpus name 'a:b'"),
    ],
)
def test_a_bad_registry_entry_names_the_file(
    tmp_path: Path, edit: dict[str, object], message: str
) -> None:
    registry = CorpusRegistry(tmp_path)
    registry.add(CorpusSpec("notes", "textbook", str(tmp_path / "notes.jsonl")))
    data = json.loads(registry.path.read_text(encoding="utf-8"))
    data["corpora"][0].update(edit)
    registry.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RetrievalError, match=rf"corpora\.json: {message}"):
        registry.list()


def test_a_registry_entry_that_is_not_an_object_names_the_file(tmp_path: Path) -> None:
    registry = CorpusRegistry(tmp_path)
    registry.add(CorpusSpec("notes", "textbook", str(tmp_path / "notes.jsonl")))
    data = json.loads(registry.path.read_text(encoding="utf-8"))
    data["corpora"].append("pubmed")
    registry.path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RetrievalError, match=r"corpora\.json: corpus entry 2 is not an object"):
        registry.get("notes")
