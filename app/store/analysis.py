"""Reads for the measurement loop: randomized decisions with their context, and the outcomes.

Plain tuples out, in bulk (Core queries, no ORM objects): the learn job and
the reports read hundreds of thousands of rows, and what they compute lives
in ``app.ml``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from app.extensions import db
from app.store.models import Conversion, Decision, Event, Exposure, Visitor

#: A goal counts for an exposure when it happens within this time after it (the same visit).
GOAL_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class DecisionRow:
    """One randomized decision and the coarse context of its page render."""

    visitor: str
    at: datetime
    path: str
    block: str
    variant: str
    rule: str | None
    test: str | None
    control: bool
    propensity: float
    strategy: str
    segment: str | None
    allocation: int | None
    device: str | None
    daypart: str | None
    country: str | None
    candidates: str | None = None


_D, _E = Decision.__table__, Exposure.__table__


def decision_rows(
    since: datetime, until: datetime, *, strategy: str | None = None, block: str | None = None
) -> Iterator[DecisionRow]:
    """Randomized decisions in [since, until), oldest first, streamed in batches."""
    query = (
        select(
            _D.c.visitor_id, _D.c.created_at, _D.c.path, _D.c.block, _D.c.variant, _D.c.rule, _D.c.test,
            _D.c.control, _D.c.propensity, _D.c.strategy, _D.c.segment, _D.c.allocation,
            _E.c.device, _E.c.daypart, _E.c.country, _D.c.candidates,
        )
        .join(_E, _E.c.id == _D.c.exposure_id)
        .where(_D.c.created_at >= since, _D.c.created_at < until)
        .order_by(_D.c.id)
    )  # fmt: skip
    if strategy is not None:
        query = query.where(_D.c.strategy == strategy)
    if block is not None:
        query = query.where(_D.c.block == block)
    result = db.session.execute(query.execution_options(yield_per=20_000))
    for row in result:
        yield DecisionRow(*row)


class Outcomes:
    """When each visitor clicked which block on which page, and when they converted."""

    def __init__(self, since: datetime, until: datetime) -> None:
        self.clicks: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
        self.conversions: dict[str, list[datetime]] = defaultdict(list)
        end = until + GOAL_WINDOW
        clicks = select(Event.visitor_id, Event.block, Event.page, Event.created_at).where(
            Event.type == "click", Event.created_at >= since, Event.created_at < end
        )
        for visitor, block, page, at in db.session.execute(clicks.execution_options(yield_per=20_000)):
            self.clicks[(visitor, block or "", page)].append(at)
        conversions = select(Conversion.visitor_id, Conversion.created_at).where(
            Conversion.goal == "signup", Conversion.created_at >= since, Conversion.created_at < end
        )
        for visitor, at in db.session.execute(conversions):
            self.conversions[visitor].append(at)
        for times in (*self.clicks.values(), *self.conversions.values()):
            times.sort()

    @staticmethod
    def _within(times: list[datetime], at: datetime) -> bool:
        i = bisect.bisect_left(times, at)
        return i < len(times) and times[i] <= at + GOAL_WINDOW

    def clicked(self, row: DecisionRow) -> bool:
        """A click on this block, on this page, within the goal window after the exposure."""
        times = self.clicks.get((row.visitor, row.block, row.path))
        return bool(times) and self._within(times, row.at)  # type: ignore[arg-type]

    def converted(self, row: DecisionRow) -> bool:
        """A sign-up within the goal window after the exposure (the same visit)."""
        times = self.conversions.get(row.visitor)
        return bool(times) and self._within(times, row.at)  # type: ignore[arg-type]

    def reached(self, row: DecisionRow, goal: str) -> bool:
        return self.clicked(row) if goal == "click" else self.converted(row)


@dataclass(frozen=True)
class VisitorRow:
    """A visitor for the holdout comparison: their group, whether they converted, how much they read."""

    holdout: bool
    converted: bool
    pages: int
    dwell_seconds: float | None
    device: str | None
    country: str | None
    daypart: str | None
    #: The visitor's own layer settings now: contextual, behavioral, predictive (None: not chosen).
    settings: tuple[bool | None, bool | None, bool | None] = (None, None, None)


def visitor_rows(since: datetime, until: datetime) -> Iterable[VisitorRow]:
    """Every visitor first exposed in [since, until): group (their first exposure's flag) and outcomes."""
    first = (
        select(_E.c.visitor_id, func.min(_E.c.id).label("first_id"), func.count().label("pages"))
        .where(_E.c.created_at >= since, _E.c.created_at < until)
        .group_by(_E.c.visitor_id)
        .subquery()
    )
    converted = (
        select(Conversion.visitor_id)
        .where(Conversion.created_at >= since, Conversion.created_at < until + GOAL_WINDOW)
        .distinct()
        .subquery()
    )
    visitors = Visitor.__table__
    query = (
        select(
            _E.c.holdout, converted.c.visitor_id.is_not(None), first.c.pages,
            visitors.c.dwell_ms_total, visitors.c.dwell_samples, _E.c.device, _E.c.country, _E.c.daypart,
            visitors.c.contextual, visitors.c.behavioral, visitors.c.predictive,
        )
        .join(first, and_(_E.c.id == first.c.first_id))
        .join(visitors, visitors.c.id == first.c.visitor_id)
        .outerjoin(converted, converted.c.visitor_id == first.c.visitor_id)
    )  # fmt: skip
    for row in db.session.execute(query):
        holdout, did_convert, pages, dwell_ms, dwell_samples, device, country, daypart, *settings = row
        yield VisitorRow(
            holdout=bool(holdout),
            converted=bool(did_convert),
            pages=int(pages),
            dwell_seconds=dwell_ms / 1000 if dwell_samples else None,
            device=device,
            country=country,
            daypart=daypart,
            settings=tuple(settings),  # type: ignore[arg-type]
        )
