"""POST /events under generated input: never a 5xx, every valid event stored once, every invalid one answered.

Each batch mixes events that are valid by construction (pages, blocks and
variants read from the site's own HTML) with events made invalid in one known
way, so the test knows the right answer without asking the code under test.
One app and one visitor per test; the rate limits are set out of the way.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Event
from tests.conftest import DESKTOP, blocks, dispose, get, make_app, soup

ORIGIN = "http://localhost"
HEADERS = {"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": ORIGIN}
FAST = {"RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9}
FUZZ = settings(
    deadline=None,
    database=None,  # nothing written into the working tree; a failure prints its reproduction blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPES = ("click", "scroll", "dwell")
FIELDS = {
    "click": ({"id", "type", "page", "block", "variant"}, {"target"}),
    "scroll": ({"id", "type", "page", "depth"}, set()),
    "dwell": ({"id", "type", "page", "ms"}, set()),
}
MAX_DWELL_MS = 30 * 60 * 1000
MAX_DEPTH = 32
TARGET = re.compile(r"[a-z][a-z0-9_-]{0,31}")
ENVELOPE_CODES = {"bad_json", "too_deep", "bad_envelope", "no_events", "too_many_events"}

# Any JSON value, lone surrogates in strings included (JSON escapes them as \\ud800).
TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
ANY_JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=10
)
IDS = st.uuids(version=4).map(str)


@dataclass(frozen=True)
class Site:
    """What the site's HTML says: its pages and, per page, the blocks with a variant each."""

    pages: tuple[str, ...]
    blocks: tuple[tuple[str, str, str], ...]  # (page, block, variant)


def read_site(client: FlaskClient) -> Site:
    nav = soup(get(client, "/"))
    paths = {a["href"] for a in nav.select("nav[data-locked] a[href]")}
    paths |= {a["href"] for a in soup(get(client, "/guides")).select("a[href^='/guides/']")}
    found = []
    for path in sorted(paths):
        found += [(path, block, attrs["variant"]) for block, attrs in blocks(get(client, path)).items()]
    return Site(pages=tuple(sorted(paths)), blocks=tuple(found))


def is_int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def page_of(site: Site) -> st.SearchStrategy[str]:
    """A page of the site as the script may send it: with a query, a fragment or a trailing slash."""
    suffix = st.sampled_from(["", "?utm_source=mail", "#top", "?a=1#b"]) | TEXT.map(lambda t: "?" + t)
    return st.tuples(st.sampled_from(site.pages), suffix, st.booleans()).map(
        lambda p: (p[0] + "/" if p[2] and p[0] != "/" else p[0]) + p[1]
    )


def valid_events(site: Site) -> st.SearchStrategy[dict[str, Any]]:
    def click(spot: tuple[str, str, str], target: str | None, event_id: str) -> dict[str, Any]:
        event = {"id": event_id, "type": "click", "page": spot[0], "block": spot[1], "variant": spot[2]}
        return event if target is None else {**event, "target": target}

    targets = st.none() | st.from_regex(TARGET, fullmatch=True)
    return st.one_of(
        st.builds(click, st.sampled_from(site.blocks), targets, IDS),
        st.fixed_dictionaries(
            {"id": IDS, "type": st.just("scroll"), "page": page_of(site), "depth": st.integers(0, 100)}
        ),
        st.fixed_dictionaries(
            {"id": IDS, "type": st.just("dwell"), "page": page_of(site), "ms": st.integers(0, MAX_DWELL_MS)}
        ),
    )


