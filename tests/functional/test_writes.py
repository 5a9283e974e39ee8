"""Writes off the request path: the in-process buffer and the Redis stream.

Every page view, exposure and event arrives exactly once (render keys and
event ids make a retry harmless), a clean shutdown loses nothing, a killed
consumer's pending entries are taken over, and a visitor's next page already
counts the view before it (read-your-writes), whichever mode is on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Event, Exposure, Visitor
from app.store.writes import BufferWriter, Consumer, StreamWriter, redis_client
from tests.conftest import DESKTOP, ROOT, blocks, database_url, dispose, get, make_app, zone_at
from tests.servers import Gunicorn, base_env, fetch, wait_until

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="Redis not configured: set REDIS_URL=redis://... to run these")
DAY = zone_at({13, 14, 15})
PRIVACY = ["/guides/cookieless-measurement", "/guides/consent-without-dark-patterns"]


def count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        value = db.session.scalar(select(func.count()).select_from(model)) or 0
        db.session.remove()
        return value


def dwell(page: str = "/") -> dict:  # type: ignore[type-arg]
    return {"id": str(uuid.uuid4()), "type": "dwell", "page": page, "ms": 5000}


def post(client: FlaskClient, events: list) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/events",
        data=json.dumps({"events": events}),
        headers={"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": "http://localhost"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def held_buffer(app: Flask) -> BufferWriter:
    """The app's writer as a buffer that does not flush by itself (the test says when)."""
    writer = BufferWriter(app, interval=3600)
    app.extensions["tessera.writer"] = writer
    return writer


def test_the_buffer_applies_every_write_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writer = held_buffer(app)
    try:
        clients = [app.test_client() for _ in range(10)]
        sent = []
        for client in clients:
            for path in ("/", "/pricing", PRIVACY[0]):
                assert get(client, path, DESKTOP, tz=DAY).status_code == 200
            events = [dwell(), dwell(PRIVACY[0])]
            assert post(client, events)["accepted"] == 2
            sent.append(events)
        assert count(app, Exposure) == 0 and writer.pending() > 0  # nothing written in the requests
        with app.app_context():
            writer.flush()
            writer.flush()  # a second flush finds nothing
        assert count(app, Visitor) == 10 and count(app, Exposure) == 30 and count(app, Event) == 20
        # A retry of an event batch after it landed: counted as a duplicate, stored once.
        assert post(clients[0], sent[0]) == {"accepted": 0, "duplicates": 2, "rejected": []}
        with app.app_context():
            writer.flush()
        assert count(app, Event) == 20
        with app.app_context():
            views = db.session.scalars(select(Visitor.page_views)).all()
        assert views == [3] * 10
    finally:
        dispose(app)


def test_a_redelivered_batch_changes_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writer = held_buffer(app)
    try:
        client = app.test_client()
        for path in ("/", PRIVACY[0], PRIVACY[1]):
            get(client, path, DESKTOP, tz=DAY)
        post(client, [dwell(), dwell()])
        entries = list(writer._queue)
        with app.app_context():
            from app.store import writes

            first = writes.apply(entries)
            again = writes.apply(entries)
        assert (first.renders, first.events) == (3, 2)
        assert (again.renders, again.skipped, again.events) == (0, 3, 0)  # the events' ids are already stored
        with app.app_context():
            visitor = db.session.scalars(select(Visitor)).one()
            assert (visitor.page_views, visitor.articles_read, visitor.dwell_samples) == (3, 2, 2)
            assert visitor.guides_read == [PRIVACY[0], PRIVACY[1]]
        assert count(app, Exposure) == 3 and count(app, Event) == 2
    finally:
        dispose(app)


def _privacy_reader(app: Flask) -> FlaskClient:
    """A visitor who read three privacy guides (two distinct), none of it flushed yet."""
    client = app.test_client()
    for path in (PRIVACY[0], PRIVACY[1], PRIVACY[0]):
        get(client, path, DESKTOP, tz=DAY)
    return client


