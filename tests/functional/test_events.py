"""POST /events: the beacon contract, every bad input, idempotency, rate limits, opt-outs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import BotRequests, Event
from tests.conftest import DESKTOP, GOOGLEBOT, csrf_token, dispose, get, make_app

ORIGIN = "http://localhost"


def eid() -> str:
    return str(uuid.uuid4())


def click(**over: Any) -> dict[str, Any]:
    return {"id": eid(), "type": "click", "page": "/", "block": "home-cta", "variant": "default",
            "target": "cta", **over}  # fmt: skip


def scroll(depth: int = 80, **over: Any) -> dict[str, Any]:
    return {"id": eid(), "type": "scroll", "page": "/guides/cookieless-measurement", "depth": depth, **over}


def dwell(ms: int = 12000, **over: Any) -> dict[str, Any]:
    return {"id": eid(), "type": "dwell", "page": "/guides/cookieless-measurement", "ms": ms, **over}


def post(client: FlaskClient, body: Any, *, origin: str | None = ORIGIN, ua: str = DESKTOP,
         content_type: str = "application/json", raw: bytes | None = None, **headers: str):  # type: ignore[no-untyped-def]  # fmt: skip
    if origin is not None:
        headers["Origin"] = origin
    data = raw if raw is not None else json.dumps(body).encode()
    return client.post("/events", data=data, headers={"User-Agent": ua, "Content-Type": content_type, **headers})


def stored(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event)) or 0


def export(client: FlaskClient) -> dict[str, Any]:
    return json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))


@pytest.fixture
def visitor(client: FlaskClient) -> FlaskClient:
    """A visitor who has loaded a page (and so has a signed id)."""
    get(client, "/")
    return client


def test_valid_events_are_stored_with_the_servers_clock(app: Flask, visitor: FlaskClient) -> None:
    events = [click(), scroll(100), dwell(5000)]
    response = post(visitor, {"events": events})
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    data = export(visitor)
    kinds = {e["type"]: e for e in data["events"]}
    assert kinds["click"]["block"] == "home-cta" and kinds["click"]["target"] == "cta"
    assert kinds["scroll"]["depth"] == 100 and kinds["dwell"]["ms"] == 5000
    assert all(e["at"].startswith(data["page_views"][0]["at"][:10]) for e in data["events"])
    assert data["profile"]["clicks"] == 1 and data["profile"]["average_scroll_depth"] == 100


def test_a_retry_stores_nothing_twice(app: Flask, visitor: FlaskClient) -> None:
    events = [click(), dwell()]
    assert post(visitor, {"events": events}).get_json()["accepted"] == 2
    again = post(visitor, {"events": events}).get_json()
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert stored(app) == 2
    assert export(visitor)["profile"]["clicks"] == 1  # the profile did not count it twice


def test_query_strings_are_stripped_from_stored_paths(visitor: FlaskClient) -> None:
    post(visitor, {"events": [dwell(page="/guides/cookieless-measurement?utm_source=mail#top")]})
    assert export(visitor)["events"][0]["page"] == "/guides/cookieless-measurement"


BAD_EVENTS = [
    ("not an object", "hello", "must be a JSON object"),
    ("unknown type", {"id": eid(), "type": "hover", "page": "/"}, "type must be one of"),
    ("unknown field", dwell(extra=1), "unknown field 'extra'"),
    ("client time", dwell(at="2020-01-01T00:00:00Z"), "unknown field 'at'"),
    ("missing field", {"id": eid(), "type": "scroll", "page": "/"}, "missing field 'depth'"),
    ("bad id", dwell(id="1234"), "id must be a lowercase UUID version 4"),
    ("depth too deep", scroll(101), "depth must be a whole number from 0 to 100"),
    ("negative depth", scroll(-1), "depth must be a whole number from 0 to 100"),
    ("depth not a number", scroll("80"), "depth must be a whole number"),  # type: ignore[arg-type]
    ("dwell too long", dwell(31 * 60 * 1000), "ms must be a whole number from 0 to"),
    ("foreign page", dwell(page="https://evil.example/"), "page must be a path on this site"),
    ("unknown page", dwell(page="/nope"), "page '/nope' is not a page of this site"),
    ("block not on page", click(page="/pricing"), "block 'home-cta' is not on page /pricing"),
    ("unknown variant", click(variant="made-up"), "variant 'made-up' does not exist for block 'home-cta'"),
    ("bad target", click(target="<script>"), "target must be a short lowercase word"),
]


@pytest.mark.parametrize(("label", "event", "reason"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_each_invalid_event_is_rejected_with_a_reason(app: Flask, visitor: FlaskClient, label: str,
                                                      event: Any, reason: str) -> None:  # fmt: skip
    good = dwell()
    response = post(visitor, {"events": [good, event]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 1
    assert len(body["rejected"]) == 1 and body["rejected"][0]["index"] == 1
    assert reason in body["rejected"][0]["reason"], body
    assert stored(app) == 1  # the valid one, nothing else


def test_duplicate_ids_within_a_batch(app: Flask, visitor: FlaskClient) -> None:
    event = dwell()
    body = post(visitor, {"events": [event, dict(event)]}).get_json()
    assert body["accepted"] == 1 and "appears twice" in body["rejected"][0]["reason"]


BAD_ENVELOPES = [
    ("not json", None, b"{not json", "the body must be a JSON object"),
    ("a list", [dwell()], None, "the body must be a JSON object"),
    ("extra key", {"events": [dwell()], "visitor": "someone-else"}, None, "and nothing else"),
    ("events not a list", {"events": {"0": dwell()}}, None, "the body must be a JSON object"),
    ("empty", {"events": []}, None, "events is empty"),
    ("too many", {"events": [dwell() for _ in range(51)]}, None, "at most 50 events"),
]


@pytest.mark.parametrize(("label", "body", "raw", "reason"), BAD_ENVELOPES, ids=[b[0] for b in BAD_ENVELOPES])
def test_invalid_envelope_stores_nothing(app: Flask, visitor: FlaskClient, label: str, body: Any,
                                         raw: bytes | None, reason: str) -> None:  # fmt: skip
    response = post(visitor, body, raw=raw)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert stored(app) == 0


def test_wrong_content_type_is_415(app: Flask, visitor: FlaskClient) -> None:
    response = post(visitor, {"events": [dwell()]}, content_type="text/plain")
    assert response.status_code == 415 and "application/json" in response.get_json()["error"]
    assert stored(app) == 0


def test_oversized_body_is_413_and_stores_nothing(app: Flask, visitor: FlaskClient) -> None:
    padding = [dwell() for _ in range(40)]
    raw = json.dumps({"events": padding, "pad": "x" * 70_000}).encode()
    response = post(visitor, None, raw=raw)
    assert response.status_code == 413 and "at most 65536 bytes" in response.get_json()["error"]
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("origin", "site"),
    [("https://evil.example", None), ("null", None), (None, "cross-site"), (None, None)],
)
def test_foreign_origin_is_403_and_stores_nothing(app: Flask, visitor: FlaskClient, origin: str | None,
                                                  site: str | None) -> None:  # fmt: skip
    headers = {"Sec-Fetch-Site": site} if site else {}
    response = post(visitor, {"events": [dwell()]}, origin=origin, **headers)
    assert response.status_code == 403 and "this site's own pages" in response.get_json()["error"]
    assert stored(app) == 0


def test_same_origin_without_origin_header_is_accepted(app: Flask, visitor: FlaskClient) -> None:
    response = post(visitor, {"events": [dwell()]}, origin=None, **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200 and stored(app) == 1


def test_no_visitor_cookie_stores_nothing(app: Flask, client: FlaskClient) -> None:
    response = post(client, {"events": [dwell()]})
    assert response.status_code == 403 and "no visitor" in response.get_json()["error"]
    assert stored(app) == 0


def test_bots_are_counted_not_stored(app: Flask, client: FlaskClient) -> None:
    response = post(client, {"events": [dwell()]}, ua=GOOGLEBOT)
    assert response.status_code == 403
    assert stored(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.sum(BotRequests.requests))) == 1


def test_behavioral_off_stores_nothing(app: Flask, visitor: FlaskClient) -> None:
    form = {"csrf_token": csrf_token(visitor), "contextual": "on", "predictive": "on"}
    visitor.post("/preferences", data=form, headers={"User-Agent": DESKTOP})
    response = post(visitor, {"events": [dwell()]})
    assert response.status_code == 403 and "behavioral personalization is off" in response.get_json()["error"]
    assert stored(app) == 0


def test_gpc_stores_nothing_and_the_page_has_no_beacon(app: Flask, client: FlaskClient) -> None:
    page = get(client, "/", **{"Sec-GPC": "1"})
    assert 'data-beacon="/events"' not in page.get_data(as_text=True)
    response = post(client, {"events": [dwell()]}, **{"Sec-GPC": "1"})
    assert response.status_code == 403
    assert stored(app) == 0


def test_a_person_who_allows_it_gets_the_beacon(client: FlaskClient) -> None:
    assert 'data-beacon="/events"' in get(client, "/").get_data(as_text=True)


def test_rate_limit_answers_429_with_retry_after(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, RATE_LIMIT_VISITOR=3)
    try:
        client = app.test_client()
        get(client, "/")
        codes = [post(client, {"events": [dwell()]}).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = post(client, {"events": [dwell()]})
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert stored(app) == 3
        # Another visitor is not affected by the first one's limit.
        other = app.test_client()
        get(other, "/")
        assert post(other, {"events": [dwell()]}).status_code == 200
    finally:
        dispose(app)


def test_rate_limit_per_address_holds_across_visitors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, RATE_LIMIT_ADDRESS=2)
    try:
        codes = []
        for _ in range(3):
            client = app.test_client()
            get(client, "/")
            codes.append(post(client, {"events": [dwell()]}).status_code)
        assert codes == [200, 200, 429]
    finally:
        dispose(app)


def test_rate_limits_hold_across_app_instances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two app instances (two processes' worth of state) share one count in the database."""
    first = make_app(tmp_path, RATE_LIMIT_VISITOR=2)
    second = make_app(tmp_path, RATE_LIMIT_VISITOR=2)
    try:
        client = first.test_client()
        get(client, "/")
        cookie = client.get_cookie("tessera_vid").value
        twin = second.test_client()
        twin.set_cookie("tessera_vid", cookie)
        assert post(client, {"events": [dwell()]}).status_code == 200
        assert post(twin, {"events": [dwell()]}).status_code == 200
        assert post(client, {"events": [dwell()]}).status_code == 429
    finally:
        dispose(first)
        dispose(second)
