"""From stored totals to behavior.* attributes: evidence, decay, leading topic."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.engine.profile import ProfileFacts, build_profile, growth, interest_now, top_topic

NOW = datetime(2026, 11, 26, 12, 0)


def facts(**interest: tuple[float, int]) -> ProfileFacts:
    scaled = {t: (score * growth(NOW), n) for t, (score, n) in interest.items()}
    return ProfileFacts(page_views=5, articles_read=3, interests=scaled)


def test_no_behavior_until_there_is_enough_evidence() -> None:
    few = ProfileFacts(page_views=2, pricing_views=2)
    assert build_profile(few, NOW, min_evidence=3).attributes == {}
    assert build_profile(None, NOW, min_evidence=3).attributes == {}
    enough = ProfileFacts(page_views=3, pricing_views=2)
    assert build_profile(enough, NOW, min_evidence=3).attributes["pricing_views"] == 2


def test_a_clear_leader_is_named() -> None:
    profile = build_profile(facts(privacy=(3.0, 3), analytics=(1.0, 1)), NOW, min_evidence=3).attributes
    assert profile["top_topic"] == "privacy"
    assert profile["topic_articles"] == {"privacy": 3, "analytics": 1}
    assert profile["affinity"] == {"privacy": 0.75, "analytics": 0.25}


def test_close_topics_name_no_leader() -> None:
    profile = build_profile(facts(privacy=(3.0, 3), growth=(2.9, 3)), NOW, min_evidence=3).attributes
    assert "top_topic" not in profile
    assert top_topic({"a": 2.0, "b": 2.0}) is None


def test_too_little_interest_names_no_leader() -> None:
    assert top_topic({"privacy": 1.0}) is None
    assert top_topic({"privacy": 2.5}) == "privacy"


def test_interest_halves_every_week() -> None:
    f = facts(privacy=(4.0, 2))
    assert abs(interest_now(f, NOW)["privacy"] - 4.0) < 1e-9
    assert abs(interest_now(f, NOW + timedelta(days=7))["privacy"] - 2.0) < 1e-9
    # Old interest fades below the bar for a leader.
    later = build_profile(f, NOW + timedelta(days=21), min_evidence=3).attributes
    assert "top_topic" not in later


def test_engagement_averages_and_recency() -> None:
    f = ProfileFacts(page_views=4, scroll_total=150, scroll_samples=2, dwell_ms_total=90_000, dwell_samples=3,
                     previous_visit_at=NOW - timedelta(days=9), last_article="/guides/x")  # fmt: skip
    profile = build_profile(f, NOW, min_evidence=3).attributes
    assert profile["scroll_depth"] == 75.0
    assert profile["dwell_seconds"] == 30.0
    assert profile["days_since_last_visit"] == 9
    assert profile["last_article"] == "/guides/x"
