"""Who may enter the studio: passwords, the login session and the login rate limit.

Passwords are kept only as Werkzeug's salted scrypt hashes. A login lives in
Flask's signed session cookie (HttpOnly, SameSite=Lax, set up by
``create_app``) together with a fingerprint of the account's password hash, so
changing the password or removing the account ends every session at once;
a session also ends after ``SESSION_HOURS``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from datetime import datetime, timedelta

from flask import current_app, session
from werkzeug.security import check_password_hash, generate_password_hash

from app import store
from app.store import studio as queries
from app.store.models import StudioUser

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
SESSION_HOURS = 12
#: Login attempts a minute, per account and per client address (whether they succeed or not).
LIMIT_PER_ACCOUNT = 5
LIMIT_PER_ADDRESS = 20
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")

_USER = "studio_user"
_STAMP = "studio_stamp"
_SINCE = "studio_since"


class AccountError(ValueError):
    """An account could not be created or changed; the message says why, in words."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    email = normalize_email(email)
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError(f"'{email}' is not an email address like editor@example.com")
    return email


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password may be at most {MAX_PASSWORD} characters long")
    return generate_password_hash(password)


def add_user(email: str, password: str, now: datetime) -> StudioUser:
    email = check_email(email)
    if queries.find_user(email) is not None:
        raise AccountError(f"{email} already has an account; use 'flask studio set-password' to change it")
    return queries.add_user(email, hash_password(password), now)


def set_password(email: str, password: str) -> None:
    user = queries.find_user(normalize_email(email))
    if user is None:
        raise AccountError(f"{normalize_email(email)} has no account")
    queries.set_password(user, hash_password(password))


@functools.cache
def _dummy_hash() -> str:
    """Checked when the account does not exist, so a wrong address costs the same time as a wrong password."""
    return generate_password_hash("not anyone's password")


def authenticate(email: str, password: str) -> StudioUser | None:
    """The account, when the password is right; the same work is done when the account does not exist."""
    user = queries.find_user(normalize_email(email)) if len(password) <= MAX_PASSWORD else None
    if user is None:
        check_password_hash(_dummy_hash(), password[:MAX_PASSWORD])
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _keyed(kind: str, value: str) -> str:
    # A keyed hash: limits hold per address and per account, and neither is stored.
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), value.encode(), hashlib.sha256)
    return f"studio-login:{kind}:{digest.hexdigest()[:32]}"


def login_wait(email: str, address: str | None, now: datetime) -> int | None:
    """Count a login attempt; None when it may go ahead, else the seconds to wait (shared by every worker)."""
    limits = [
        (_keyed("account", normalize_email(email)), LIMIT_PER_ACCOUNT),
        (_keyed("address", address or ""), LIMIT_PER_ADDRESS),
    ]
    return store.hit_rate_limits(limits, now)


def _stamp(user: StudioUser) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def start_session(user: StudioUser, now: datetime) -> None:
    """Log in: a fresh session (nothing carried over from before the login)."""
    session.clear()
    session[_USER] = user.id
    session[_STAMP] = _stamp(user)
    session[_SINCE] = now.isoformat()
    queries.record_login(user, now)


def end_session() -> None:
    for key in (_USER, _STAMP, _SINCE):
        session.pop(key, None)


def current_user(now: datetime) -> StudioUser | None:
    """The editor logged in on this request, or None (no session, expired, password changed, account removed)."""
    user_id = session.get(_USER)
    if not isinstance(user_id, int):
        return None
    try:
        since = datetime.fromisoformat(str(session.get(_SINCE)))
    except ValueError:
        return None
    if now - since > timedelta(hours=SESSION_HOURS):
        return None
    user = queries.get_user(user_id)
    if user is None or not hmac.compare_digest(_stamp(user), str(session.get(_STAMP, ""))):
        return None
    return user
