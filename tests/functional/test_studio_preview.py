"""Preview as any visitor: the real page from the same engine, with its trace; "why didn't it show?" in words;
QA links that open without an account, expire and can be revoked. Nothing a preview does is recorded."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.content import current_site
from app.engine.bucketing import bucket
from app.extensions import db
from app.store import pause_rule
from app.store.models import Conversion, Decision, Event, Exposure, Score, TopicInterest, Visitor
from tests.conftest import IP_DE, IPHONE, blocks, dispose, get, make_app, soup
from tests.functional.test_schedules import CAMPAIGN
from tests.functional.test_studio_access import editor, studio_token

SATURDAY = "2026-12-05"
WEDNESDAY = "2026-12-02"
#: The Done-when visitor: a phone in Germany at 23:00 on a Saturday.
PHONE_DE_NIGHT = {"page": "/pricing", "device": "mobile", "country": "DE", "date": SATURDAY, "time": "23:00"}


def view(client: FlaskClient, **params: str):  # type: ignore[no-untyped-def]
    return client.get("/studio/view?" + urlencode(params))


def candidate(response, block: str, variant: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A candidate's kind and reason, from the overlay's trace."""
    row = soup(response).select_one(f'[data-trace-block="{block}"] [data-candidate="{variant}"]')
    assert row is not None, f"no {block}/{variant} in the trace"
    return str(row["data-kind"]), row.select("td")[-1].get_text(" ", strip=True)


def visitor_rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Visitor, Exposure, Decision, Event, Conversion, Score, TopicInterest)}  # fmt: skip


def test_preview_by_query_is_the_real_page_with_the_overlay_and_records_nothing(app: Flask) -> None:
    client = editor(app)
    response = view(client, **PHONE_DE_NIGHT)
    assert response.status_code == 200
    shown = blocks(response)
    assert shown["pricing-plans"]["variant"] == "eu-euro" and "€19" in response.get_data(as_text=True)
    assert shown["pricing-cta"]["variant"] == "weekend" and shown["pricing-hero"]["variant"] == "phone"
    page = soup(response)
    assert page.select_one("[data-studio-preview=editor]") is not None
    assert "a phone in Germany · Saturday 2026-12-05 23:00 (Europe/Berlin, night)" in page.select_one(
        "[data-studio-who]").get_text()  # fmt: skip
    tags = {tag["data-studio-block"]: tag["data-studio-variant"] for tag in page.select("[data-studio-block]")}
    assert tags == {block: found["variant"] for block, found in shown.items()}
    assert candidate(response, "pricing-cta", "weekend")[0] == "shown"
    # The overlay is outside the locked navigation and footer, which are the visitor's own, byte for byte.
    assert page.select_one("nav[data-locked] [data-studio-block], nav[data-locked] [data-studio-preview]") is None
    assert "tessera_vid" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert page.body.get("data-beacon") is None  # no page script posts events from a preview
    assert set(visitor_rows(app).values()) == {0}, visitor_rows(app)
    visitor = get(app.test_client(), "/pricing", IPHONE, ip=IP_DE)
    for selector in ("nav[data-locked]", "footer[data-locked]"):
        assert str(soup(visitor).select_one(selector)) == str(page.select_one(selector))


def test_a_preview_takes_a_date_so_a_weekend_variant_shows_on_a_weekday(app: Flask) -> None:
    client = editor(app)
    assert blocks(view(client, **PHONE_DE_NIGHT))["pricing-cta"]["variant"] == "weekend"
    weekday = view(client, **{**PHONE_DE_NIGHT, "date": WEDNESDAY})
    assert blocks(weekday)["pricing-cta"]["variant"] == "phone"
    kind, reason = candidate(weekday, "pricing-cta", "weekend")
    assert kind == "condition" and "weekend = false" in reason
    # The time zone decides the local day: 23:30 on Friday in New York is Saturday in Berlin.
    friday_ny = view(client, **{**PHONE_DE_NIGHT, "date": "2026-12-04", "time": "23:30", "country": "US"})
    assert blocks(friday_ny)["pricing-cta"]["variant"] == "phone"
    berlin = view(client, **{**PHONE_DE_NIGHT, "date": "2026-12-04", "time": "23:30", "country": "US",
                             "tz": "Europe/Berlin"})  # fmt: skip
    assert blocks(berlin)["pricing-cta"]["variant"] == "phone"  # Friday 23:30 in Berlin too
    saturday = view(client, **{**PHONE_DE_NIGHT, "date": SATURDAY, "time": "00:30", "country": "US"})
    assert blocks(saturday)["pricing-cta"]["variant"] == "weekend"


