"""Hardened inputs: XML entity declarations refused fast, redirects never carry the key,
credentials in URLs masked."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from medkg.kg.sources.base import SourceError
from medkg.kg.sources.icd10 import parse_xml
from medkg.kg.sources.owl import OwlSource
from medkg.llm import build_generator
from medkg.llm.base import GeneratorError, GenParams
from medkg.redact import redact
from tests.factories.processes import run_medkg

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["entity_bomb.owl", "external_entity.owl"])
def test_rdfxml_entity_declarations_are_refused_in_under_a_second(name: str) -> None:
    began = time.perf_counter()
    with pytest.raises(SourceError, match="refusing to read XML") as err:
        OwlSource(FIXTURES / name).load()
    assert time.perf_counter() - began < 1.0
    assert name in str(err.value)


def test_kg_import_of_the_entity_bomb_is_a_one_line_error(tmp_path: Path) -> None:
    began = time.perf_counter()
    res = run_medkg(
        "kg", "import", str(FIXTURES / "entity_bomb.owl"), "--path", str(tmp_path / "g")
    )
    assert res.returncode == 2, res.stderr
    assert "refusing to read XML" in res.stderr and "Traceback" not in res.stderr
    assert time.perf_counter() - began < 30  # interpreter start-up included; was minutes
    assert not (tmp_path / "g").exists()


def test_namespace_shortcut_entities_of_ontology_editors_still_load() -> None:
    kg = OwlSource(FIXTURES / "namespace_entities.owl").load()
    assert sorted(kg.nodes.get_column("id").to_list()) == ["DOID:4", "DOID:7"]


def test_every_xml_reader_refuses_entities(tmp_path: Path) -> None:
    bomb = (FIXTURES / "entity_bomb.owl").read_bytes()
    icd = tmp_path / "icd.xml"
    icd.write_bytes(bomb)
    began = time.perf_counter()
    with pytest.raises(SourceError, match="declares DTD entities"):
        parse_xml(icd)
    from medkg.retrieval.readers import read_documents

    pubmed = tmp_path / "pubmed.xml.gz"
    pubmed.write_bytes(gzip.compress(bomb))
    with pytest.raises(Exception, match="declares DTD entities"):
        list(read_documents(pubmed, fmt="pubmed"))
    assert time.perf_counter() - began < 1.0


# -- the OpenAI-compatible generator and redirects ----------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request; /v1/chat/completions redirects to ``target`` with ``code``."""

    seen: ClassVar[list[dict[str, Any]]] = []
    target: ClassVar[str] = ""
    code: ClassVar[int] = 307

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path,
                          "auth": self.headers.get("Authorization"), "body": body})  # fmt: skip
        return body

    def do_POST(self) -> None:
        self._record()
        if self.path.startswith("/v1/") and self.target:
            self.send_response(self.code)
            self.send_header("Location", self.target)
            self.end_headers()
            return
        reply = {"choices": [{"index": 0, "message": {"content": "A"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def two_servers() -> Iterator[tuple[Any, Any]]:
    made = []
    for _ in range(2):
        handler = type("H", (_Recorder,), {"seen": [], "target": "", "code": 307})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
    yield made[0], made[1]
    for server in made:
        server.shutdown()
        server.server_close()


def _gen(server: Any) -> Any:
    port = server.server_address[1]
    return build_generator("openai", base_url=f"http://127.0.0.1:{port}/v1", model="m",
                           retries=0, timeout_s=5.0)  # fmt: skip


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_does_not_carry_the_key(
    two_servers: tuple[Any, Any], code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, other = two_servers
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key")
    # "localhost" vs 127.0.0.1: another origin (another host name, another port)
    origin.RequestHandlerClass.target = f"http://localhost:{other.server_address[1]}/steal"
    origin.RequestHandlerClass.code = code
    with pytest.raises(GeneratorError, match=rf"redirects \(HTTP {code}\).*not followed"):
        _gen(origin).generate([[{"role": "user", "content": "q"}]], GenParams(max_new_tokens=4))
    assert origin.RequestHandlerClass.seen[0]["auth"] == "Bearer sk-secret-key"
    assert other.RequestHandlerClass.seen == []  # nothing reached the other host


def test_a_same_origin_307_keeps_the_post_and_its_body(
    two_servers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    origin, _ = two_servers
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-key")
    origin.RequestHandlerClass.target = "/moved/chat/completions"
    out = _gen(origin).generate([[{"role": "user", "content": "q"}]], GenParams(max_new_tokens=4))
    assert out == [["A"]]
    first, second = origin.RequestHandlerClass.seen
    assert second["method"] == "POST" and second["path"] == "/moved/chat/completions"
    assert second["body"] == first["body"] and json.loads(second["body"])["model"] == "m"


def test_a_same_origin_302_is_not_turned_into_a_get(two_servers: tuple[Any, Any]) -> None:
    origin, _ = two_servers
    origin.RequestHandlerClass.target = "/elsewhere"
    origin.RequestHandlerClass.code = 302
    with pytest.raises(GeneratorError, match="to a GET"):
        _gen(origin).generate([[{"role": "user", "content": "q"}]], GenParams(max_new_tokens=4))
    assert [r["method"] for r in origin.RequestHandlerClass.seen] == ["POST"]


def test_credentials_in_a_base_url_are_masked_in_manifests_and_errors() -> None:
    gen = build_generator("openai", base_url="http://bob:hunter2@127.0.0.1:9/v1", model="m",
                          retries=0, timeout_s=1.0)  # fmt: skip
    assert "hunter2" not in json.dumps(gen.describe())
    with pytest.raises(GeneratorError) as err:
        gen.generate([[{"role": "user", "content": "q"}]], GenParams(max_new_tokens=4))
    assert "hunter2" not in str(err.value) and "bob:***@" in str(err.value)
    assert redact("neo4j://u:p@h:1 and https://h/x?api_key=abc") == (
        "neo4j://u:***@h:1 and https://h/x?api_key=***"
    )


def test_bioc_xml_with_entity_declarations_is_refused(tmp_path: Path) -> None:
    from medkg.coverage.annotated import read_bioc

    bomb = tmp_path / "corpus.xml"
    bomb.write_bytes((FIXTURES / "entity_bomb.owl").read_bytes())
    began = time.perf_counter()
    with pytest.raises(Exception, match=r"corpus\.xml: .*declares the DTD entity 'a'"):
        list(read_bioc(bomb))
    assert time.perf_counter() - began < 1.0
