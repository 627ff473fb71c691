"""The workbench application: state, token check, error pages, templates.

Starlette serves server-rendered Jinja2 pages; htmx (vendored) swaps fragments for tree
expansion and review buttons, cytoscape.js (vendored) draws the neighbourhood graph. No
asset comes from the network. Every expected error (unknown id, malformed review file,
a folder that is not a dataset) renders a message page with status 4xx; anything else
renders a generic message (the traceback goes to the server log, never to the browser).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from medkg.config import medkg_home
from medkg.errors import MedkgError
from medkg.kg.stores.base import GraphStore, StoreError
from medkg.ui.coverage import AuditView, colour, legend
from medkg.ui.graph import GraphIndex

HERE = Path(__file__).parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "medkg_ui_token"
log = logging.getLogger("medkg.ui")


class UserError(MedkgError, ValueError):
    """Bad input from the browser: shown as a message with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UIState:
    """What every request reads: the graph index, known datasets and audits."""

    store: GraphStore
    # Where decisions and generated items go: mappings/curated.sssom.tsv, ui/generated/.
    home: Path = field(default_factory=medkg_home)
    datasets: list[Path] = field(default_factory=list)
    audits: list[Path] = field(default_factory=list)
    token: str | None = None
    _index: GraphIndex | None = None
    _kg: Any = None
    _backends: Any = None
    _audit_views: dict[Path, AuditView] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def index(self) -> GraphIndex:
        """The graph index, built on first use from ``store.load()``."""
        with self._lock:
            if self._index is None:
                kg = self.store.load()
                self._kg = kg
                self._index = GraphIndex(kg, self.store.describe_location())
            return self._index

    @property
    def kg(self) -> Any:
        self.index  # noqa: B018 - loads the graph
        return self._kg

    @property
    def synth_backends(self) -> Any:
        """Synthesis backends over this graph (its synthesis view built once, on first use)."""
        from medkg.ui.coverage import synthesis_backends

        kg = self.kg
        with self._lock:
            if self._backends is None:
                self._backends = synthesis_backends(kg)
            return self._backends

    def audit(self, folder: str | Path) -> AuditView:
        """An audit folder's view, read once and kept."""
        path = Path(folder).expanduser().resolve()
        if path not in self._audit_views:
            self._audit_views[path] = AuditView.open(path)
            if path not in self.audits:
                self.audits.append(path)
        return self._audit_views[path]


def needs_token(host: str) -> bool:
    """A token is required whenever the server listens beyond the loopback interface."""
    return host not in LOOPBACK


def new_token() -> str:
    return secrets.token_urlsafe(24)


class TokenMiddleware(BaseHTTPMiddleware):
    """Require ``?token=`` (then a cookie) when the app has a token; static files included.
    Without a token, only requests whose Host is a loopback name are served. Writes (POST) from a page of another origin are refused whatever the binding, so a web
    page open in the same browser cannot record decisions or start a generation."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse(
                    "medkg ui: a write from another origin was refused.", status_code=403
                )
        token = request.app.state.ui.token
        if token is None:
            # A token-less server listens on loopback only; a request naming another host
            # is a page whose name was rebound to 127.0.0.1 (DNS rebinding): refused.
            if urlsplit(f"//{request.headers.get('host', '')}").hostname not in LOOPBACK:
                return PlainTextResponse(
                    "medkg ui: requests must address this server as 127.0.0.1 or localhost.",
                    status_code=403,
                )
            return await call_next(request)
        given = request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            return PlainTextResponse(
                "medkg ui: this server needs its access token (open the URL printed at start-up).",
                status_code=403,
            )
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals.update(
    colour=colour,
    legend=legend,
    past={"accept": "accepted", "reject": "rejected", "flag": "flagged"},
)
# An id as one URL path segment (user-imported ids may hold "/", "#", "?" or spaces).
templates.env.filters["idurl"] = lambda v: quote(str(v or ""), safe=":")
templates.env.filters["pct"] = lambda v: "" if v is None else f"{v:.1%}"
templates.env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template with the state and request in its context."""
    return templates.TemplateResponse(
        request, template, {"ui": request.app.state.ui, **context}, status_code=status
    )


def error_page(request: Request, message: str, status: int) -> HTMLResponse:
    if request.headers.get("HX-Request"):
        return HTMLResponse(f'<div class="error" role="alert">{_escape(message)}</div>', status)
    return render(request, "error.html", status=status, message=message)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


async def _user_error(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, UserError) else getattr(exc, "http_status", 400)
    return error_page(request, str(exc), status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if exc.status_code != 404 else f"no page at {request.url.path}"
    return error_page(request, str(message), exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return error_page(request, f"internal error ({type(exc).__name__}); see the server log", 500)


def expected_errors() -> tuple[type[Exception], ...]:
    """Errors that are the user's input, not a bug: shown as a 4xx message. Review, dataset,
    audit, curated-mapping and synthesis errors are ValueErrors; the store's are not."""
    return (UserError, StoreError, ValueError)


def create_app(state: UIState) -> Starlette:
    """The Starlette application over ``state`` (see :func:`medkg.ui.routes.ROUTES`)."""
    from medkg.ui.routes import ROUTES

    handlers: dict[Any, Any] = {exc: _user_error for exc in expected_errors()}
    handlers[HTTPException] = _http_error
    handlers[Exception] = _server_error
    app = Starlette(
        routes=[
            *ROUTES,
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(TokenMiddleware)],
        exception_handlers=handlers,
    )
    app.state.ui = state
    return app


__all__ = ["UIState", "UserError", "create_app", "needs_token", "new_token", "render"]
