"""Real processes: gunicorn workers and the scheduler starting together on a new database,
and a site that outlives a database outage during which a worker restarted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import create_engine, func, make_url, select, text

from app.store.health import BREAK_SECONDS
from app.store.models import Exposure, Visitor
from app.store.schema import head_revision
from tests.conftest import IPHONE
from tests.servers import Gunicorn, Proxy, base_env, fetch, free_port, fresh_postgres_database, spawn, wait_until

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
needs_postgres = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="PostgreSQL not configured: set TEST_DATABASE_URL=postgresql+psycopg://... to run these",
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nothing has touched: a path with no file yet, or an empty PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'instance' / 'new.sqlite'}"
    else:
        with fresh_postgres_database(PG_URL) as url:
            yield url


def _scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "scheduler"]
    return spawn(command, env, log)


@pytest.mark.parametrize("round_", range(3))
def test_workers_and_scheduler_start_together_on_a_new_database(new_database: str, tmp_path: Path, round_: int) -> None:
    env = base_env(new_database, TESSERA_PURGE_INTERVAL="1")
    server = Gunicorn(env, workers=4)
    server.start(tmp_path / f"gunicorn-{round_}.log")
    scheduler = _scheduler(env, tmp_path / f"scheduler-{round_}.log")
    try:
        wait_until(lambda: fetch(server.url + "/", timeout=5).status == 200, timeout=60)
        # Every worker answers: many requests, each a new visitor, all served and recorded.
        statuses = [fetch(server.url + path, headers={"User-Agent": IPHONE}).status for path in ["/", "/pricing"] * 12]
        assert statuses == [200] * 24, server.output()
        assert server.alive() and len(server.worker_pids()) == 4, server.output()
        engine = create_engine(new_database)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
                # The workers' writes leave the request: they land within a flush interval.
                wait_until(lambda: _count(engine, Exposure) >= 24, 10)
                # The scheduler came up too and ran its purge on the new schema.
                wait_until(
                    lambda: connection.execute(text("SELECT count(*) FROM job_runs WHERE status = 'ok'")).scalar(),
                    timeout=30,
                )
        finally:
            engine.dispose()
        assert scheduler.poll() is None
        assert "database is locked" not in server.output()
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=20)
        server.stop()


def _count(engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:  # a new snapshot every time
        return int(connection.execute(select(func.count()).select_from(model)).scalar() or 0)


def _visitor_cookie(response) -> str:  # type: ignore[no-untyped-def]
    for header in response.cookies:
        cookie = SimpleCookie(header)
        if "tessera_vid" in cookie:
            return f"tessera_vid={cookie['tessera_vid'].value}"
    raise AssertionError(f"no visitor cookie in {response.cookies}")


def _hero_layer(body: str) -> str:
    return str(BeautifulSoup(body, "html.parser").select_one("[data-block=home-hero]")["data-layer"])


@needs_postgres
def test_the_site_outlives_a_database_outage_during_which_a_worker_restarted(tmp_path: Path) -> None:
    with fresh_postgres_database(PG_URL) as direct_url:
        target = (os.environ.get("PGHOST", "127.0.0.1"), 5432)
        proxy = Proxy(target)
        via_proxy = make_url(direct_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        # The access log names the worker that answered each request.
        access_log = "--access-logfile - --access-logformat 'worker=%(p)s %(r)s %(s)s'"
        server = Gunicorn(base_env(via_proxy, TESSERA_DB_TIMEOUT="2", GUNICORN_CMD_ARGS=access_log), workers=2)
        server.start(tmp_path / "gunicorn.log")
        engine = create_engine(direct_url)
        try:
            wait_until(lambda: fetch(server.url + "/", timeout=5).status == 200, timeout=60)
            first = fetch(server.url + "/", headers={"User-Agent": IPHONE})
            phone = {"User-Agent": IPHONE, "Cookie": _visitor_cookie(first)}
            # This client sends back only the visitor cookie (not the pending one): let the first write land.
            wait_until(lambda: _count(engine, Visitor) == 1, 10)
            assert _hero_layer(fetch(server.url + "/", headers=phone).body) == "contextual"

            # 1. The database hangs with connections open in the pool: nobody waits for
            # gunicorn's 30 s timeout (the watchdog, then the connect timeout, answer).
            _until_every_worker_served(server, phone)  # so each worker holds a pooled connection
            time.sleep(0.5)  # and its writes have flushed (every 50 ms): the requests below check it out
            proxy.hang()
            for path in ("/", "/preferences", "/", "/preferences"):
                answer = fetch(server.url + path, headers=phone)
                assert answer.seconds < 7, (path, answer.seconds)
                assert answer.status == (200 if path == "/" else 503)
                assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
            assert "past its deadline: connection shut down" in server.output()
            proxy.restore()
            _recovered(server, phone)

            # 2. The database goes down, and a worker restarts during the outage (as after an OOM kill).
            proxy.refuse()
            os.kill(server.worker_pids()[0], signal.SIGKILL)
            wait_until(lambda: len(server.worker_pids()) == 2, timeout=30)
            assert server.alive(), server.output()
            for _ in range(6):
                page = fetch(server.url + "/", headers=phone)
                # Pages still render, as everyone's default, at once and with our headers.
                assert page.status == 200 and page.seconds < 5
                assert _hero_layer(page.body) == "default"
                assert "default-src 'self'" in page.headers["Content-Security-Policy"]
                assert "Set-Cookie" not in page.headers  # the visitor keeps their identity
                settings = fetch(server.url + "/preferences", headers=phone)
                assert settings.status == 503 and settings.seconds < 5
                assert "reach our database right now" in settings.body
                assert settings.headers["Retry-After"] == "5"
                assert "default-src 'self'" in settings.headers["Content-Security-Policy"]
            events = fetch(
                server.url + "/events",
                headers={**phone, "Content-Type": "application/json", "Origin": server.url},
                data=json.dumps({"events": []}).encode(),
            )
            assert events.status == 503 and "unavailable" in json.loads(events.body)["error"]

            # 3. It comes back: the site recovers by itself, visitor and history intact.
            proxy.restore()
            _recovered(server, phone)
            with engine.connect() as connection:
                visitor_id = connection.execute(select(Visitor.id)).scalars().all()
                assert len(visitor_id) == 1  # no new identity was made during the outage

            # 4. PostgreSQL drops every connection (a restart): no request fails for it.
            proxy.drop()
            answers = [fetch(server.url + "/", headers=phone) for _ in range(8)]
            assert [a.status for a in answers] == [200] * 8, server.output()
            assert {_hero_layer(a.body) for a in answers} == {"contextual"}
            wait_until(lambda: _count(engine, Exposure) >= 10, 10)
        finally:
            server.stop()
            proxy.close()
            engine.dispose()


def _until_every_worker_served(server: Gunicorn, headers: dict[str, str]) -> None:
    """Concurrent requests until the access log shows that every worker answered one."""
    workers = set(server.worker_pids())

    def served() -> bool:
        with ThreadPoolExecutor(4) as pool:
            assert all(a.status == 200 for a in pool.map(lambda _: fetch(server.url + "/", headers=headers), range(8)))
        answered = {int(pid) for pid in re.findall(r"worker=<?(\d+)>? GET", server.output())}
        return workers <= answered

    wait_until(served, timeout=30)


def _recovered(server: Gunicorn, headers: dict[str, str]) -> None:
    """Every worker serves personalized pages again (each worker's breaker lets a request through)."""
    time.sleep(BREAK_SECONDS + 0.5)
    wait_until(
        lambda: all(_hero_layer(fetch(server.url + "/", headers=headers).body) == "contextual" for _ in range(6)),
        timeout=30,
    )


def test_a_worker_starts_while_the_database_is_down(tmp_path: Path) -> None:
    """Booting touches no database: gunicorn keeps its workers, and pages answer with the default site."""
    nothing_listens = free_port()
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{nothing_listens}/{uuid.uuid4().hex}"
    server = Gunicorn(base_env(unreachable, TESSERA_DB_TIMEOUT="1"), workers=2)
    server.start(tmp_path / "gunicorn.log")
    try:
        page = wait_until(lambda: fetch(server.url + "/", headers={"User-Agent": IPHONE}, timeout=10), timeout=60)
        assert page.status == 200 and _hero_layer(page.body) == "default"
        assert fetch(server.url + "/preferences").status == 503
        assert server.alive() and len(server.worker_pids()) == 2, server.output()
    finally:
        server.stop()