def test_personas_and_scores_go_through_the_same_data_quality_rules(app: Flask) -> None:
    client = editor(app)
    reader = view(client, page="/", guides="3", topic="privacy", date=WEDNESDAY, time="14:00")
    assert blocks(reader)["home-privacy"]["variant"] == "reads-privacy"
    assert blocks(reader)["home-privacy"]["layer"] == "behavioral"
    too_little = view(client, page="/", guides="2", topic="privacy", date=WEDNESDAY, time="14:00")
    assert blocks(too_little)["home-privacy"]["variant"] != "reads-privacy"
    facts = soup(too_little).select_one("[data-studio-trace]").get_text(" ", strip=True)
    assert "adds up to 2 page views, and the behavioral layer needs 3" in facts
    likely = view(client, page="/pricing", convert="0.8", date=WEDNESDAY, time="14:00")
    assert blocks(likely)["pricing-cta"]["variant"] == "likely-to-convert"
    assert blocks(likely)["pricing-cta"]["layer"] == "predictive"


def test_bad_inputs_are_reported_by_field(app: Flask) -> None:
    client = editor(app)
    response = view(client, page="/nowhere", date="next saturday", country="Germany", convert="2", tz="Mars/Base")
    assert response.status_code == 400
    errors = soup(response).select_one("[data-form-errors]").get_text(" ", strip=True)
    for expected in ("there is no page at /nowhere", "must be a date such as 2026-12-05",
                     "two-letter country code", "a number from 0 to 1", "is not a time zone"):  # fmt: skip
        assert expected in errors
    form = client.get("/studio/preview?" + urlencode(PHONE_DE_NIGHT))
    assert soup(form).select_one("#date")["value"] == SATURDAY
    assert soup(form).select_one("#device option[selected]")["value"] == "mobile"


# --------------------------------------------------------------- why not


@pytest.mark.parametrize(
    ("params", "variant", "kind", "words"),
    [
        ({}, "pricing-cta/phone", "priority", "pricing-cta/weekend comes first: its priority is 11, this one's 10"),
        ({}, "pricing-plans/gb-pound", "condition", "It needs {country: GB}; this visitor has country = DE"),
        ({}, "pricing-cta/default", "default", "a rule applied: pricing-cta/weekend is shown instead of the default"),
        ({"contextual": "off"}, "pricing-hero/phone", "layer", "contextual layer, which is switched off here"),
        ({"holdout": "on"}, "pricing-plans/eu-euro", "holdout", "this visitor is in the holdout"),
        ({"device": "bot"}, "pricing-plans/eu-euro", "bot", "bots always get the default page"),
        ({"arm": "control", "time": "14:00"}, "pricing-hero/phone", "control", "is in its control group"),
        (
            {},
            "pricing-testimonial/eu",
            "budget",
            "the page's variation budget of 3 went to stronger candidates: "
            "pricing-hero/phone, pricing-plans/eu-euro, pricing-cta/weekend",
        ),
    ],
)
def test_why_a_variant_did_not_show(app: Flask, params: dict[str, str], variant: str, kind: str, words: str) -> None:
    client = editor(app)
    response = view(client, **{**PHONE_DE_NIGHT, **params, "why": variant})
    block, name = variant.split("/")
    assert candidate(response, block, name)[0] == kind
    answer = soup(response).select_one("[data-why-not]").get_text(" ", strip=True)
    assert answer.startswith(f"Why not? {variant} did not show: ") and words in answer, answer


