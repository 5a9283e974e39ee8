"""The store's reads and writes.

A page request does one read (the visitor with their whole profile) and one
short write transaction. Profile totals are updated with SQL increments, so
concurrent requests of the same visitor never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.engine import PageDecision
from app.engine.profile import WEIGHTS, ProfileFacts, growth
from app.extensions import db
from app.store.models import (
    BotRequests,
    Conversion,
    Event,
    Exposure,
    RateLimit,
    Score,
    Signup,
    TopicInterest,
    Visitor,
)

#: Requests further apart than this start a new visit.
VISIT_GAP = timedelta(minutes=30)
#: How many recent pages the profile keeps.
RECENT_PAGES = 10


def _insert(model: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


_V = Visitor.__table__
_EXPOSURES = Exposure.__table__
_STATEMENTS: dict[tuple[str, str, str], Any] = {}


def _upsert_increment(
    model: Any, keys: tuple[str, ...], increments: tuple[str, ...], returning: str | None = None
) -> Any:
    """A cached INSERT .. ON CONFLICT (keys) DO UPDATE SET col = col + excluded.col.

    Built once per dialect and table, executed with parameters (many rows at
    once where there are many): hot paths pay no statement construction.
    """
    dialect = db.session.get_bind().dialect.name
    cache_key = (dialect, model.__tablename__, returning or "")
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        table = model.__table__
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c: table.c[c] + insert.excluded[c] for c in increments},
        )
        if returning:
            statement = statement.returning(table.c[returning])
        _STATEMENTS[cache_key] = statement
    return statement


def _upsert_replace(model: Any, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """A cached INSERT .. ON CONFLICT (keys) DO UPDATE SET col = excluded.col."""
    dialect = db.session.get_bind().dialect.name
    cache_key = (dialect, model.__tablename__, "replace")
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        table = model.__table__
        insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys], set_={c: insert.excluded[c] for c in columns}
        )
        _STATEMENTS[cache_key] = statement
    return statement


def _update(model: Any) -> Any:
    """An UPDATE that leaves the session's objects alone (rows never outlive the read)."""
    return update(model).execution_options(synchronize_session=False)


@dataclass(frozen=True)
class VisitorState:
    """What we hold about a visitor, read in one query, as plain values."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    visits: int
    contextual: bool | None
    behavioral: bool | None
    predictive: bool | None
    facts: ProfileFacts = field(default_factory=ProfileFacts)
    scores: StoredScores | None = None


@dataclass(frozen=True)
class StoredScores:
    """The visitor's latest batch scores and the model versions behind them."""

    convert: float | None
    churn: float | None
    affinity: dict[str, float] | None
    models: dict[str, int]
    scored_at: datetime


_VISITOR_COLUMNS = (
    "id", "created_at", "last_seen_at", "visits", "contextual", "behavioral", "predictive",
    "previous_visit_at", "page_views", "pricing_views", "articles_read", "clicks", "scroll_total",
    "scroll_samples", "dwell_ms_total", "dwell_samples", "converted", "last_article", "recent_pages",
)  # fmt: skip


#: Profile totals read as they are stored (the rest need a conversion).
_FACT_COLUMNS = (
    "visits", "page_views", "pricing_views", "articles_read", "clicks", "scroll_total", "scroll_samples",
    "dwell_ms_total", "dwell_samples", "converted", "last_article", "previous_visit_at",
)  # fmt: skip


