"""The store's reads and writes.

A page request does one read (the visitor with their whole profile) and one
short write transaction. Profile totals are updated with SQL increments, so
concurrent requests of the same visitor never overwrite each other.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.engine import PageDecision
from app.engine.profile import WEIGHTS, ProfileFacts, growth
from app.extensions import db
from app.store.models import (
    Allocation,
    BotRequests,
    Conversion,
    Decision,
    ErasedVisitor,
    Event,
    Exposure,
    PausedRule,
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
    #: The holdout group stored at the first exposure; None before it.
    holdout: bool | None = None
    #: Of the pending render keys asked about, those whose writes are stored.
    applied: frozenset[str] = frozenset()
    #: False for a visitor known only from their pending page views (their first write is on its way).
    stored: bool = True
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
    "id", "created_at", "last_seen_at", "visits", "contextual", "behavioral", "predictive", "holdout",
    "previous_visit_at", "page_views", "pricing_views", "articles_read", "clicks", "scroll_total",
    "scroll_samples", "dwell_ms_total", "dwell_samples", "converted", "last_article", "recent_pages", "guides_read",
)  # fmt: skip


#: Profile totals read as they are stored (the rest need a conversion).
_FACT_COLUMNS = (
    "visits", "page_views", "pricing_views", "articles_read", "clicks", "scroll_total", "scroll_samples",
    "dwell_ms_total", "dwell_samples", "converted", "last_article", "previous_visit_at",
)  # fmt: skip


_LOADS: dict[tuple[str, bool], Any] = {}


def _load_statement(dialect: str, pending: bool) -> Any:
    """The visitor read, built once per dialect: the visitor, topic interests and scores in one query.

    With ``pending`` it also says which of the render keys a visitor's pending
    cookie names are already stored (read-your-writes, see ``with_pending``).
    """
    statement = _LOADS.get((dialect, pending))
    if statement is not None:
        return statement
    visitors, interests, scores = Visitor.__table__, TopicInterest.__table__, Score.__table__
    columns = [
        *(visitors.c[name] for name in _VISITOR_COLUMNS),
        interests.c.topic, interests.c.score, interests.c.articles,
        scores.c.convert, scores.c.churn, scores.c.affinity, scores.c.models, scores.c.scored_at,
    ]  # fmt: skip
    if pending:
        keys = _EXPOSURES.c.key
        joined = func.group_concat(keys) if dialect == "sqlite" else func.string_agg(keys, ",")
        columns.append(
            select(joined).where(keys.in_(bindparam("pending", expanding=True))).scalar_subquery().label("applied")
        )
    statement = (
        select(*columns)
        .outerjoin(interests, interests.c.visitor_id == visitors.c.id)
        .outerjoin(scores, scores.c.visitor_id == visitors.c.id)
        .where(visitors.c.id == bindparam("visitor"))
    )
    _LOADS[(dialect, pending)] = statement
    return statement


def load_visitor(visitor_id: str, pending: Sequence[str] = ()) -> VisitorState | None:
    """The visitor and their whole profile in one query, or None for an unknown id.

    A prebuilt Core statement into plain values (no ORM objects to track): this
    runs on every request. ``pending``: render keys whose writes may not have
    landed yet; the state says which did (``applied``).
    """
    engine = db.engine
    statement = _load_statement(engine.dialect.name, bool(pending))
    parameters: dict[str, Any] = {"visitor": visitor_id}
    if pending:
        parameters["pending"] = list(pending)
    # A connection of its own, not the session's: no unit of work to set up. On PostgreSQL the
    # one statement runs in autocommit: no BEGIN before it and no ROLLBACK when the connection
    # goes back to the pool, so the read is one round trip.
    with _read_connection() as connection:
        rows = connection.execute(statement, parameters).all()
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
    applied = frozenset((first.applied or "").split(",")) - {""} if pending else frozenset()
    return VisitorState(
        scores=stored,
        **{name: v[name] for name in ("id", "created_at", "last_seen_at", "visits", "contextual", "behavioral",
                                      "predictive", "holdout")},
        facts=ProfileFacts(
            **{name: v[name] for name in _FACT_COLUMNS},
            recent_pages=tuple(v["recent_pages"] or ()),
            guides_read=tuple(v["guides_read"] or ()),
            interests=topics,
        ),
        applied=applied,
    )  # fmt: skip


@dataclass(frozen=True)
class PendingView:
    """A page view this visitor made whose write may not have landed yet (from their pending cookie)."""

    key: str
    at: datetime
    view: PageView


def with_pending(state: VisitorState, pending: Sequence[PendingView]) -> VisitorState:
    """The state as it will be once the visitor's own pending page views land (read-your-writes).

    The same arithmetic the write applies, done in memory for the views the
    read did not find stored yet.
    """
    facts = state.facts
    last_seen, visits, previous = state.last_seen_at, state.visits, facts.previous_visit_at
    for item in sorted(pending, key=lambda p: p.at):
        if item.key in state.applied:
            continue
        view, at = item.view, item.at
        if at - last_seen > VISIT_GAP:
            visits, previous = visits + 1, last_seen
        last_seen = max(last_seen, at)
        recent = (view.path, *(p for p in facts.recent_pages if p != view.path))[:RECENT_PAGES]
        new_guide = view.article and view.path not in facts.guides_read
        interests = dict(facts.interests)
        weight = WEIGHTS["view"] * growth(at)
        for topic in view.topics:
            score, articles = interests.get(topic, (0.0, 0))
            interests[topic] = (score + weight, articles + (1 if new_guide else 0))
        facts = replace(
            facts,
            visits=visits,
            previous_visit_at=previous,
            page_views=facts.page_views + 1,
            pricing_views=facts.pricing_views + view.pricing,
            articles_read=facts.articles_read + view.article,
            last_article=view.path if view.article else facts.last_article,
            recent_pages=recent,
            guides_read=(*facts.guides_read, view.path) if new_guide else facts.guides_read,
            interests=interests,
        )
    return replace(state, last_seen_at=last_seen, visits=visits, facts=facts)


class VisitorGone(Exception):
    """The visitor was erased while this request was in flight; nothing was written."""


def _touch(visitor_id: str, state: VisitorState | None, now: datetime) -> None:
    """Create the visitor, or count a new visit after a gap; :class:`VisitorGone` if erased meanwhile."""
    if state is None or not state.stored:
        db.session.execute(
            _insert(Visitor)
            .values(id=visitor_id, created_at=now, last_seen_at=now, visits=1, recent_pages=[])
            .on_conflict_do_nothing(index_elements=[Visitor.id])
        )
        return
    values: dict[str, Any] = {"last_seen_at": now}
    if now - state.last_seen_at > VISIT_GAP:
        values.update(visits=Visitor.visits + 1, previous_visit_at=state.last_seen_at)
    if not db.session.execute(_update(Visitor).where(Visitor.id == visitor_id).values(**values)).rowcount:
        db.session.rollback()
        raise VisitorGone(visitor_id)


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


_DECISIONS = Decision.__table__
_EXPOSURE_INSERT = _EXPOSURES.insert().returning(_EXPOSURES.c.id)


@dataclass(frozen=True)
class ExposureContext:
    """The decision's coarse context, stored with the exposure: what segments need, nothing finer."""

    device: str | None
    daypart: str | None
    weekend: bool | None
    country: str | None
    language: str | None
    returning: bool | None
    layers: tuple[str, ...]
    top_topic: bool
    scored: bool

    def columns(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "daypart": self.daypart,
            "weekend": self.weekend,
            "country": self.country,
            "language": self.language,
            "returning_visitor": self.returning,
            "layers": ",".join(self.layers),
            "top_topic": self.top_topic,
            "scored": self.scored,
        }


