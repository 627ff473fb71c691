"""A stand-in for an OpenAI-compatible (vLLM) chat server, shared by the training,
retrieval, synthesis and conformance tests.

:class:`ChatServer` is a real HTTP server (stdlib ``http.server``) on 127.0.0.1 and a free
port that speaks the ``/v1/chat/completions`` JSON shape the way vLLM does: it stands in for
a vLLM endpoint so the HTTP backend is tested over real sockets, timeouts and status codes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], list[str]]


def echo_reply(body: dict[str, Any]) -> list[str]:
    """n choices naming the last user message, the seed and the choice index."""
    last = body["messages"][-1]["content"]
    return [f"{last} | seed={body.get('seed')} | choice={i}" for i in range(body.get("n", 1))]


class ChatServer:
    """Chat-completions server for tests (stands in for vLLM); use as a context manager.

    ``reply`` maps a request body to the completion texts; ``delay_s`` sleeps before
    answering (timeouts); the first ``fail_first`` requests get ``fail_status`` with a JSON
    error body. Every request body and its headers are recorded, and the largest number of
    requests in flight at once is tracked.
    """

    def __init__(
        self,
        reply: Reply = echo_reply,
        *,
        delay_s: float = 0.0,
        fail_first: int = 0,
        fail_status: int = 500,
    ) -> None:
        self.reply = reply
        self.delay_s = delay_s
        self.fail_left = fail_first
        self.fail_status = fail_status
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                    fail = server.fail_left > 0
                    server.fail_left -= int(fail)
                try:
                    time.sleep(server.delay_s)
                    if self.path != "/v1/chat/completions":
                        self._send(404, {"error": {"message": f"no route {self.path}"}})
                    elif fail:
                        self._send(
                            server.fail_status,
                            {"error": {"message": "model overloaded", "type": "server_error"}},
                        )
                    else:
                        texts = server.reply(body)
                        self._send(200, completion(body, texts))
                finally:
                    with server.lock:
                        server.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.httpd is not None and self.thread is not None
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def completion(body: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """The chat.completion JSON object vLLM returns for ``texts``."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": t},
                "finish_reason": "stop",
            }
            for i, t in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": sum(len(t.split()) for t in texts),
            "total_tokens": 10 + sum(len(t.split()) for t in texts),
        },
    }