def test_the_next_page_already_counts_the_view_before_it(tmp_path: Path) -> None:
    """Nothing is flushed, yet the third guide makes the visitor a privacy reader on their next page."""
    app = make_app(tmp_path)
    held_buffer(app)
    try:
        client = _privacy_reader(app)
        home = blocks(get(client, "/", DESKTOP, tz=DAY))
        assert count(app, Exposure) == 0  # nothing has landed
        assert home["home-guides"]["variant"] == "reads-privacy"  # three page views counted all the same
        assert "you've read two guides about privacy" in home["home-guides"]["why"]
        # A forged pending cookie counts nothing.
        stranger = app.test_client()
        get(stranger, "/", DESKTOP, tz=DAY)
        stranger.set_cookie("tessera_pending", "W10.forged")
        assert all(b["layer"] != "behavioral" for b in blocks(get(stranger, "/", DESKTOP, tz=DAY)).values())
    finally:
        dispose(app)


def test_a_pending_cookie_as_the_previous_version_signed_it_still_counts(tmp_path: Path) -> None:
    """The pending cookie is now signed without zlib (cheaper); one that itsdangerous compressed still reads."""
    from itsdangerous import URLSafeSerializer

    app = make_app(tmp_path)
    held_buffer(app)
    try:
        client = _privacy_reader(app)
        sent = client.get_cookie("tessera_pending")
        assert sent is not None and not sent.value.startswith(".")  # "." marks a compressed payload
        stock = URLSafeSerializer("test-secret-key", salt="tessera-pending")
        views = stock.loads(sent.value)
        assert [path for _, path, _ in views] == [PRIVACY[0], PRIVACY[1], PRIVACY[0]]
        earlier = stock.dumps(views)
        assert earlier.startswith(".")  # compressed, as before
        client.set_cookie("tessera_pending", earlier)
        home = blocks(get(client, "/", DESKTOP, tz=DAY))
        assert count(app, Exposure) == 0
        assert home["home-guides"]["variant"] == "reads-privacy"  # the three views counted from it
    finally:
        dispose(app)


