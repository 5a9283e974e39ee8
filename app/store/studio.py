"""The studio's reads and writes: editors' accounts, the QA-link key, and what the reports chart.

Nothing here touches visitor data except to read it in aggregate for the
reports; the studio never writes an exposure, event, profile or score.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from app.extensions import db
from app.store.models import Allocation, Conversion, Exposure, JobRun, MLModel, StudioKey, StudioUser

# ---------------------------------------------------------------- accounts


def find_user(email: str) -> StudioUser | None:
    return db.session.scalar(select(StudioUser).where(StudioUser.email == email))


def get_user(user_id: int) -> StudioUser | None:
    return db.session.get(StudioUser, user_id)


def add_user(email: str, password_hash: str, now: datetime) -> StudioUser:
    user = StudioUser(email=email, password_hash=password_hash, created_at=now)
    db.session.add(user)
    db.session.commit()
    return user


def set_password(user: StudioUser, password_hash: str) -> None:
    user.password_hash = password_hash
    db.session.commit()


def remove_user(email: str) -> bool:
    removed = db.session.execute(delete(StudioUser).where(StudioUser.email == email)).rowcount
    db.session.commit()
    return bool(removed)


def record_login(user: StudioUser, now: datetime) -> None:
    user.last_login_at = now
    db.session.commit()


# ------------------------------------------------------------------ QA key


def newest_qa_key() -> str | None:
    """The key that signs and verifies QA links now (None before the first link is made)."""
    return db.session.scalar(select(StudioKey.secret).order_by(StudioKey.id.desc()).limit(1))


def rotate_qa_key(now: datetime) -> str:
    """A new key: every QA link signed with an older one stops working at once."""
    key = StudioKey(secret=secrets.token_hex(32), created_at=now)
    db.session.add(key)
    db.session.commit()
    return key.secret


# ----------------------------------------------------------------- reports


def release() -> None:
    """End this request's session now: the work that follows (charts, coverage) holds no connection.

    Loaded rows stay readable. A request's connection is shut down when the
    request outlives its database deadline, even while it is idle.
    """
    db.session.close()


@dataclass(frozen=True)
class FirstVisit:
    """A visitor first exposed in the period: when, in which group, and their first sign-up after it."""

    at: datetime
    holdout: bool
    converted_at: datetime | None


def first_visits(since: datetime, until: datetime) -> list[FirstVisit]:
    """Every visitor whose first exposure in [since, until) is there, oldest first (one query)."""
    exposures = Exposure.__table__
    first = (
        select(exposures.c.visitor_id, func.min(exposures.c.id).label("first_id"))
        .where(exposures.c.created_at >= since, exposures.c.created_at < until)
        .group_by(exposures.c.visitor_id)
        .subquery()
    )
    signups = (
        select(Conversion.visitor_id, func.min(Conversion.created_at).label("at"))
        .where(Conversion.goal == "signup", Conversion.created_at >= since)
        .group_by(Conversion.visitor_id)
        .subquery()
    )
    query = (
        select(exposures.c.created_at, exposures.c.holdout, signups.c.at)
        .join(first, exposures.c.id == first.c.first_id)
        .outerjoin(signups, signups.c.visitor_id == first.c.visitor_id)
        .order_by(exposures.c.created_at)
    )
    return [FirstVisit(at, bool(holdout), converted) for at, holdout, converted in db.session.execute(query)]


def allocation_history(until: datetime) -> dict[str, list[tuple[int, datetime, dict[str, Any]]]]:
    """Every published allocation up to ``until``, per block, oldest first: (version, published, table)."""
    rows = db.session.execute(
        select(Allocation.block, Allocation.version, Allocation.created_at, Allocation.table)
        .where(Allocation.created_at < until)
        .order_by(Allocation.block, Allocation.version)
    )
    found: dict[str, list[tuple[int, datetime, dict[str, Any]]]] = {}
    for block, version, created_at, table in rows:
        found.setdefault(block, []).append((int(version), created_at, dict(table)))
    return found


def model_history() -> dict[str, Sequence[MLModel]]:
    """Every trained model version, per kind, oldest first."""
    found: dict[str, list[MLModel]] = {}
    for model in db.session.scalars(select(MLModel).order_by(MLModel.kind, MLModel.version)):
        found.setdefault(model.kind, []).append(model)
    return found


def published_versions() -> dict[str, int]:
    """The version of each kind of model that serves now (the newest published)."""
    rows = db.session.execute(
        select(MLModel.kind, func.max(MLModel.version)).where(MLModel.status == "published").group_by(MLModel.kind)
    )
    return {kind: int(version) for kind, version in rows}


def job_runs(limit: int) -> Sequence[JobRun]:
    """The newest ``limit`` job runs, oldest first."""
    newest = db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
    return list(reversed(newest))
