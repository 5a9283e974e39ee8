"""Device classes through the app: headless browsers and monitors get no cookie; Client Hints count."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Visitor
from app.web.context import VISITOR_COOKIE
from tests.conftest import DESKTOP, IPHONE, blocks, get

HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36"
)
DAY = "Etc/GMT"


def visitor_cookie_set(response) -> bool:  # type: ignore[no-untyped-def]
    return any(c.startswith(f"{VISITOR_COOKIE}=") for c in response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(
    "ua",
    [
        HEADLESS_CHROME,
        "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
        "Mozilla/5.0 (compatible; pingdom.com_bot_version_1.4_(http://www.pingdom.com/))",
        "NewRelicPinger/1.0 (269705)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    ],
)
def test_headless_browsers_and_monitors_get_no_cookie(app: Flask, client: FlaskClient, ua: str) -> None:
    response = get(client, "/", ua=ua)
    assert response.status_code == 200
    assert not visitor_cookie_set(response)
    assert all(b["layer"] == "default" for b in blocks(response).values())
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 0


def test_a_browser_does_get_the_visitor_cookie(client: FlaskClient) -> None:
    assert visitor_cookie_set(get(client, "/", ua=DESKTOP))


def test_pages_ask_for_the_device_client_hints(client: FlaskClient) -> None:
    response = get(client, "/")
    assert response.headers["Accept-CH"] == "Sec-CH-UA-Mobile, Sec-CH-UA-Platform, Sec-CH-UA-Model"


def test_a_browser_that_says_mobile_gets_the_phone_page(client: FlaskClient) -> None:
    phone = {k: v["variant"] for k, v in blocks(get(client, "/", ua=IPHONE, tz=DAY)).items()}
    desktop = {k: v["variant"] for k, v in blocks(get(client, "/", ua=DESKTOP, tz=DAY)).items()}
    linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
    hinted = get(client, "/", ua=linux, tz=DAY, **{"Sec-CH-UA-Mobile": "?1", "Sec-CH-UA-Platform": '"Android"'})
    assert phone != desktop  # the demo content has phone variants
    assert {k: v["variant"] for k, v in blocks(hinted).items()} == phone


def test_malformed_hints_change_nothing(client: FlaskClient) -> None:
    desktop = {k: v["variant"] for k, v in blocks(get(client, "/", ua=DESKTOP, tz=DAY)).items()}
    odd = get(client, "/", ua=DESKTOP, tz=DAY, **{"Sec-CH-UA-Mobile": "?2", "Sec-CH-UA-Platform": "Android"})
    assert odd.status_code == 200
    assert {k: v["variant"] for k, v in blocks(odd).items()} == desktop