def test_a_full_buffer_makes_the_request_write_itself(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    writer = BufferWriter(app, interval=3600, limit=2)
    app.extensions["tessera.writer"] = writer
    try:
        client = app.test_client()
        for _ in range(5):
            get(client, "/", DESKTOP, tz=DAY)
        assert writer.pending() == 2 and count(app, Exposure) == 3  # back-pressure, not loss
    finally:
        dispose(app)


def _gunicorn_with_buffer(tmp_path: Path, flush: str) -> Gunicorn:
    env = base_env(database_url(tmp_path), TESSERA_WRITES="buffer", TESSERA_FLUSH_SECONDS=flush)
    server = Gunicorn(env, workers=2).start(tmp_path / "gunicorn.log")
    wait_until(lambda: fetch(server.url + "/", timeout=5).status == 200, timeout=60)
    return server


def test_a_database_outage_during_a_flush_loses_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import exc

    from app.store import writes

    app = make_app(tmp_path)
    writer = held_buffer(app)
    try:
        clients = [app.test_client() for _ in range(3)]
        for client in clients:
            for path in ("/", PRIVACY[0]):
                get(client, path, DESKTOP, tz=DAY)
        queued = writer.pending()
        assert queued == 6
        real, calls = writes._apply, []

        def flaky(entries):  # type: ignore[no-untyped-def]
            calls.append(len(entries))
            if len(entries) > 1:
                raise ValueError("one bad entry in the batch")  # -> one by one
            if len(calls) == 3:  # the second entry on its own: the database goes away
                raise exc.OperationalError("UPDATE visitors", {}, Exception("server closed the connection"))
            return real(entries)

        monkeypatch.setattr(writes, "_apply", flaky)
        with app.app_context(), pytest.raises(exc.OperationalError):
            writer.flush()
        assert writer.pending() == queued  # the whole batch is kept for the next try
        assert count(app, Exposure) == 1  # the first entry had landed before the outage
        monkeypatch.setattr(writes, "_apply", real)
        with app.app_context():
            writer.flush()
        assert writer.pending() == 0
        assert count(app, Exposure) == 6  # the one applied twice is stored once
        with app.app_context():
            assert db.session.scalars(select(Visitor.page_views)).all() == [2, 2, 2]
    finally:
        dispose(app)


def test_an_entry_that_cannot_be_applied_is_set_aside_not_retried_forever(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path)
    writer = held_buffer(app)
    try:
        client = app.test_client()
        get(client, "/", DESKTOP, tz=DAY)
        broken = {**writer._queue[0], "id": uuid.uuid4().hex}
        del broken["blocks"]  # say, written by a newer version of the app
        writer._queue.appendleft(broken)
        get(client, PRIVACY[0], DESKTOP, tz=DAY)
        with app.app_context():
            writer.flush()
        assert writer.pending() == 0
        assert count(app, Exposure) == 2  # the good ones landed, before and after it
        assert f"write {broken['id']} of visitor {broken['visitor']} set aside" in caplog.text
        # Alone in its batch, it is set aside too (not put back for ever).
        writer._queue.append(broken)
        with app.app_context():
            writer.flush()
        assert writer.pending() == 0 and count(app, Exposure) == 2
    finally:
        dispose(app)


def test_a_clean_shutdown_loses_nothing(tmp_path: Path) -> None:
    dispose(make_app(tmp_path))  # the schema, and no connection left open
    server = _gunicorn_with_buffer(tmp_path, "30")  # nothing is flushed by the clock in this test
    try:
        for _ in range(40):
            assert fetch(server.url + "/", headers={"User-Agent": DESKTOP}).status == 200
    finally:
        server.stop()  # SIGTERM: each worker applies its buffer before it exits
    app = make_app_on_same_database(tmp_path)
    try:
        assert count(app, Exposure) == 40, server.output()
    finally:
        dispose(app)


def test_kill_9_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    dispose(make_app(tmp_path))
    server = _gunicorn_with_buffer(tmp_path, "1")
    try:
        for _ in range(30):
            fetch(server.url + "/", headers={"User-Agent": DESKTOP})
        time.sleep(2.5)  # more than two intervals: all of these have landed
        for _ in range(10):
            fetch(server.url + "/", headers={"User-Agent": DESKTOP})
        for pid in server.worker_pids():
            os.kill(pid, signal.SIGKILL)
        os.kill(server.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        server.process.wait()  # type: ignore[union-attr]
    finally:
        server.stop()
    app = make_app_on_same_database(tmp_path)
    try:
        stored = count(app, Exposure)
        # Everything older than the interval landed; of the last interval's 10, some may be lost.
        assert 30 <= stored <= 40, stored
    finally:
        dispose(app)


def make_app_on_same_database(tmp_path: Path) -> Flask:
    """An app on the test's database that keeps its rows (make_app empties them)."""
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url(tmp_path), "SECRET_KEY": "test-secret-key",
                       "SCHEDULER": "off", "WRITES": "direct"})  # fmt: skip


# ----------------------------------------------------------------- the stream


