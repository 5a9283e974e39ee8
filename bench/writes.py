"""Write-path benchmark: what applying the writes of a page view and of a beacon request costs, in process.

    python bench/writes.py [--database postgresql+psycopg://user@host:port/any] [--batch 50]

Real requests make the write entries (the home page of 54 returning readers
with full profiles, as ``render.py`` makes them; ``POST /events`` of 20 dwell
events from 200 visitors), captured instead of handed to the writer; then
they are applied in batches of ``--batch`` entries with ``app.store.writes.apply``,
as the flusher and the Redis consumer apply them, and timed. The request
itself is timed without its writes, for scale. SQLite in a temporary folder
by default; with ``--database`` a new database on that server, dropped
afterwards.
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

from app import create_app  # noqa: E402
from app.store import writes  # noqa: E402
from bench import render  # noqa: E402
from bench.load import fresh_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL server URL (a new database is made on it)")
    parser.add_argument("--batch", type=int, default=50, help="entries applied together")
    parser.add_argument("--pages", type=int, default=2000, help="page views to apply")
    parser.add_argument("--beacons", type=int, default=1000, help="beacon requests (20 events each) to apply")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "HOLDOUT_SHARE": 0.0,
                  "WTF_CSRF_ENABLED": False, "RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9}  # fmt: skip
        app = create_app(config)
        readers = []
        for i, ctx in enumerate(render.contexts()):
            client = app.test_client()
            client.set_cookie("tz", ctx["tz"])
            render.browse_as_reader(client, ctx, topic=i % 3)
            readers.append((ctx, f"tessera_vid={client.get_cookie('tessera_vid').value}; tz={ctx['tz']}"))
        writer = app.extensions["tessera.writer"]
        with app.app_context():
            writer.flush()
        captured: list[dict] = []  # type: ignore[type-arg]
        writer.submit = captured.append
        client = app.test_client(use_cookies=False)

        def page(i: int) -> None:
            ctx, cookie = readers[i % len(readers)]
            headers = {"User-Agent": ctx["ua"], "Accept-Language": ctx["lang"], "Cookie": cookie}
            assert client.get("/", headers=headers, environ_base={"REMOTE_ADDR": ctx["ip"]}).status_code == 200

        def beacon(i: int) -> None:
            ctx, cookie = readers[i % len(readers)]
            events = [{"id": str(uuid.uuid4()), "type": "dwell", "page": "/", "ms": 5000} for _ in range(20)]
            headers = {"User-Agent": ctx["ua"], "Content-Type": "application/json", "Origin": "http://localhost",
                       "Cookie": cookie}  # fmt: skip
            response = client.post("/events", data=json.dumps({"events": events}), headers=headers,
                                   environ_base={"REMOTE_ADDR": ctx["ip"]})  # fmt: skip
            assert response.status_code == 200, response.get_json()

        print(f"{url.split(':')[0]}: batches of {args.batch} entries")
        for name, request, count in (("page view", page, args.pages), ("beacon request", beacon, args.beacons)):
            captured.clear()
            started = time.perf_counter()
            for i in range(count):
                request(i)
            requested = time.perf_counter() - started
            assert len(captured) == count
            with app.app_context():
                started = time.perf_counter()
                for i in range(0, count, args.batch):
                    writes.apply(captured[i : i + args.batch])
                applied = time.perf_counter() - started
            print(f"  {name:>14}: its writes applied in {applied / count * 1e6:7.0f} us each; "
                  f"the request without them {requested / count * 1e3:.2f} ms")  # fmt: skip
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()


if __name__ == "__main__":
    main()
