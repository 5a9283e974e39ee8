"""``POST /events``: the page script's beacon.

The contract (ARCHITECTURE.md): JSON only, at most 64 KB and 50 events,
same origin only. Each event is checked against an allow-list; valid ones are
stored once (the id makes a retry harmless), invalid ones come back with a
reason each. An invalid envelope, a foreign origin or an oversized body
stores nothing. The server's clock wins; query strings are dropped from paths.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from app import store
from app.content import Site, current_site
from app.extensions import csrf, db
from app.web.visit import current_visit

bp = Blueprint("events", __name__)

MAX_BODY = 64 * 1024
MAX_EVENTS = 50
MAX_DWELL_MS = 30 * 60 * 1000
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_TARGET = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_FIELDS = {
    "click": ({"id", "type", "page", "block", "variant"}, {"target"}),
    "scroll": ({"id", "type", "page", "depth"}, set()),
    "dwell": ({"id", "type", "page", "ms"}, set()),
}


def _error(status: int, reason: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=reason, **extra), status


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


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def validate(raw: Any, site: Site, seen: set[str]) -> store.NewEvent | str:
    """A stored-ready event, or the reason it is rejected."""
    if not isinstance(raw, Mapping):
        return "an event must be a JSON object"
    kind = raw.get("type")
    if kind not in _FIELDS:
        return "type must be one of click, scroll, dwell"
    required, optional = _FIELDS[kind]
    unknown = sorted(set(raw) - required - optional)
    if unknown:
        return f"unknown field '{unknown[0]}' for a {kind} event"
    missing = sorted(required - set(raw))
    if missing:
        return f"missing field '{missing[0]}' for a {kind} event"
    event_id = raw["id"]
    if not isinstance(event_id, str) or not _UUID4.match(event_id):
        return "id must be a lowercase UUID version 4"
    if event_id in seen:
        return "the same id appears twice in this batch"
    path = raw["page"]
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 200:
        return "page must be a path on this site"
    path = urlsplit(path).path.rstrip("/") or "/"  # query strings and fragments are never stored
    page = site.pages.get(path)
    if page is None:
        return f"page '{path}' is not a page of this site"
    topics = page.topics
    fields: dict[str, Any] = {}
    if kind == "click":
        block, variant = raw["block"], raw["variant"]
        slot = next((s for s in page.spec.slots if s.block == block), None)
        if slot is None:
            return f"block '{block}' is not on page {path}"
        candidates = [site.catalog.defaults.get(block), *site.catalog.conditional.get(block, ())]
        chosen = next((v for v in candidates if v is not None and v.id == variant), None)
        if chosen is None:
            return f"variant '{variant}' does not exist for block '{block}'"
        target = raw.get("target", "link")
        if not isinstance(target, str) or not _TARGET.match(target):
            return "target must be a short lowercase word such as 'cta'"
        topics = chosen.topics or slot.topics
        fields = {"block": block, "variant": variant, "target": target}
    elif kind == "scroll":
        if not _int_in(raw["depth"], 0, 100):
            return "depth must be a whole number from 0 to 100"
        fields = {"depth": raw["depth"]}
    else:
        if not _int_in(raw["ms"], 0, MAX_DWELL_MS):
            return f"ms must be a whole number from 0 to {MAX_DWELL_MS}"
        fields = {"ms": raw["ms"]}
    seen.add(event_id)
    return store.NewEvent(event_id=event_id, type=kind, page=path, topics=topics, **fields)


@bp.post("/events")
@csrf.exempt  # JSON from the same origin only; the Origin check below stands in for a token
def ingest() -> tuple[Response, int]:
    if not same_origin():
        return _error(403, "events are accepted from this site's own pages only")
    if request.mimetype != "application/json":
        return _error(415, "send events as application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, f"the body may be at most {MAX_BODY} bytes")
    visit = current_visit()
    if visit.is_bot:
        store.count_bot_request(visit.now.date())
        return _error(403, "automated clients are not tracked")
    if visit.state is None:
        return _error(403, "no visitor: events come from a page of this site, after it has loaded")
    if not visit.preferences.behavioral:
        return _error(403, "behavioral personalization is off for this visitor, so nothing is stored")
    retry = store.hit_rate_limits(
        [
            (f"visitor:{visit.visitor_id}", current_app.config["RATE_LIMIT_VISITOR"]),
            (_address_key(request.remote_addr), current_app.config["RATE_LIMIT_ADDRESS"]),
        ],
        visit.now,
    )
    if retry is not None:
        response, status = _error(429, "too many requests; try again later")
        response.headers["Retry-After"] = str(retry)
        return response, status
    body = request.get_json(silent=True)
    problem = None
    if not isinstance(body, Mapping) or set(body) != {"events"} or not isinstance(body["events"], list):
        problem = 'the body must be a JSON object {"events": [...]} and nothing else'
    elif not body["events"]:
        problem = "events is empty"
    elif len(body["events"]) > MAX_EVENTS:
        problem = f"at most {MAX_EVENTS} events per request"
    if problem is not None:
        db.session.commit()  # the request still counts against the rate limit
        return _error(400, problem)
    site = current_site()
    seen: set[str] = set()
    valid: list[store.NewEvent] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(body["events"]):
        result = validate(raw, site, seen)
        if isinstance(result, str):
            event_id = raw.get("id") if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) else None
            rejected.append({"index": index, "id": event_id, "reason": result})
        else:
            valid.append(result)
    assert visit.visitor_id is not None
    stored = store.record_events(visit.visitor_id, valid, visit.now, profile=True)
    return jsonify(accepted=len(stored), duplicates=len(valid) - len(stored), rejected=rejected), 200
