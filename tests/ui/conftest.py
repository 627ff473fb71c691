"""Fixtures for the workbench: the bundled graph with a dataset and its audit, a live
server on a free port, and headless Chromium (Debian's package) driven by Playwright.

Chromium is never downloaded: the browser is ``$MEDKG_CHROMIUM`` or ``/usr/bin/chromium``
(`apt-get install -y chromium`). When it is missing the browser tests FAIL with that
instruction; they are not skipped.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medkg.kg.stores.base import open_store
from tests.factories.ui import Bundled, free_port

CHROMIUM_HINT = "apt-get update && apt-get install -y chromium"


def chromium_path() -> str:
    """The Chromium binary the browser tests use; fails the test when there is none."""
    path = os.environ.get("MEDKG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"headless Chromium not found at {path}: the browser tests need Debian's chromium "
            f"package (`{CHROMIUM_HINT}`) or MEDKG_CHROMIUM pointing at a Chromium binary",
            pytrace=False,
        )
    return path


def _invoke(args: list[str]) -> None:
    from medkg.cli.main import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"medkg {' '.join(args)} failed: {result.output}"


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory, medkg_home: Path) -> Bundled:
    """`medkg kg build` + `medkg synth` (120 items) + `medkg coverage audit`, real commands."""
    root = tmp_path_factory.mktemp("ui_bundled")
    graph, dataset, audit = root / "graph", root / "synth120", root / "coverage"
    _invoke(["kg", "build", "--path", str(graph)])
    _invoke(
        [
            "synth",
            "--n",
            "120",
            "--seed",
            "0",
            "--out",
            str(dataset),
            "--formats",
            "jsonl,parquet",
            "--path",
            str(graph),
        ]
    )
    _invoke(
        [
            "coverage",
            "audit",
            str(dataset),
            "--name",
            "synth120",
            "--out",
            str(audit),
            "--embedder",
            "hashing",
            "--no-report",
            "--path",
            str(graph),
        ]
    )
    # The workbench's own home (curated SSSOM, generated items), apart from the session's.
    return Bundled(graph=graph, dataset=dataset, audit=audit, home=root / "home")


@pytest.fixture(scope="session")
def server(bundled: Bundled) -> Iterator[str]:
    """`medkg ui`'s application served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    from medkg.ui.app import UIState, create_app

    state = UIState(
        store=open_store("embedded", path=bundled.graph),
        home=bundled.home,
        datasets=[bundled.dataset.resolve()],
        audits=[bundled.audit.resolve()],
    )
    state.index  # noqa: B018 - load before serving
    port = free_port()
    config = uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the workbench server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests write screenshots ($MEDKG_UI_SCREENSHOTS or a temp folder)."""
    target = os.environ.get("MEDKG_UI_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
