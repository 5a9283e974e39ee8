"""Several processes posting events at once: every accepted event is stored, none is lost.

On SQLite this exercises WAL and the busy timeout (no "database is locked"
reaches a visitor); with TEST_DATABASE_URL it runs the same on PostgreSQL.
"""

from __future__ import annotations

import json
import multiprocessing
import uuid
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Event
from tests.conftest import DESKTOP, database_url, dispose, make_app

PROCESSES = 4
BATCHES = 8
PER_BATCH = 50


def _worker(url: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from app import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret-key", "SCHEDULER": "off", "WRITES": "direct"}
    )
    client = app.test_client()
    client.get("/", headers={"User-Agent": DESKTOP})
    accepted, statuses = 0, []
    for _ in range(BATCHES):
        events = [
            {"id": str(uuid.uuid4()), "type": "dwell", "page": "/guides/cookieless-measurement", "ms": 1000}
            for _ in range(PER_BATCH)
        ]
        response = client.post(
            "/events",
            data=json.dumps({"events": events}),
            headers={"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": "http://localhost"},
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            accepted += response.get_json()["accepted"]
    results.put((accepted, statuses))


def test_concurrent_processes_lose_no_event(tmp_path: Path) -> None:
    app = make_app(tmp_path)  # creates the schema and starts empty
    url = database_url(tmp_path)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(url, results)) for _ in range(PROCESSES)]
    try:
        for w in workers:
            w.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for w in workers:
            w.join(timeout=30)
        statuses = [s for _, batch in outcomes for s in batch]
        assert statuses == [200] * (PROCESSES * BATCHES)
        accepted = sum(a for a, _ in outcomes)
        assert accepted == PROCESSES * BATCHES * PER_BATCH
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Event)) == accepted
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
        results.close()
        results.join_thread()
        dispose(app)
