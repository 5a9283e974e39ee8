"""``POST /events``: the page script's beacon.

The contract (ARCHITECTURE.md): JSON only, at most 64 KB and 50 events,
same origin only. Each event is checked against an allow-list; valid ones are
stored once (the id makes a retry harmless), invalid ones come back with a
reason each. An invalid envelope, a foreign origin or an oversized body
stores nothing. The server's clock wins; query strings are dropped from paths.

Validation is total: whatever JSON arrives, in whatever field, the answer is a
rejection with a stable ``code`` and a plain reason, never an exception. A
body that cannot be read as JSON is an invalid envelope. Every refusal, of the
request or of one event, carries a ``code`` that operators can count by.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app import metrics, store
from app.content import Site, current_site
from app.extensions import csrf
from app.store import ratelimit
from app.web.visit import current_visit

bp = Blueprint("events", __name__)

MAX_BODY = 64 * 1024
MAX_EVENTS = 50
#: A valid body is 3 levels deep; past this a body is refused whole, before the parser's own limit.
MAX_DEPTH = 32
MAX_DWELL_MS = 30 * 60 * 1000
_UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_TARGET = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_NAME_LENGTH = 80  # block and variant names, as stored
_PAGE_LENGTH = 200
_FIELDS = {
    "click": ({"id", "type", "page", "block", "variant"}, {"target"}),
    "scroll": ({"id", "type", "page", "depth"}, set()),
    "dwell": ({"id", "type", "page", "ms"}, set()),
}


class Rejection(NamedTuple):
    """Why an event is not stored: a stable code to count by and a reason to read."""

    code: str
    reason: str


def _error(status: int, code: str, reason: str) -> tuple[Response, int]:
    metrics.EVENT_REQUESTS.labels(code).inc()
    if code == "rate_limited":
        metrics.RATE_LIMITED.inc()
    return jsonify(error=reason, code=code), status


def http_error(error: HTTPException, message: str) -> tuple[Response, int]:
    """The JSON answer for an HTTP error raised while handling ``/events``: ``message``, and the
    error's name as its code (``method_not_allowed``, ``internal_server_error``, ...)."""
    status = error.code or 500
    if status == 413:
        return _error(413, "too_large", f"the body may be at most {MAX_BODY} bytes")
    return _error(status, re.sub(r"\W+", "_", error.name.strip().lower()), message)


def same_origin() -> bool:
    """A browser's Origin (or, without it, Sec-Fetch-Site) must say this site."""
    origin = request.headers.get("Origin")
    if origin:
        try:
            return urlsplit(origin).netloc == request.host
        except ValueError:
            return False
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


def _address_key(address: str | None) -> str:
    # A keyed hash: the limit holds per address, and no address is stored.
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), (address or "").encode(), hashlib.sha256)
    return "address:" + digest.hexdigest()[:32]


