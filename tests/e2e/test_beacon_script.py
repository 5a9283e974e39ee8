"""The page script ``static/tessera.js`` in a real browser, against the "Beacon events" contract.

The app runs behind a stand-in ``POST /events`` (``EventsRecorder``) that records exactly what
the browser sends and forces ``data-beacon`` on or off, so these tests prove the script's
payload and behaviour independently of the server's events endpoint.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from tests.e2e.helpers import (
    EVENT_KEYS,
    UUID4,
    EventsRecorder,
    beacon_url,
    blocks,
    browsing,
    scroll_to_bottom,
    set_visibility,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

GUIDE = "/guides/cookieless-measurement"
CTA = "[data-block] [data-target=cta]"
START = datetime(2026, 3, 2, 12, 0, 0)
#: Keep the page where it is when a link is clicked (the click is still recorded).
STAY = "() => addEventListener('click', e => e.preventDefault())"


def assert_contract(url: str, recorder: EventsRecorder) -> None:
    """Every request and event the script sent is well formed, per ARCHITECTURE.md."""
    assert recorder.requests, "the script sent nothing"
    ids = []
    for r in recorder.requests:
        assert r["content_type"] == "application/json"
        assert r["origin"] == url, "same origin"
        assert r["visitor_cookie"], "the visitor cookie travels with the events"
        assert set(r["body"]) == {"events"}
        assert 1 <= len(r["body"]["events"]) <= 50
        for e in r["body"]["events"]:
            assert set(e) == EVENT_KEYS[e["type"]], e
            assert UUID4.match(e["id"]), e["id"]
            assert e["page"].startswith("/")
            ids.append(e["id"])
            if e["type"] == "scroll":
                assert type(e["depth"]) is int and 0 <= e["depth"] <= 100
            elif e["type"] == "dwell":
                assert type(e["ms"]) is int and e["ms"] >= 500
            else:
                assert all(isinstance(e[k], str) and e[k] for k in ("block", "variant", "target"))
    assert len(set(ids)) == len(ids), "every event has its own id"


def test_leaving_a_page_sends_scroll_dwell_and_click(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    url, recorder = recording_server
    with browsing(browser, url) as (context, page):
        page.goto(GUIDE)
        assert beacon_url(page) == "/events"
        cta = page.locator(CTA).first
        block = cta.evaluate("el => el.closest('[data-block]').dataset.block")
        variant = blocks(page)[block]["variant"]
        scroll_to_bottom(page)
        page.wait_for_timeout(1200)
        cta.click()
        page.wait_for_url("**/signup")
        recorder.wait(page, lambda ev: {"click", "scroll", "dwell"} <= {e["type"] for e in ev})

        # The time zone cookie is still set for the local daypart.
        assert any(c["name"] == "tz" for c in context.cookies())

    assert_contract(url, recorder)
    # (Closing the browser also left /signup, which sent its own scroll and dwell.)
    events = [e for e in recorder.events if e["page"] == GUIDE]
    by_type = Counter(e["type"] for e in events)
    assert by_type == {"click": 1, "scroll": 1, "dwell": 1}, events
    (click,) = [e for e in events if e["type"] == "click"]
    assert (click["block"], click["variant"], click["target"]) == (block, variant, "cta")
    (scroll,) = [e for e in events if e["type"] == "scroll"]
    assert scroll["depth"] >= 95
    (dwell,) = [e for e in events if e["type"] == "dwell"]
    assert dwell["ms"] >= 1000


def test_only_visible_time_counts_and_each_flush_sends_only_what_is_new(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    url, recorder = recording_server
    with browsing(browser, url) as (context, page):
        context.clock.install(time=START)
        page.goto(GUIDE)
        context.clock.pause_at(datetime(2026, 3, 2, 12, 0, 10))  # time stands still from here
        set_visibility(page, "hidden")  # switched tab: the first flush
        recorder.wait(page, lambda ev: len(ev) >= 2)
        first = list(recorder.events)
        assert sorted(e["type"] for e in first) == ["dwell", "scroll"]

        context.clock.run_for(60_000)  # a minute away: does not count
        set_visibility(page, "visible")
        context.clock.run_for(2_000)
        set_visibility(page, "hidden")
        recorder.wait(page, lambda ev: len(ev) > len(first))
        second = recorder.events[len(first) :]
        # Same depth as already sent, so only the new visible time: exactly 2 s.
        assert [(e["type"], e["ms"]) for e in second] == [("dwell", 2000)]

        set_visibility(page, "visible")
        context.clock.run_for(300)  # under half a second: not worth a request
        set_visibility(page, "hidden")
        scroll_to_bottom(page)  # ... but a deeper scroll is
        set_visibility(page, "visible")
        set_visibility(page, "hidden")
        recorder.wait(page, lambda ev: len(ev) > len(first) + 1)
        page.wait_for_timeout(300)
        third = recorder.events[len(first) + 1 :]
        assert [e["type"] for e in third] == ["scroll"]
        assert third[0]["depth"] > max(e["depth"] for e in first if e["type"] == "scroll")
    assert_contract(url, recorder)


def test_clicks_are_sent_every_15_seconds_in_batches_of_50(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    url, recorder = recording_server
    with browsing(browser, url) as (context, page):
        context.clock.install(time=START)
        page.goto("/")
        page.evaluate(STAY)
        home = blocks(page)
        page.locator("[data-block=home-hero] [data-target=cta]").click()
        page.locator("[data-block=home-hero] [data-target=secondary]").click()
        page.locator("[data-block=home-guides] [data-target=article]").first.click()
        page.locator("nav[data-locked] a").first.click()  # outside any block: not recorded
        # A link without data-target is a plain "link"; a button counts too; the link in
        # "Why am I seeing this?" is not a click on the block's content.
        page.evaluate(
            """() => {
                const b = document.querySelector("[data-block=home-cta]");
                const a = document.createElement("a"); a.href = "/pricing"; a.textContent = "plain";
                const btn = document.createElement("button"); btn.type = "button"; btn.textContent = "btn";
                const why = document.createElement("details"); why.dataset.why = "";
                why.innerHTML = '<summary>Why?</summary><a href="/preferences">settings</a>';
                b.append(a, btn, why); a.click(); btn.click(); why.querySelector("a").click();
                const cta = document.querySelector("[data-block=home-cta] [data-target=cta]");
                for (let i = 0; i < 115; i++) cta.click();
            }"""
        )
        page.wait_for_timeout(300)
        assert recorder.requests == [], "clicks wait for the 15 s timer (or for leaving)"
        context.clock.run_for(15_000)
        recorder.wait(page, lambda ev: len(ev) >= 120)
        page.wait_for_timeout(300)
        requests = list(recorder.requests)  # (closing the page sends its scroll and dwell)

    assert_contract(url, recorder)
    assert sorted(len(r["body"]["events"]) for r in requests) == [20, 50, 50]
    events = [e for r in requests for e in r["body"]["events"]]
    assert {e["type"] for e in events} == {"click"}, "the timer sends clicks only"
    assert {e["page"] for e in events} == {"/"}
    seen = Counter((e["block"], e["target"]) for e in events)
    assert seen == {
        ("home-hero", "cta"): 1,
        ("home-hero", "secondary"): 1,
        ("home-guides", "article"): 1,
        ("home-cta", "link"): 2,
        ("home-cta", "cta"): 115,
    }
    for e in events:
        assert e["variant"] == home[e["block"]]["variant"]


def test_a_refusal_is_dropped_without_retry_or_error(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    url, recorder = recording_server
    recorder.status = 429
    with browsing(browser, url) as (_, page):  # browsing() fails the test on any script error
        page.goto(GUIDE)
        page.wait_for_timeout(600)
        set_visibility(page, "hidden")
        recorder.wait(page, lambda ev: len(ev) >= 2)
        page.wait_for_timeout(1000)
        assert len(recorder.requests) == 1
        assert page.locator("h1").is_visible()


def test_a_network_failure_is_retried_once_as_a_beacon(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    url, recorder = recording_server
    failed: list[str | None] = []

    def fail_first(route: Route) -> None:
        if not failed:
            failed.append(route.request.post_data)
            route.abort("connectionreset")
        else:
            route.continue_()

    with browsing(browser, url) as (context, page):
        context.route("**/events", fail_first)
        page.goto(GUIDE)
        page.wait_for_timeout(600)
        set_visibility(page, "hidden")
        recorder.wait(page, lambda ev: len(ev) >= 2)
        page.wait_for_timeout(500)
    assert len(failed) == 1
    assert len(recorder.requests) == 1
    assert recorder.requests[0]["body"] == json.loads(failed[0] or "null")
    assert_contract(url, recorder)


def test_ids_are_uuid4_without_crypto_random_uuid(
    browser: Browser, recording_server: tuple[str, EventsRecorder]
) -> None:
    """On plain HTTP (not a secure context) browsers have no crypto.randomUUID."""
    url, recorder = recording_server
    with browsing(browser, url) as (context, page):
        context.add_init_script("delete Crypto.prototype.randomUUID")
        page.goto(GUIDE)
        assert page.evaluate("() => typeof crypto.randomUUID") == "undefined"
        page.evaluate(STAY)
        for _ in range(20):
            page.locator(CTA).first.click()
        set_visibility(page, "hidden")
        recorder.wait(page, lambda ev: len(ev) >= 21)
    assert len(recorder.events) >= 21
    assert_contract(url, recorder)


@pytest.mark.parametrize(
    ("beacon", "gpc"),
    [("off", False), ("on", True)],
    ids=["no-data-beacon", "navigator-globalPrivacyControl"],
)
def test_nothing_is_sent_when_not_allowed(
    browser: Browser, recording_server: tuple[str, EventsRecorder], beacon: str, gpc: bool
) -> None:
    url, recorder = recording_server
    recorder.beacon = beacon
    with browsing(browser, url) as (context, page):
        if gpc:
            context.add_init_script(
                "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
            )
        page.goto(GUIDE)
        assert (beacon_url(page) is not None) == (beacon == "on")
        scroll_to_bottom(page)
        page.wait_for_timeout(800)
        set_visibility(page, "hidden")
        set_visibility(page, "visible")
        page.locator(CTA).first.click()
        page.wait_for_url("**/signup")
        page.goto("/")
        page.wait_for_timeout(1000)
        # The time zone cookie is not behavioral data: it is still set.
        assert any(c["name"] == "tz" for c in context.cookies())
    assert recorder.requests == []
