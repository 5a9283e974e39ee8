"""From a visitor's stored totals to the ``behavior.*`` attributes the engine reads.

Pure: the store hands over plain numbers (``ProfileFacts``), this module turns
them into a :class:`Profile`. Data quality rules live here:

- no behavioral attribute exists until the visitor has viewed
  ``min_evidence`` pages, so an incomplete profile falls back to context;
- a ``top_topic`` is named only when one topic clearly leads (conflicting
  signals leave the default order);
- topic interest decays with a half-life, so last month's reading fades.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.model import Profile

#: Interest halves every week.
HALF_LIFE_DAYS = 7.0
#: The fixed origin of the growing score scale (see TopicInterest in the store).
EPOCH = datetime(2026, 1, 1)
#: A topic leads when its interest is at least this much larger than the next one's.
LEAD = 1.25
#: Minimum (decayed) interest for a topic to lead at all: about two guide reads.
MIN_TOPIC_INTEREST = 2.0

#: How much each signal adds to a topic's interest.
WEIGHTS = {"view": 1.0, "click": 1.5, "scroll": 0.5, "dwell_minute": 0.5}


def growth(at: datetime) -> float:
    """The factor that puts an addition made at ``at`` on the stored scale."""
    return float(2.0 ** ((at - EPOCH).total_seconds() / 86400 / HALF_LIFE_DAYS))


@dataclass(frozen=True)
class ProfileFacts:
    """A visitor's stored totals, as plain values."""

    visits: int = 1
    page_views: int = 0
    pricing_views: int = 0
    articles_read: int = 0
    clicks: int = 0
    scroll_total: int = 0
    scroll_samples: int = 0
    dwell_ms_total: int = 0
    dwell_samples: int = 0
    converted: bool = False
    last_article: str | None = None
    recent_pages: tuple[str, ...] = ()
    previous_visit_at: datetime | None = None
    #: The distinct guides read (paths).
    guides_read: tuple[str, ...] = ()
    #: topic -> (score on the growing scale, guides read)
    interests: dict[str, tuple[float, int]] = field(default_factory=dict)


def interest_now(facts: ProfileFacts, now: datetime) -> dict[str, float]:
    """Each topic's decayed interest at ``now``."""
    scale = growth(now)
    return {topic: score / scale for topic, (score, _) in facts.interests.items() if score > 0}


def top_topic(interest: dict[str, float]) -> str | None:
    """The clearly leading topic, or None when there is none or two are close."""
    ranked = sorted(interest.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < MIN_TOPIC_INTEREST:
        return None
    if len(ranked) > 1 and ranked[0][1] < LEAD * ranked[1][1]:
        return None
    return ranked[0][0]


def build_profile(facts: ProfileFacts | None, now: datetime, *, min_evidence: int) -> Profile:
    """The visitor's ``behavior.*`` attributes, or an empty profile below ``min_evidence``."""
    if facts is None or facts.page_views < min_evidence:
        return Profile()
    interest = interest_now(facts, now)
    total = sum(interest.values())
    values: dict[str, Any] = {
        "visits": facts.visits,
        "pages_viewed": facts.page_views,
        "pricing_views": facts.pricing_views,
        "articles_read": facts.articles_read,
        "clicks": facts.clicks,
        "converted": facts.converted,
        "recent_pages": list(facts.recent_pages),
        "topic_articles": {topic: n for topic, (_, n) in facts.interests.items() if n},
        "affinity": {topic: round(v / total, 4) for topic, v in interest.items()} if total else {},
    }
    leader = top_topic(interest)
    if leader is not None:
        values["top_topic"] = leader
    if facts.scroll_samples:
        values["scroll_depth"] = round(facts.scroll_total / facts.scroll_samples, 1)
    if facts.dwell_samples:
        values["dwell_seconds"] = round(facts.dwell_ms_total / facts.dwell_samples / 1000, 1)
    if facts.last_article:
        values["last_article"] = facts.last_article
    if facts.previous_visit_at is not None:
        values["days_since_last_visit"] = (now - facts.previous_visit_at).days
    return Profile(values)
