"""Generators: the template method, the registry, the local transformers backend (a tiny
random-init model built here, and the packaged SmolLM2) and the OpenAI-compatible backend
against a real local HTTP server standing in for vLLM."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from medkg.llm import (
    GENERATORS,
    Generator,
    GeneratorError,
    GenParams,
    LocalGenerator,
    Messages,
    OpenAIGenerator,
    build_generator,
)
from medkg.llm.base import batch_seed
from medkg.llm.local import (
    EXPORT_MARKER,
    SMOLLM2_NAME,
    export_gguf,
    smollm2_gguf_path,
)
from tests.factories.chat import ChatServer


def user(text: str) -> Messages:
    return [{"role": "user", "content": text}]


PROMPTS = [
    user("Hi"),
    user("A patient presents with arachnodactyly and ectopia lentis. Which is the diagnosis?"),
    user("Which gene?"),
]


# -- the template method and the registry (no model) -------------------------------------


class RecordingGenerator(Generator):
    """Returns canned text and records what the base class hands the hook."""

    def __init__(self, *, batch_size: int = 3, wrong_count: bool = False) -> None:
        super().__init__(batch_size=batch_size)
        self.calls: list[tuple[int, int]] = []  # (batch length, batch seed)
        self.wrong_count = wrong_count

    @property
    def model_name(self) -> str:
        return "recorder"

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        self.calls.append((len(prompts), params.seed))
        n = params.n - 1 if self.wrong_count else params.n
        return [[f"{p[-1]['content']} STOP {k}" for k in range(n)] for p in prompts]


def test_generate_batches_seeds_and_cuts_at_stop() -> None:
    gen = RecordingGenerator(batch_size=3)
    prompts = [user(f"q{i}") for i in range(7)]
    out = gen.generate(prompts, GenParams(n=2, seed=5, stop=(" STOP",)))
    assert gen.calls == [(3, batch_seed(5, 0)), (3, batch_seed(5, 3)), (1, batch_seed(5, 6))]
    assert out == [[f"q{i}", f"q{i}"] for i in range(7)]
    assert (gen.stats.prompts, gen.stats.completions, gen.stats.batches) == (7, 14, 3)


def test_generate_reports_progress_per_batch_without_changing_outputs() -> None:
    prompts = [user(f"q{i}") for i in range(7)]
    plain = RecordingGenerator(batch_size=3).generate(prompts, GenParams(n=1, seed=2))
    gen = RecordingGenerator(batch_size=3)
    ticks: list[tuple[str, int, int | None]] = []
    gen.progress = lambda stage, done, total: ticks.append((stage, done, total))
    assert gen.generate(prompts, GenParams(n=1, seed=2)) == plain
    assert ticks == [("generate", 3, 7), ("generate", 6, 7), ("generate", 7, 7)]


def test_generate_refuses_a_backend_that_returns_the_wrong_count() -> None:
    with pytest.raises(GeneratorError, match="n=2"):
        RecordingGenerator(wrong_count=True).generate([user("q")], GenParams(n=2))


@pytest.mark.parametrize(
    ("prompts", "params", "message"),
    [
        ("just text", GenParams(), "list of chat-message lists"),
        ([[]], GenParams(), "non-empty list"),
        ([[{"role": "robot", "content": "x"}]], GenParams(), "needs a role"),
        ([[{"role": "user", "content": 3}]], GenParams(), "content must be a string"),
        ([[{"role": "assistant", "content": "x"}]], GenParams(), "must not be the assistant"),
        ([user("q")], GenParams(n=0), "n must be"),
        ([user("q")], GenParams(temperature=-1), "temperature"),
        ([user("q")], GenParams(top_p=0), "top_p"),
        ([user("q")], GenParams(max_new_tokens=0), "max_new_tokens"),
        ([user("q")], GenParams(stop="x"), "stop must be"),  # type: ignore[arg-type]
    ],
)
def test_generate_validates_before_any_work(prompts: Any, params: GenParams, message: str) -> None:
    gen = RecordingGenerator()
    with pytest.raises(ValueError, match=message):
        gen.generate(prompts, params)
    assert gen.calls == []


def test_registry_builds_by_key_and_checks_options() -> None:
    assert {"local", "openai"} <= set(GENERATORS)
    gen = build_generator("openai", base_url="http://127.0.0.1:9/v1", model="m", concurrency=2)
    assert isinstance(gen, OpenAIGenerator) and gen.name == "openai:m"
    assert build_generator("local").name == f"local:{SMOLLM2_NAME}"
    with pytest.raises(ValueError, match="unknown generator 'vllm'"):
        build_generator("vllm")
    with pytest.raises(ValueError, match=r"does not take \['base_url'\]"):
        build_generator("local", base_url="http://x")


def test_constructors_do_no_io(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    gen = build_generator("local", model=missing)  # nothing is read yet
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        gen.generate([user("q")])
    remote = build_generator("openai", model="m")  # no URL needed until a request
    with pytest.raises(GeneratorError, match="no base_url"):
        remote.generate([user("q")])


# -- local backend on a tiny random-init model -------------------------------------------


@pytest.fixture(scope="module")
def tiny(tiny_model: Path) -> LocalGenerator:
    gen = LocalGenerator(model=tiny_model, threads=1, batch_size=8)
    gen.load()
    return gen


def test_local_loads_on_cpu_with_one_thread_and_left_padding(tiny: LocalGenerator) -> None:
    import torch

    assert torch.get_num_threads() == 1
    assert tiny.device == "cpu" and tiny._tokenizer.padding_side == "left"
    assert tiny.describe()["dtype"] == "float32"


def test_local_batched_greedy_equals_one_at_a_time(tiny: LocalGenerator) -> None:
    params = GenParams(max_new_tokens=12)
    tiny.batch_size = 8
    batched = tiny.generate(PROMPTS, params)
    tiny.batch_size = 1
    single = tiny.generate(PROMPTS, params)
    tiny.batch_size = 8
    assert batched == single  # right padding or a missing attention mask breaks this
    assert all(len(c) == 1 and c[0] for c in batched)
    assert len({c[0] for c in batched}) == len(PROMPTS)  # the prompts reached the model


def test_local_sampling_is_reproducible_per_seed(tiny: LocalGenerator) -> None:
    params = GenParams(max_new_tokens=10, temperature=1.0, top_p=0.95, n=3, seed=11)
    first = tiny.generate(PROMPTS, params)
    again = tiny.generate(PROMPTS, params)
    other = tiny.generate(PROMPTS, GenParams(**{**params.__dict__, "seed": 12}))
    assert first == again
    assert first != other
    assert all(len(c) == 3 for c in first)
    assert len(set(first[1])) > 1  # n samples differ from each other


def test_local_greedy_n_gives_copies_and_counts_tokens(tiny: LocalGenerator) -> None:
    before = tiny.stats.new_tokens
    out = tiny.generate(PROMPTS[:2], GenParams(max_new_tokens=6, n=2))
    assert all(c[0] == c[1] for c in out)
    assert 0 < tiny.stats.new_tokens - before <= 2 * 2 * 6


def test_local_stop_strings_cut_completions(tiny: LocalGenerator) -> None:
    full = tiny.generate(PROMPTS[:1], GenParams(max_new_tokens=12))[0][0]
    stop = full[3:5]
    assert stop.strip(), full
    cut = tiny.generate(PROMPTS[:1], GenParams(max_new_tokens=12, stop=(stop,)))[0][0]
    assert cut == full[: full.find(stop)]


def test_local_refuses_a_tokenizer_without_chat_template(tiny_model: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "no-template"
    shutil.copytree(tiny_model, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(GeneratorError, match="no chat template"):
        LocalGenerator(model=folder, threads=1).load()


def test_local_cuda_request_without_cuda_is_an_error(tiny_model: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(GeneratorError, match="no CUDA device"):
        LocalGenerator(model=tiny_model, device="cuda", threads=1).load()


# -- the packaged SmolLM2 ------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_gguf_export_reuse_and_generate(tmp_path: Path) -> None:
    """GGUF load + export takes ~55 s on 2 cores (tokenizer ~11 s, model ~42 s, save ~2 s);
    reusing the export takes ~1 s."""
    folder = tmp_path / "models" / SMOLLM2_NAME
    t0 = time.perf_counter()
    info = export_gguf(smollm2_gguf_path(), folder)
    assert not info.reused and (folder / EXPORT_MARKER).is_file()
    assert (folder / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    again = export_gguf(smollm2_gguf_path(), folder)
    assert again.reused and time.perf_counter() - t0 < 600
    gen = LocalGenerator(export_dir=folder, threads=1, batch_size=2)
    gen.load()
    assert gen.load_s < 30 and gen.model_path == folder
    prompts = [user("What is Marfan syndrome?"), user("Name one symptom of cystic fibrosis.")]
    out = gen.generate(prompts, GenParams(max_new_tokens=16))
    assert [len(c) for c in out] == [1, 1]
    assert "marfan" in out[0][0].lower()  # a real instruct model answers the question
    assert 0 < gen.stats.new_tokens <= 32


# -- OpenAI-compatible backend against a real local server ---------------------------------


def remote(server: ChatServer, **options: Any) -> OpenAIGenerator:
    opts: dict[str, Any] = {"base_url": server.base_url, "model": "smollm2", "timeout_s": 5.0}
    opts.update(options)
    gen = build_generator("openai", **opts)
    assert isinstance(gen, OpenAIGenerator)
    return gen


def test_openai_round_trip_n_order_seeds_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDKG_TEST_KEY", "sk-test")
    with ChatServer() as server:
        gen = remote(server, api_key_env="MEDKG_TEST_KEY", batch_size=2)
        prompts = [user(f"question {i}") for i in range(5)]
        out = gen.generate(prompts, GenParams(n=2, seed=3, max_new_tokens=7, stop=("\n",)))
    assert [c[1] for c in out] == [
        f"question {i} | seed={batch_seed(3, i - i % 2) + i % 2} | choice=1" for i in range(5)
    ]
    assert len(server.requests) == 5
    body = server.requests[0]
    assert body["model"] == "smollm2" and body["n"] == 2 and body["max_tokens"] == 7
    assert body["stop"] == ["\n"] and body["messages"][-1]["role"] == "user"
    assert len({r["seed"] for r in server.requests}) == 5
    assert all(h["Authorization"] == "Bearer sk-test" for h in server.headers)
    assert gen.stats.new_tokens > 0 and "sk-test" not in json.dumps(gen.describe())


def test_openai_sends_requests_concurrently() -> None:
    with ChatServer(delay_s=0.3) as server:
        remote(server, concurrency=4).generate([user(f"q{i}") for i in range(4)])
    assert server.max_inflight >= 2


def test_openai_retries_a_5xx_then_succeeds() -> None:
    with ChatServer(fail_first=1, fail_status=503) as server:
        out = remote(server, retries=2, backoff_s=0.01).generate([user("q")])
    assert out == [["q | seed=0 | choice=0"]] and len(server.requests) == 2


def test_openai_500_error_names_status_body_and_attempts() -> None:
    with ChatServer(fail_first=10, fail_status=500) as server:
        gen = remote(server, retries=1, backoff_s=0.01)
        with pytest.raises(GeneratorError) as err:
            gen.generate([user("q")])
    message = str(err.value)
    assert "HTTP 500" in message and "model overloaded" in message
    assert "after 2 attempts" in message and server.base_url in message
    assert len(server.requests) == 2


def test_openai_4xx_is_not_retried() -> None:
    with (
        ChatServer(fail_first=10, fail_status=400) as server,
        pytest.raises(GeneratorError, match="HTTP 400"),
    ):
        remote(server, retries=3, backoff_s=0.01).generate([user("q")])
    assert len(server.requests) == 1


def test_openai_timeout_is_a_clear_error() -> None:
    with ChatServer(delay_s=2.0) as server:
        gen = remote(server, timeout_s=0.3, retries=0)
        t0 = time.perf_counter()
        with pytest.raises(GeneratorError, match=r"no answer within 0\.3 s \(timeout\)"):
            gen.generate([user("q")])
    assert time.perf_counter() - t0 < 1.9


def test_openai_endpoint_down_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = build_generator(
        "openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", retries=1, backoff_s=0.01
    )
    with pytest.raises(GeneratorError, match=r"endpoint unreachable.*is the server running"):
        gen.generate([user("q")])


def test_openai_reply_with_too_few_choices_is_an_error() -> None:
    with (
        ChatServer(reply=lambda body: ["only one"]) as server,
        pytest.raises(GeneratorError, match="asked for n=3 choices, got 1"),
    ):
        remote(server).generate([user("q")], GenParams(n=3, temperature=0.8))


def test_openai_reply_cut_off_mid_body_is_retried() -> None:
    # A server (or proxy) that drops the connection mid-reply: urllib raises
    # http.client.IncompleteRead from read(), which is neither an OSError nor a URLError.
    # It is a transient failure like a reset connection: retried, then a GeneratorError.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.factories.chat import completion

    calls: list[int] = []

    class Truncating(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(1)
            data = json.dumps(completion(body, ["Answer: B"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data if len(calls) > 1 else data[: len(data) // 2])

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Truncating)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        opts = {"base_url": url, "model": "m", "timeout_s": 5.0, "backoff_s": 0.01}
        assert build_generator("openai", retries=1, **opts).generate([user("q")]) == [["Answer: B"]]
        calls.clear()
        with pytest.raises(GeneratorError, match="after 1 attempts"):
            build_generator("openai", retries=0, **opts).generate([user("q")])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
