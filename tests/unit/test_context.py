"""Reading the request: device classes, zones, dayparts, countries, the visitor cookie."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask import Flask

from app.web.context import (
    VISITOR_COOKIE,
    build_context,
    client_country,
    country_zones,
    daypart,
    device_class,
    read_request,
    read_visitor_cookie,
    sign_visitor_id,
    valid_zone,
)
from tests.conftest import DESKTOP, GOOGLEBOT, IP_DE, IP_GB, IPAD, IPHONE


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (IPHONE, "mobile"),
        (IPAD, "tablet"),
        (DESKTOP, "desktop"),
        (GOOGLEBOT, "bot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        ("", "other"),
        ("curl/8.5.0", "bot"),
    ],
)
def test_device_class(ua: str, expected: str) -> None:
    assert device_class(ua) == expected


def test_user_agent_parsing_is_cached() -> None:
    device_class.cache_clear()
    device_class(IPHONE)
    device_class(IPHONE)
    info = device_class.cache_info()
    assert info.hits == 1 and info.misses == 1
    assert info.maxsize is not None  # bounded


@pytest.mark.parametrize(
    ("hour", "part"),
    [
        (4, "night"),
        (5, "morning"),
        (11, "morning"),
        (12, "afternoon"),
        (16, "afternoon"),
        (17, "evening"),
        (21, "evening"),
        (22, "night"),
        (0, "night"),
    ],
)
def test_daypart_boundaries(hour: int, part: str) -> None:
    assert daypart(hour) == part


def test_zones_are_validated() -> None:
    assert valid_zone("Europe/Berlin") == "Europe/Berlin"
    for bad in ("", None, "Mars/Olympus", "../../etc/passwd", "Europe/" + "x" * 100):
        assert valid_zone(bad) is None
    assert country_zones()["DE"] == "Europe/Berlin"
    assert country_zones()["US"] == "America/New_York"


def test_country_lookup_is_offline_and_forgiving() -> None:
    assert client_country(IP_DE) == "DE"
    assert client_country(IP_GB) == "GB"
    assert client_country("127.0.0.1") is None
    assert client_country("not an address") is None
    assert client_country(None) is None


def request_info(app: Flask, headers: dict[str, str], ip: str = IP_DE, geo: str | None = None):  # type: ignore[no-untyped-def]
    with app.test_request_context("/pricing?x=1", headers=headers, environ_base={"REMOTE_ADDR": ip}):
        from flask import request

        return read_request(request, secret_keys=("k",), geo_header=geo)


def test_request_is_read_once_into_plain_values() -> None:
    app = Flask(__name__)
    info = request_info(
        app,
        {
            "User-Agent": IPHONE,
            "Accept-Language": "de-DE,de;q=0.9,en;q=0.5",
            "Referer": "https://news.ycombinator.com/item?id=1",
            "Cookie": "tz=Asia/Tokyo",
            "Sec-GPC": "1",
        },
    )
    assert info.path == "/pricing"
    assert (info.device, info.country, info.language, info.referrer, info.timezone, info.gpc) == (
        "mobile",
        "DE",
        "de",
        "news.ycombinator.com",
        "Asia/Tokyo",
        True,
    )


def test_internal_referrer_and_bad_tz_are_ignored() -> None:
    app = Flask(__name__)
    info = request_info(app, {"User-Agent": DESKTOP, "Referer": "http://localhost/guides", "Cookie": "tz=Nowhere/Land"})
    assert info.referrer is None and info.timezone is None


def test_trusted_geo_header_only_when_configured() -> None:
    app = Flask(__name__)
    assert request_info(app, {"User-Agent": DESKTOP, "CF-IPCountry": "FR"}).country == "DE"
    assert request_info(app, {"User-Agent": DESKTOP, "CF-IPCountry": "FR"}, geo="CF-IPCountry").country == "FR"
    assert request_info(app, {"User-Agent": DESKTOP, "CF-IPCountry": "<script>"}, geo="CF-IPCountry").country is None


def test_client_hint_mobile_wins_over_a_reduced_user_agent() -> None:
    app = Flask(__name__)
    assert request_info(app, {"User-Agent": DESKTOP, "Sec-CH-UA-Mobile": "?1"}).device == "mobile"


def test_local_time_comes_from_browser_then_country_then_server() -> None:
    app = Flask(__name__)
    noon_utc = datetime(2026, 6, 1, 12, 0)
    cases = [
        ({"User-Agent": DESKTOP, "Cookie": "tz=Asia/Tokyo"}, IP_DE, (21, "evening", "browser")),
        ({"User-Agent": DESKTOP, "Cookie": "tz=garbage"}, IP_DE, (14, "afternoon", "country")),
        ({"User-Agent": DESKTOP}, "127.0.0.1", (12, "afternoon", "server")),
    ]
    for headers, ip, (hour, part, source) in cases:
        context = build_context(
            request_info(app, headers, ip),
            visitor_id="v" * 32,
            returning=False,
            now_utc=noon_utc,
            server_zone="UTC",
        )
        assert (context.hour, context.daypart, context.timezone_source) == (hour, part, source)


def test_visitor_cookie_must_be_signed() -> None:
    app = Flask(__name__)
    good = sign_visitor_id("a" * 32, ("secret",))
    for value, expected in [
        (good, "a" * 32),
        ("a" * 32, None),
        (good + "x", None),
        (sign_visitor_id("../etc", ("secret",)), None),
        ("x" * 500, None),
    ]:
        with app.test_request_context("/", headers={"Cookie": f"{VISITOR_COOKIE}={value}"}):
            from flask import request

            assert read_visitor_cookie(request, ("secret",)) == expected
    # Signed with another key: rejected.
    with app.test_request_context("/", headers={"Cookie": f"{VISITOR_COOKIE}={sign_visitor_id('b' * 32, ('other',))}"}):
        from flask import request

        assert read_visitor_cookie(request, ("secret",)) is None
