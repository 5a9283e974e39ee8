"""End-to-end fixtures: the app on a real local HTTP server, driven by Debian's chromium.

The whole folder is skipped, with the reason, where the browser or Playwright is not
installed (``apt-get install chromium``; ``pip install -e '.[test]'``). Playwright's own
browser downloads are never used: ``playwright install`` is not needed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import DESKTOP, dispose, make_app
from tests.e2e.helpers import EventsRecorder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = os.environ.get("TESSERA_E2E_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"end-to-end tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "end-to-end tests need Playwright for Python (pip install -e '.[test]')"
    return None


SKIP_REASON = _missing()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip every test in this folder, with the reason, where the browser cannot run."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Headless Chromium's own User-Agent says HeadlessChrome, a bot to the app; the beacon sent
    # as a page unloads ignores the context's user_agent, so the browser itself gets a desktop one.
    f"--user-agent={DESKTOP}",
]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app over HTTP on a free local port, in a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """The app on a fresh database, served over HTTP; yields the base URL."""
    app = make_app(tmp_path)
    try:
        with serving(app) as url:
            yield url
    finally:
        dispose(app)


@pytest.fixture
def recording_server(tmp_path: Path) -> Iterator[tuple[str, EventsRecorder]]:
    """The app behind a stand-in ``POST /events`` that records what the page script sends."""
    app = make_app(tmp_path)
    recorder = EventsRecorder(app)
    try:
        with serving(recorder) as url:
            yield url, recorder
    finally:
        dispose(app)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
