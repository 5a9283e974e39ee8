"""Request -> Context: the only place the request is read.

Everything personalization needs from a request is read here once, checked,
and handed on as plain values. Anything missing or malformed becomes
"unknown", which leads to the default content, never to an error.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

import iptocc
from flask import Request
from itsdangerous import BadSignature, Serializer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from app.engine import Context
from app.web.device import ClientHints, classify, device_class

VISITOR_COOKIE = "tessera_vid"
#: The visitor's own page views whose writes may not have landed yet (read-your-writes).
PENDING_COOKIE = "tessera_pending"
#: At most this many pending views are carried.
PENDING_LIMIT = 4
TZ_COOKIE = "tz"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY = re.compile(r"^[0-9a-f]{32}\Z")


@dataclass(frozen=True)
class RequestInfo:
    """What one request tells us, already validated."""

    path: str
    method: str
    device: str
    visitor_id: str | None
    gpc: bool
    timezone: str | None
    country: str | None
    language: str | None
    referrer: str | None
    #: (render key, path, unix time) of the visitor's pending page views, oldest first.
    pending: tuple[tuple[str, str, int], ...] = ()


# ---------------------------------------------------------------- device


def _device(request: Request) -> str:
    """The device class from the User-Agent (cached) corrected by the Client Hints (see app.web.device)."""
    user_agent = request.headers.get("User-Agent", "")
    hints = ClientHints.from_headers(
        request.headers.get("Sec-CH-UA-Mobile"),
        request.headers.get("Sec-CH-UA-Platform"),
        request.headers.get("Sec-CH-UA-Model"),
    )
    return classify(device_class(user_agent), user_agent, hints)


# ----------------------------------------------------------------- zones


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _zone(name: str) -> tzinfo:
    return zoneinfo.ZoneInfo(name)


@functools.cache
def country_zones() -> dict[str, str]:
    """Each country's usual time zone: the first listed for it in tzdata's zone.tab."""
    text = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    zones: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _coords, zone, *_ = line.split("\t")
            zones.setdefault(code, zone)
    return zones


@functools.cache
def country_names() -> dict[str, str]:
    """Country code to name, from tzdata's iso3166.tab, for explanations."""
    text = importlib.resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text("utf-8")
    names: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t", 1)
            names[code] = name.strip()
    return names


def valid_zone(name: str | None) -> str | None:
    """The IANA zone name if it is one, else None (a bad ``tz`` cookie is ignored)."""
    if name and len(name) <= 64 and name in _known_zones():
        return name
    return None


# ---------------------------------------------------------------- request


def client_country(address: str | None) -> str | None:
    """Offline IP-to-country lookup; the address itself is never kept."""
    if not address:
        return None
    try:
        code = iptocc.country_code(address)
    except (ValueError, TypeError):
        return None
    return code if code and _COUNTRY.match(code) else None


def read_visitor_cookie(request: Request, secret_keys: tuple[str, ...]) -> str | None:
    """The visitor id from the signed cookie; None when absent, forged or malformed.

    ``secret_keys``, newest first: a cookie signed with any of them verifies.
    """
    raw = request.cookies.get(VISITOR_COOKIE)
    if not raw or len(raw) > 200:
        return None
    try:
        value = _serializer(secret_keys).loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) and _VISITOR_ID.match(value) else None


def read_pending_cookie(request: Request, secret_keys: tuple[str, ...]) -> tuple[tuple[str, str, int], ...]:
    """The pending page views from the signed cookie; empty when absent, forged or malformed."""
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw or len(raw) > 2000:
        return ()
    try:
        value = _serializer(secret_keys, "tessera-pending").loads(raw)
    except BadSignature:
        return ()
    if not isinstance(value, list):
        return ()
    found = []
    for item in value[-PENDING_LIMIT:]:
        if (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and _KEY.match(item[0])
                and isinstance(item[1], str) and item[1].startswith("/") and len(item[1]) <= 200
                and isinstance(item[2], int)):  # fmt: skip
            found.append((item[0], item[1], item[2]))
    return tuple(found)


