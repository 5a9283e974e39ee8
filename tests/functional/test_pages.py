"""The rendered site through the HTML contract: data-* attributes, why, locked nav."""

from __future__ import annotations

import itertools

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.content import current_site
from app.extensions import db
from app.store.models import BotRequests, Exposure, Visitor
from tests.conftest import (
    DESKTOP,
    GOOGLEBOT,
    IP_DE,
    IP_GB,
    IP_IN,
    IP_US,
    IPAD,
    IPHONE,
    block_order,
    blocks,
    dispose,
    get,
    make_app,
    soup,
    zone_at,
)

PAGES = ["/", "/pricing", "/signup", "/guides", "/guides/cookieless-measurement", "/welcome"]
DAY = zone_at({13, 14, 15})
NIGHT = zone_at({0, 1, 2, 3})


@pytest.mark.parametrize("path", PAGES + ["/guides/experiments-for-small-teams"])
def test_every_page_renders_blocks_with_the_contract(client: FlaskClient, path: str) -> None:
    response = get(client, path)
    assert response.status_code == 200
    for el in soup(response).select("[data-block]"):
        assert el["data-component"] and el["data-variant"]
        assert el["data-layer"] in ("default", "contextual", "behavioral", "predictive")
        why = el.select_one("[data-why]")
        if el["data-layer"] == "default":
            assert why is None
        else:
            assert why is not None and why.name == "details"
            assert "Why am I seeing this?" in why.summary.get_text()
            assert why.select_one('a[href="/preferences"]') is not None


def test_phone_and_desktop_get_different_variants(client: FlaskClient) -> None:
    phone = blocks(get(client, "/", IPHONE, tz=DAY))
    desktop = blocks(get(client, "/", DESKTOP, tz=DAY))
    assert phone["home-hero"]["variant"] == "phone"
    assert phone["home-hero"]["layer"] == "contextual"
    assert "you're on a phone" in phone["home-hero"]["why"]
    assert desktop["home-hero"]["variant"] != "phone"


def test_phone_gets_the_light_first_order(client: FlaskClient) -> None:
    declared = ["home-hero", "home-announcement", "home-features", "home-privacy", "home-growth",
                "home-testimonial", "home-guides", "home-cta"]  # fmt: skip
    assert block_order(get(client, "/", DESKTOP)) == declared
    phone = get(client, "/", IPHONE)
    assert block_order(phone) == [
        "home-hero", "home-announcement", "home-testimonial", "home-growth", "home-guides",
        "home-privacy", "home-features", "home-cta"]  # fmt: skip
    moved = blocks(phone)["home-features"]
    assert moved["layer"] == "contextual" and "placed further down because you're on a phone" in moved["why"]
    first = blocks(phone)["home-testimonial"]
    assert "Placed first because you're on a phone" in first["why"]


def test_tablet_is_not_treated_as_a_phone(client: FlaskClient) -> None:
    assert blocks(get(client, "/", IPAD, tz=DAY))["home-hero"]["variant"] != "phone"


def test_night_in_the_visitors_zone_gets_the_night_variant(client: FlaskClient) -> None:
    night = blocks(get(client, "/pricing", DESKTOP, tz=NIGHT))
    assert night["pricing-hero"]["variant"] == "late-night"
    assert "late at night where you are" in night["pricing-hero"]["why"]
    day = blocks(get(client, "/pricing", DESKTOP, tz=DAY))
    assert day["pricing-hero"]["variant"] == "default"


@pytest.mark.parametrize(
    ("ip", "variant", "currency"),
    [(IP_DE, "eu-euro", "€"), (IP_GB, "gb-pound", "£"), (IP_IN, "in-rupee", "₹"), (IP_US, "default", "$")],
)
@pytest.mark.parametrize("ua", [DESKTOP, IPHONE])
def test_country_gets_its_pricing(client: FlaskClient, ip: str, variant: str, currency: str, ua: str) -> None:
    # Phones too: local prices outrank the short copy in the variation budget.
    response = get(client, "/pricing", ua, ip=ip, tz=DAY)
    plans = blocks(response)["pricing-plans"]
    assert plans["variant"] == variant
    table = soup(response).select_one('[data-block="pricing-plans"]')
    assert currency in table.get_text()
    if variant != "default":
        assert "browsing from" in plans["why"]


def test_trusted_geo_header_is_used_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, GEO_HEADER="CF-IPCountry")
    try:
        response = get(app.test_client(), "/pricing", ip=IP_US, tz=DAY, **{"CF-IPCountry": "DE"})
        assert blocks(response)["pricing-plans"]["variant"] == "eu-euro"
    finally:
        dispose(app)


def test_german_browser_language_is_a_signal(client: FlaskClient) -> None:
    response = get(client, "/", DESKTOP, ip=IP_US, tz=DAY, **{"Accept-Language": "de-DE,de;q=0.9"})
    announcement = blocks(response)["home-announcement"]
    assert announcement["variant"] == "german-support"
    assert "your browser asks for" in announcement["why"]