def load_visitor(visitor_id: str) -> VisitorState | None:
    """The visitor and their whole profile in one query, or None for an unknown id.

    A Core query into plain values (no ORM objects to track): this runs on
    every request.
    """
    visitors, interests, scores = Visitor.__table__, TopicInterest.__table__, Score.__table__
    rows = db.session.execute(
        select(
            *(visitors.c[name] for name in _VISITOR_COLUMNS),
            interests.c.topic,
            interests.c.score,
            interests.c.articles,
            scores.c.convert,
            scores.c.churn,
            scores.c.affinity,
            scores.c.models,
            scores.c.scored_at,
        )
        .outerjoin(interests, interests.c.visitor_id == visitors.c.id)
        .outerjoin(scores, scores.c.visitor_id == visitors.c.id)
        .where(visitors.c.id == visitor_id)
    ).all()
    # End the read here: the write that follows starts its own short transaction.
    db.session.rollback()
    if not rows:
        return None
    v = dict(zip(_VISITOR_COLUMNS, rows[0], strict=False))
    topics = {row.topic: (row.score, row.articles) for row in rows if row.topic is not None}
    first = rows[0]
    stored = (
        StoredScores(first.convert, first.churn, first.affinity, first.models or {}, first.scored_at)
        if first.scored_at is not None
        else None
    )
    return VisitorState(
        scores=stored,
        **{name: v[name] for name in ("id", "created_at", "last_seen_at", "visits", "contextual", "behavioral",
                                      "predictive")},
        facts=ProfileFacts(
            **{name: v[name] for name in _FACT_COLUMNS},
            recent_pages=tuple(v["recent_pages"] or ()),
            interests=topics,
        ),
    )  # fmt: skip


def _touch(visitor_id: str, state: VisitorState | None, now: datetime) -> None:
    """Create the visitor, or count a new visit after a gap."""
    if state is None:
        db.session.execute(
            _insert(Visitor)
            .values(id=visitor_id, created_at=now, last_seen_at=now, visits=1, recent_pages=[])
            .on_conflict_do_nothing(index_elements=[Visitor.id])
        )
        return
    values: dict[str, Any] = {"last_seen_at": now}
    if now - state.last_seen_at > VISIT_GAP:
        values.update(visits=Visitor.visits + 1, previous_visit_at=state.last_seen_at)
    db.session.execute(_update(Visitor).where(Visitor.id == visitor_id).values(**values))


def _add_interest(visitor_id: str, deltas: dict[str, tuple[float, int]]) -> None:
    """Add to topic interests: an upsert whose update is a plain increment."""
    if not deltas:
        return
    statement = _upsert_increment(TopicInterest, ("visitor_id", "topic"), ("score", "articles"))
    db.session.connection().execute(
        statement,
        [
            {"visitor_id": visitor_id, "topic": topic, "score": score, "articles": articles}
            for topic, (score, articles) in sorted(deltas.items())
        ],
    )


@dataclass(frozen=True)
class PageView:
    """What the profile learns from a page render."""

    path: str
    topics: tuple[str, ...]
    article: bool
    pricing: bool


def record_render(
    visitor_id: str,
    state: VisitorState | None,
    decision: PageDecision,
    now: datetime,
    *,
    view: PageView,
    profile: bool,
    gpc: bool = False,
) -> None:
    """Record a render: the exposure (every block in one row) and, with ``profile``, the page view.

    One short transaction: one statement for the visitor (visit, recency and
    profile together), one for the exposure, and one upsert when the page has
    topics. ``profile`` is False when the visitor switched behavioral
    personalization off: then no profile is built.
    """
    connection = db.session.connection()
    counts: dict[str, Any] = {}
    if profile:
        recent = [view.path, *(p for p in (state.facts.recent_pages if state else ()) if p != view.path)]
        counts = {"page_views": 1, "recent_pages": recent[:RECENT_PAGES]}
        if view.pricing:
            counts["pricing_views"] = 1
        if view.article:
            counts.update(articles_read=1, last_article=view.path)
    if state is None:
        connection.execute(
            _insert(_V)
            .values(id=visitor_id, created_at=now, last_seen_at=now, visits=1, gpc=gpc,
                    **{"recent_pages": [], **counts})
            .on_conflict_do_nothing(index_elements=[_V.c.id])
        )  # fmt: skip
    else:
        values: dict[str, Any] = {"last_seen_at": now, "gpc": gpc}
        if now - state.last_seen_at > VISIT_GAP:
            values.update(visits=_V.c.visits + 1, previous_visit_at=state.last_seen_at)
        for column, value in counts.items():
            values[column] = _V.c[column] + value if isinstance(value, int) else value
        connection.execute(update(_V).where(_V.c.id == visitor_id).values(values))
    connection.execute(
        _EXPOSURES.insert(),
        {
            "visitor_id": visitor_id,
            "path": decision.path,
            "holdout": decision.holdout,
            "blocks": [{"block": b.block, "variant": b.variant.id, "layer": b.layer} for b in decision.blocks],
            "created_at": now,
        },
    )
    if profile and view.topics:
        weight = WEIGHTS["view"] * growth(now)
        _add_interest(visitor_id, {t: (weight, 1 if view.article else 0) for t in view.topics})
    db.session.commit()