def sign_pending(pending: list[tuple[str, str, int]], secret_keys: tuple[str, ...]) -> str:
    return _serializer(secret_keys, "tessera-pending").dumps([list(p) for p in pending[-PENDING_LIMIT:]])


def sign_visitor_id(visitor_id: str, secret_keys: tuple[str, ...]) -> str:
    """Sign with the newest key."""
    return _serializer(secret_keys).dumps(visitor_id)


class _Uncompressed(URLSafeSerializer):
    """itsdangerous's URL-safe serializer without its zlib attempt when signing.

    Our cookies are short (an id; a few pending page views): compression saves
    little and zlib's set-up costs more than the rest of the signing. Reading
    is unchanged, so a compressed cookie of an earlier version still loads.
    """

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


@functools.lru_cache(maxsize=16)
def _serializer(secret_keys: tuple[str, ...], salt: str = "tessera-visitor") -> URLSafeSerializer:
    # itsdangerous takes the keys oldest first and signs with the last.
    return _Uncompressed(list(reversed(secret_keys)), salt=salt)


def read_request(request: Request, *, secret_keys: tuple[str, ...], geo_header: str | None) -> RequestInfo:
    """Read every personalization input from the request, once."""
    device = _device(request)
    country = None
    if geo_header:
        value = request.headers.get(geo_header, "").strip().upper()
        country = value if _COUNTRY.match(value) and value not in ("XX", "T1") else None
    else:
        country = client_country(request.remote_addr)
    language = None
    best = request.accept_languages.best
    if best and best != "*":
        language = best.split("-")[0].lower()[:8] or None
    referrer = None
    if request.referrer:
        try:
            host = urlsplit(request.referrer).hostname
        except ValueError:
            host = None
        if host and host != request.host.split(":")[0]:
            referrer = host[:100]
    bot = device == "bot"
    return RequestInfo(
        path=request.path,
        method=request.method,
        device=device,
        visitor_id=None if bot else read_visitor_cookie(request, secret_keys),
        pending=() if bot else read_pending_cookie(request, secret_keys),
        gpc=request.headers.get("Sec-GPC", "").strip() == "1",
        timezone=valid_zone(request.cookies.get(TZ_COOKIE)),
        country=country,
        language=language,
        referrer=referrer,
    )


def daypart(hour: int) -> str:
    """morning 05-12, afternoon 12-17, evening 17-22, night 22-05."""
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def local_time(info: RequestInfo, now_utc: datetime, server_zone: str | None) -> tuple[datetime, str | None, str]:
    """The visitor's local time, the zone used and where it came from."""
    if info.timezone:
        return now_utc.astimezone(_zone(info.timezone)), info.timezone, "browser"
    zone = country_zones().get(info.country or "")
    if zone:
        return now_utc.astimezone(_zone(zone)), zone, "country"
    if server_zone and valid_zone(server_zone):
        return now_utc.astimezone(_zone(server_zone)), server_zone, "server"
    local = now_utc.astimezone()
    return local, None, "server"


def build_context(
    info: RequestInfo,
    *,
    visitor_id: str | None,
    returning: bool,
    now_utc: datetime,
    server_zone: str | None,
) -> Context:
    """Combine what the request said with what we know of the visitor."""
    if info.device == "bot":
        return Context(path=info.path, visitor_id=None, device="bot")
    local, zone, source = local_time(info, now_utc.replace(tzinfo=UTC), server_zone)
    return Context(
        path=info.path,
        visitor_id=visitor_id,
        device=info.device,
        daypart=daypart(local.hour),
        hour=local.hour,
        weekend=local.weekday() >= 5,
        timezone=zone,
        timezone_source=source,
        country=info.country,
        language=info.language,
        referrer=info.referrer,
        returning=returning,
        gpc=info.gpc,
        now=now_utc.replace(tzinfo=None),
    )
