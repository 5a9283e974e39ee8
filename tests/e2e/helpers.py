"""Helpers for the browser tests: read the page's data-* contract and the visitor's export."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from tests.conftest import DESKTOP, IPHONE

if TYPE_CHECKING:  # importable without Playwright, so the folder can skip cleanly
    from playwright.sync_api import Browser, BrowserContext, Page

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "user_agent": IPHONE,
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP_VIEW = {"viewport": {"width": 1366, "height": 900}, "user_agent": DESKTOP}

#: Every key an event of each type carries (the "Beacon events" contract).
EVENT_KEYS = {
    "click": {"id", "type", "page", "block", "variant", "target"},
    "scroll": {"id", "type", "page", "depth"},
    "dwell": {"id", "type", "page", "ms"},
}


@contextmanager
def browsing(browser: Browser, base_url: str, **options: Any) -> Iterator[tuple[BrowserContext, Page]]:
    """A fresh browser context (a new visitor) with one page; closed afterwards.

    Uncaught script errors on any page fail the test: the page script must never throw.
    """
    options.setdefault("user_agent", DESKTOP)
    context = browser.new_context(base_url=base_url, **options)
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield context, page
        assert errors == [], f"uncaught script errors: {errors}"
    finally:
        context.close()


def blocks(page: Page) -> dict[str, dict[str, str]]:
    """Every block on the page: data-block -> its data-* attributes and its "why" text."""
    found: list[dict[str, str]] = page.eval_on_selector_all(
        "[data-block]",
        """els => els.map(el => ({
            block: el.dataset.block,
            component: el.dataset.component,
            variant: el.dataset.variant,
            layer: el.dataset.layer,
            topics: el.dataset.topics || "",
            why: (el.querySelector("[data-why]") || {textContent: ""}).textContent.replace(/\\s+/g, " ").trim(),
        }))""",
    )
    return {b["block"]: b for b in found}


def block_order(page: Page) -> list[str]:
    return page.eval_on_selector_all("[data-block]", "els => els.map(el => el.dataset.block)")


def beacon_url(page: Page) -> str | None:
    return page.evaluate("() => document.body.getAttribute('data-beacon')")


def scroll_to_bottom(page: Page) -> None:
    """Scroll like a reader does, down to the end of the page, and wait until it is there."""
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("() => Math.ceil(scrollY + innerHeight) >= document.documentElement.scrollHeight - 2")


def read(page: Page, path: str, seconds: float = 1.2) -> None:
    """Open a page, scroll to its end and stay a moment, as a reader would."""
    page.goto(path)
    scroll_to_bottom(page)
    page.wait_for_timeout(seconds * 1000)


def export(page: Page) -> dict[str, Any]:
    """``/preferences/export`` fetched inside the page's browser context (its cookies)."""
    return page.evaluate(
        """async () => {
            const r = await fetch("/preferences/export", {credentials: "same-origin"});
            if (!r.ok) throw new Error("export answered " + r.status);
            return await r.json();
        }"""
    )


def wait_for_export(page: Page, ready: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    """Poll the export until ``ready`` holds (the beacon is asynchronous); return the last one."""
    deadline = time.monotonic() + timeout
    while True:
        data = export(page)
        if ready(data) or time.monotonic() > deadline:
            return data
        page.wait_for_timeout(200)


def events_of(data: dict[str, Any], type_: str, page: str | None = None) -> list[dict[str, Any]]:
    return [e for e in data.get("events", []) if e.get("type") == type_ and (page is None or e.get("page") == page)]


class EventsRecorder:
    """WSGI middleware standing in for ``POST /events``: records what the browser posts.

    It sits in front of the app on the real HTTP server, so it also sees the keepalive
    requests a page sends while it is being left (Playwright's request interception does
    not). ``beacon`` rewrites every HTML page so that its body carries
    ``data-beacon="/events"`` (``"on"``) or none (``"off"``), whatever the server decided:
    the script is tested on its own. ``status`` is the answer (200 or 429).
    """

    def __init__(self, app: Any, beacon: str = "on") -> None:
        self.app = app
        self.beacon = beacon
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = WsgiRequest(environ)
        if request.method == "POST" and request.path == "/events":
            raw = request.get_data()
            record = {
                "content_type": request.mimetype,
                "origin": request.headers.get("Origin"),
                "visitor_cookie": "tessera_vid" in request.cookies,
                "body": json.loads(raw) if raw else None,
            }
            with self._lock:
                self.requests.append(record)
            n = len((record["body"] or {}).get("events", []))
            if self.status == 429:
                answer = WsgiResponse(
                    json.dumps({"error": "rate limited"}),
                    429,
                    {"Retry-After": "30"},
                    mimetype="application/json",
                )
            else:
                answer = WsgiResponse(
                    json.dumps({"accepted": n, "duplicates": 0, "rejected": []}), mimetype="application/json"
                )
            return answer(environ, start_response)
        response = WsgiResponse.from_app(self.app, environ)
        if response.mimetype == "text/html":
            html = re.sub(r'\sdata-beacon="[^"]*"', "", response.get_data(as_text=True), count=1)
            if self.beacon == "on":
                html = re.sub(r"<body\b", '<body data-beacon="/events"', html, count=1)
            response.set_data(html)
        return response(environ, start_response)

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for r in self.requests for e in (r["body"] or {}).get("events", [])]

    def wait(self, page: Page, ready: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0) -> None:
        """Wait until the recorded events satisfy ``ready`` (or the time is up)."""
        deadline = time.monotonic() + timeout
        while not ready(self.events) and time.monotonic() < deadline:
            page.wait_for_timeout(100)


def set_visibility(page: Page, state: str) -> None:
    """Make the page hidden or visible as a tab switch would, and fire ``visibilitychange``.

    (Headless pages are always visible; the page script only reads these two properties.)
    """
    page.evaluate(
        """state => {
            Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
            Object.defineProperty(document, "hidden", {configurable: true, get: () => state === "hidden"});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )
