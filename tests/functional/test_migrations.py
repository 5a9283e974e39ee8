"""The schema is the migrations: databases upgrade in place with their rows, and CI notices a
model changed without a migration."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from app import create_app
from app.extensions import db
from app.store.models import Conversion, Event, Exposure, Signup, TopicInterest, Visitor
from app.store.schema import head_revision, upgrade
from app.web.context import VISITOR_COOKIE, sign_visitor_id
from tests.conftest import IPHONE, ROOT, blocks, dispose, get
from tests.servers import fresh_postgres_database

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
LANDED = ROOT / "tests" / "data" / "landed"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    if not PG_URL.startswith("postgresql"):
        pytest.skip("PostgreSQL not configured: set TEST_DATABASE_URL=postgresql+psycopg://... to run these")
    with fresh_postgres_database(PG_URL) as url:
        yield url


def _app(url: str, **config: object) -> Flask:
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret-key", "SCHEDULER": "off", "TESTING": True,
         "SERVER_TIMEZONE": "UTC", "RULE_CONTROL_SHARE": 0.0, "WRITES": "direct", **config}
    )  # fmt: skip


def _revision(app: Flask) -> str | None:
    with app.app_context():
        return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def test_models_and_migrations_agree(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert _revision(app) == head_revision()


def test_a_model_changed_without_a_migration_fails_the_check(tmp_path: Path) -> None:
    """What CI runs (`flask db check`) fails when a model gains a column that no migration adds."""
    url = f"sqlite:///{tmp_path / 'check.sqlite'}"
    script = (
        "import sqlalchemy as sa\n"
        "from app.store.models import Visitor\n"
        "Visitor.__table__.append_column(sa.Column('nickname', sa.String(40), nullable=True))\n"
        "from flask.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x", "FLASK_APP": "wsgi"}
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    checked = subprocess.run(
        [sys.executable, "-c", script, "db", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert checked.returncode != 0
    assert "nickname" in checked.stdout + checked.stderr


def test_a_database_at_the_first_revision_upgrades_with_its_rows(empty_database: str) -> None:
    app = _app(empty_database)
    try:
        with app.app_context():
            upgrade_to("0001")
            now = datetime(2026, 11, 1, 12, 0)
            visitor = "a" + "0" * 31
            with db.engine.begin() as connection:
                # Only the columns revision 0001 has.
                connection.execute(
                    Visitor.__table__.insert().values(
                        id=visitor, created_at=now, last_seen_at=now, visits=2, gpc=False, page_views=5,
                        pricing_views=1, articles_read=3, clicks=4, scroll_total=150, scroll_samples=2,
                        dwell_ms_total=60000, dwell_samples=2, converted=False, behavioral=False,
                        recent_pages=["/guides/cookieless-measurement"],
                    )
                )  # fmt: skip
                connection.execute(
                    Exposure.__table__.insert(),
                    [{"visitor_id": visitor, "path": "/", "holdout": True, "blocks": [], "created_at": now},
                     {"visitor_id": visitor, "path": "/pricing", "holdout": False, "blocks": [], "created_at": now}],
                )  # fmt: skip
                connection.execute(
                    TopicInterest.__table__.insert(),
                    {"visitor_id": visitor, "topic": "privacy", "score": 9.0, "articles": 3},
                )
                connection.execute(
                    Event.__table__.insert(),
                    {
                        "event_id": "e" * 8,
                        "visitor_id": visitor,
                        "type": "scroll",
                        "page": "/",
                        "depth": 80,
                        "created_at": now,
                    },
                )
                connection.execute(
                    Conversion.__table__.insert(),
                    {"visitor_id": visitor, "goal": "signup", "path": "/signup", "holdout": True, "created_at": now},
                )
            assert _revision(app) == "0001"
            upgrade()
            assert _revision(app) == head_revision()
            v = db.session.get(Visitor, visitor)
            assert (v.page_views, v.articles_read, v.dwell_ms_total, v.behavioral) == (5, 3, 60000, False)
            assert v.holdout is True  # the group its first exposure recorded
            for model, expected in ((Exposure, 2), (TopicInterest, 1), (Event, 1), (Conversion, 1)):
                assert db.session.scalar(select(func.count()).select_from(model)) == expected
    finally:
        dispose(app)


def upgrade_to(revision: str) -> None:
    from flask_migrate import upgrade as alembic_upgrade

    from app.store.schema import MIGRATIONS

    alembic_upgrade(directory=str(MIGRATIONS), revision=revision)


def _load_landed(url: str) -> None:
    """A database made by Tessera 0.1 (before migrations), from the dump in tests/data/landed."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        connection.executescript((LANDED / "tessera-0.1.sqlite.sql").read_text())
        connection.close()
        return
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql((LANDED / "tessera-0.1.postgresql.sql").read_text())
    engine.dispose()


def test_a_database_made_before_migrations_upgrades_in_place(empty_database: str) -> None:
    _load_landed(empty_database)
    app = _app(empty_database)
    try:
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert _revision(app) == head_revision()
        with app.app_context():
            counts = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                      for m in (Visitor, Exposure, Event, TopicInterest, Conversion, Signup)}  # fmt: skip
            holdouts = db.session.scalars(select(Visitor.holdout)).all()
            visitor = db.session.scalars(select(Visitor).where(Visitor.converted.is_(True))).one()
            visitor_id, views = visitor.id, visitor.page_views
        # The counts the dump was made with (tests/data/landed/make.py).
        assert counts == {"visitors": 3, "exposures": 16, "events": 6, "topic_interests": 3, "conversions": 1,
                          "signups": 1}  # fmt: skip
        assert all(h is not None for h in holdouts)
        assert views == 6  # five pages and the sign-up form
        # The visitor comes back with their cookie: known, with their history, on the new schema.
        client = app.test_client()
        client.set_cookie(VISITOR_COOKIE, sign_visitor_id(visitor_id, ("fixture",)))
        app.config["SECRET_KEYS"] = ("test-secret-key", "fixture")  # the dump's key, as a rotated-out key
        assert get(client, "/", IPHONE).status_code == 200
        with app.app_context():
            assert db.session.get(Visitor, visitor_id).page_views == 7
    finally:
        dispose(app)


def test_a_new_database_is_created_by_the_migrations_on_first_request(empty_database: str) -> None:
    app = _app(empty_database, HOLDOUT_SHARE=0.0)
    try:
        response = get(app.test_client(), "/", IPHONE)
        assert response.status_code == 200 and blocks(response)["home-hero"]["variant"] == "phone"
        assert _revision(app) == head_revision()
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Exposure)) == 1
    finally:
        dispose(app)


def test_a_database_behind_without_auto_migrate_is_an_outage_with_a_clear_log(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(empty_database, AUTO_MIGRATE=False)
    try:
        with app.app_context():
            upgrade_to("0001")
        client = app.test_client()
        page = get(client, "/", IPHONE)
        assert page.status_code == 200 and blocks(page)["home-hero"]["layer"] == "default"
        assert "flask --app wsgi db upgrade" in caplog.text
        from app.store import health

        health.reset()
        assert get(client, "/preferences", IPHONE).status_code == 503
        assert _revision(app) == "0001"  # nothing was changed behind the operator's back
    finally:
        from app.store import health

        health.reset()
        dispose(app)
