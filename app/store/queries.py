"""The store's reads and writes. Each request does one read and one short write transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.engine import PageDecision
from app.extensions import db
from app.store.models import BotRequests, Conversion, Exposure, Signup, Visitor

#: Requests further apart than this start a new visit.
VISIT_GAP = timedelta(minutes=30)


def load_visitor(visitor_id: str) -> Visitor | None:
    """The visitor row, or None for an id we do not know (new, or erased)."""
    return db.session.get(Visitor, visitor_id)


def _touch(visitor_id: str, visitor: Visitor | None, now: datetime) -> Visitor:
    if visitor is None:
        visitor = Visitor(id=visitor_id, created_at=now, last_seen_at=now, visits=1)
        db.session.add(visitor)
        # The visitor row must exist before rows that reference it (same transaction).
        db.session.flush()
    else:
        if now - visitor.last_seen_at > VISIT_GAP:
            visitor.visits += 1
        visitor.last_seen_at = now
    return visitor


def record_render(visitor_id: str, visitor: Visitor | None, decision: PageDecision, now: datetime) -> None:
    """Record a page render as one exposure row (all blocks in it) in one short transaction."""
    _touch(visitor_id, visitor, now)
    db.session.add(
        Exposure(
            visitor_id=visitor_id,
            path=decision.path,
            holdout=decision.holdout,
            blocks=[{"block": b.block, "variant": b.variant.id, "layer": b.layer} for b in decision.blocks],
            created_at=now,
        )
    )
    db.session.commit()


def record_conversion(
    visitor_id: str,
    visitor: Visitor | None,
    *,
    goal: str,
    path: str,
    holdout: bool,
    signup: dict[str, str],
    now: datetime,
) -> None:
    """Record the sign-up and its conversion together, or neither."""
    _touch(visitor_id, visitor, now)
    db.session.add(Signup(visitor_id=visitor_id, created_at=now, **signup))
    db.session.add(Conversion(visitor_id=visitor_id, goal=goal, path=path, holdout=holdout, created_at=now))
    db.session.commit()


def count_bot_request(today: date) -> None:
    """Add one to today's aggregate bot count (an upsert, safe across processes)."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(BotRequests).values(day=today, requests=1)
    statement = statement.on_conflict_do_update(
        index_elements=[BotRequests.day], set_={"requests": BotRequests.requests + 1}
    )
    db.session.execute(statement)
    db.session.commit()


def save_preferences(
    visitor_id: str, visitor: Visitor | None, settings: dict[str, bool], now: datetime
) -> None:
    """Store the visitor's explicit choice for every layer."""
    visitor = _touch(visitor_id, visitor, now)
    visitor.contextual = settings["contextual"]
    visitor.behavioral = settings["behavioral"]
    visitor.predictive = settings["predictive"]
    db.session.commit()


def reset_history(visitor_id: str) -> None:
    """Forget what the visitor did (page views and visit count); keep settings and sign-ups."""
    db.session.execute(delete(Exposure).where(Exposure.visitor_id == visitor_id))
    visitor = db.session.get(Visitor, visitor_id)
    if visitor is not None:
        visitor.visits = 1
    db.session.commit()


def erase_visitor(visitor_id: str) -> None:
    """Delete every row about the visitor, in one transaction."""
    for model in (Exposure, Conversion, Signup):
        db.session.execute(delete(model).where(model.visitor_id == visitor_id))
    db.session.execute(delete(Visitor).where(Visitor.id == visitor_id))
    db.session.commit()


def stored_counts(visitor_id: str) -> dict[str, int]:
    """How many records of each kind we hold about the visitor."""
    counts = {}
    for label, model in (("page views", Exposure), ("conversions", Conversion), ("sign-ups", Signup)):
        counts[label] = (
            db.session.scalar(select(func.count()).select_from(model).where(model.visitor_id == visitor_id))
            or 0
        )
    return counts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def export_visitor(visitor_id: str) -> dict[str, Any]:
    """Everything stored about the visitor, as plain JSON-ready data."""
    visitor = db.session.get(Visitor, visitor_id)
    exposures = db.session.scalars(
        select(Exposure).where(Exposure.visitor_id == visitor_id).order_by(Exposure.id)
    ).all()
    conversions = db.session.scalars(
        select(Conversion).where(Conversion.visitor_id == visitor_id).order_by(Conversion.id)
    ).all()
    signups = db.session.scalars(
        select(Signup).where(Signup.visitor_id == visitor_id).order_by(Signup.id)
    ).all()
    return {
        "visitor_id": visitor_id,
        "visitor": None
        if visitor is None
        else {
            "first_seen": _iso(visitor.created_at),
            "last_seen": _iso(visitor.last_seen_at),
            "visits": visitor.visits,
            "settings": {
                "contextual": visitor.contextual,
                "behavioral": visitor.behavioral,
                "predictive": visitor.predictive,
            },
        },
        "page_views": [
            {"path": e.path, "at": _iso(e.created_at), "holdout": e.holdout, "blocks": e.blocks}
            for e in exposures
        ],
        "conversions": [
            {"goal": c.goal, "path": c.path, "at": _iso(c.created_at), "holdout": c.holdout}
            for c in conversions
        ],
        "signups": [
            {"name": s.name, "email": s.email, "company_size": s.company_size, "at": _iso(s.created_at)}
            for s in signups
        ],
    }