#: The fields of a beacon event as stored and exported (besides id, visitor and time).
EVENT_FIELDS = ("type", "page", "block", "variant", "target", "depth", "ms")


@dataclass(frozen=True)
class NewEvent:
    """A validated beacon event, ready to store."""

    event_id: str
    type: str
    page: str
    block: str | None = None
    variant: str | None = None
    target: str | None = None
    depth: int | None = None
    ms: int | None = None
    #: Topics of the page (dwell, scroll) or block (click), for the profile.
    topics: tuple[str, ...] = ()


def record_events(visitor_id: str, events: Sequence[NewEvent], now: datetime, *, profile: bool) -> set[str]:
    """Store events once each (a retried id is ignored) and fold the new ones into the profile.

    Returns the ids stored by this call. One transaction: all or nothing.
    """
    if not events:
        return set()
    rows = [
        {
            "event_id": e.event_id,
            "visitor_id": visitor_id,
            "created_at": now,
            **{f: getattr(e, f) for f in EVENT_FIELDS},
        }
        for e in events
    ]
    # One cached statement executed for many rows ("insertmanyvalues"): cheap
    # to compile, batched on the wire, and RETURNING says which ids were new.
    table = Event.__table__
    statement = (
        _insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.visitor_id, table.c.event_id])
        .returning(table.c.event_id)
    )
    stored = set(db.session.connection().execute(statement, rows).scalars())
    fresh = [e for e in events if e.event_id in stored]
    if profile and fresh:
        _fold_into_profile(visitor_id, fresh, now)
    db.session.commit()
    return stored


#: Adds a batch's engagement totals to the visitor's profile (built once).
_FOLD = (
    update(_V)
    .where(_V.c.id == bindparam("visitor"))
    .values({c: _V.c[c] + bindparam(c) for c in ("clicks", "scroll_total", "scroll_samples",
                                                   "dwell_ms_total", "dwell_samples")})
)  # fmt: skip


def _fold_into_profile(visitor_id: str, events: Iterable[NewEvent], now: datetime) -> None:
    clicks = scroll_total = scroll_samples = dwell_ms = dwell_samples = 0
    interest: dict[str, float] = {}
    for e in events:
        gain = 0.0
        if e.type == "click":
            clicks += 1
            gain = WEIGHTS["click"]
        elif e.type == "scroll" and e.depth is not None:
            scroll_total += e.depth
            scroll_samples += 1
            gain = WEIGHTS["scroll"] * e.depth / 100
        elif e.type == "dwell" and e.ms is not None:
            dwell_ms += e.ms
            dwell_samples += 1
            gain = WEIGHTS["dwell_minute"] * min(e.ms, 300_000) / 60_000
        for topic in e.topics:
            interest[topic] = interest.get(topic, 0.0) + gain
    db.session.connection().execute(
        _FOLD,
        {
            "visitor": visitor_id,
            "clicks": clicks,
            "scroll_total": scroll_total,
            "scroll_samples": scroll_samples,
            "dwell_ms_total": dwell_ms,
            "dwell_samples": dwell_samples,
        },
    )
    scale = growth(now)
    _add_interest(visitor_id, {t: (g * scale, 0) for t, g in interest.items() if g > 0})


