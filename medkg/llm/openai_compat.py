"""Backend for any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, TGI, llama.cpp, ...).

``base_url`` is the API root including ``/v1`` (as in the OpenAI SDK), e.g.
``http://127.0.0.1:8000/v1``; requests go to ``{base_url}/chat/completions``. Left out, it
and ``model`` come from ``MEDKG_OPENAI_BASE_URL`` / ``MEDKG_OPENAI_MODEL`` when the first
request is sent. The API key is read from the environment variable named by ``api_key_env``
(``OPENAI_API_KEY`` by default) at request time and never recorded; without one no
``Authorization`` header is sent (a local vLLM needs none).

Each prompt is one request asking for ``n`` choices, seeded with the batch's seed plus the
prompt's position in the batch (vLLM honours per-request seeds); a small thread pool sends
up to ``concurrency`` requests at once. Connection failures, replies cut off mid-body,
timeouts, HTTP 429 and 5xx are retried ``retries`` times with exponential back-off; other HTTP errors fail at once. Every
failure raises :class:`GeneratorError` naming the URL and the cause: endpoint unreachable,
no answer within the timeout, the HTTP status with an excerpt of the body, or a reply that
is not a chat completion. Only the standard library is used.

Redirects: the request carries the API key, so only a 307/308 redirect to the same origin
(scheme, host and port) is followed, as the same POST with the same body; any other
redirect (another host, or a 301/302/303 that would turn the POST into a GET) is an error
naming the target. Credentials in ``base_url`` are masked in manifests and messages.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from medkg.errors import UsageError
from medkg.llm.base import (
    Generator,
    GeneratorError,
    GenParams,
    Messages,
    register_generator,
)
from medkg.redact import redact_url

BODY_EXCERPT = 300  # characters of an error body quoted in the exception


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow only 307/308 redirects to the same origin, keeping method, body and headers;
    refuse every other redirect (the request carries the API key)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
        newurl: str,
    ) -> urllib.request.Request:  # fmt: skip
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        if code in (307, 308) and _origin(newurl) == _origin(req.full_url):
            return urllib.request.Request(
                newurl, data=req.data, headers=dict(req.header_items()), method=req.get_method()
            )
        fp.close()
        why = "another origin" if _origin(newurl) != _origin(req.full_url) else "a GET"
        raise GeneratorError(
            f"{redact_url(req.full_url)}: the server redirects (HTTP {code}) to "
            f"{redact_url(newurl)}, which would send the request with its API key to {why}; "
            "not followed: set base_url to the final address"
        )


_OPENER = urllib.request.build_opener(SameOriginRedirects())


class _Retryable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@register_generator("openai")
class OpenAIGenerator(Generator):
    """Chat completions from an OpenAI-compatible HTTP server."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        concurrency: int = 4,
        batch_size: int = 32,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size)
        if timeout_s <= 0:
            raise UsageError(f"timeout_s must be > 0, got {timeout_s}")
        if retries < 0:
            raise UsageError(f"retries must be >= 0, got {retries}")
        if concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {concurrency}")
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.concurrency = concurrency
        self.extra_body = dict(extra_body or {})

    @property
    def model_name(self) -> str:
        return self.model or os.environ.get("MEDKG_OPENAI_MODEL", "") or "unset"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": redact_url(self._base_url(strict=False))}

    def _base_url(self, strict: bool = True) -> str:
        url = self.base_url or os.environ.get("MEDKG_OPENAI_BASE_URL", "")
        if not url and strict:
            raise GeneratorError(
                "openai generator: no base_url (pass base_url= or set MEDKG_OPENAI_BASE_URL)"
            )
        return url.rstrip("/")

    @property
    def url(self) -> str:
        return f"{self._base_url()}/chat/completions"

    def _model_id(self) -> str:
        model = self.model or os.environ.get("MEDKG_OPENAI_MODEL", "")
        if not model:
            raise GeneratorError(
                "openai generator: no model (pass model= or set MEDKG_OPENAI_MODEL)"
            )
        return model

    def _generate_batch(self, prompts: list[Messages], params: GenParams) -> list[list[str]]:
        url, model = self.url, self._model_id()
        bodies = [
            self._body(model, msgs, params, params.seed + i) for i, msgs in enumerate(prompts)
        ]
        if len(bodies) == 1 or self.concurrency == 1:
            replies = [self._post(url, b) for b in bodies]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
                replies = list(pool.map(lambda b: self._post(url, b), bodies))
        return [self._choices(url, r, params.n) for r in replies]

    def _body(self, model: str, msgs: Messages, params: GenParams, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.extra_body,
            "model": model,
            "messages": msgs,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": params.n,
            "seed": seed,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    def _choices(self, url: str, reply: dict[str, Any], n: int) -> list[str]:
        url = redact_url(url)
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] or "" for c in choices]
        except (KeyError, TypeError, AttributeError) as exc:
            raise GeneratorError(
                f"{url}: reply is not a chat completion ({exc!r}): {json.dumps(reply)[:BODY_EXCERPT]}"
            ) from exc
        if len(texts) != n:
            raise GeneratorError(f"{url}: asked for n={n} choices, got {len(texts)}")
        usage = reply.get("usage") or {}
        self.stats.new_tokens += int(usage.get("completion_tokens") or 0)
        return texts

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self._post_once(url, data, headers)
            except _Retryable as exc:
                last = exc.message
        raise GeneratorError(f"{last} (after {self.retries + 1} attempts)")

    def _post_once(self, url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        url = redact_url(url)  # for messages: never a password from base_url
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            excerpt = exc.read().decode("utf-8", "replace")[:BODY_EXCERPT]
            message = f"{url}: HTTP {exc.code} {exc.reason}: {excerpt}"
            if exc.code == 429 or exc.code >= 500:
                raise _Retryable(message) from exc
            raise GeneratorError(message) from exc
        except TimeoutError as exc:
            raise _Retryable(f"{url}: no answer within {self.timeout_s:g} s (timeout)") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _Retryable(f"{url}: no answer within {self.timeout_s:g} s (timeout)") from exc
            raise _Retryable(
                f"{url}: endpoint unreachable ({exc.reason}); is the server running?"
            ) from exc
        except (ConnectionError, OSError) as exc:
            raise _Retryable(f"{url}: connection failed ({exc})") from exc
        except http.client.HTTPException as exc:
            # a reply cut off mid-body (IncompleteRead) or a garbled status line: transient
            raise _Retryable(f"{url}: reply cut off ({exc!r})") from exc
        try:
            reply = json.loads(raw)
        except ValueError as exc:
            text = raw.decode("utf-8", "replace")[:BODY_EXCERPT]
            raise GeneratorError(f"{url}: reply is not JSON: {text}") from exc
        if not isinstance(reply, dict):
            raise GeneratorError(f"{url}: reply is not a JSON object: {str(reply)[:BODY_EXCERPT]}")
        return reply


__all__ = ["OpenAIGenerator"]