@pytest.fixture
def streamed(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not REDIS_URL:
        pytest.skip("Redis not configured: set REDIS_URL=redis://... to run these")
    app = make_app(tmp_path, REDIS_URL=REDIS_URL)
    app.extensions["tessera.writer"] = StreamWriter(app, redis_client(REDIS_URL), app.config["REDIS_PREFIX"])
    redis = redis_client(REDIS_URL)
    yield app, redis
    for key in redis.scan_iter(f"{app.config['REDIS_PREFIX']}:*"):
        redis.delete(key)
    dispose(app)


def _traffic(app: Flask, visitors: int = 6) -> None:
    for _ in range(visitors):
        client = app.test_client()
        for path in ("/", PRIVACY[0]):
            assert get(client, path, DESKTOP, tz=DAY).status_code == 200
        post(client, [dwell(), dwell(PRIVACY[0])])


@needs_redis
def test_the_stream_applies_every_write_once(streamed) -> None:  # type: ignore[no-untyped-def]
    app, redis = streamed
    _traffic(app)
    assert count(app, Exposure) == 0
    with app.app_context():
        consumer = Consumer(redis, app.config["REDIS_PREFIX"], "first")
        while consumer.step(block_ms=10):
            pass
    assert count(app, Visitor) == 6 and count(app, Exposure) == 12 and count(app, Event) == 12
    assert redis.xlen(f"{app.config['REDIS_PREFIX']}:writes") == 0  # acknowledged and removed


@needs_redis
def test_a_killed_consumers_pending_entries_are_taken_over(streamed) -> None:  # type: ignore[no-untyped-def]
    app, redis = streamed
    _traffic(app)
    prefix = app.config["REDIS_PREFIX"]
    with app.app_context():
        doomed = Consumer(redis, prefix, "doomed")
        # It reads a batch and dies before applying it: the entries stay pending for it.
        read = redis.xreadgroup("ingest", "doomed", {doomed.stream: ">"}, count=500)
        assert len(read[0][1]) == 18
        survivor = Consumer(redis, prefix, "survivor", claim_idle_ms=0)
        assert survivor.take_over() == 18
        assert survivor.take_over() == 0
    assert count(app, Exposure) == 12 and count(app, Event) == 12
    assert redis.xpending(doomed.stream, "ingest")["pending"] == 0


@needs_redis
def test_a_consumer_that_died_after_its_commit_is_harmless(streamed) -> None:  # type: ignore[no-untyped-def]
    app, redis = streamed
    _traffic(app, visitors=3)
    prefix = app.config["REDIS_PREFIX"]
    with app.app_context():
        from app.store import writes

        consumer = Consumer(redis, prefix, "crashy")
        read = redis.xreadgroup("ingest", "crashy", {consumer.stream: ">"}, count=500)[0][1]
        writes.apply([json.loads(fields[b"entry"]) for _, fields in read])  # committed, then killed: no ack
        heir = Consumer(redis, prefix, "heir", claim_idle_ms=0)
        assert heir.take_over() == len(read)  # redelivered and applied again
    assert count(app, Exposure) == 6 and count(app, Event) == 6  # exactly once all the same
    with app.app_context():
        assert db.session.scalars(select(Visitor.page_views)).all() == [2, 2, 2]


@needs_redis
def test_the_consumer_sets_aside_what_it_cannot_apply(streamed) -> None:  # type: ignore[no-untyped-def]
    app, redis = streamed
    prefix = app.config["REDIS_PREFIX"]
    stream = f"{prefix}:writes"
    _traffic(app, visitors=2)
    good = redis.xrange(stream)
    assert len(good) == 6
    broken = json.loads(good[0][1][b"entry"])
    broken["id"] = uuid.uuid4().hex
    del broken["blocks"]
    redis.xadd(stream, {"entry": b"{not json"})
    redis.xadd(stream, {"entry": json.dumps({"kind": "render"})})
    redis.xadd(stream, {"entry": json.dumps(broken)})
    _traffic(app, visitors=1)
    with app.app_context():
        consumer = Consumer(redis, prefix, "careful")
        while consumer.step(block_ms=10):
            pass
    assert redis.xlen(stream) == 0  # everything acknowledged: nothing blocks the stream
    assert count(app, Visitor) == 3 and count(app, Exposure) == 6 and count(app, Event) == 6
    dead = redis.xrange(f"{prefix}:writes:dead")
    compact = json.dumps(broken, separators=(",", ":")).encode()
    assert [fields[b"entry"] for _, fields in dead] == [b"{not json", b'{"kind": "render"}', compact]
    errors = [fields[b"error"].decode() for _, fields in dead]
    assert errors[0].startswith("JSONDecodeError")
    assert errors[1] == "ValueError: a write entry names its visitor and its own id"
    assert errors[2].startswith("KeyError")


@needs_redis
def test_flask_jobs_ingest_applies_the_stream(streamed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, redis = streamed
    _traffic(app, visitors=4)
    env = {**os.environ, "DATABASE_URL": database_url(tmp_path), "SECRET_KEY": "test-secret-key",
           "REDIS_URL": REDIS_URL, "TESSERA_REDIS_PREFIX": app.config["REDIS_PREFIX"]}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "ingest", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "stopped after 12 entries" in done.stdout  # two page views and one batch of events each
    assert count(app, Exposure) == 8 and count(app, Event) == 8


@needs_redis
def test_gunicorn_with_the_stream_and_a_consumer_killed_mid_way(tmp_path: Path) -> None:
    """The scale-out path with real processes: web workers XADD, ingest consumers apply; one is killed."""
    import redis as redis_module

    dispose(make_app(tmp_path))
    prefix = f"tessera-test-{uuid.uuid4().hex[:12]}"
    env = base_env(database_url(tmp_path), REDIS_URL=REDIS_URL, TESSERA_REDIS_PREFIX=prefix)
    server = Gunicorn(env, workers=2).start(tmp_path / "gunicorn.log")
    consumers = []
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "ingest"]
    try:
        wait_until(lambda: fetch(server.url + "/", timeout=5).status == 200, timeout=60)
        for _ in range(30):
            assert fetch(server.url + "/", headers={"User-Agent": DESKTOP}).status == 200
        from tests.servers import spawn

        first = spawn([*command, "--name", "first"], env, tmp_path / "first.log")
        consumers.append(first)
        app = make_app_on_same_database(tmp_path)
        wait_until(lambda: count(app, Exposure) == 30, timeout=30)
        # More pages; the consumer is killed without warning while they arrive.
        for _ in range(30):
            fetch(server.url + "/", headers={"User-Agent": DESKTOP})
        first.kill()
        first.wait()
        for _ in range(10):
            fetch(server.url + "/", headers={"User-Agent": DESKTOP})
        # A new consumer takes over whatever the dead one left pending (immediately for this test).
        second_env = {**env, "TESSERA_CLAIM_IDLE_MS": "0"}
        second = spawn([*command, "--name", "second"], second_env, tmp_path / "second.log")
        consumers.append(second)
        wait_until(lambda: count(app, Exposure) == 70, timeout=30)
        time.sleep(1)
        assert count(app, Exposure) == 70  # exactly once: nothing lost, nothing doubled
        dispose(app)
    finally:
        for process in consumers:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
        server.stop()
        client = redis_module.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def test_a_batch_is_applied_as_its_entries_one_at_a_time(tmp_path: Path) -> None:
    """The flusher folds a whole batch into a few statements: the records are those of applying each entry alone."""
    from datetime import datetime, timedelta

    from app.store.models import Decision, TopicInterest
    from app.store.writes import apply, events_entry, render_entry

    start = datetime(2026, 3, 2, 9, 0)
    decision = {"block": "home-hero", "variant": "phone", "rule": "home-hero/phone", "test": "home-hero/phone",
                "control": False, "propensity": 0.9, "strategy": "rules", "segment": None, "allocation": None,
                "candidates": None}  # fmt: skip
    context = {"device": "mobile", "daypart": "morning", "weekend": False, "country": "DE", "language": "de",
               "returning_visitor": True, "layers": "contextual,behavioral", "top_topic": False,
               "scored": False}  # fmt: skip

    def render(visitor: str, minutes: int, path: str, *, new: bool = False, profile: bool = True) -> dict:  # type: ignore[type-arg]
        article = path.startswith("/guides/")
        return render_entry(
            key=uuid.uuid4().hex, visitor=visitor, new=new, at=start + timedelta(minutes=minutes), gpc=minutes > 60,
            holdout=False, profile=profile, path=path, topics=["privacy"] if article else [], article=article,
            pricing=path == "/pricing", blocks=[{"block": "home-hero", "variant": "phone", "layer": "contextual"}],
            decisions=[decision] if path == "/" else [], context=context,
        )  # fmt: skip

    def events(visitor: str, minutes: int, items: list, *, profile: bool = True, new: bool = False) -> dict:  # type: ignore[type-arg]
        rows = [{"event_id": i, "type": t, "page": PRIVACY[0], "block": None, "variant": None, "target": None,
                 "depth": depth, "ms": ms, "topics": ["privacy"]} for i, t, depth, ms in items]  # fmt: skip
        return events_entry(visitor, start + timedelta(minutes=minutes), rows, profile=profile, new=new)

    a, b, c = "a" * 32, "b" * 32, "c" * 32
    entries = [
        render(a, 0, "/", new=True),
        render(a, 5, PRIVACY[0]),
        events(a, 6, [("e1", "dwell", None, 40_000), ("e2", "scroll", 80, None), ("e3", "click", None, None)]),
        render(a, 50, PRIVACY[0]),  # a new visit; the same guide again
        events(a, 51, [("e3", "click", None, None), ("e4", "click", None, None)]),  # e3 again: once
        render(a, 52, "/pricing"),
        render(a, 90, PRIVACY[1]),
        events(b, 1, [("e1", "dwell", None, 9_000)], new=True),  # an id of another visitor's: their own
        render(b, 2, "/"),
        render(c, 3, "/", new=True, profile=False),
        render(c, 4, PRIVACY[1], profile=False),
        events(c, 5, [("e9", "click", None, None)], profile=False),
    ]
    entries.append(dict(entries[1]))  # a redelivered entry in the same batch

    def records(app: Flask) -> dict:  # type: ignore[type-arg]
        with app.app_context():
            session = db.session
            seen = {
                "visitors": sorted(tuple(row) for row in session.execute(select(*Visitor.__table__.c))),
                "exposures": sorted(
                    (x.key, x.visitor_id, x.path, x.created_at, x.device, x.layers, x.holdout)
                    for x in session.scalars(select(Exposure))
                ),
                "decisions": sorted(
                    (key, d.visitor_id, d.path, d.created_at, d.block, d.variant, d.test, d.propensity)
                    for d, key in session.execute(select(Decision, Exposure.key).join(Exposure))
                ),
                "events": sorted(
                    (e.visitor_id, e.event_id, e.type, e.created_at) for e in session.scalars(select(Event))
                ),
                "interests": sorted(
                    (t.visitor_id, t.topic, round(t.score, 9), t.articles)
                    for t in session.scalars(select(TopicInterest))
                ),
            }
            for table in reversed(db.metadata.sorted_tables):
                session.execute(table.delete())
            session.commit()
            db.session.remove()
        return seen

    app = make_app(tmp_path)
    try:
        with app.app_context():
            together = apply(entries)
            db.session.remove()
        batch = records(app)
        with app.app_context():
            alone = [apply([entry]) for entry in entries]
            db.session.remove()
        one_by_one = records(app)
    finally:
        dispose(app)
    assert together.renders == sum(x.renders for x in alone) == 8
    assert together.events == sum(x.events for x in alone) == 6
    assert together.skipped == sum(x.skipped for x in alone) == 1
    assert batch == one_by_one
    visitor_a = next(row for row in batch["visitors"] if row[0] == a)
    columns = [c.name for c in Visitor.__table__.c]
    a_row = dict(zip(columns, visitor_a, strict=True))
    assert (a_row["visits"], a_row["page_views"], a_row["articles_read"], a_row["clicks"]) == (3, 5, 3, 2)
    assert a_row["guides_read"] == PRIVACY and a_row["recent_pages"][:2] == [PRIVACY[1], "/pricing"]
    assert len(batch["exposures"]) == 8 and len(batch["decisions"]) == 3 and len(batch["events"]) == 6


def test_entry_ids_differ_between_forked_workers() -> None:
    """Render keys come from a seeded generator: each gunicorn worker (a fork) must draw its own."""
    import multiprocessing

    from app.store.writes import new_key

    new_key()  # the parent has drawn before forking, as a preloaded app would
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        children = pool.map(_two_keys, range(2))
    parent = [new_key(), new_key()]
    keys = [key for pair in [*children, parent] for key in pair]
    assert len(set(keys)) == 6 and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)


def _two_keys(_: int) -> list[str]:
    from app.store.writes import new_key

    return [new_key(), new_key()]
