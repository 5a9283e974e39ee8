"""The behavioral layer end to end through the test client: profile, rules, order, why, reset, purge."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.extensions import db
from app.jobs import run_job
from app.store.models import Event, Visitor
from tests.conftest import DESKTOP, block_order, blocks, csrf_token, get, zone_at
from tests.functional.test_events import click, dwell, post, scroll

DAY = zone_at({13, 14, 15})
PRIVACY = ["/guides/cookieless-measurement", "/guides/consent-without-dark-patterns"]
GROWTH = ["/guides/experiments-for-small-teams", "/guides/retention-before-acquisition"]


def browse(client: FlaskClient, *paths: str) -> None:
    for path in paths:
        assert get(client, path, DESKTOP, tz=DAY).status_code == 200


def export(client: FlaskClient) -> dict[str, Any]:
    return json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))


def test_page_views_build_the_profile_on_the_server(client: FlaskClient) -> None:
    browse(client, "/", "/pricing", *PRIVACY)
    profile = export(client)["profile"]
    assert profile["pages_viewed"] == 4
    assert profile["pricing_views"] == 1
    assert profile["articles_read"] == 2
    assert profile["recent_pages"] == [PRIVACY[1], PRIVACY[0], "/pricing", "/"]
    assert profile["last_article"] == PRIVACY[1]
    assert profile["guides_read_by_topic"] == {"privacy": 2}


def test_an_incomplete_profile_falls_back_to_context(client: FlaskClient) -> None:
    browse(client, PRIVACY[0], PRIVACY[1])  # two pages: not enough evidence yet
    home = blocks(get(client, "/", DESKTOP, tz=DAY))
    assert all(b["layer"] != "behavioral" for b in home.values())
    assert all("read" not in b["why"] for b in home.values())


def test_reading_about_a_topic_changes_the_next_page(client: FlaskClient) -> None:
    browse(client, PRIVACY[0], PRIVACY[1], PRIVACY[0])
    response = get(client, "/", DESKTOP, tz=DAY)
    home = blocks(response)
    assert home["home-guides"]["variant"] == "reads-privacy"
    assert home["home-guides"]["layer"] == "behavioral"
    # Counts are true: one guide read twice and another once are two guides, not three.
    assert "you've read two guides about privacy" in home["home-guides"]["why"]
    # The flexible zone leads with the privacy block; pinned blocks stay put.
    order = block_order(response)
    assert order[:2] == ["home-hero", "home-announcement"] and order[-1] == "home-cta"
    flexible = order[2:-1]
    about_privacy = ["privacy" in home[b]["topics"].split() for b in flexible]
    assert about_privacy == sorted(about_privacy, reverse=True)  # privacy blocks lead the zone
    assert flexible.index("home-privacy") < flexible.index("home-growth")
    moved = home["home-testimonial"]
    assert moved["layer"] == "behavioral" and "because you've read two guides" in moved["why"]


def test_two_close_topics_leave_the_default_order(client: FlaskClient) -> None:
    browse(client, PRIVACY[0], GROWTH[0], PRIVACY[1], GROWTH[1])
    response = get(client, "/", DESKTOP, tz=DAY)
    assert block_order(response)[2:5] == ["home-features", "home-privacy", "home-growth"]
    assert blocks(response)["home-guides"]["variant"] not in ("reads-privacy", "reads-growth")


def test_clicks_and_dwell_add_to_topic_interest(client: FlaskClient) -> None:
    browse(client, "/", "/pricing", "/guides")
    assert "privacy" not in export(client)["profile"]["topic_interest"]
    events = [dwell(180_000, page=PRIVACY[0]), scroll(100, page=PRIVACY[0]),
              click(block="home-privacy", variant="default", target="cta")]  # fmt: skip
    assert post(client, {"events": events}).get_json()["accepted"] == 3
    interest = export(client)["profile"]["topic_interest"]
    assert interest["privacy"] > 2.0


def test_pricing_twice_gets_a_different_call_to_action(client: FlaskClient) -> None:
    browse(client, "/", "/pricing")
    assert blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-cta"]["variant"] != "pricing-twice"
    cta = blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-cta"]
    assert cta["variant"] == "pricing-twice"
    assert "you've looked at our pricing twice" in cta["why"]


def test_a_converted_visitor_sees_their_trial_pricing(client: FlaskClient) -> None:
    browse(client, "/", "/guides", "/pricing")
    client.post("/signup", data={"csrf_token": csrf_token(client, "/signup"), "name": "Ada",
                                 "email": "ada@example.com", "company_size": "1-10"},
                headers={"User-Agent": DESKTOP})  # fmt: skip
    hero = blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-hero"]
    assert hero["variant"] == "converted" and "you've already signed up" in hero["why"]


def test_behavioral_off_builds_no_profile_and_uses_none(client: FlaskClient) -> None:
    client.post("/preferences", data={"csrf_token": csrf_token(client), "contextual": "on"},
                headers={"User-Agent": DESKTOP})  # fmt: skip
    browse(client, PRIVACY[0], PRIVACY[1], PRIVACY[0], "/pricing", "/pricing")
    data = export(client)
    assert data["profile"]["pages_viewed"] == 0 and data["profile"]["topic_interest"] == {}
    assert len(data["page_views"]) == 5  # what was shown is still recorded, for measuring
    home = blocks(get(client, "/", DESKTOP, tz=DAY))
    assert all(b["layer"] != "behavioral" for b in home.values())


def test_gpc_builds_no_profile(client: FlaskClient) -> None:
    for path in (PRIVACY[0], PRIVACY[1], PRIVACY[0], "/"):
        get(client, path, DESKTOP, tz=DAY, **{"Sec-GPC": "1"})
    assert export(client)["profile"]["pages_viewed"] == 0


def test_reset_history_forgets_the_behavior(client: FlaskClient) -> None:
    browse(client, PRIVACY[0], PRIVACY[1], PRIVACY[0])
    post(client, {"events": [dwell(page=PRIVACY[0])]})
    assert blocks(get(client, "/", DESKTOP, tz=DAY))["home-guides"]["variant"] == "reads-privacy"
    client.post("/preferences/reset", data={"csrf_token": csrf_token(client)}, headers={"User-Agent": DESKTOP})
    data = export(client)
    assert data["events"] == [] and data["page_views"] == []
    assert data["profile"]["pages_viewed"] == 0 and data["profile"]["topic_interest"] == {}
    assert blocks(get(client, "/", DESKTOP, tz=DAY))["home-guides"]["variant"] != "reads-privacy"


def test_erasure_removes_events_and_profile(app: Flask, client: FlaskClient) -> None:
    browse(client, PRIVACY[0], "/")
    post(client, {"events": [dwell(page=PRIVACY[0]), click()]})
    client.post(
        "/preferences/delete",
        data={"csrf_token": csrf_token(client), "confirm": "yes"},
        headers={"User-Agent": DESKTOP},
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event)) == 0
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 0


def test_purge_deletes_old_events_and_keeps_the_profile(app: Flask, client: FlaskClient) -> None:
    browse(client, "/", PRIVACY[0])
    post(client, {"events": [dwell(page=PRIVACY[0]), scroll(90, page=PRIVACY[0])]})
    with app.app_context():
        # Age one event past the retention.
        old = db.session.scalars(select(Event).order_by(Event.id)).first()
        assert old is not None
        cutoff = old.created_at - timedelta(days=app.config["EVENT_RETENTION_DAYS"] + 1)
        db.session.execute(update(Event).where(Event.id == old.id).values(created_at=cutoff))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "run", "purge"])
    assert result.exit_code == 0 and "'events': 1" in result.output
    data = export(client)
    assert len(data["events"]) == 1
    assert data["profile"]["dwell_samples"] == 1 and data["profile"]["scroll_samples"] == 1


def test_a_job_runs_once_per_interval(app: Flask) -> None:
    with app.app_context():
        assert run_job("purge") is not None
        assert run_job("purge") is None  # same interval: another run already did it
        assert run_job("purge", force=True) is not None
    result = app.test_cli_runner().invoke(args=["jobs", "run", "purge"])
    assert "already ran in this interval" in result.output