def record_conversion(
    visitor_id: str,
    state: VisitorState | None,
    *,
    goal: str,
    path: str,
    holdout: bool,
    signup: dict[str, str],
    now: datetime,
) -> None:
    """Record the sign-up and its conversion together, or neither."""
    _touch(visitor_id, state, now)
    db.session.add(Signup(visitor_id=visitor_id, created_at=now, **signup))
    db.session.add(Conversion(visitor_id=visitor_id, goal=goal, path=path, holdout=holdout, created_at=now))
    db.session.execute(_update(Visitor).where(Visitor.id == visitor_id).values(converted=True))
    db.session.commit()


def count_bot_request(today: date) -> None:
    """Add one to today's aggregate bot count (an upsert, safe across processes)."""
    statement = _upsert_increment(BotRequests, ("day",), ("requests",))
    db.session.connection().execute(statement, {"day": today, "requests": 1})
    db.session.commit()


def save_preferences(visitor_id: str, state: VisitorState | None, settings: dict[str, bool], now: datetime) -> None:
    """Store the visitor's explicit choice for every layer."""
    _touch(visitor_id, state, now)
    db.session.execute(_update(Visitor).where(Visitor.id == visitor_id).values(**settings))
    db.session.commit()


def reset_history(visitor_id: str) -> None:
    """Forget what the visitor did: page views, events, the profile and visit count.

    Settings and sign-ups stay (a sign-up is an account, not browsing history).
    """
    for model in (Exposure, Event, TopicInterest):
        db.session.execute(delete(model).where(model.visitor_id == visitor_id))
    db.session.execute(
        _update(Visitor)
        .where(Visitor.id == visitor_id)
        .values(
            visits=1,
            previous_visit_at=None,
            page_views=0,
            pricing_views=0,
            articles_read=0,
            clicks=0,
            scroll_total=0,
            scroll_samples=0,
            dwell_ms_total=0,
            dwell_samples=0,
            last_article=None,
            recent_pages=[],
        )
    )
    db.session.commit()


#: Every table that holds rows about a visitor; erasure and export cover all of them.
VISITOR_TABLES = (Exposure, Event, TopicInterest, Score, Conversion, Signup)


def erase_visitor(visitor_id: str) -> None:
    """Delete every row about the visitor, in one transaction."""
    for model in VISITOR_TABLES:
        db.session.execute(delete(model).where(model.visitor_id == visitor_id))
    db.session.execute(delete(RateLimit).where(RateLimit.key == f"visitor:{visitor_id}"))
    db.session.execute(delete(Visitor).where(Visitor.id == visitor_id))
    db.session.commit()


