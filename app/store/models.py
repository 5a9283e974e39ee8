"""Database tables. Rows stay in the store and the web glue; the engine never sees them.

No raw IP address is stored anywhere: the client address is only used, in
memory, to look up a country.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id.
BigId = BigInteger().with_variant(Integer, "sqlite")


class Visitor(db.Model):  # type: ignore[name-defined,misc]
    """An anonymous visitor and their personalization settings.

    A setting is None until the visitor chooses, so the default (and Sec-GPC)
    can apply; an explicit choice always wins.
    """

    __tablename__ = "visitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    visits: Mapped[int] = mapped_column(Integer, default=1)
    contextual: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    behavioral: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    predictive: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Exposure(db.Model):  # type: ignore[name-defined,misc]
    """One page render: which variant of every block was shown, from which layer."""

    __tablename__ = "exposures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(200))
    holdout: Mapped[bool] = mapped_column(Boolean)
    #: [{"block": ..., "variant": ..., "layer": ...}, ...] in render order.
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Conversion(db.Model):  # type: ignore[name-defined,misc]
    """A goal reached, recorded by the server at the real goal action."""

    __tablename__ = "conversions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    goal: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(200))
    holdout: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Signup(db.Model):  # type: ignore[name-defined,misc]
    """What the visitor typed into the sign-up form."""

    __tablename__ = "signups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254))
    company_size: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class BotRequests(db.Model):  # type: ignore[name-defined,misc]
    """An aggregate count of bot page requests per day: nothing about any one bot."""

    __tablename__ = "bot_requests"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
