"""Visitor journeys in a real browser against the real app: the beacon reaches the server,
behaviour changes the next page, GPC stops collection, and the pages look right.

Assertions go through public contracts only: the page's data-* attributes and the
visitor's own ``/preferences/export``, fetched inside the same browser context.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import ROOT
from tests.e2e.helpers import (
    DESKTOP_VIEW,
    PHONE,
    beacon_url,
    block_order,
    blocks,
    browsing,
    events_of,
    read,
    scroll_to_bottom,
    wait_for_export,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

COOKIELESS = "/guides/cookieless-measurement"
CONSENT = "/guides/consent-without-dark-patterns"
CTA = "[data-block] [data-target=cta]"
ARTIFACTS = ROOT / "tests" / "artifacts"


def test_scroll_dwell_and_click_reach_the_visitors_data(browser: Browser, live_server: str) -> None:
    with browsing(browser, live_server) as (_, page):
        page.goto(COOKIELESS)
        assert beacon_url(page), "the server asks for behavioral events (data-beacon)"
        cta = page.locator(CTA).first
        block = cta.evaluate("el => el.closest('[data-block]').dataset.block")
        variant = blocks(page)[block]["variant"]
        scroll_to_bottom(page)
        page.wait_for_timeout(1500)
        cta.click()
        page.wait_for_load_state()
        target_path = page.evaluate("() => location.pathname")
        assert target_path != COOKIELESS

        def ready(data: dict[str, Any]) -> bool:
            return bool(
                events_of(data, "click", COOKIELESS)
                and events_of(data, "scroll", COOKIELESS)
                and events_of(data, "dwell", COOKIELESS)
            )

        data = wait_for_export(page, ready)

    assert "events" in data, "the export lists the visitor's events"
    scrolls = events_of(data, "scroll", COOKIELESS)
    assert scrolls and max(e["depth"] for e in scrolls) >= 90, data["events"]
    dwells = events_of(data, "dwell", COOKIELESS)
    assert dwells and sum(e["ms"] for e in dwells) >= 1000, data["events"]
    clicks = events_of(data, "click", COOKIELESS)
    assert [(e["block"], e["variant"], e["target"]) for e in clicks] == [(block, variant, "cta")]
    for e in data["events"]:
        assert e["at"], "every stored event has its time"
    paths = [v["path"] for v in data["page_views"]]
    assert COOKIELESS in paths and target_path in paths
    assert paths.index(COOKIELESS) < paths.index(target_path)


def test_reading_privacy_guides_changes_the_home_page(browser: Browser, live_server: str) -> None:
    with browsing(browser, live_server) as (_, page):
        page.goto("/")
        before = blocks(page)
        assert before["home-guides"]["layer"] != "behavioral", "a new visitor has no behavior yet"

        for path in (COOKIELESS, CONSENT, COOKIELESS):
            read(page, path)
        # Back to the guides index first, so the last read's events are in (sent on leaving).
        page.goto("/guides")
        wait_for_export(page, lambda d: len(events_of(d, "dwell")) >= 3)

        page.goto("/")
        home = blocks(page)
        order = block_order(page)

    guides = home["home-guides"]
    assert guides["layer"] == "behavioral", home
    assert guides["variant"] == "reads-privacy"
    assert "privacy" in guides["why"].lower(), guides["why"]
    # The flexible zone (between the pinned top two and the pinned last block)
    # leads with the blocks about privacy; the rest keep their order after them.
    flexible = order[2:-1]
    about_privacy = ["privacy" in home[b]["topics"].split() for b in flexible]
    assert about_privacy == sorted(about_privacy, reverse=True), order
    assert flexible.index("home-privacy") < flexible.index("home-growth"), order


def test_global_privacy_control_collects_nothing(browser: Browser, live_server: str) -> None:
    with browsing(browser, live_server, extra_http_headers={"Sec-GPC": "1"}) as (_, page):
        for path in ("/", COOKIELESS):
            page.goto(path)
            assert beacon_url(page) is None, f"{path} asks for events despite Sec-GPC: 1"
        scroll_to_bottom(page)
        page.wait_for_timeout(1200)
        page.locator(CTA).first.click()
        page.wait_for_load_state()
        assert beacon_url(page) is None
        page.goto("/")
        page.wait_for_timeout(1000)  # time for anything that might have been sent
        data = wait_for_export(page, lambda d: bool(d.get("events")), timeout=1.0)

    assert "events" in data, "the export lists the visitor's events"
    assert data["events"] == []


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.parametrize(
    ("device", "options"),
    [("phone", PHONE), ("desktop", DESKTOP_VIEW)],
    ids=["phone", "desktop"],
)
def test_screenshots_of_personalized_pages(
    browser: Browser, live_server: str, device: str, options: dict[str, Any]
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {"home": ARTIFACTS / f"home-{device}.png", "pricing": ARTIFACTS / f"pricing-{device}.png"}
    for shot in shots.values():
        shot.unlink(missing_ok=True)
    with browsing(browser, live_server, **options) as (_, page):
        for path in (COOKIELESS, CONSENT):
            read(page, path, seconds=0.5)
        page.goto("/")
        page.screenshot(path=str(shots["home"]), full_page=True, animations="disabled")
        page.goto("/pricing")
        page.screenshot(path=str(shots["pricing"]), full_page=True, animations="disabled")
        viewport = page.viewport_size
        scale = page.evaluate("() => devicePixelRatio")
    assert viewport is not None
    for shot in shots.values():
        assert shot.stat().st_size > 1000
        width, height = png_size(shot)
        assert width == round(viewport["width"] * scale)
        assert height >= round(viewport["height"] * scale) * 0.9
