"""Configuration from the environment, with embedded defaults for a laptop."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a share between 0 and 1, got {raw!r}")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else int(raw)


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    return raw in ("1", "true", "yes", "on")


def _secret_keys(instance_path: Path) -> list[str]:
    """The signing keys, newest first.

    ``SECRET_KEYS`` (comma-separated, newest first: cookies and CSRF tokens
    signed with an older key still verify, new ones use the newest), else
    ``SECRET_KEY``, else one generated once and kept in the instance folder,
    so visitors keep their id across restarts.
    """
    keys = [k.strip() for k in os.environ.get("SECRET_KEYS", "").split(",") if k.strip()]
    if keys:
        return keys
    key = os.environ.get("SECRET_KEY")
    if key:
        return [key]
    return [_generated_key(instance_path / "secret_key")]


def _generated_key(path: Path) -> str:
    """Read the generated key, or create it: atomically, so workers starting together agree.

    The key is written to a private temporary file and linked into place;
    ``link`` fails if another process got there first, and then its key wins.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_hex(32))
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


def from_environment(instance_path: Path, *, need_secret: bool = True) -> dict[str, Any]:
    """The settings documented in the README's configuration table."""
    keys = _secret_keys(instance_path) if need_secret else [None]
    return {
        "SECRET_KEY": keys[0],
        "SECRET_KEY_FALLBACKS": keys[1:],
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'tessera.sqlite'}",
        "HOLDOUT_SHARE": _float("TESSERA_HOLDOUT_SHARE", 0.10),
        "GEO_HEADER": os.environ.get("TESSERA_GEO_HEADER") or None,
        "PROXY_HOPS": _int("TESSERA_PROXY_HOPS", 0),
        "SERVER_TIMEZONE": os.environ.get("TESSERA_SERVER_TIMEZONE") or None,
        "COOKIE_SECURE": _flag("TESSERA_COOKIE_SECURE", False),
        "SCHEDULER": os.environ.get("TESSERA_SCHEDULER", "in-process"),
        "PURGE_INTERVAL": _int("TESSERA_PURGE_INTERVAL", 3600),
        "MIN_EVIDENCE": _int("TESSERA_MIN_EVIDENCE", 3),
        "EVENT_RETENTION_DAYS": _int("TESSERA_EVENT_RETENTION_DAYS", 90),
        "EXPOSURE_RETENTION_DAYS": _int("TESSERA_EXPOSURE_RETENTION_DAYS", 180),
        "CONVERSION_RETENTION_DAYS": _int("TESSERA_CONVERSION_RETENTION_DAYS", 395),
        "VISITOR_RETENTION_DAYS": _int("TESSERA_VISITOR_RETENTION_DAYS", 395),
        "RATE_LIMIT_VISITOR": _int("TESSERA_RATE_LIMIT_VISITOR", 60),
        "RATE_LIMIT_ADDRESS": _int("TESSERA_RATE_LIMIT_ADDRESS", 600),
        "SCORE_MAX_AGE_HOURS": _int("TESSERA_SCORE_MAX_AGE_HOURS", 36),
        "ONLINE_SCORING": _flag("TESSERA_ONLINE_SCORING", True),
        "PREDICTION_WINDOW_DAYS": _int("TESSERA_PREDICTION_WINDOW_DAYS", 2),
        "ACTIVE_DAYS": _int("TESSERA_ACTIVE_DAYS", 30),
        "TRAIN_INTERVAL": _int("TESSERA_TRAIN_INTERVAL", 24 * 3600),
        "LEARN_INTERVAL": _int("TESSERA_LEARN_INTERVAL", 3600),
        "RULE_CONTROL_SHARE": _float("TESSERA_RULE_CONTROL_SHARE", 0.10),
        "RULE_MIN_SAMPLE": _int("TESSERA_RULE_MIN_SAMPLE", 200),
        "SCORE_INTERVAL": _int("TESSERA_SCORE_INTERVAL", 3600),
        "CLOCK": None,
        "VISITOR_IDS": None,
        "CONTENT_ROOT": os.environ.get("TESSERA_CONTENT_ROOT") or str(ROOT),
        "CONTENT_WATCH": _flag("TESSERA_CONTENT_WATCH", False),
        "AUTO_MIGRATE": _flag("TESSERA_AUTO_MIGRATE", True),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "REDIS_PREFIX": os.environ.get("TESSERA_REDIS_PREFIX", "tessera"),
        # Where page views, exposures and events go: a Redis stream with REDIS_URL, else a buffer.
        "WRITES": os.environ.get("TESSERA_WRITES") or ("stream" if os.environ.get("REDIS_URL") else "buffer"),
        # The buffer's flush interval: what a worker killed with -9 can lose at most.
        "FLUSH_SECONDS": float(os.environ.get("TESSERA_FLUSH_SECONDS") or 0.05),
        "DB_TIMEOUT": _int("TESSERA_DB_TIMEOUT", 3),
        "METRICS_TOKEN": os.environ.get("TESSERA_METRICS_TOKEN") or None,
        "LOG_FORMAT": os.environ.get("TESSERA_LOG_FORMAT", "text"),
    }
