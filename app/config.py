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


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder.

    A generated key survives restarts, so visitors keep their id and settings.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def from_environment(instance_path: Path, *, need_secret: bool = True) -> dict[str, Any]:
    """The settings documented in the README's configuration table."""
    return {
        "SECRET_KEY": _secret_key(instance_path) if need_secret else None,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'tessera.sqlite'}",
        "HOLDOUT_SHARE": _float("TESSERA_HOLDOUT_SHARE", 0.10),
        "GEO_HEADER": os.environ.get("TESSERA_GEO_HEADER") or None,
        "PROXY_HOPS": _int("TESSERA_PROXY_HOPS", 0),
        "SERVER_TIMEZONE": os.environ.get("TESSERA_SERVER_TIMEZONE") or None,
        "COOKIE_SECURE": os.environ.get("TESSERA_COOKIE_SECURE", "").lower() in ("1", "true", "yes"),
        "SCHEDULER": os.environ.get("TESSERA_SCHEDULER", "in-process"),
        "PURGE_INTERVAL": _int("TESSERA_PURGE_INTERVAL", 3600),
        "MIN_EVIDENCE": _int("TESSERA_MIN_EVIDENCE", 3),
        "EVENT_RETENTION_DAYS": _int("TESSERA_EVENT_RETENTION_DAYS", 90),
        "RATE_LIMIT_VISITOR": _int("TESSERA_RATE_LIMIT_VISITOR", 60),
        "RATE_LIMIT_ADDRESS": _int("TESSERA_RATE_LIMIT_ADDRESS", 600),
        "SCORE_MAX_AGE_HOURS": _int("TESSERA_SCORE_MAX_AGE_HOURS", 36),
        "ONLINE_SCORING": os.environ.get("TESSERA_ONLINE_SCORING", "1").lower() not in ("0", "false", "no"),
        "PREDICTION_WINDOW_DAYS": _int("TESSERA_PREDICTION_WINDOW_DAYS", 2),
        "ACTIVE_DAYS": _int("TESSERA_ACTIVE_DAYS", 30),
        "TRAIN_INTERVAL": _int("TESSERA_TRAIN_INTERVAL", 24 * 3600),
        "SCORE_INTERVAL": _int("TESSERA_SCORE_INTERVAL", 3600),
        "CLOCK": None,
        "VISITOR_IDS": None,
        "CONTENT_ROOT": os.environ.get("TESSERA_CONTENT_ROOT") or str(ROOT),
        "CONTENT_WATCH": os.environ.get("TESSERA_CONTENT_WATCH", "").lower() in ("1", "true", "yes"),
    }