def test_returning_visitor(app: Flask, client: FlaskClient) -> None:
    get(client, "/pricing", DESKTOP, tz=DAY)
    assert blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-hero"]["variant"] == "default"
    # A visit more than 30 minutes after the last one is a new visit.
    with app.app_context():
        visitor = db.session.scalars(select(Visitor)).one()
        visitor.last_seen_at = visitor.last_seen_at.replace(year=visitor.last_seen_at.year - 1)
        db.session.commit()
    again = blocks(get(client, "/pricing", DESKTOP, tz=DAY))
    assert again["pricing-hero"]["variant"] == "returning"
    assert "you've been here before" in again["pricing-hero"]["why"]


def test_holdout_sees_the_default_site_everywhere(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, HOLDOUT_SHARE=1.0)
    client = app.test_client()
    try:
        for path in PAGES:
            response = get(client, path, IPHONE, ip=IP_DE, tz=NIGHT)
            assert all(b["layer"] == "default" and b["variant"] == "default" for b in blocks(response).values())
            assert not soup(response).select("[data-why]")
        with app.app_context():
            assert all(e.holdout for e in db.session.scalars(select(Exposure)))
    finally:
        dispose(app)


def test_bots_get_the_default_page_and_nothing_is_stored(app: Flask, client: FlaskClient) -> None:
    for path in PAGES:
        response = get(client, path, GOOGLEBOT, ip=IP_DE, tz=NIGHT)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert all(b["layer"] == "default" for b in blocks(response).values())
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 0
        assert db.session.scalar(select(func.count()).select_from(Exposure)) == 0
        assert db.session.scalar(select(func.sum(BotRequests.requests))) == len(PAGES)


def test_every_render_records_one_exposure(app: Flask, client: FlaskClient) -> None:
    response = get(client, "/", IPHONE, tz=DAY)
    shown = blocks(response)
    with app.app_context():
        exposure = db.session.scalars(select(Exposure)).one()
        assert exposure.path == "/" and exposure.holdout is False
        assert [b["block"] for b in exposure.blocks] == block_order(response)
        assert {b["block"]: (b["variant"], b["layer"]) for b in exposure.blocks} == {
            k: (v["variant"], v["layer"]) for k, v in shown.items()
        }


def test_variation_budget_holds_on_every_page(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        pages = current_site().pages
    for path, page in pages.items():
        for ua, ip, zone in itertools.product((IPHONE, DESKTOP), (IP_DE, IP_IN), (NIGHT, DAY)):
            changed = [b for b in blocks(get(client, path, ua, ip=ip, tz=zone)).values() if b["variant"] != "default"]
            assert len(changed) <= page.spec.budget, (path, ua, ip, zone)


def test_pinned_blocks_never_move(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        pages = current_site().pages
    for path, page in pages.items():
        for ua in (IPHONE, DESKTOP, IPAD):
            order = block_order(get(client, path, ua, tz=NIGHT))
            for index, slot in enumerate(page.spec.slots):
                if slot.pinned:
                    assert order[index] == slot.block, (path, ua)


def _locked(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    page = soup(response)
    nav, footer = page.select_one("nav[data-locked]"), page.select_one("footer[data-locked]")
    assert nav is not None and footer is not None
    return str(nav), str(footer)


@pytest.mark.parametrize("path", PAGES)
def test_nav_and_footer_are_identical_for_every_context(tmp_path, path: str) -> None:  # type: ignore[no-untyped-def]
    seen: set[tuple[str, str]] = set()
    for share in (0.0, 1.0):
        app = make_app(tmp_path, HOLDOUT_SHARE=share)
        try:
            extras = itertools.cycle(
                ({}, {"Sec-GPC": "1"}, {"Accept-Language": "de"}, {"Referer": "https://github.com/x"})
            )
            for (ua, ip, zone), extra in zip(
                itertools.product((IPHONE, IPAD, DESKTOP, GOOGLEBOT), (IP_US, IP_DE, IP_IN), (DAY, NIGHT)),
                extras,
                strict=False,
            ):
                response = get(app.test_client(), path, ua, ip=ip, tz=zone, **extra)
                assert response.status_code == 200
                seen.add(_locked(response))
        finally:
            dispose(app)
    assert len(seen) == 1


def test_related_guides_never_link_to_the_page_itself(client: FlaskClient) -> None:
    for path in ("/guides/cookieless-measurement", "/guides/retention-before-acquisition"):
        for ua in (IPHONE, DESKTOP):
            related = soup(get(client, path, ua)).select_one('[data-block="guide-related"]')
            if related is not None:
                assert not related.select(f'a[href="{path}"]')


def test_unknown_page_is_a_plain_404(client: FlaskClient) -> None:
    response = get(client, "/no-such-page")
    assert response.status_code == 404
    assert "couldn't find" in soup(response).get_text()
    assert soup(response).select_one("nav[data-locked]") is not None


def test_trailing_slash_redirects(client: FlaskClient) -> None:
    response = get(client, "/pricing/")
    assert response.status_code == 308 and response.headers["Location"].endswith("/pricing")


def test_blocks_carry_their_topics(client: FlaskClient) -> None:
    shown = blocks(get(client, "/", DESKTOP, tz=DAY))
    assert shown["home-features"]["topics"] == "analytics"  # from the page file
    assert shown["home-privacy"]["topics"] == "privacy"


def test_head_requests_record_nothing(app: Flask, client: FlaskClient) -> None:
    response = client.head("/", headers={"User-Agent": DESKTOP})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Exposure)) == 0