def _measurement(decision: PageDecision) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the exposure records of every block, and the rows of its randomized decisions."""
    blocks: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for b in decision.blocks:
        record: dict[str, Any] = {"block": b.block, "variant": b.variant.id, "layer": b.layer}
        rule = b.chose.rule if b.chose is not None and b.chose.kind == "rule" else None
        if rule is not None:
            record["rule"] = rule
        randomized = b.test is not None or b.allocation is not None
        if randomized:
            record.update(test=b.test, control=b.control, p=round(b.propensity, 6), strategy=b.strategy)
            if b.allocation is not None:
                record.update(segment=b.segment, allocation=b.allocation)
            rows.append(
                {
                    "block": b.block,
                    "variant": b.variant.id,
                    "rule": rule,
                    "test": b.test,
                    "control": b.control,
                    "propensity": b.propensity,
                    "strategy": b.strategy,
                    "segment": b.segment,
                    "allocation": b.allocation,
                    "candidates": " ".join(b.candidates) or None,
                }
            )
        blocks.append(record)
    return blocks, rows


@dataclass(frozen=True)
class PageView:
    """What the profile learns from a page render."""

    path: str
    topics: tuple[str, ...]
    article: bool
    pricing: bool


def render_write(
    visitor_id: str,
    state: VisitorState | None,
    decision: PageDecision,
    now: datetime,
    *,
    key: str,
    view: PageView,
    profile: bool,
    gpc: bool = False,
    context: ExposureContext | None = None,
) -> dict[str, Any]:
    """The write entry of a render: the exposure (every block), its decisions and, with ``profile``, the page view.

    ``profile`` is False when the visitor switched behavioral personalization
    off: then no profile is built. The visitor's holdout group is stored with
    their first exposure. Applied by ``app.store.writes`` (at once, from the
    buffer or from the stream), idempotently by ``key``.
    """
    from app.store.writes import render_entry

    blocks, decisions = _measurement(decision)
    return render_entry(
        key=key,
        visitor=visitor_id,
        new=state is None or not state.stored,
        at=now,
        gpc=gpc,
        holdout=decision.holdout,
        profile=profile,
        path=view.path,
        topics=view.topics,
        article=view.article,
        pricing=view.pricing,
        blocks=blocks,
        decisions=decisions,
        context=context.columns() if context is not None else {},
    )


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


def known_event_ids(visitor_id: str, event_ids: Sequence[str]) -> set[str]:
    """Which of these event ids the visitor's stored events already have (one indexed read)."""
    if not event_ids:
        return set()
    statement = select(Event.event_id).where(Event.visitor_id == visitor_id, Event.event_id.in_(list(event_ids)))
    with _read_connection() as connection:
        return set(connection.execute(statement).scalars())


