"""Event ingestion throughput: events per second through POST /events, in process.

    python bench/ingest.py [--requests 400] [--batch 50] [--database URL]

Drives the real endpoint (validation, rate limiting, idempotent insert,
profile update) through the WSGI interface with batches of events from a
pool of visitors, on SQLite in a temporary folder unless --database is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.store import db  # noqa: E402
from app.store.models import Event  # noqa: E402

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
PAGES = ["/guides/cookieless-measurement", "/guides/experiments-for-small-teams", "/"]


def batch(size: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for i in range(size):
        kind = i % 3
        page = PAGES[i % len(PAGES)]
        if kind == 0:
            events.append({"id": str(uuid.uuid4()), "type": "dwell", "page": page, "ms": 4000 + i})
        elif kind == 1:
            events.append({"id": str(uuid.uuid4()), "type": "scroll", "page": page, "depth": i % 101})
        else:
            events.append({"id": str(uuid.uuid4()), "type": "click", "page": "/", "block": "home-cta",
                           "variant": "default", "target": "cta"})  # fmt: skip
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/bench.sqlite"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off",
                          "RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9})  # fmt: skip
        clients = []
        for _ in range(args.visitors):
            client = app.test_client()
            client.get("/", headers={"User-Agent": UA})
            clients.append(client)
        bodies = [json.dumps({"events": batch(args.batch)}) for _ in range(args.requests)]
        headers = {"User-Agent": UA, "Content-Type": "application/json", "Origin": "http://localhost"}
        accepted = 0
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            response = clients[i % len(clients)].post("/events", data=body, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            accepted += response.get_json()["accepted"]
        with app.app_context():  # the writes still buffered count too: applied inside the timing
            app.extensions["tessera.writer"].flush()
            elapsed = time.perf_counter() - start
            stored = db.session.scalar(select(func.count()).select_from(Event))
            db.session.remove()
    assert accepted == args.requests * args.batch
    assert stored == accepted, f"{stored} events stored for {accepted} accepted"
    writes = app.extensions["tessera.writer"].mode
    print(f"{accepted} events in {args.requests} requests of {args.batch} ({args.visitors} visitors) "
          f"on {url.split(':', 1)[0]}, writes: {writes}: {elapsed:.2f} s, {stored} stored")  # fmt: skip
    per_request = elapsed / args.requests * 1e3
    print(f"ingestion: {accepted / elapsed:,.0f} events/s, {per_request:.2f} ms per request "
          f"(target >= 5,000 events/s on SQLite)")  # fmt: skip


if __name__ == "__main__":
    main()
