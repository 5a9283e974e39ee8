"""Database tables. Rows stay in the store and the web glue; the engine never sees them.

No raw IP address is stored anywhere: the client address is only used, in
memory, to look up a country.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
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
    #: Whether the browser sent Sec-GPC on the last request (training honours it).
    gpc: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The holdout group, fixed at the visitor's first exposure (None before it), so
    #: changing the holdout share later never moves anyone between groups.
    holdout: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: When the visit before the current one ended (recency).
    previous_visit_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    # The behavioral profile, kept as running totals so every update is an
    # increment in SQL (no lost updates between concurrent requests).
    page_views: Mapped[int] = mapped_column(Integer, default=0)
    pricing_views: Mapped[int] = mapped_column(Integer, default=0)
    articles_read: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    scroll_total: Mapped[int] = mapped_column(Integer, default=0)
    scroll_samples: Mapped[int] = mapped_column(Integer, default=0)
    dwell_ms_total: Mapped[int] = mapped_column(BigInteger, default=0)
    dwell_samples: Mapped[int] = mapped_column(Integer, default=0)
    converted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_article: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: The last pages viewed, newest first.
    recent_pages: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Every distinct guide read (paths), so "three guides" means three different guides.
    guides_read: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class TopicInterest(db.Model):  # type: ignore[name-defined,misc]
    """A visitor's interest in one topic, decaying over time.

    ``score`` is stored on a growing scale (each addition is multiplied by
    2^(t/half-life) from a fixed epoch), so adding is a plain SQL increment
    and the current value is ``score * 2^(-now/half-life)``.
    """

    __tablename__ = "topic_interests"

    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    articles: Mapped[int] = mapped_column(Integer, default=0)


class Event(db.Model):  # type: ignore[name-defined,misc]
    """A raw beacon event; deleted after the retention period, the profile stays."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("visitor_id", "event_id", name="uq_events_visitor_event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(10))
    page: Mapped[str] = mapped_column(String(200))
    block: Mapped[str | None] = mapped_column(String(80), nullable=True)
    variant: Mapped[str | None] = mapped_column(String(80), nullable=True)
    target: Mapped[str | None] = mapped_column(String(32), nullable=True)
    depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The server's clock, never the client's.
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class RateLimit(db.Model):  # type: ignore[name-defined,misc]
    """Request counts per key and minute, shared by every process and host.

    Keys are ``visitor:<id>`` or ``address:<keyed hash>``: never a raw address.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Exposure(db.Model):  # type: ignore[name-defined,misc]
    """One page render: which variant of every block was shown, why, and the decision's coarse context.

    The context is what segments need and nothing finer: no address, no raw
    User-Agent, no time finer than the daypart.
    """

    __tablename__ = "exposures"
    __table_args__ = (UniqueConstraint("key", name="uq_exposures_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The render's own id, made when the page was rendered: writing it twice is harmless.
    key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(200))
    holdout: Mapped[bool] = mapped_column(Boolean)
    #: In render order: {"block", "variant", "layer"} and, where they apply, "rule" (the rule
    #: that chose the variant), "test" (the rule whose test the visitor is in), "control",
    #: "p" (the propensity), "strategy", "segment" and "allocation".
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    device: Mapped[str | None] = mapped_column(String(10), nullable=True)
    daypart: Mapped[str | None] = mapped_column(String(10), nullable=True)
    weekend: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    returning_visitor: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: The layers allowed to act, comma-separated ("" for none: holdout, all off).
    layers: Mapped[str | None] = mapped_column(String(40), nullable=True)
    #: Whether a behavioral leading topic, and a model score, existed for the decision.
    top_topic: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    scored: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Decision(db.Model):  # type: ignore[name-defined,misc]
    """A randomized block decision, one row each, for the reports and the learn job.

    A rule's test assignment (the visitor in its control group or not) or a
    learning block's draw, with the probability of what was shown. The same
    facts are in the exposure's ``blocks``; this table is what analysis reads.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exposure_id: Mapped[int] = mapped_column(ForeignKey("exposures.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    path: Mapped[str] = mapped_column(String(200))
    block: Mapped[str] = mapped_column(String(80))
    variant: Mapped[str] = mapped_column(String(80))
    #: The rule that chose the shown variant (``block/variant``), or None for the default.
    rule: Mapped[str | None] = mapped_column(String(170), nullable=True)
    #: The rule whose test the visitor is in here (the first that matched), or None.
    test: Mapped[str | None] = mapped_column(String(170), nullable=True, index=True)
    control: Mapped[bool] = mapped_column(Boolean, default=False)
    propensity: Mapped[float] = mapped_column(Float)
    strategy: Mapped[str] = mapped_column(String(10))
    segment: Mapped[str | None] = mapped_column(String(200), nullable=True)
    allocation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: A learning draw's eligible candidates (space-separated): what another policy could have shown.
    candidates: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (Index("ix_decisions_block_created_at", "block", "created_at"),)