def test_why_not_a_learning_draw(app: Flask) -> None:
    client = editor(app)
    response = view(client, page="/pricing", device="desktop", country="DE", date=WEDNESDAY, time="14:00")
    shown = blocks(response)["pricing-testimonial"]["variant"]
    other = ({"default", "eu"} - {shown}).pop()
    kind, reason = candidate(response, "pricing-testimonial", other)
    assert kind == "allocation"
    assert f"The learning allocation drew {shown} for this visitor; this one's share here is 50%" in reason
    assert "segment country=de" in reason and "no allocation published yet" in reason


def test_why_not_a_paused_rule_and_a_rule_over_the_budget(tmp_path: Path, content_root: Path) -> None:
    (content_root / "content_variants" / "pricing-testimonial" / "_block.yaml").unlink()  # a rules block here
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        with app.app_context():
            weekend = next(v for v in current_site().catalog.conditional["pricing-cta"] if v.id == "weekend")
            pause_rule(weekend.rule_id, weekend.fingerprint, "hurts: -5 pts", datetime(2026, 12, 1))
        client = editor(app)
        response = view(client, **PHONE_DE_NIGHT)
        kind, reason = candidate(response, "pricing-cta", "weekend")
        assert kind == "paused" and "paused because its test showed it hurts" in reason
        # Without the weekend rule, four blocks match on a phone: the call to action, last on the page, gives way.
        assert blocks(response)["pricing-testimonial"]["variant"] == "phone"
        kind, reason = candidate(response, "pricing-cta", "phone")
        assert kind == "budget" and reason.startswith("It matched, but the page's variation budget of 3 went to")
        kind, reason = candidate(response, "pricing-cta", "default")
        assert kind == "shown" and "The default: pricing-cta/phone matched, but the page's variation budget" in reason
    finally:
        dispose(app)


def test_next_weeks_campaign_can_be_checked_today(tmp_path: Path, content_root: Path) -> None:
    (content_root / "content_variants" / "pricing-hero" / "weekend-offer.yaml").write_text(CAMPAIGN)
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        client = editor(app)
        desktop = {"page": "/pricing", "device": "desktop", "country": "DE", "time": "12:00"}
        before = view(client, **desktop, date=WEDNESDAY, why="pricing-hero/weekend-offer")
        kind, reason = candidate(before, "pricing-hero", "weekend-offer")
        assert kind == "schedule"
        assert "scheduled from 2026-12-04 23:00 until 2026-12-07 00:00 UTC" in reason and "before it starts" in reason
        during = view(client, **desktop, date=SATURDAY)
        assert blocks(during)["pricing-hero"]["variant"] == "weekend-offer"
        after = view(client, **desktop, date="2026-12-08")
        assert candidate(after, "pricing-hero", "weekend-offer") == (
            "schedule", "It is scheduled from 2026-12-04 23:00 until 2026-12-07 00:00 UTC, and 2026-12-08 11:00 UTC "
            "is after it ended.")  # fmt: skip
    finally:
        dispose(app)


def test_a_visitor_ids_own_control_groups(tmp_path: Path) -> None:
    app = make_app(tmp_path, RULE_CONTROL_SHARE=0.5)
    try:
        client = editor(app)
        ids = [f"visitor-{n}" for n in range(40)]
        held = next(v for v in ids if bucket("control:pricing-hero/phone", v) < 0.5)
        treated = next(v for v in ids if bucket("control:pricing-hero/phone", v) >= 0.5)
        day = {**PHONE_DE_NIGHT, "time": "14:00", "arm": "visitor"}
        assert blocks(view(client, **day, visitor=held))["pricing-hero"]["variant"] == "default"
        response = view(client, **day, visitor=treated)
        assert blocks(response)["pricing-hero"]["variant"] == "phone"
        assert "treated group of its test (control share 50%)" in candidate(response, "pricing-hero", "phone")[1]
    finally:
        dispose(app)