@contextlib.contextmanager
def _read_connection() -> Iterator[Any]:
    """A pooled connection for one read on the request path: on PostgreSQL in autocommit (one round trip)."""
    engine = db.engine
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def events_write(visitor_id: str, events: Sequence[NewEvent], now: datetime, *, profile: bool, new: bool) -> dict:  # type: ignore[type-arg]
    """The write entry of a batch of validated events (applied by ``app.store.writes``, idempotently by id)."""
    from app.store.writes import events_entry

    rows = [{"event_id": e.event_id, **{f: getattr(e, f) for f in EVENT_FIELDS}, "topics": list(e.topics)}
            for e in events]  # fmt: skip
    return events_entry(visitor_id, now, rows, profile=profile, new=new)


def record_events(visitor_id: str, events: Sequence[NewEvent], now: datetime, *, profile: bool) -> set[str]:
    """Store events once each (a retried id is ignored) and fold the new ones into the profile.

    Returns the ids stored by this call. One transaction: all or nothing;
    :class:`VisitorGone` when the visitor was erased while the request was in flight.
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
    try:
        stored = set(db.session.connection().execute(statement, rows).scalars())
    except IntegrityError as error:  # the visitor row is gone: the foreign key refuses the events
        db.session.rollback()
        raise VisitorGone(visitor_id) from error
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
    for model in (Decision, Exposure, Event, TopicInterest):
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
VISITOR_TABLES = (Decision, Exposure, Event, TopicInterest, Score, Conversion, Signup)


def erase_visitor(visitor_id: str, *, successor: str | None = None, now: datetime | None = None) -> dict[str, bool]:
    """Delete every row about the visitor, in one transaction.

    With ``successor`` (the visitor's new anonymous id), the layer switches
    they chose explicitly are kept under that id, and nothing else: an
    erasure must not turn back on what they had switched off. Returns the
    settings kept.
    """
    kept: dict[str, bool] = {}
    if successor is not None:
        row = db.session.execute(
            select(_V.c.contextual, _V.c.behavioral, _V.c.predictive).where(_V.c.id == visitor_id)
        ).first()
        if row is not None:
            kept = {layer: value for layer, value in row._mapping.items() if value is not None}
    for model in VISITOR_TABLES:
        db.session.execute(delete(model).where(model.visitor_id == visitor_id))
    db.session.execute(delete(RateLimit).where(RateLimit.key == f"visitor:{visitor_id}"))
    db.session.execute(delete(Visitor).where(Visitor.id == visitor_id))
    # A write of theirs still on its way (the buffer, the stream) must not bring them back.
    db.session.execute(
        _insert(ErasedVisitor)
        .values(id=visitor_id, erased_at=now or datetime.now(UTC).replace(tzinfo=None))
        .on_conflict_do_nothing(index_elements=[ErasedVisitor.id])
    )
    if kept:
        assert successor is not None and now is not None
        db.session.execute(
            _insert(_V).values(id=successor, created_at=now, last_seen_at=now, visits=1, recent_pages=[], **kept)
        )
    db.session.commit()
    return kept


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
            {
                "path": e.path,
                "at": _iso(e.created_at),
                "holdout": e.holdout,
                "blocks": e.blocks,
                "context": {
                    "device": e.device,
                    "daypart": e.daypart,
                    "weekend": e.weekend,
                    "country": e.country,
                    "language": e.language,
                    "returning": e.returning_visitor,
                    "layers": e.layers,
                    "top_topic": e.top_topic,
                    "scored": e.scored,
                },
            }
            for e in rows(Exposure, Exposure.id)
        ],
        "decisions": [
            {
                "path": d.path,
                "at": _iso(d.created_at),
                "block": d.block,
                "variant": d.variant,
                "rule": d.rule,
                "test": d.test,
                "control": d.control,
                "propensity": d.propensity,
                "strategy": d.strategy,
                "segment": d.segment,
                "allocation": d.allocation,
            }
            for d in rows(Decision, Decision.id)
        ],  # fmt: skip
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


#: The rate limits count requests a minute; times within it are in microseconds.
_MINUTE = 60_000_000


def _minute(now: datetime) -> tuple[int, int]:
    """The number of ``now``'s minute since the epoch, and the microseconds gone in it."""
    return divmod((now - datetime(1970, 1, 1)) // timedelta(microseconds=1), _MINUTE)


def _wait(previous: int, current: int, limit: int, elapsed: int) -> int:
    """Microseconds until one more request fits under ``limit`` (0: it fits now).

    The requests of the last 60 seconds are estimated as this minute's count
    plus the last minute's count weighted by the share of the last minute that
    is still within those 60 seconds. One more fits while that estimate plus one
    is at most ``limit`` (at least 1). Integers throughout, so the answer is exact.
    """
    delay = 0
    if current >= limit:
        # Not within this minute: in the next one, this minute's count is the last minute's.
        delay, previous, current, elapsed = _MINUTE - elapsed, current, 0, 0
    room = limit - current - 1
    if room >= previous:
        return delay
    # previous * (1 - e / minute) <= room  <=>  e >= minute * (previous - room) / previous
    needed = -(-_MINUTE * (previous - room) // previous)
    return delay + max(0, needed - elapsed)


def hit_rate_limits(limits: Sequence[tuple[str, int]], now: datetime) -> int | None:
    """Count one request against each ``(key, limit a minute)``; shared by all processes and hosts.

    Returns None when the request fits every limit, else the whole seconds
    after which one more would fit (for Retry-After). The window slides: this
    minute's count plus the last minute's, weighted by how much of it is still
    within the last 60 seconds (see :func:`_wait`), so a burst across a minute
    boundary gets no fresh allowance.

    A request that fits is counted under every key and committed at once, in
    a transaction of its own, so nothing that fails later in the request takes
    the count back: call this before the request writes anything. A refused
    request is not counted (on SQLite it costs one read; on PostgreSQL, where
    every statement is a round trip, it is counted and taken back): a client
    that ignores Retry-After is not shut out for longer, and the visitors
    behind one busy address still share the limit's worth.
    """
    window, elapsed = _minute(now)
    keys = [key for key, _ in limits]
    if db.engine.dialect.name == "postgresql":
        return _hit_in_one_round_trip(limits, window, elapsed)
    rows = db.session.execute(
        select(RateLimit.key, RateLimit.window, RateLimit.count).where(
            RateLimit.key.in_(keys), RateLimit.window.in_((window - 1, window))
        )
    )
    counts = {(key, at): count for key, at, count in rows}

    def delay() -> int:
        return max(
            _wait(counts.get((key, window - 1), 0), counts.get((key, window), 0), max(limit, 1), elapsed)
            for key, limit in limits
        )

    wait = delay()
    if wait == 0:
        statement = _upsert_increment(RateLimit, ("key", "window"), ("count",), returning="count")
        connection = db.session.connection()
        for key in sorted(keys):  # one order for every request: row locks taken so cannot deadlock
            after = connection.execute(statement, {"key": key, "window": window, "count": 1}).scalar_one()
            counts[key, window] = after - 1  # the count before this request
        # Requests of other processes may have taken the last places since the read.
        wait = delay()
        if wait:
            connection.execute(
                _update(RateLimit)
                .where(RateLimit.key.in_(keys), RateLimit.window == window)
                .values(count=RateLimit.count - 1)
            )
        db.session.commit()
    return None if wait == 0 else -(-wait // 1_000_000)


@functools.cache
def _counting_sql(keys: int) -> str:
    """PostgreSQL: count a request under ``keys`` keys and read their last minute, as SQL compiled once.

    (SQLAlchemy's statement cache does not take this INSERT .. RETURNING inside a CTE,
    so it would be compiled again on every request.)
    """
    from sqlalchemy.dialects import postgresql

    table = RateLimit.__table__
    one = literal_column("1")
    rows = [{"key": bindparam(f"key{i}"), "window": bindparam("window"), "count": one} for i in range(keys)]
    counted = pg_insert(table).values(rows)
    counted = counted.on_conflict_do_update(
        index_elements=[table.c.key, table.c.window], set_={"count": table.c.count + one}
    ).returning(table.c.key, table.c.count)
    up = counted.cte("counted")
    last = table.alias("last_minute")
    statement = select(up.c.key, up.c.count, func.coalesce(last.c.count, literal_column("0"))).select_from(
        up.outerjoin(last, (last.c.key == up.c.key) & (last.c.window == bindparam("last")))
    )
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    assert set(compiled.params) == {*(f"key{i}" for i in range(keys)), "window", "last"}, compiled.params
    return compiled.string


def _hit_in_one_round_trip(limits: Sequence[tuple[str, int]], window: int, elapsed: int) -> int | None:
    """PostgreSQL: count first, in one autocommitted statement that also reads the last minute's counts.

    The same limits as :func:`hit_rate_limits`, in one round trip instead of
    five (BEGIN, a read, an upsert per key, COMMIT): every key is incremented
    (in one order, so row locks cannot deadlock) and the statement returns
    each key's count before this request and the last minute's. A request
    that does not fit takes its count back with a second statement; until
    then a concurrent request at the very edge of the same limit may be
    refused too (never let through).
    """
    keys = sorted({key for key, _ in limits})
    parameters = {f"key{i}": key for i, key in enumerate(keys)} | {"window": window, "last": window - 1}
    with _read_connection() as connection:
        rows = connection.exec_driver_sql(_counting_sql(len(keys)), parameters)
        counts = {key: (previous, after - 1) for key, after, previous in rows}
        wait = max(_wait(*counts[key], max(limit, 1), elapsed) for key, limit in limits)
        if wait:
            connection.execute(
                _update(RateLimit)
                .where(RateLimit.key.in_(keys), RateLimit.window == window)
                .values(count=RateLimit.count - 1)
            )
    return None if wait == 0 else -(-wait // 1_000_000)


def purge(now: datetime) -> dict[str, int]:
    """Delete the rate-limit windows that no longer weigh in any limit (all but this minute and the last),
    and erasure marks older than a day (no write waits that long)."""
    current, _ = _minute(now)
    windows = db.session.execute(delete(RateLimit).where(RateLimit.window < current - 1)).rowcount
    marks = db.session.execute(delete(ErasedVisitor).where(ErasedVisitor.erased_at < now - timedelta(days=1))).rowcount
    db.session.commit()
    return {"rate_limit_windows": windows or 0, "erasure_marks": marks or 0}


@dataclass(frozen=True)
class Retention:
    """How long each kind of record about a visitor is kept (the README's privacy section)."""

    #: Raw beacon events (the profile keeps their totals).
    events: timedelta
    #: Page views: one exposure row per page shown, with the variants it showed.
    exposures: timedelta
    #: Conversions (the goal actions).
    conversions: timedelta
    #: A visitor not seen for this long is erased entirely: profile, scores, settings, sign-ups.
    visitors: timedelta


def expire(now: datetime, retention: Retention) -> dict[str, int]:
    """Delete every record past its retention, in one transaction; how many rows of each went.

    Visitors are deleted with everything that refers to them (the foreign
    keys cascade on both databases), so nothing about them stays behind.
    """
    gone = {
        "events": db.session.execute(delete(Event).where(Event.created_at < now - retention.events)).rowcount,
        "decisions": db.session.execute(
            delete(Decision).where(Decision.created_at < now - retention.exposures)
        ).rowcount,
        "page_views": db.session.execute(
            delete(Exposure).where(Exposure.created_at < now - retention.exposures)
        ).rowcount,
        "conversions": db.session.execute(
            delete(Conversion).where(Conversion.created_at < now - retention.conversions)
        ).rowcount,
    }
    inactive = select(Visitor.id).where(Visitor.last_seen_at < now - retention.visitors).scalar_subquery()
    for model in VISITOR_TABLES:
        db.session.execute(delete(model).where(model.visitor_id.in_(inactive)))
    gone["visitors"] = db.session.execute(
        delete(Visitor).where(Visitor.last_seen_at < now - retention.visitors)
    ).rowcount
    db.session.commit()
    return {kind: count or 0 for kind, count in gone.items()}


@dataclass(frozen=True)
class PublishedAllocation:
    """A learning block's newest allocation as stored: its version and table."""

    block: str
    version: int
    table: dict[str, Any]


def load_experiments() -> tuple[frozenset[tuple[str, str]], dict[str, PublishedAllocation]]:
    """The paused rules (rule, file fingerprint) and each learning block's newest allocation: two small reads."""
    paused = frozenset(
        (rule, fingerprint) for rule, fingerprint in db.session.execute(select(PausedRule.rule, PausedRule.fingerprint))
    )
    newest = (
        select(Allocation.block, func.max(Allocation.version).label("version")).group_by(Allocation.block).subquery()
    )
    rows = db.session.execute(
        select(Allocation.block, Allocation.version, Allocation.table).join(
            newest, (Allocation.block == newest.c.block) & (Allocation.version == newest.c.version)
        )
    ).all()
    db.session.rollback()
    return paused, {row.block: PublishedAllocation(row.block, row.version, row.table) for row in rows}


def publish_allocation(block: str, table: dict[str, Any], detail: dict[str, Any], now: datetime) -> int:
    """Store a learning block's next allocation version (a single insert: workers pick it up within their TTL)."""
    version = (db.session.scalar(select(func.max(Allocation.version)).where(Allocation.block == block)) or 0) + 1
    db.session.execute(
        Allocation.__table__.insert().values(block=block, version=version, created_at=now, table=table, detail=detail)
    )
    db.session.commit()
    return version


def newest_allocation(block: str) -> tuple[int, dict[str, Any], dict[str, Any], datetime] | None:
    """The newest (version, table, detail, created_at) of a learning block, or None."""
    row = db.session.execute(
        select(Allocation.version, Allocation.table, Allocation.detail, Allocation.created_at)
        .where(Allocation.block == block)
        .order_by(Allocation.version.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.version, row.table, row.detail, row.created_at)


def pause_rule(rule: str, fingerprint: str, reason: str, now: datetime) -> bool:
    """Pause a rule's current file version; False when it already was."""
    inserted = db.session.execute(
        _insert(PausedRule)
        .values(rule=rule, fingerprint=fingerprint, paused_at=now, reason=reason[:500])
        .on_conflict_do_nothing(index_elements=[PausedRule.rule, PausedRule.fingerprint])
    ).rowcount
    db.session.commit()
    return bool(inserted)


def paused_rules() -> list[tuple[str, str, datetime, str]]:
    """Every pause: (rule, fingerprint, paused_at, reason)."""
    return [
        (r.rule, r.fingerprint, r.paused_at, r.reason)
        for r in db.session.execute(select(PausedRule).order_by(PausedRule.paused_at)).scalars()
    ]
