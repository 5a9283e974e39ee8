"""POST /events: the beacon contract, every bad input, idempotency, rate limits, opt-outs."""

from __future__ import annotations

import io
import json
import multiprocessing
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import BotRequests, Event
from tests.conftest import DESKTOP, GOOGLEBOT, csrf_token, database_url, dispose, get, make_app

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
    ("not an object", "hello", "not_an_object", "must be a JSON object"),
    ("a list", [dwell()], "not_an_object", "must be a JSON object"),
    ("unknown type", {"id": eid(), "type": "hover", "page": "/"}, "bad_type", "type must be one of"),
    ("type is an array", dwell(type=["dwell"]), "bad_type", "type must be one of"),
    ("type is an object", dwell(type={"dwell": 1}), "bad_type", "type must be one of"),
    ("type is null", dwell(type=None), "bad_type", "type must be one of"),
    ("unknown field", dwell(extra=1), "unknown_field", "unknown field 'extra'"),
    ("client time", dwell(at="2020-01-01T00:00:00Z"), "unknown_field", "unknown field 'at'"),
    ("missing field", {"id": eid(), "type": "scroll", "page": "/"}, "missing_field", "missing field 'depth'"),
    ("bad id", dwell(id="1234"), "bad_id", "id must be a lowercase UUID version 4"),
    ("id is a number", dwell(id=4), "bad_id", "id must be a lowercase UUID version 4"),
    ("id with a lone surrogate", dwell(id="\ud800"), "bad_id", "id must be a lowercase UUID version 4"),
    ("field named with a lone surrogate", dwell(**{"\udfff": 1}), "unknown_field", "unknown field '"),
    ("id with a trailing newline", dwell(id=eid() + "\n"), "bad_id", "id must be a lowercase UUID version 4"),
    ("depth too deep", scroll(101), "bad_depth", "depth must be a whole number from 0 to 100"),
    ("negative depth", scroll(-1), "bad_depth", "depth must be a whole number from 0 to 100"),
    ("depth not a number", scroll("80"), "bad_depth", "depth must be a whole number"),  # type: ignore[arg-type]
    ("depth is true", scroll(True), "bad_depth", "depth must be a whole number"),
    ("depth is a list", scroll([80]), "bad_depth", "depth must be a whole number"),  # type: ignore[arg-type]
    ("dwell too long", dwell(31 * 60 * 1000), "bad_ms", "ms must be a whole number from 0 to"),
    ("dwell is a fraction", dwell(1.5), "bad_ms", "ms must be a whole number from 0 to"),  # type: ignore[arg-type]
    ("foreign page", dwell(page="https://evil.example/"), "bad_page", "page must be a path on this site"),
    ("page like //[", dwell(page="//["), "bad_page", "page must be a path on this site"),
    ("protocol-relative page", dwell(page="//evil.example/guides/cookieless-measurement"), "bad_page",
     "page must be a path on this site"),
    ("page is an object", dwell(page={"path": "/"}), "bad_page", "page must be a path on this site"),
    ("unknown page", dwell(page="/nope"), "unknown_page", "page '/nope' is not a page of this site"),
    ("block not on page", click(page="/pricing"), "unknown_block", "block 'home-cta' is not on page /pricing"),
    ("block is a list", click(block=["home-cta"]), "unknown_block", "block must be the name of a block on page /"),
    ("unknown variant", click(variant="made-up"), "unknown_variant",
     "variant 'made-up' does not exist for block 'home-cta'"),
    ("variant is an object", click(variant={"id": "default"}), "unknown_variant",
     "variant must be the id of a variant of block 'home-cta'"),
    ("bad target", click(target="<script>"), "bad_target", "target must be a short lowercase word"),
    ("target with a trailing newline", click(target="cta\n"), "bad_target", "target must be a short lowercase word"),
    ("target is a number", click(target=1), "bad_target", "target must be a short lowercase word"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "event", "code", "reason"), BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_each_invalid_event_is_rejected_with_a_reason(app: Flask, visitor: FlaskClient, label: str,
                                                      event: Any, code: str, reason: str) -> None:  # fmt: skip
    good = dwell()
    response = post(visitor, {"events": [good, event]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 1
    assert len(body["rejected"]) == 1 and body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["code"] == code, body
    assert reason in body["rejected"][0]["reason"], body
    assert stored(app) == 1  # the valid one, nothing else


def test_a_rejection_names_the_event_by_its_id_and_stays_short(visitor: FlaskClient) -> None:
    named = dwell(ms=-1)
    huge = dwell(**{"x" * 5000: 1})
    odd_id = dwell(id="y" * 5000)
    rejected = post(visitor, {"events": [named, huge, odd_id]}).get_json()["rejected"]
    assert [r["id"] for r in rejected] == [named["id"], huge["id"], None]  # no 5000-character echo
    assert all(len(r["reason"]) <= 120 for r in rejected), rejected
    assert rejected[1]["code"] == "unknown_field" and "unknown field 'xxx" in rejected[1]["reason"]


def test_duplicate_ids_within_a_batch(app: Flask, visitor: FlaskClient) -> None:
    event = dwell()
    body = post(visitor, {"events": [event, dict(event)]}).get_json()
    assert body["accepted"] == 1 and "appears twice" in body["rejected"][0]["reason"]


def nested(levels: int) -> bytes:
    """A body whose one event carries a value nested so that the whole body is ``levels`` deep."""
    event = json.dumps(dwell(ms=0)).replace("0}", "[" * (levels - 3) + "]" * (levels - 3) + "}")
    return ('{"events": [' + event + "]}").encode()


BAD_ENVELOPES = [
    ("not json", None, b"{not json", "bad_json", "the body is not valid JSON"),
    ("not UTF-8", None, b'{"events": ["\xff"]}', "bad_json", "the body is not valid JSON"),
    ("NaN is not JSON", None, b'{"events": [{"type": "scroll", "depth": NaN}]}', "bad_json",
     "the body is not valid JSON"),
    ("a bare event", None, json.dumps(dwell()).encode()[:-1], "bad_json", "the body is not valid JSON"),
    ("nested 1,000 levels deep", None, b'{"events": [' + b"[" * 1000 + b"]" * 1000 + b"]}", "too_deep",
     "nested more than 32 levels deep"),
    ("nested 100,000 levels deep", None, b"[" * 60_000, "too_deep", "nested more than 32 levels deep"),
    ("nested one level too deep", None, nested(33), "too_deep", "nested more than 32 levels deep"),
    ("a list", [dwell()], None, "bad_envelope", "the body must be a JSON object"),
    ("a string", "events", None, "bad_envelope", "the body must be a JSON object"),
    ("extra key", {"events": [dwell()], "visitor": "someone-else"}, None, "bad_envelope", "and nothing else"),
    ("events not a list", {"events": {"0": dwell()}}, None, "bad_envelope", "the body must be a JSON object"),
    ("empty", {"events": []}, None, "no_events", "events is empty"),
    ("too many", {"events": [dwell() for _ in range(51)]}, None, "too_many_events", "at most 50 events"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "body", "raw", "code", "reason"), BAD_ENVELOPES, ids=[b[0] for b in BAD_ENVELOPES])
def test_invalid_envelope_stores_nothing(app: Flask, visitor: FlaskClient, label: str, body: Any,
                                         raw: bytes | None, code: str, reason: str) -> None:  # fmt: skip
    response = post(visitor, body, raw=raw)
    assert response.status_code == 400
    assert response.get_json()["code"] == code
    assert reason in response.get_json()["error"]
    assert stored(app) == 0


def test_nesting_up_to_the_limit_is_judged_event_by_event(app: Flask, visitor: FlaskClient) -> None:
    response = post(visitor, None, raw=nested(32))
    assert response.status_code == 200
    assert response.get_json()["rejected"][0]["code"] == "bad_ms"


def test_wrong_content_type_is_415(app: Flask, visitor: FlaskClient) -> None:
    response = post(visitor, {"events": [dwell()]}, content_type="text/plain")
    assert response.status_code == 415 and "application/json" in response.get_json()["error"]
    assert stored(app) == 0


def padded(size: int) -> bytes:
    """A valid one-event body padded with spaces (still valid JSON) to exactly ``size`` bytes."""
    body = json.dumps({"events": [dwell()]}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


def post_chunked(client: FlaskClient, raw: bytes):  # type: ignore[no-untyped-def]
    """POST without Content-Length, as a chunked upload reaches the app through a WSGI server."""
    headers = {"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": ORIGIN,
               "Transfer-Encoding": "chunked"}  # fmt: skip
    return client.post("/events", input_stream=io.BytesIO(raw), headers=headers,
                       environ_overrides={"wsgi.input_terminated": True})  # fmt: skip


def test_oversized_body_is_413_and_stores_nothing(app: Flask, visitor: FlaskClient) -> None:
    padding = [dwell() for _ in range(40)]
    raw = json.dumps({"events": padding, "pad": "x" * 70_000}).encode()
    response = post(visitor, None, raw=raw)
    assert response.status_code == 413 and "at most 65536 bytes" in response.get_json()["error"]
    assert response.get_json()["code"] == "too_large"
    assert stored(app) == 0


@pytest.mark.parametrize("size", [65_537, 70_000, 1_000_000])
def test_oversized_chunked_body_is_413_and_stores_nothing(app: Flask, visitor: FlaskClient, size: int) -> None:
    response = post_chunked(visitor, padded(size))
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.get_json() == {"error": "the body may be at most 65536 bytes", "code": "too_large"}
    assert stored(app) == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_64_kb_is_accepted(app: Flask, visitor: FlaskClient, chunked: bool) -> None:
    raw = padded(65_536)
    response = post_chunked(visitor, raw) if chunked else post(visitor, None, raw=raw)
    assert response.status_code == 200 and response.get_json()["accepted"] == 1
    assert stored(app) == 1


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
        assert limited.get_json() == {"error": "too many requests; try again later", "code": "rate_limited"}
        assert 1 <= int(limited.headers["Retry-After"]) <= 120  # at most two minutes: the window slides
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
    shared = f"tessera-test-{uuid.uuid4().hex[:12]}"  # with REDIS_URL: one set of counters, as across hosts
    first = make_app(tmp_path, RATE_LIMIT_VISITOR=2, REDIS_PREFIX=shared)
    second = make_app(tmp_path, RATE_LIMIT_VISITOR=2, REDIS_PREFIX=shared)
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


class Clock:
    """A settable clock for the app's ``CLOCK`` setting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


#: A minute boundary: 12:00:00 UTC.
T0 = datetime(2025, 3, 3, 12, 0, 0)


def cut_short(client: FlaskClient):  # type: ignore[no-untyped-def]
    """A body that ends before its Content-Length: the client went away mid-request."""
    headers = {"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": ORIGIN}
    return client.post("/events", input_stream=io.BytesIO(b'{"events": ['), content_length=1000, headers=headers)


SENDERS: list[tuple[str, Callable[[FlaskClient], Any]]] = [
    ("valid events", lambda c: post(c, {"events": [dwell()]})),
    ("invalid events", lambda c: post(c, {"events": [dwell(ms=-1), scroll(101)]})),
    ("events that used to crash", lambda c: post(c, {"events": [dwell(type=["dwell"]), dwell(page="//[")]})),
    ("too deep to parse", lambda c: post(c, None, raw=b"[" * 5000)),
    ("invalid envelope", lambda c: post(c, {"events": []})),
    ("body cut short", cut_short),
    ("oversized chunked body", lambda c: post_chunked(c, padded(70_000))),
]


@pytest.mark.parametrize("send", [s[1] for s in SENDERS], ids=[s[0] for s in SENDERS])
def test_every_request_of_a_visitor_counts_whatever_its_body(tmp_path, send) -> None:  # type: ignore[no-untyped-def]
    """200 requests in a minute against a limit of 60: 60 are answered, the rest get 429."""
    clock = Clock(T0 + timedelta(seconds=1))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=60)
    try:
        client = app.test_client()
        get(client, "/")
        codes = []
        for _ in range(200):
            codes.append(send(client).status_code)
            clock.advance(0.25)
        assert 429 not in codes[:60] and max(codes[:60]) < 500, codes[:60]
        assert codes[60:] == [429] * 140
    finally:
        dispose(app)


def test_a_visitor_without_behavioral_personalization_counts_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=1))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=3)
    try:
        client = app.test_client()
        get(client, "/")
        form = {"csrf_token": csrf_token(client), "contextual": "on", "predictive": "on"}
        client.post("/preferences", data=form, headers={"User-Agent": DESKTOP})
        codes = [post(client, {"events": [dwell()]}).status_code for _ in range(5)]
        assert codes == [403, 403, 403, 429, 429]
    finally:
        dispose(app)


def test_cookieless_clients_and_bots_count_against_their_address(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=1))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_ADDRESS=4)
    try:
        codes = [post(app.test_client(), {"events": [dwell()]}).status_code for _ in range(3)]
        codes += [post(app.test_client(), {"events": [dwell()]}, ua=GOOGLEBOT).status_code for _ in range(2)]
        assert codes == [403, 403, 403, 403, 429]
        person = app.test_client()
        get(person, "/")
        assert post(person, {"events": [dwell()]}).status_code == 429  # the same address
    finally:
        dispose(app)


def test_requests_refused_by_their_headers_alone_are_not_counted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=1))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=2)
    try:
        client = app.test_client()
        get(client, "/")
        assert post(client, {"events": [dwell()]}, origin="https://evil.example").status_code == 403
        assert post(client, {"events": [dwell()]}, content_type="text/plain").status_code == 415
        assert post(client, None, raw=padded(70_000)).status_code == 413
        assert [post(client, {"events": [dwell()]}).status_code for _ in range(3)] == [200, 200, 429]
    finally:
        dispose(app)


def test_a_burst_across_a_minute_boundary_passes_at_most_the_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=59.5))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=60)
    try:
        client = app.test_client()
        get(client, "/")
        codes = []
        for i in range(150):
            if i == 75:
                clock.advance(1)  # 12:01:00.5, just past the boundary
            codes.append(post(client, {"events": [dwell()]}).status_code)
        assert codes.count(200) == 60, codes
    finally:
        dispose(app)


def test_a_steady_visitor_within_the_limit_is_never_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=3))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=10)
    try:
        client = app.test_client()
        get(client, "/")
        codes = []
        for _ in range(5 * 8):  # five minutes at 8 a minute
            codes.append(post(client, {"events": [dwell()]}).status_code)
            clock.advance(7.5)
        assert codes == [200] * 40
    finally:
        dispose(app)


def test_retry_after_is_when_the_next_request_is_let_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=10))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=3)
    try:
        early, patient = app.test_client(), app.test_client()
        retry = []
        for client in (early, patient):
            get(client, "/")
            codes = [post(client, {"events": [dwell()]}).status_code for _ in range(3)]
            limited = post(client, {"events": [dwell()]})
            assert codes == [200, 200, 200] and limited.status_code == 429
            retry.append(int(limited.headers["Retry-After"]))
        assert retry[0] == retry[1] and 1 <= retry[0] <= 120
        clock.advance(retry[0] - 1)
        assert post(early, {"events": [dwell()]}).status_code == 429  # a second too early
        clock.advance(1)
        assert post(patient, {"events": [dwell()]}).status_code == 200
    finally:
        dispose(app)


def test_a_refused_request_does_not_use_up_the_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A client that ignores Retry-After is not locked out for longer: refusals are not counted."""
    clock = Clock(T0 + timedelta(seconds=10))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=3)
    try:
        client = app.test_client()
        get(client, "/")
        assert [post(client, {"events": [dwell()]}).status_code for _ in range(3)] == [200, 200, 200]
        first = post(client, {"events": [dwell()]})
        for _ in range(50):
            clock.advance(0.5)
            post(client, {"events": [dwell()]})
        clock.now = T0 + timedelta(seconds=10 + int(first.headers["Retry-After"]))
        assert post(client, {"events": [dwell()]}).status_code == 200
    finally:
        dispose(app)


def test_purge_keeps_the_window_that_the_limit_still_weighs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(T0 + timedelta(seconds=58))
    app = make_app(tmp_path, CLOCK=clock, RATE_LIMIT_VISITOR=3)
    try:
        client = app.test_client()
        get(client, "/")
        assert [post(client, {"events": [dwell()]}).status_code for _ in range(3)] == [200, 200, 200]
        clock.advance(3)  # 12:01:01
        assert app.test_cli_runner().invoke(args=["jobs", "run", "purge"]).exit_code == 0
        assert post(client, {"events": [dwell()]}).status_code == 429
    finally:
        dispose(app)


def _limited_worker(url: str, cookie: str, prefix: str, start, results) -> None:  # type: ignore[no-untyped-def]
    from app import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret-key", "SCHEDULER": "off",
              "RATE_LIMIT_VISITOR": 20, "WRITES": "direct", "REDIS_PREFIX": prefix}  # fmt: skip
    client = create_app(config).test_client()
    client.set_cookie("tessera_vid", cookie)
    start.wait(timeout=60)
    results.put([post(client, {"events": [dwell()]}).status_code for _ in range(15)])


def test_processes_at_once_share_one_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Four processes post for one visitor at the same moment: the limit holds across all of them."""
    app = make_app(tmp_path)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    client = app.test_client()
    get(client, "/")
    cookie = client.get_cookie("tessera_vid").value
    prefix = app.config["REDIS_PREFIX"]
    workers = [
        context.Process(target=_limited_worker, args=(database_url(tmp_path), cookie, prefix, start, results))
        for _ in range(4)
    ]
    try:
        for w in workers:
            w.start()
        start.set()
        codes = [c for _ in workers for c in results.get(timeout=120)]
        for w in workers:
            w.join(timeout=30)
        assert set(codes) <= {200, 429}
        # 20, or one more if the run straddles a minute boundary (the last minute's weight falls meanwhile).
        assert 20 <= codes.count(200) <= 21, codes
        assert stored(app) == codes.count(200)
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
        results.close()
        results.join_thread()
        dispose(app)