# ---------------------------------------------------------------- QA links


def make_qa_link(client: FlaskClient, params: dict[str, str], lifetime: str = "1d") -> str:
    response = client.post("/studio/qa", data={"csrf_token": studio_token(client, "/studio/qa"),
                                               "query": urlencode(params), "lifetime": lifetime})  # fmt: skip
    assert response.status_code == 200
    link = soup(response).select_one("[data-qa-link]")["value"]
    assert link.startswith("http://localhost/studio/qa/")
    return str(link).removeprefix("http://localhost")


def test_a_qa_link_opens_without_an_account_and_records_nothing(app: Flask) -> None:
    client = editor(app)
    link = make_qa_link(client, PHONE_DE_NIGHT)
    colleague = app.test_client()
    response = colleague.get(link)
    assert response.status_code == 200
    assert blocks(response) == blocks(view(client, **PHONE_DE_NIGHT))
    page = soup(response)
    marker = page.select_one("[data-studio-preview=qa]")
    assert marker is not None and "Preview shared from the Tessera studio" in marker.get_text(" ", strip=True)
    assert page.select_one("[data-studio-trace]") is not None
    assert not page.select("form[data-why-form], form[data-qa-form]")  # read-only
    assert not page.select('a[href^="/studio/preview"], a[href="/studio"]')
    assert "tessera_vid" not in " ".join(response.headers.getlist("Set-Cookie"))
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert colleague.get("/studio").status_code == 303  # the link opens that preview, nothing else
    assert set(visitor_rows(app).values()) == {0}


def test_a_qa_link_expires(tmp_path: Path) -> None:
    now = [datetime(2026, 12, 1, 9, 0)]
    app = make_app(tmp_path, CLOCK=lambda: now[0])
    try:
        link = make_qa_link(editor(app), PHONE_DE_NIGHT, lifetime="1h")
        colleague = app.test_client()
        now[0] += timedelta(minutes=59)
        assert colleague.get(link).status_code == 200
        now[0] += timedelta(minutes=1)
        gone = colleague.get(link)
        assert gone.status_code == 403 and soup(gone).select_one("[data-qa-gone]") is not None
        assert colleague.get(link[:-3] + "abc").status_code == 403  # tampered
    finally:
        dispose(app)


def test_rotating_the_key_revokes_every_qa_link(app: Flask) -> None:
    client = editor(app)
    first, second = make_qa_link(client, PHONE_DE_NIGHT), make_qa_link(client, {"page": "/"})
    colleague = app.test_client()
    assert colleague.get(first).status_code == 200 and colleague.get(second).status_code == 200
    rotated = client.post("/studio/qa/rotate", data={"csrf_token": studio_token(client, "/studio/qa")})
    assert rotated.status_code == 303
    assert soup(client.get(rotated.headers["Location"])).select_one("[data-qa-rotated]") is not None
    assert colleague.get(first).status_code == 403 and colleague.get(second).status_code == 403
    third = make_qa_link(client, PHONE_DE_NIGHT)
    assert colleague.get(third).status_code == 200
    result = app.test_cli_runner().invoke(args=["studio", "rotate-qa-key"])
    assert result.exit_code == 0 and "no longer opens" in result.output
    assert colleague.get(third).status_code == 403


def test_every_page_previews_with_its_overlay(app: Flask) -> None:
    client = editor(app)
    with app.app_context():
        paths = sorted(current_site().pages)
    for path in paths:
        for device in ("mobile", "desktop"):
            response = view(client, page=path, device=device, date=WEDNESDAY, time="09:00")
            assert response.status_code == 200, path
            page = soup(response)
            assert page.select_one("[data-studio-preview]") and page.select_one("[data-studio-trace]"), path
            assert len(page.select("[data-studio-block]")) == len(page.select("[data-block]")), path
    assert set(visitor_rows(app).values()) == {0}
