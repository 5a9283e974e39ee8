"""QA links: a preview anyone may open without an account, until it expires or the key is rotated.

The link carries the preview's inputs and its expiry, signed with the newest
key in ``studio_keys`` (itsdangerous, its own salt). Nothing is stored per
link: rotating the key (``flask studio rotate-qa-key`` or the studio's QA
page) revokes every link at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

#: How long a new link may live, as the form offers it.
LIFETIMES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
LIFETIME_WORDS = {"1h": "1 hour", "1d": "1 day", "7d": "7 days", "30d": "30 days"}
_SALT = "tessera-studio-qa"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def sign(query: dict[str, str], expires: datetime, secret: str) -> str:
    """A token for the preview ``query`` that is valid until ``expires`` (naive UTC)."""
    return _serializer(secret).dumps({"q": query, "e": _epoch(expires)})


def verify(token: str, secret: str, now: datetime) -> tuple[dict[str, str], datetime] | None:
    """The preview's query and expiry, or None when the token is forged, from an old key or expired."""
    if len(token) > 4096:
        return None
    try:
        payload: Any = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("q"), dict) or not isinstance(payload.get("e"), int):
        return None
    expires = datetime.fromtimestamp(payload["e"], UTC).replace(tzinfo=None)
    if now >= expires:
        return None
    query = {str(k): str(v) for k, v in payload["q"].items()}
    return query, expires
