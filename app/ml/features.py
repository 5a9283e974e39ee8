"""Features: the one place where a visitor's history becomes numbers.

Training, batch scoring and online scoring all go through :func:`vectorize`
over a :class:`Summary`. A summary is built either from raw history as of a
cutoff (``summaries_as_of``: training, and batch scoring with cutoff = now) or
from the stored profile totals (``summary_from_profile``: online scoring of a
visitor without a batch score). Both count the same things the same way:

=====================  ==========================================================
feature                meaning (all as of the cutoff)
=====================  ==========================================================
page_views             log(1 + pages viewed)
pricing_views          log(1 + views of /pricing)
articles_read          log(1 + guide pages viewed)
clicks                 log(1 + clicks on blocks)
scroll                 mean reported scroll depth / 100 (0 when none reported)
dwell                  log(1 + mean visible seconds per dwell report)
share.<topic>          share of guides read that are about <topic>
days_since_first       log(1 + days since the first page view)
days_since_last        log(1 + days since the latest page view)
converted              1 when the visitor has signed up
=====================  ==========================================================
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select, true

from app.extensions import db
from app.store.models import Conversion, Event, Exposure, Visitor


@dataclass(frozen=True)
class Summary:
    """A visitor's history as of a moment, in the terms of the features."""

    page_views: int = 0
    pricing_views: int = 0
    articles_read: int = 0
    clicks: int = 0
    scroll_avg: float | None = None
    dwell_avg_seconds: float | None = None
    topic_articles: Mapping[str, int] = field(default_factory=dict)
    days_since_first: float = 0.0
    days_since_last: float = 0.0
    converted: bool = False


def feature_names(topics: Iterable[str]) -> list[str]:
    return [
        "page_views", "pricing_views", "articles_read", "clicks", "scroll", "dwell",
        *(f"share.{t}" for t in topics), "days_since_first", "days_since_last", "converted",
    ]  # fmt: skip


def vectorize(s: Summary, topics: Iterable[str]) -> list[float]:
    """The feature vector of a summary, in :func:`feature_names` order."""
    reads = max(s.articles_read, 1)
    return [
        math.log1p(s.page_views),
        math.log1p(s.pricing_views),
        math.log1p(s.articles_read),
        math.log1p(s.clicks),
        (s.scroll_avg or 0.0) / 100,
        math.log1p(s.dwell_avg_seconds or 0.0),
        *(s.topic_articles.get(t, 0) / reads for t in topics),
        math.log1p(max(s.days_since_first, 0.0)),
        math.log1p(max(s.days_since_last, 0.0)),
        1.0 if s.converted else 0.0,
    ]


def _days(later: datetime, earlier: datetime | None) -> float:
    return 0.0 if earlier is None else (later - earlier).total_seconds() / 86400


def summary_from_profile(facts: Any, created_at: datetime, last_seen_at: datetime, now: datetime) -> Summary:
    """A summary from the stored profile totals (``ProfileFacts``), for online scoring."""
    return Summary(
        page_views=facts.page_views,
        pricing_views=facts.pricing_views,
        articles_read=facts.articles_read,
        clicks=facts.clicks,
        scroll_avg=facts.scroll_total / facts.scroll_samples if facts.scroll_samples else None,
        dwell_avg_seconds=facts.dwell_ms_total / facts.dwell_samples / 1000 if facts.dwell_samples else None,
        topic_articles={t: n for t, (_, n) in facts.interests.items()},
        days_since_first=_days(now, created_at),
        days_since_last=_days(now, last_seen_at),
        converted=facts.converted,
    )


def predictive_allowed() -> Any:
    """SQL: visitors who allow the predictive layer (explicitly, or by default without Sec-GPC).

    Checked at training and scoring time, whatever was collected before.
    """
    return or_(
        Visitor.predictive == true(),
        and_(Visitor.predictive.is_(None), Visitor.gpc == false()),
    )


def summaries_as_of(
    cutoff: datetime,
    *,
    topics: Iterable[str],
    page_topics: Mapping[str, tuple[str, ...]],
    article_paths: set[str],
    active_since: datetime | None = None,
) -> dict[str, Summary]:
    """Summaries of every eligible visitor's history before ``cutoff``, aggregated in SQL.

    Eligible: the visitor row still exists (erased visitors are gone) and allows
    the predictive layer; with ``active_since``, only visitors seen since then.
    Bots never have rows.
    """
    eligible = select(Visitor.id).where(predictive_allowed())
    if active_since is not None:
        eligible = eligible.where(Visitor.last_seen_at >= active_since)
    eligible_ids = eligible.scalar_subquery()

    views: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pages": 0, "pricing": 0, "articles": 0, "topics": defaultdict(int), "first": None, "last": None}
    )
    rows = db.session.execute(
        select(Exposure.visitor_id, Exposure.path, func.count(), func.min(Exposure.created_at),
               func.max(Exposure.created_at))
        .where(Exposure.created_at < cutoff, Exposure.visitor_id.in_(eligible_ids))
        .group_by(Exposure.visitor_id, Exposure.path)
    )  # fmt: skip
    for visitor_id, path, count, first, last in rows:
        v = views[visitor_id]
        v["pages"] += count
        if path == "/pricing":
            v["pricing"] += count
        if path in article_paths:
            v["articles"] += count
            for topic in page_topics.get(path, ()):
                v["topics"][topic] += count
        v["first"] = first if v["first"] is None else min(v["first"], first)
        v["last"] = last if v["last"] is None else max(v["last"], last)

    engagement: dict[str, dict[str, Any]] = defaultdict(dict)
    for visitor_id, kind, count, depth, ms in db.session.execute(
        select(Event.visitor_id, Event.type, func.count(), func.avg(Event.depth), func.avg(Event.ms))
        .where(Event.created_at < cutoff, Event.visitor_id.in_(eligible_ids))
        .group_by(Event.visitor_id, Event.type)
    ):
        engagement[visitor_id][kind] = (count, depth, ms)

    converted = set(db.session.scalars(select(Conversion.visitor_id).where(Conversion.created_at < cutoff).distinct()))
    db.session.rollback()  # end the read
    topic_list = list(topics)
    out: dict[str, Summary] = {}
    for visitor_id, v in views.items():
        e = engagement.get(visitor_id, {})
        out[visitor_id] = Summary(
            page_views=v["pages"],
            pricing_views=v["pricing"],
            articles_read=v["articles"],
            clicks=e.get("click", (0, None, None))[0],
            scroll_avg=float(e["scroll"][1]) if "scroll" in e and e["scroll"][1] is not None else None,
            dwell_avg_seconds=float(e["dwell"][2]) / 1000 if "dwell" in e and e["dwell"][2] is not None else None,
            topic_articles={t: v["topics"].get(t, 0) for t in topic_list if v["topics"].get(t)},
            days_since_first=_days(cutoff, v["first"]),
            days_since_last=_days(cutoff, v["last"]),
            converted=visitor_id in converted,
        )
    return out
