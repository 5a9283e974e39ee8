"""Retention: every record about a visitor's browsing has a limit, and the purge job enforces it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Conversion, Event, Exposure, Score, Signup, TopicInterest, Visitor
from tests.conftest import DESKTOP, csrf_token, dispose, get, make_app

NOW = datetime(2026, 11, 27, 12, 0)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _browse(client, clock: Clock, when: datetime, *, sign_up: bool = False) -> None:  # type: ignore[no-untyped-def]
    clock.now = when
    for path in ("/", "/guides/cookieless-measurement", "/pricing"):
        assert get(client, path).status_code == 200
    events = [{"id": str(uuid.uuid4()), "type": "scroll", "page": "/", "depth": 90}]
    response = client.post(
        "/events",
        data=json.dumps({"events": events}),
        headers={"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": "http://localhost"},
    )
    assert response.status_code == 200, response.get_json()
    if sign_up:
        form = {
            "csrf_token": csrf_token(client, "/signup"),
            "name": "Ada",
            "email": "a@example.com",
            "company_size": "1-10",
        }
        assert client.post("/signup", data=form, headers={"User-Agent": DESKTOP}).status_code == 303


def _count(model, **where) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return db.session.scalar(query) or 0


def test_the_purge_job_removes_every_record_past_its_retention(tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(tmp_path, CLOCK=clock)
    try:
        gone, regular = app.test_client(), app.test_client()
        _browse(gone, clock, NOW - timedelta(days=400), sign_up=True)  # not seen for 400 days
        _browse(regular, clock, NOW - timedelta(days=200), sign_up=True)  # a regular, who came back
        _browse(regular, clock, NOW - timedelta(days=100))
        _browse(regular, clock, NOW - timedelta(days=1))
        with app.app_context():
            gone_id, regular_id = (db.session.scalar(select(Visitor.id).order_by(Visitor.created_at).offset(i).limit(1))
                                   for i in (0, 1))  # fmt: skip
            db.session.add(Score(visitor_id=gone_id, convert=0.5, models={}, scored_at=NOW - timedelta(days=400)))
            db.session.commit()
        clock.now = NOW
        result = app.test_cli_runner().invoke(args=["jobs", "run", "purge", "--force"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            # The visitor not seen for over the visitor retention (395 days) is gone entirely.
            for model in (Exposure, Event, TopicInterest, Score, Conversion, Signup):
                assert _count(model, visitor_id=gone_id) == 0, model.__tablename__
            assert db.session.get(Visitor, gone_id) is None
            # The regular keeps what is within each retention, and loses the rest.
            assert _count(Exposure, visitor_id=regular_id) == 6  # of 1 and 100 days ago; those of 200 are past 180
            assert _count(Event, visitor_id=regular_id) == 1  # events of 1 day ago; 100 and 200 are past 90
            assert _count(Conversion, visitor_id=regular_id) == 1  # 200 days: within 395
            assert _count(Signup, visitor_id=regular_id) == 1
            visitor = db.session.get(Visitor, regular_id)
            assert visitor.page_views == 10  # the profile's totals stay (aggregate form)
        assert "page_views" in result.output and "visitors" in result.output
    finally:
        dispose(app)


def test_retention_periods_are_settings(tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(
        tmp_path, CLOCK=clock, EXPOSURE_RETENTION_DAYS=7, CONVERSION_RETENTION_DAYS=7, VISITOR_RETENTION_DAYS=30,
        EVENT_RETENTION_DAYS=7,
    )  # fmt: skip
    try:
        client = app.test_client()
        _browse(client, clock, NOW - timedelta(days=10), sign_up=True)
        _browse(client, clock, NOW - timedelta(days=2))
        clock.now = NOW
        assert app.test_cli_runner().invoke(args=["jobs", "run", "purge", "--force"]).exit_code == 0
        with app.app_context():
            assert _count(Exposure) == 3 and _count(Event) == 1 and _count(Conversion) == 0
            assert _count(Visitor) == 1 and _count(Signup) == 1
        clock.now = NOW + timedelta(days=40)
        assert app.test_cli_runner().invoke(args=["jobs", "run", "purge", "--force"]).exit_code == 0
        with app.app_context():
            assert _count(Visitor) == 0 and _count(Signup) == 0
    finally:
        dispose(app)
