"""Fixtures: a fresh app on a fresh database for every test.

The suite runs on SQLite by default. Set ``TEST_DATABASE_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) to run the very same
tests against PostgreSQL; tables are emptied before every test.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db
from app.store.schema import upgrade

ROOT = Path(__file__).resolve().parent.parent

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

#: Addresses the offline lookup places in these countries.
IP_US = "8.8.8.8"
IP_DE = "5.9.0.1"
IP_GB = "81.2.69.160"
IP_IN = "49.44.0.1"


#: Where the session's migrated SQLite template lives (an environment variable, because this
#: module is imported twice: as pytest's conftest and as ``tests.conftest`` by the tests).
_TEMPLATE = "TESSERA_TEST_SQLITE_TEMPLATE"


@pytest.fixture(scope="session", autouse=True)
def _migrated_schema(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build the schema once per run, through the migrations (as a real deployment does).

    PostgreSQL: every table is dropped and the database upgraded from nothing.
    SQLite: a template database is upgraded once and copied for every test.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        template = tmp_path_factory.mktemp("schema") / "template.sqlite"
        url = f"sqlite:///{template}"
        os.environ[_TEMPLATE] = str(template)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "schema", "SCHEDULER": "off"})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade()
    dispose(app)


@pytest.fixture(autouse=True)
def _closed_breaker() -> Iterator[None]:
    """Each test starts with the database breaker closed (a test may trip it on purpose)."""
    from app.store import health

    health.reset()
    yield
    health.reset()


def database_url(tmp_path: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite'}"


def make_app(tmp_path: Path, **overrides: object) -> Flask:
    """An app on the test database: migrated, and emptied of rows (PostgreSQL keeps them between tests)."""
    target = tmp_path / "test.sqlite"
    if not os.environ.get("TEST_DATABASE_URL") and not target.exists():
        shutil.copyfile(os.environ[_TEMPLATE], target)
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
        "SECRET_KEY": "test-secret-key",
        "HOLDOUT_SHARE": 0.0,
        # Like the holdout, rules' control groups are off unless a test is about them.
        "RULE_CONTROL_SHARE": 0.0,
        # Writes applied in the request, so a test can read them at once; the buffer and
        # the stream have tests of their own (tests/functional/test_writes.py).
        "WRITES": "direct",
        # With REDIS_URL (the rate limit, the stream) every app gets keys of its own.
        "REDIS_PREFIX": f"tessera-test-{uuid.uuid4().hex[:12]}",
        "SERVER_TIMEZONE": "UTC",
        "SCHEDULER": "off",
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    return app


def dispose(app: Flask) -> None:
    """Close the app's connections, once requests still running in a server's threads have given theirs back.

    A live server's request threads can outlive the test by a moment; a connection given back
    to a pool that was already disposed would be left for the garbage collector to close.
    """
    with app.app_context():
        db.session.remove()
        pool = db.engine.pool
        deadline = time.monotonic() + 5
        while getattr(pool, "checkedout", lambda: 0)() and time.monotonic() < deadline:
            time.sleep(0.02)
        db.engine.dispose()


@pytest.fixture
def content_root(tmp_path: Path) -> Path:
    """A private copy of the demo content that a test may break."""
    root = tmp_path / "content"
    for name in ("pages", "content_variants"):
        shutil.copytree(ROOT / name, root / name)
    return root


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)
    yield app
    dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


def get(client: FlaskClient, path: str, ua: str = DESKTOP, ip: str = IP_US, tz: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    """GET a page as a browser would: a User-Agent, a client address and the ``tz`` cookie."""
    if tz is not None:
        client.set_cookie("tz", tz)
    return client.get(path, headers={"User-Agent": ua, **headers}, environ_base={"REMOTE_ADDR": ip})


def soup(response) -> BeautifulSoup:  # type: ignore[no-untyped-def]
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def blocks(response) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Every block on a page: data-block -> its data-* attributes."""
    found = {}
    for el in soup(response).select("[data-block]"):
        found[el["data-block"]] = {
            "component": el["data-component"],
            "variant": el["data-variant"],
            "layer": el["data-layer"],
            "topics": el.get("data-topics", ""),
            "why": el.select_one("[data-why]").get_text(" ", strip=True) if el.select_one("[data-why]") else "",
        }
    return found


def block_order(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [el["data-block"] for el in soup(response).select("[data-block]")]


def csrf_token(client: FlaskClient, path: str = "/preferences") -> str:
    page = soup(client.get(path, headers={"User-Agent": DESKTOP}))
    field = page.select_one("input[name=csrf_token]")
    assert field is not None, f"no CSRF token on {path}"
    return str(field["value"])


def zone_at(hours: set[int]) -> str:
    """A fixed-offset IANA zone whose local hour is now in ``hours``."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for offset in range(-12, 15):
        if (now + timedelta(hours=offset)).hour in hours:
            # Etc/GMT signs are inverted: Etc/GMT-3 is UTC+3.
            return "Etc/GMT" + ("+" if offset <= 0 else "-") + str(abs(offset)) if offset else "Etc/GMT"
    raise AssertionError("no zone found")  # every hour is covered by -12..+14