def bad_value(field: str, event: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value that makes ``field`` of ``event`` wrong, whatever else the event holds."""
    junk_name = TEXT.map(lambda t: "zz-" + t)  # no block, variant or page is named so
    if field == "type":
        return ANY_JSON.filter(lambda v: v not in TYPES)
    if field == "id":
        good = event["id"]
        near = st.sampled_from([good.upper(), good + "\n", good[:-1], " " + good, str(uuid.uuid1())])
        return near.filter(lambda v: v != good) | ANY_JSON.filter(lambda v: not isinstance(v, str))
    if field == "page":
        not_a_path = TEXT.filter(lambda t: not t.startswith("/")) | TEXT.map(lambda t: "//" + t)
        return not_a_path | junk_name.map(lambda t: "/" + t) | ANY_JSON.filter(lambda v: not isinstance(v, str))
    if field == "depth":
        return ANY_JSON.filter(lambda v: not is_int_in(v, 0, 100)) | st.integers().filter(lambda v: not 0 <= v <= 100)
    if field == "ms":
        return ANY_JSON.filter(lambda v: not is_int_in(v, 0, MAX_DWELL_MS)) | st.integers(max_value=-1)
    if field == "target":
        return (TEXT | st.sampled_from(["Cta", "cta\n", "a" * 33, "c ta", ""])).filter(
            lambda v: not TARGET.fullmatch(v)
        ) | ANY_JSON.filter(lambda v: not isinstance(v, str))
    return junk_name | ANY_JSON.filter(lambda v: not isinstance(v, str))  # block, variant


@st.composite
def invalid_events(draw: st.DrawFn, site: Site) -> Any:
    """An event that is wrong in one known way (or not an object at all)."""
    event = draw(valid_events(site))
    required, optional = FIELDS[event["type"]]
    how = draw(st.sampled_from(["not an object", "bad field", "unknown field", "missing field"]))
    if how == "not an object":
        return draw(ANY_JSON.filter(lambda v: not isinstance(v, dict)))
    if how == "unknown field":
        name = draw(TEXT.filter(lambda k: k not in required | optional))
        return {**event, name: draw(ANY_JSON)}
    if how == "missing field":
        gone = draw(st.sampled_from(sorted(required)))
        return {k: v for k, v in event.items() if k != gone}
    field = draw(st.sampled_from(sorted(required - {"type"} | optional | {"type"})))
    return {**event, field: draw(bad_value(field, event))}


@st.composite
def batches(draw: st.DrawFn, site: Site) -> list[tuple[Any, bool]]:
    """1 to 50 events, each with whether it is valid by construction; some valid ones sent twice."""
    marked = st.one_of(valid_events(site).map(lambda e: (e, True)), invalid_events(site).map(lambda e: (e, False)))
    batch = draw(st.lists(marked, min_size=1, max_size=50))
    for _ in range(draw(st.integers(0, 3))):
        originals = [e for e, ok in batch if ok]
        if originals and len(batch) < 50:
            copy = dict(draw(st.sampled_from(originals)))
            batch.append((copy, True))  # the oracle below finds it a duplicate of the first
    return draw(st.permutations(batch))


def expected_valid(batch: list[tuple[Any, bool]]) -> list[int]:
    """Indices of the events to store: valid by construction, and the first with their id in the batch."""
    seen: set[str] = set()
    valid = []
    for index, (event, ok) in enumerate(batch):
        if ok and event["id"] not in seen:
            seen.add(event["id"])
            valid.append(index)
    return valid


def send(client: FlaskClient, data: bytes):  # type: ignore[no-untyped-def]
    return client.post("/events", data=data, headers=HEADERS)


def stored_ids(app: Flask, ids: list[str]) -> dict[str, int]:
    with app.app_context():
        query = select(Event.event_id, func.count()).where(Event.event_id.in_(ids)).group_by(Event.event_id)
        return {event_id: count for event_id, count in db.session.execute(query)}


def total(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event)) or 0


def run_with_visitor(tmp_path, check: Callable[[Flask, FlaskClient, Site], None]) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, **FAST)
    try:
        client = app.test_client()
        check(app, client, read_site(client))
    finally:
        dispose(app)


def test_generated_batches_store_each_valid_event_once_and_answer_each_invalid_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def check(app: Flask, client: FlaskClient, site: Site) -> None:
        @settings(FUZZ, max_examples=1000)
        @given(batch=batches(site), again=st.booleans())
        def one_batch(batch: list[tuple[Any, bool]], again: bool) -> None:
            events = [event for event, _ in batch]
            valid = expected_valid(batch)
            ids = [events[i]["id"] for i in valid]
            before, earlier = total(app), stored_ids(app, ids)
            body = json.dumps({"events": events}).encode()
            for attempt in range(2 if again else 1):
                response = send(client, body)
                assert response.status_code == 200, response.get_data(as_text=True)
                answer = response.get_json()
                rejected = answer["rejected"]
                assert [r["index"] for r in rejected] == [i for i in range(len(events)) if i not in valid], answer
                for r in rejected:
                    assert isinstance(r["code"], str) and re.fullmatch(r"[a-z_]+", r["code"]), r
                    assert isinstance(r["reason"], str) and 0 < len(r["reason"]) <= 120, r
                new = 0 if attempt else len(set(ids) - set(earlier))
                assert (answer["accepted"], answer["duplicates"]) == (new, len(valid) - new), answer
            assert stored_ids(app, ids) == dict.fromkeys(ids, 1)
            assert total(app) == before + len(set(ids) - set(earlier))

        one_batch()

    run_with_visitor(tmp_path, check)


@st.composite
def bad_envelopes(draw: st.DrawFn, site: Site) -> bytes:
    """A body refused as a whole, with valid events inside where it has events at all."""
    events = draw(st.lists(valid_events(site), min_size=1, max_size=3))
    how = draw(st.sampled_from(["any json", "extra key", "not a list", "empty", "too many", "too deep", "NaN"]))
    if how == "any json":
        body = draw(ANY_JSON.filter(lambda v: not (isinstance(v, dict) and set(v) == {"events"})))
    elif how == "extra key":
        body = {"events": events, draw(TEXT.filter(lambda k: k != "events")): draw(ANY_JSON)}
    elif how == "not a list":
        body = {"events": draw(ANY_JSON.filter(lambda v: not isinstance(v, list)))}
    elif how == "empty":
        body = {"events": []}
    elif how == "too many":
        body = {"events": [{**events[0], "id": str(uuid.uuid4())} for _ in range(draw(st.integers(51, 80)))]}
    elif how == "too deep":
        levels = draw(st.integers(MAX_DEPTH + 1, 3000))  # the object and its list are two of them
        deep = b"[" * (levels - 2) + json.dumps(draw(SCALARS)).encode() + b"]" * (levels - 2)
        return b'{"events": [' + json.dumps(events[0]).encode() + b", " + deep + b"]}"
    else:
        return json.dumps({"events": [*events, {**events[0], "depth": float("nan")}]}).encode()
    return json.dumps(body).encode()


def mangled(site: Site) -> st.SearchStrategy[bytes]:
    """Bytes near a valid body: cut short, with bytes spliced in, or anything at all."""

    def splice(body: bytes, at: int, cut: int, insert: bytes) -> bytes:
        at %= len(body) + 1
        return body[:at] + insert + body[at + cut :]

    valid = st.lists(valid_events(site), min_size=1, max_size=5).map(lambda e: json.dumps({"events": e}).encode())
    return st.one_of(
        st.binary(max_size=200),
        st.builds(splice, valid, st.integers(0, 2000), st.integers(0, 5), st.binary(max_size=5)),
        st.builds(lambda body, at: body[: at % len(body)], valid, st.integers(0, 2000)),
    )


def test_generated_bodies_are_answered_without_a_server_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def check(app: Flask, client: FlaskClient, site: Site) -> None:
        @settings(FUZZ, max_examples=500)
        @given(data=bad_envelopes(site))
        def refused_whole(data: bytes) -> None:
            before = total(app)
            response = send(client, data)
            assert response.status_code == 400, response.get_data(as_text=True)
            assert response.get_json()["code"] in ENVELOPE_CODES
            assert total(app) == before

        @settings(FUZZ, max_examples=500)
        @given(data=mangled(site))
        def anything(data: bytes) -> None:
            before = total(app)
            response = send(client, data)
            assert response.status_code in (200, 400), response.get_data(as_text=True)
            answer = response.get_json()
            if response.status_code == 400:
                assert answer["code"] in ENVELOPE_CODES and total(app) == before
            else:
                assert total(app) == before + answer["accepted"]

        refused_whole()
        anything()

    run_with_visitor(tmp_path, check)