class Allocation(db.Model):  # type: ignore[name-defined,misc]
    """A learning block's allocation, published by the learn job; the newest version of a block serves."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("block", "version", name="uq_allocations_block_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    block: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: {"by": [...], "segments": {segment: {variant: share}}, "overall": {variant: share}}
    table: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: What the report shows: per segment and candidate, visitors, goals, posterior mean and interval.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class PausedRule(db.Model):  # type: ignore[name-defined,misc]
    """A rule whose test showed it hurts, paused until its file changes (a new fingerprint)."""

    __tablename__ = "paused_rules"
    __table_args__ = (UniqueConstraint("rule", "fingerprint", name="uq_paused_rules_rule_fingerprint"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(170))
    fingerprint: Mapped[str] = mapped_column(String(16))
    paused_at: Mapped[datetime] = mapped_column(DateTime)
    #: The evidence, in words and numbers (goal, rates, lift and its interval, sizes).
    reason: Mapped[str] = mapped_column(String(500))


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


class JobRun(db.Model):  # type: ignore[name-defined,misc]
    """One run of a scheduled job; (job, slot) is unique, so a slot runs once.

    A running run holds a lease that its owner renews while it works; a run
    whose lease ran out (its process was killed) is taken over and redone.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(40))
    slot: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    #: While running: the owner is alive until then (renewed by a heartbeat).
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MLModel(db.Model):  # type: ignore[name-defined,misc]
    """A trained model version with its metrics; the newest published one per kind serves."""

    __tablename__ = "ml_models"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_ml_models_kind_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    #: published, rejected (not better than the baseline, or too little data) or failed
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: What scoring needs, as plain numbers: feature names, scaler, coefficients, classes.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Score(db.Model):  # type: ignore[name-defined,misc]
    """A visitor's latest batch scores; read with the profile, never computed per request."""

    __tablename__ = "scores"

    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"), primary_key=True)
    convert: Mapped[float | None] = mapped_column(Float, nullable=True)
    churn: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: topic -> probability that the visitor's next guide is about it
    affinity: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    #: kind -> version that produced the score
    models: Mapped[dict[str, int]] = mapped_column(JSON)
    scored_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class StudioUser(db.Model):  # type: ignore[name-defined,misc]
    """An editor's account for the studio, created on the command line (``flask studio add-user``).

    Only a salted, slow hash of the password is kept (Werkzeug's scrypt).
    """

    __tablename__ = "studio_users"
    __table_args__ = (UniqueConstraint("email", name="uq_studio_users_email"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class StudioKey(db.Model):  # type: ignore[name-defined,misc]
    """The key that signs the studio's QA links: only the newest verifies, so adding one revokes every link."""

    __tablename__ = "studio_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ErasedVisitor(db.Model):  # type: ignore[name-defined,misc]
    """A visitor erased recently: writes of theirs still on their way are dropped, not applied.

    Only the random id and the time; kept a day (the purge job), longer than any write waits.
    """

    __tablename__ = "erased_visitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime, index=True)