def stored_counts(visitor_id: str) -> dict[str, int]:
    """How many records of each kind we hold about the visitor."""
    counts = {}
    for label, model in (
        ("page views", Exposure),
        ("interactions", Event),
        ("conversions", Conversion),
        ("sign-ups", Signup),
    ):
        counts[label] = (
            db.session.scalar(select(func.count()).select_from(model).where(model.visitor_id == visitor_id)) or 0
        )
    return counts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def export_visitor(visitor_id: str, now: datetime) -> dict[str, Any]:
    """Everything stored about the visitor, as plain JSON-ready data."""
    from app.engine.profile import interest_now

    state = load_visitor(visitor_id)

    def rows(model: Any, order: Any) -> Sequence[Any]:
        return db.session.scalars(select(model).where(model.visitor_id == visitor_id).order_by(order)).all()

    facts = state.facts if state else None
    return {
        "visitor_id": visitor_id,
        "visitor": None
        if state is None
        else {
            "first_seen": _iso(state.created_at),
            "last_seen": _iso(state.last_seen_at),
            "visits": state.visits,
            "settings": {
                "contextual": state.contextual,
                "behavioral": state.behavioral,
                "predictive": state.predictive,
            },
        },
        "profile": None
        if facts is None
        else {
            "pages_viewed": facts.page_views,
            "pricing_views": facts.pricing_views,
            "articles_read": facts.articles_read,
            "clicks": facts.clicks,
            "scroll_samples": facts.scroll_samples,
            "average_scroll_depth": round(facts.scroll_total / facts.scroll_samples, 1)
            if facts.scroll_samples
            else None,
            "dwell_samples": facts.dwell_samples,
            "total_dwell_seconds": round(facts.dwell_ms_total / 1000, 1),
            "converted": facts.converted,
            "last_article": facts.last_article,
            "recent_pages": list(facts.recent_pages),
            "previous_visit": _iso(facts.previous_visit_at),
            "topic_interest": {t: round(v, 3) for t, v in sorted(interest_now(facts, now).items())},
            "guides_read_by_topic": {t: n for t, (_, n) in sorted(facts.interests.items())},
        },
        "scores": None
        if state is None or state.scores is None
        else {
            "convert": state.scores.convert,
            "churn": state.scores.churn,
            "affinity": state.scores.affinity,
            "models": state.scores.models,
            "scored_at": _iso(state.scores.scored_at),
        },
        "page_views": [
            {"path": e.path, "at": _iso(e.created_at), "holdout": e.holdout, "blocks": e.blocks}
            for e in rows(Exposure, Exposure.id)
        ],
        "events": [
            {**{f: getattr(e, f) for f in EVENT_FIELDS}, "at": _iso(e.created_at)} for e in rows(Event, Event.id)
        ],
        "rate_limit_windows": [
            {"window_start": _iso(datetime(1970, 1, 1) + timedelta(minutes=r.window)), "requests": r.count}
            for r in db.session.scalars(select(RateLimit).where(RateLimit.key == f"visitor:{visitor_id}"))
        ],
        "conversions": [
            {"goal": c.goal, "path": c.path, "at": _iso(c.created_at), "holdout": c.holdout}
            for c in rows(Conversion, Conversion.id)
        ],
        "signups": [
            {"name": s.name, "email": s.email, "company_size": s.company_size, "at": _iso(s.created_at)}
            for s in rows(Signup, Signup.id)
        ],
    }


def hit_rate_limits(limits: Sequence[tuple[str, int]], now: datetime) -> int | None:
    """Count one request against each ``(key, per-minute limit)``; shared by all processes.

    Returns None when every key is within its limit, else the seconds until
    the current minute ends (for Retry-After). The counting is an upsert whose
    update is an increment. Over the limit, the count is committed here;
    within it, the count commits with the caller's writes (one transaction).
    """
    window = int((now - datetime(1970, 1, 1)).total_seconds() // 60)
    over = False
    statement = _upsert_increment(RateLimit, ("key", "window"), ("count",), returning="count")
    connection = db.session.connection()
    for key, limit in limits:
        count = connection.execute(statement, {"key": key, "window": window, "count": 1}).scalar()
        over = over or (count or 0) > limit
    if not over:
        return None
    db.session.commit()
    return max(1, 60 - int((now - datetime(1970, 1, 1)).total_seconds()) % 60)


def purge(now: datetime, *, retention: timedelta) -> dict[str, int]:
    """Delete raw events older than ``retention`` and finished rate-limit windows.

    Profiles (the aggregates) are kept. Returns how many rows went.
    """
    events = db.session.execute(delete(Event).where(Event.created_at < now - retention)).rowcount
    current = int((now - datetime(1970, 1, 1)).total_seconds() // 60)
    windows = db.session.execute(delete(RateLimit).where(RateLimit.window < current - 1)).rowcount
    db.session.commit()
    return {"events": events or 0, "rate_limit_windows": windows or 0}