def _read_body() -> bytes | None:
    """The body, or None when it is longer than ``MAX_BODY``.

    A chunked body declares no length, so at most one byte more than allowed
    is read to tell; the stream's own limit is raised to that one byte more,
    so that a body of exactly ``MAX_BODY`` bytes is read in full.
    """
    request.max_content_length = MAX_BODY + 1
    stream = request.stream
    body = bytearray()
    while len(body) <= MAX_BODY:
        chunk = stream.read(MAX_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return None if len(body) > MAX_BODY else bytes(body)


def _too_deep(value: Any) -> bool:
    """Whether containers nest more than ``MAX_DEPTH`` levels (walked without recursion)."""
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for container in level
            if isinstance(container, dict | list)
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(body: bytes) -> Any | Rejection:
    """The body as JSON, or why it cannot be read (which makes the whole envelope invalid)."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:
        return Rejection("too_deep", f"the body is nested more than {MAX_DEPTH} levels deep")
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return Rejection("bad_json", "the body is not valid JSON (UTF-8, no NaN or Infinity)")
    if _too_deep(value):
        return Rejection("too_deep", f"the body is nested more than {MAX_DEPTH} levels deep")
    return value


def _quote(text: str, limit: int = 40) -> str:
    """A client's text, cut short for a reason (reasons stay short whatever was sent)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _path(value: Any) -> str | None:
    """The site path an event's page names, without query or fragment; None if it is no such path."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or len(value) > _PAGE_LENGTH:
        return None
    path = value.split("?", 1)[0].split("#", 1)[0]  # query strings and fragments are never stored
    return path.rstrip("/") or "/"


def validate(raw: Any, site: Site, seen: set[str]) -> store.NewEvent | Rejection:
    """A stored-ready event, or why it is rejected; never an exception, whatever ``raw`` is."""
    if not isinstance(raw, Mapping):
        return Rejection("not_an_object", "an event must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _FIELDS:
        return Rejection("bad_type", "type must be one of click, scroll, dwell")
    required, optional = _FIELDS[kind]
    unknown = sorted(set(raw) - required - optional)
    if unknown:
        return Rejection("unknown_field", f"unknown field '{_quote(unknown[0])}' for a {kind} event")
    missing = sorted(required - set(raw))
    if missing:
        return Rejection("missing_field", f"missing field '{missing[0]}' for a {kind} event")
    event_id = raw["id"]
    if not isinstance(event_id, str) or not _UUID4.fullmatch(event_id):
        return Rejection("bad_id", "id must be a lowercase UUID version 4")
    if event_id in seen:
        return Rejection("duplicate_id", "the same id appears twice in this batch")
    path = _path(raw["page"])
    if path is None:
        return Rejection("bad_page", "page must be a path on this site")
    page = site.pages.get(path)
    if page is None:
        return Rejection("unknown_page", f"page '{_quote(path)}' is not a page of this site")
    topics = page.topics
    fields: dict[str, Any] = {}
    if kind == "click":
        block, variant = raw["block"], raw["variant"]
        if not isinstance(block, str) or len(block) > _NAME_LENGTH:
            return Rejection("unknown_block", f"block must be the name of a block on page {path}")
        slot = next((s for s in page.spec.slots if s.block == block), None)
        if slot is None:
            return Rejection("unknown_block", f"block '{_quote(block)}' is not on page {path}")
        if not isinstance(variant, str) or len(variant) > _NAME_LENGTH:
            return Rejection("unknown_variant", f"variant must be the id of a variant of block '{block}'")
        candidates = [site.catalog.defaults.get(block), *site.catalog.conditional.get(block, ())]
        chosen = next((v for v in candidates if v is not None and v.id == variant), None)
        if chosen is None:
            return Rejection("unknown_variant", f"variant '{_quote(variant)}' does not exist for block '{block}'")
        target = raw.get("target", "link")
        if not isinstance(target, str) or not _TARGET.fullmatch(target):
            return Rejection("bad_target", "target must be a short lowercase word such as 'cta'")
        topics = chosen.topics or slot.topics
        fields = {"block": block, "variant": variant, "target": target}
    elif kind == "scroll":
        if not _int_in(raw["depth"], 0, 100):
            return Rejection("bad_depth", "depth must be a whole number from 0 to 100")
        fields = {"depth": raw["depth"]}
    else:
        if not _int_in(raw["ms"], 0, MAX_DWELL_MS):
            return Rejection("bad_ms", f"ms must be a whole number from 0 to {MAX_DWELL_MS}")
        fields = {"ms": raw["ms"]}
    seen.add(event_id)
    return store.NewEvent(event_id=event_id, type=kind, page=path, topics=topics, **fields)


def _envelope(body: Any) -> list[Any] | Rejection:
    """The events of a parsed body, or why the body as a whole is refused."""
    if not isinstance(body, Mapping) or set(body) != {"events"} or not isinstance(body["events"], list):
        return Rejection("bad_envelope", 'the body must be a JSON object {"events": [...]} and nothing else')
    if not body["events"]:
        return Rejection("no_events", "events is empty")
    if len(body["events"]) > MAX_EVENTS:
        return Rejection("too_many_events", f"at most {MAX_EVENTS} events per request")
    return body["events"]


def _echo_id(raw: Any) -> str | None:
    """The id to name a rejected event by: a string of at most a UUID's length, else None."""
    event_id = raw.get("id") if isinstance(raw, Mapping) else None
    return event_id if isinstance(event_id, str) and len(event_id) <= 36 else None


@bp.post("/events")
@csrf.exempt  # JSON from the same origin only; the Origin check below stands in for a token
def ingest() -> tuple[Response, int]:
    # Refusals by the headers alone come first: they cost no database work, so they are not counted.
    if not same_origin():
        return _error(403, "foreign_origin", "events are accepted from this site's own pages only")
    if request.mimetype != "application/json":
        return _error(415, "wrong_content_type", "send events as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "too_large", f"the body may be at most {MAX_BODY} bytes")
    visit = current_visit()
    # Every other request counts, whatever it carries and however it ends: per address always,
    # and per visitor for a known one (a valid cookie whose visitor we hold).
    limits = [(_address_key(request.remote_addr), current_app.config["RATE_LIMIT_ADDRESS"])]
    if visit.state is not None:
        limits.append((f"visitor:{visit.visitor_id}", current_app.config["RATE_LIMIT_VISITOR"]))
    retry = ratelimit.hit(limits, visit.now)
    if retry is not None:
        response, status = _error(429, "rate_limited", "too many requests; try again later")
        response.headers["Retry-After"] = str(retry)
        return response, status
    if visit.is_bot:
        store.count_bot_request(visit.now.date())
        return _error(403, "bot", "automated clients are not tracked")
    if visit.state is None or visit.new_cookie:
        return _error(403, "no_visitor", "no visitor: events come from a page of this site, after it has loaded")
    if not visit.preferences.behavioral:
        return _error(403, "behavioral_off", "behavioral personalization is off for this visitor, so nothing is stored")
    body = _read_body()
    if body is None:
        return _error(413, "too_large", f"the body may be at most {MAX_BODY} bytes")
    parsed = parse(body)
    events = parsed if isinstance(parsed, Rejection) else _envelope(parsed)
    if isinstance(events, Rejection):
        return _error(400, *events)
    site = current_site()
    seen: set[str] = set()
    valid: list[store.NewEvent] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(events):
        result = validate(raw, site, seen)
        if isinstance(result, Rejection):
            rejected.append({"index": index, "id": _echo_id(raw), "code": result.code, "reason": result.reason})
        else:
            valid.append(result)
    assert visit.visitor_id is not None
    writer = current_app.extensions["tessera.writer"]
    if writer.mode == "direct":
        accepted = len(store.record_events(visit.visitor_id, valid, visit.now, profile=True))
    else:
        # The write leaves the request: what is new is known now from the stored ids (a retry
        # racing its original may be answered "accepted" twice; it is stored once all the same).
        known = store.known_event_ids(visit.visitor_id, [e.event_id for e in valid]) if visit.state.stored else set()
        fresh = [e for e in valid if e.event_id not in known]
        if fresh:
            writer.submit(store.events_write(visit.visitor_id, fresh, visit.now, profile=True,
                                             new=not visit.state.stored))  # fmt: skip
        accepted = len(fresh)
    metrics.EVENT_REQUESTS.labels("ok").inc()
    metrics.EVENTS.labels("accepted", "").inc(accepted)
    metrics.EVENTS.labels("duplicate", "").inc(len(valid) - accepted)
    for rejection in rejected:
        metrics.EVENTS.labels("rejected", rejection["code"]).inc()
    return jsonify(accepted=accepted, duplicates=len(valid) - accepted, rejected=rejected), 200
