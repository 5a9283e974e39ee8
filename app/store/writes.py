"""Writes that leave the request path: page views with their exposures, and beacon events.

A request turns what it must record into a **write entry** (plain JSON-ready
data with its own id: the render's exposure key, or the batch's id) and hands
it to the app's writer, in one of three modes (``TESSERA_WRITES``):

- ``direct``: applied at once, inside the request (one short transaction).
- ``buffer``, the embedded default: appended to a bounded in-process buffer
  that a background thread applies in batches every ``FLUSH_SECONDS`` and on
  a clean shutdown. A full buffer makes the request apply its own entry
  (back-pressure, never loss). On ``kill -9`` a worker loses at most the
  entries of its last flush interval; on a clean shutdown, nothing.
- ``stream``, with ``REDIS_URL``: appended to a Redis stream (``XADD``) that
  ``flask --app wsgi jobs ingest`` consumes in batches through a consumer
  group, acknowledging each batch after its commit; a consumer that dies
  leaves its entries pending, and another takes them over (``XAUTOCLAIM``).
  Nothing acknowledged to the visitor's request is lost when a worker or
  the consumer is killed (Redis is the durable hand-off; see the README for
  Redis's own persistence).

A database that goes away while a batch is applied loses nothing: the error
goes back to the writer, which keeps the batch (the buffer puts it back, the
stream leaves it pending) and tries again. An entry that cannot be applied
on its own (malformed, or a bug) is set aside so that it never blocks the
ones behind it: logged and dropped by the buffer, moved with its error to a
dead-letter stream (``<prefix>:writes:dead``) by the consumer.

Applying is idempotent: a render's exposure key and an event's id are unique,
and a render whose exposure exists is skipped whole, so a retried batch or a
redelivered entry changes nothing. Entries of a visitor erased meanwhile are
dropped. The derived facts (a new visit after a 30-minute gap, the recent
pages, the distinct guides read) are computed when the entry is applied,
from the stored row, so entries that arrive late or out of order still count
once.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.engine.profile import WEIGHTS, growth
from app.extensions import db
from app.store.health import UNAVAILABLE
from app.store.models import Decision, ErasedVisitor, Event, Exposure, TopicInterest, Visitor
from app.store.queries import RECENT_PAGES, VISIT_GAP, _upsert_increment

log = logging.getLogger(__name__)

#: How often the buffer is flushed, and the most entries one batch applies.
FLUSH_SECONDS = 0.05
BATCH = 500
#: A full buffer makes requests apply their own entries until the flusher catches up.
BUFFER_LIMIT = 10_000
#: The Redis stream and its consumer group.
STREAM = "writes"
GROUP = "ingest"
#: Entries the consumer could not apply, each with its error, for an operator to look at.
DEAD = "writes:dead"
#: A consumer's entries pending longer than this are taken over by another.
CLAIM_IDLE_MS = 30_000

_V, _X, _D, _EV = Visitor.__table__, Exposure.__table__, Decision.__table__, Event.__table__
#: The decision context an exposure stores (``ExposureContext.columns()``).
_EXPOSURE_CONTEXT = tuple(
    c.name for c in _X.columns if c.name not in ("id", "key", "visitor_id", "path", "holdout", "blocks", "created_at")
)


# ----------------------------------------------------------------- entries

#: Entry ids (a render's exposure key, an event batch's id) must be unique, not secret: a
#: generator seeded from the OS, again in every forked worker, instead of ``uuid4``'s
#: system call per page.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_key() -> str:
    """A fresh 128-bit entry id, as 32 hex digits."""
    return f"{_ids.getrandbits(128):032x}"


def render_entry(
    *,
    key: str,
    visitor: str,
    new: bool,
    at: datetime,
    gpc: bool,
    holdout: bool,
    profile: bool,
    path: str,
    topics: Sequence[str],
    article: bool,
    pricing: bool,
    blocks: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    context: dict[str, Any],
) -> dict[str, Any]:
    """A page render to record: the exposure, its decisions, and (with ``profile``) the page view."""
    return {
        "kind": "render", "id": key, "visitor": visitor, "new": new, "at": at.isoformat(), "gpc": gpc,
        "holdout": holdout, "profile": profile, "path": path, "topics": list(topics), "article": article,
        "pricing": pricing, "blocks": blocks, "decisions": decisions, "context": context,
    }  # fmt: skip


def events_entry(
    visitor: str, at: datetime, events: list[dict[str, Any]], *, profile: bool, new: bool = False
) -> dict[str, Any]:
    """Validated beacon events to store (each with its own id) and fold into the profile.

    ``new``: the visitor's first page view may not have landed yet: the visitor is made if absent.
    """
    return {"kind": "events", "id": new_key(), "visitor": visitor, "new": new, "at": at.isoformat(),
            "profile": profile, "events": events}  # fmt: skip


# -------------------------------------------------------------------- apply


@dataclass
class Applied:
    renders: int = 0
    skipped: int = 0
    events: int = 0
    dropped: int = 0
    #: The entries that failed on their own (not for want of a database), with their error.
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)


def apply(entries: Sequence[dict[str, Any]], *, strict: bool = False) -> Applied:
    """Apply entries in one transaction; if that fails, one by one, setting aside what fails on its own.

    The database going away (``health.UNAVAILABLE``) is raised, whatever was
    already committed: the caller keeps the batch and retries it (applying is
    idempotent), so nothing is dropped for an outage. ``strict``: raise an
    entry's own error instead of setting it aside (the direct writer: the
    request shows it).
    """
    if not entries:
        return Applied()
    try:
        result = _apply(entries)
        db.session.commit()
        return result
    except UNAVAILABLE:
        db.session.rollback()
        raise
    except Exception:
        db.session.rollback()
        if strict and len(entries) == 1:
            raise
        if len(entries) > 1:
            log.warning("a batch of %d writes failed; applying them one by one", len(entries), exc_info=True)
    total = Applied()
    for entry in entries:
        try:
            one = _apply([entry])
            db.session.commit()
        except UNAVAILABLE:
            db.session.rollback()
            raise
        except Exception as error:
            db.session.rollback()
            if strict:
                raise
            log.exception("write %s of visitor %s set aside", entry.get("id"), entry.get("visitor"))
            total.dropped += 1
            total.failed.append((entry, f"{type(error).__name__}: {error}"[:500]))
            continue
        total.renders += one.renders
        total.skipped += one.skipped
        total.events += one.events
    return total


#: A visitor's profile totals that entries add to (renders and events).
_TOTALS = ("visits", "page_views", "pricing_views", "articles_read", "clicks", "scroll_total", "scroll_samples",
           "dwell_ms_total", "dwell_samples")  # fmt: skip
#: What a render's decision row holds besides its exposure, visitor, time and path.
_DECISION_FIELDS = ("block", "variant", "rule", "test", "control", "propensity", "strategy", "segment", "allocation",
                    "candidates")  # fmt: skip
_EVENT_FIELDS = ("type", "page", "block", "variant", "target", "depth", "ms")
_BUILT: dict[tuple[str, str], Any] = {}
#: The batch's many-row inserts: the table, the unique columns on which a row already
#: stored is skipped, and what the insert returns.
_INSERTS: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    "exposures": (_X, (), ("key", "id")),
    "decisions": (_D, (), ()),
    "events": (_EV, ("visitor_id", "event_id"), ("visitor_id", "event_id")),
}


def _statement(dialect: str, name: str) -> Any:
    """The batch's statements, built once per dialect (a flush pays no statement construction)."""
    statement = _BUILT.get((dialect, name))
    if statement is not None:
        return statement
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    if name == "visitor":
        statement = update(_V).where(_V.c.id == bindparam("v_id")).values(
            {**{c: _V.c[c] + bindparam(f"add_{c}") for c in _TOTALS},
             **{c: func.coalesce(bindparam(f"new_{c}", type_=_V.c[c].type), _V.c[c])
                for c in ("gpc", "previous_visit_at", "last_article")},
             **{c: bindparam(f"set_{c}", type_=_V.c[c].type)
                for c in ("last_seen_at", "holdout", "recent_pages", "guides_read")}}
        )  # fmt: skip
    elif name in _INSERTS:
        table, skip, returning = _INSERTS[name]
        statement = insert(table)
        if skip:
            statement = statement.on_conflict_do_nothing(index_elements=[table.c[c] for c in skip])
        if returning:
            statement = statement.returning(*(table.c[c] for c in returning))
    elif name == "fresh":
        statement = insert(_V).on_conflict_do_nothing(index_elements=[_V.c.id])
    else:  # pragma: no cover - a typo in this module
        raise KeyError(name)
    _BUILT[(dialect, name)] = statement
    return statement


#: On PostgreSQL, each table's many-row insert as one short statement over arrays (see ``_insert_many``).
_UNNEST: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {}
_ARRAY_TYPES = {"String": "text", "Integer": "integer", "BigInteger": "bigint", "Boolean": "boolean",
                "Float": "float8", "DateTime": "timestamp", "JSON": "json"}  # fmt: skip


def _insert_many(connection: Any, dialect: str, name: str, rows: list[dict[str, Any]]) -> Any:
    """Insert many rows into one of ``_INSERTS``' tables, returning what it declares.

    On PostgreSQL the rows go as one array per column into ``INSERT .. SELECT
    * FROM unnest(...)``: the statement's text is the same for any number of
    rows, so psycopg parses it once and prepares it, where a many-row VALUES
    list (a bind parameter per value) is parsed again in Python on every flush.
    """
    if dialect != "postgresql":
        return connection.execute(_statement(dialect, name), rows)
    built = _UNNEST.get(name)
    if built is None:
        table, skip, returning = _INSERTS[name]
        columns = tuple(rows[0])
        quote = connection.dialect.identifier_preparer.quote
        kinds = {c: type(table.c[c].type).__name__ for c in columns}
        arrays = ", ".join(f"%({c})s::{_ARRAY_TYPES[kinds[c]]}[]" for c in columns)
        sql = f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, columns))}) SELECT * FROM unnest({arrays})"
        if skip:
            sql += f" ON CONFLICT ({', '.join(map(quote, skip))}) DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(map(quote, returning))}"
        built = _UNNEST[name] = (sql, columns, frozenset(c for c in columns if kinds[c] == "JSON"))
    sql, columns, jsons = built
    arrays = {c: [json.dumps(r[c]) if c in jsons and r[c] is not None else r[c] for r in rows] for c in columns}
    return connection.exec_driver_sql(sql, arrays)


def _apply(entries: Sequence[dict[str, Any]]) -> Applied:
    """Apply a batch in a handful of statements, whatever its size.

    The visitors' rows are read once (locked on PostgreSQL), every entry is
    folded into them in order in Python (a new visit after a 30-minute gap,
    the recent pages, the distinct guides read, the totals), and then each
    table is written with one statement for the whole batch: the new
    visitors, the events, the exposures, their decisions, one update per
    visitor and the topic interests.
    """
    connection = db.session.connection()
    dialect = connection.dialect.name
    result = Applied()
    visitors = sorted({e["visitor"] for e in entries})
    erased = set(connection.execute(select(ErasedVisitor.id).where(ErasedVisitor.id.in_(visitors))).scalars())
    fresh = {}
    for entry in entries:
        if entry.get("new") and entry["visitor"] not in erased:
            at = datetime.fromisoformat(entry["at"])
            row = {"id": entry["visitor"], "created_at": at, "last_seen_at": at, "visits": 1,
                   "gpc": entry.get("gpc", False), "recent_pages": []}  # fmt: skip
            fresh.setdefault(entry["visitor"], row)
    if fresh:
        connection.execute(_statement(dialect, "fresh"), list(fresh.values()))
    query = select(_V.c.id, _V.c.last_seen_at, _V.c.holdout, _V.c.recent_pages, _V.c.guides_read).where(
        _V.c.id.in_(visitors)
    )
    if dialect == "postgresql":
        query = query.with_for_update()  # two flushers never interleave one visitor's read-modify-write
    rows = {r.id: _Row(r.last_seen_at, r.holdout, list(r.recent_pages or []), r.guides_read)
            for r in connection.execute(query)}  # fmt: skip
    renders = [e for e in entries if e["kind"] == "render"]
    done = set()
    if renders:
        keys = [e["id"] for e in renders]
        done = set(connection.execute(select(_X.c.key).where(_X.c.key.in_(keys))).scalars())
    interest: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    exposures: list[dict[str, Any]] = []
    decisions: list[tuple[str, dict[str, Any]]] = []
    batches: list[dict[str, Any]] = []
    for entry in entries:
        row = rows.get(entry["visitor"])
        if row is None or entry["visitor"] in erased:
            result.skipped += 1  # erased meanwhile: nothing of theirs comes back
            continue
        if entry["kind"] == "render":
            if entry["id"] in done:
                result.skipped += 1  # already applied (a retried batch, a redelivered entry)
                continue
            done.add(entry["id"])
            _fold_render(entry, row, interest, exposures, decisions)
            result.renders += 1
        else:
            batches.append(entry)
    if batches:
        result.events += _store_events(connection, dialect, batches, rows, interest)
    if exposures:
        ids = {r[0]: r[1] for r in _insert_many(connection, dialect, "exposures", exposures)}
        if decisions:
            _insert_many(connection, dialect, "decisions", [{**d, "exposure_id": ids[key]} for key, d in decisions])
    changed = [row.parameters(visitor) for visitor, row in rows.items() if row.changed]
    if changed:
        connection.execute(_statement(dialect, "visitor"), changed)
    if interest:
        statement = _upsert_increment(TopicInterest, ("visitor_id", "topic"), ("score", "articles"))
        connection.execute(
            statement,
            [{"visitor_id": v, "topic": t, "score": s, "articles": n} for (v, t), (s, n) in sorted(interest.items())],
        )
    return result


class _Row:
    """A visitor's row as the batch changes it: the values it sets and the totals it adds."""

    __slots__ = ("last_seen_at", "holdout", "recent_pages", "guides_read", "add", "new", "changed")

    def __init__(self, last_seen_at: datetime, holdout: bool | None, recent_pages: list[str],
                 guides_read: list[str] | None) -> None:  # fmt: skip
        self.last_seen_at, self.holdout = last_seen_at, holdout
        self.recent_pages, self.guides_read = recent_pages, guides_read
        self.add = dict.fromkeys(_TOTALS, 0)
        self.new: dict[str, Any] = {"gpc": None, "previous_visit_at": None, "last_article": None}
        self.changed = False

    def parameters(self, visitor: str) -> dict[str, Any]:
        return {"v_id": visitor, **{f"add_{c}": n for c, n in self.add.items()},
                **{f"new_{c}": v for c, v in self.new.items()}, "set_last_seen_at": self.last_seen_at,
                "set_holdout": self.holdout, "set_recent_pages": self.recent_pages,
                "set_guides_read": self.guides_read}  # fmt: skip


def _fold_render(
    entry: dict[str, Any],
    row: _Row,
    interest: dict,  # type: ignore[type-arg]
    exposures: list[dict[str, Any]],
    decisions: list[tuple[str, dict[str, Any]]],
) -> None:
    at = datetime.fromisoformat(entry["at"])
    visitor, path, key = entry["visitor"], entry["path"], entry["id"]
    row.changed = True
    row.new["gpc"] = entry["gpc"]
    last = row.last_seen_at
    if at - last > VISIT_GAP:
        row.add["visits"] += 1
        row.new["previous_visit_at"] = last
    if at > last:
        row.last_seen_at = at
    if row.holdout is None:
        row.holdout = entry["holdout"]
    new_guide = False
    if entry["profile"]:
        row.add["page_views"] += 1
        if entry["pricing"]:
            row.add["pricing_views"] += 1
        if entry["article"]:
            row.add["articles_read"] += 1
            row.new["last_article"] = path
            guides = row.guides_read if row.guides_read is not None else []
            if path not in guides:
                row.guides_read = [*guides, path]
                new_guide = True
        row.recent_pages = [path, *(p for p in row.recent_pages if p != path)][:RECENT_PAGES]
    context = entry["context"]
    exposures.append({"key": key, "visitor_id": visitor, "path": path, "holdout": entry["holdout"],
                      "blocks": entry["blocks"], "created_at": at,
                      **{c: context.get(c) for c in _EXPOSURE_CONTEXT}})  # fmt: skip
    for d in entry["decisions"]:
        decisions.append((key, {"visitor_id": visitor, "created_at": at, "path": path,
                                **{f: d.get(f) for f in _DECISION_FIELDS}}))  # fmt: skip
    if entry["profile"] and entry["topics"]:
        weight = WEIGHTS["view"] * growth(at)
        for topic in entry["topics"]:
            slot = interest[(visitor, topic)]
            slot[0] += weight
            slot[1] += 1 if new_guide else 0


def _store_events(
    connection: Any,
    dialect: str,
    batches: list[dict[str, Any]],
    rows: dict[str, _Row],
    interest: dict,  # type: ignore[type-arg]
) -> int:
    """Store every batch's events in one statement (a stored id is skipped) and fold the new ones in."""
    values = [{"event_id": e["event_id"], "visitor_id": entry["visitor"], "at": entry["at"],
               **{f: e.get(f) for f in _EVENT_FIELDS}}
              for entry in batches for e in entry["events"]]  # fmt: skip
    for value in values:
        value["created_at"] = datetime.fromisoformat(value.pop("at"))
    if not values:
        return 0
    stored = {tuple(r) for r in _insert_many(connection, dialect, "events", values)}
    count = len(stored)
    for entry in batches:
        visitor = entry["visitor"]
        fresh = []
        for e in entry["events"]:
            if (visitor, e["event_id"]) in stored:
                stored.discard((visitor, e["event_id"]))  # an id twice in the batch counts once
                fresh.append(e)
        if not (entry["profile"] and fresh):
            continue
        row, scale = rows[visitor], growth(datetime.fromisoformat(entry["at"]))
        for e in fresh:
            gain = 0.0
            if e["type"] == "click":
                row.add["clicks"] += 1
                gain = WEIGHTS["click"]
            elif e["type"] == "scroll" and e.get("depth") is not None:
                row.add["scroll_total"] += e["depth"]
                row.add["scroll_samples"] += 1
                gain = WEIGHTS["scroll"] * e["depth"] / 100
            elif e["type"] == "dwell" and e.get("ms") is not None:
                row.add["dwell_ms_total"] += e["ms"]
                row.add["dwell_samples"] += 1
                gain = WEIGHTS["dwell_minute"] * min(e["ms"], 300_000) / 60_000
            else:
                continue
            row.changed = True
            if gain > 0:
                for topic in e.get("topics", ()):
                    interest[(visitor, topic)][0] += gain * scale
    return count


# ------------------------------------------------------------------ writers


class DirectWriter:
    """Applies every entry at once, in the request."""

    mode = "direct"

    def __init__(self, app: Flask) -> None:
        self.app = app

    def submit(self, entry: dict[str, Any]) -> None:
        apply([entry], strict=True)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class BufferWriter:
    """A bounded in-process buffer, applied in batches by a background thread and on shutdown."""

    mode = "buffer"

    def __init__(self, app: Flask, *, interval: float = FLUSH_SECONDS, limit: int = BUFFER_LIMIT) -> None:
        self.app = app
        self.interval = interval
        self.limit = limit
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        atexit.register(self.close)

    def submit(self, entry: dict[str, Any]) -> None:
        self._ensure_thread()
        with self._lock:
            full = len(self._queue) >= self.limit
            if not full:
                self._queue.append(entry)
        if full:
            apply([entry])  # back-pressure: the request pays for its own write, nothing is dropped
        elif len(self._queue) >= BATCH:
            self._wake.set()

    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> None:
        """Apply everything buffered now (the caller's thread, in an app context)."""
        with self._flushing:
            while True:
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                if not batch:
                    return
                try:
                    apply(batch)
                except Exception:
                    # Put them back (in order) for the next attempt: the database may be away.
                    with self._lock:
                        self._queue.extendleft(reversed(batch))
                    raise

    def close(self) -> None:
        """Flush what is left (a clean shutdown loses nothing)."""
        if self._closed or self._pid not in (0, os.getpid()):
            return
        self._closed = True
        self._wake.set()
        with self.app.app_context(), contextlib.suppress(Exception):
            self.flush()
            db.session.remove()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                # After a fork the parent's thread and entries are not ours.
                if self._pid not in (0, os.getpid()):
                    self._queue.clear()
                self._pid = os.getpid()
                self._closed = False
                self._thread = threading.Thread(target=self._run, name="tessera-writes", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            self._wake.clear()
            if not self._queue:
                continue
            with self.app.app_context():
                try:
                    self.flush()
                except Exception:
                    log.warning("writes could not be flushed; retrying", exc_info=True)
                    time.sleep(min(1.0, self.interval * 10))
                finally:
                    db.session.remove()


class StreamWriter:
    """Appends entries to a Redis stream; ``flask jobs ingest`` applies them."""

    mode = "stream"

    def __init__(self, app: Flask, redis: Any, prefix: str) -> None:
        self.app = app
        self.redis = redis
        self.stream = f"{prefix}:{STREAM}"

    def submit(self, entry: dict[str, Any]) -> None:
        self.redis.xadd(self.stream, {"entry": json.dumps(entry, separators=(",", ":"))})

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


# ------------------------------------------------------------------ consumer


class Consumer:
    """Reads the stream through the consumer group, applies batches, acknowledges after commit."""

    def __init__(self, redis: Any, prefix: str, name: str, *, claim_idle_ms: int = CLAIM_IDLE_MS) -> None:
        self.redis = redis
        self.stream = f"{prefix}:{STREAM}"
        self.dead = f"{prefix}:{DEAD}"
        self.name = name
        self.claim_idle_ms = claim_idle_ms
        with contextlib.suppress(Exception):  # BUSYGROUP: it exists already
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)

    def take_over(self) -> int:
        """Claim the entries other consumers left pending too long (they died), and apply them."""
        total = 0
        start = "0-0"
        while True:
            start, claimed, *_ = self.redis.xautoclaim(
                self.stream, GROUP, self.name, self.claim_idle_ms, start_id=start, count=BATCH
            )
            if claimed:
                total += self._apply(claimed)
            if not claimed or start in (b"0-0", "0-0"):
                return total

    def step(self, block_ms: int = 1000) -> int:
        """One batch: this consumer's own pending entries first (a restart), then new ones."""
        found = self.redis.xreadgroup(GROUP, self.name, {self.stream: "0"}, count=BATCH)
        entries = found[0][1] if found and found[0][1] else []
        if not entries:
            found = self.redis.xreadgroup(GROUP, self.name, {self.stream: ">"}, count=BATCH, block=block_ms)
            entries = found[0][1] if found else []
        return self._apply(entries)

    def _apply(self, entries: Iterable[tuple[Any, dict[Any, Any]]]) -> int:
        """Apply a batch, then acknowledge it (and set aside, in the dead-letter stream, what cannot be applied)."""
        ids, decoded, dead = [], [], []
        for entry_id, fields in entries:
            if not fields:  # deleted meanwhile (XAUTOCLAIM reports those without their fields)
                continue
            ids.append(entry_id)
            raw = fields.get(b"entry", fields.get("entry"))
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict) or entry.get("kind") not in ("render", "events"):
                    raise ValueError("not a write entry (a JSON object whose kind is render or events)")
                if not isinstance(entry.get("visitor"), str) or not isinstance(entry.get("id"), str):
                    raise ValueError("a write entry names its visitor and its own id")
            except (TypeError, ValueError) as error:
                dead.append((raw, f"{type(error).__name__}: {error}"[:500]))
                continue
            decoded.append(entry)
        if not ids:
            return 0
        result = apply(decoded)  # the database away: raised, and the batch stays pending
        dead += [(json.dumps(entry, separators=(",", ":")), error) for entry, error in result.failed]
        for raw, error in dead:
            log.error("write entry set aside in %s: %s", self.dead, error)
            self.redis.xadd(self.dead, {"entry": raw if raw is not None else "", "error": error, "consumer": self.name})
        self.redis.xack(self.stream, GROUP, *ids)
        self.redis.xdel(self.stream, *ids)
        return len(ids)


# ------------------------------------------------------------------- set-up


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def make_writer(app: Flask) -> DirectWriter | BufferWriter | StreamWriter:
    mode = app.config["WRITES"]
    if mode == "direct":
        return DirectWriter(app)
    if mode == "buffer":
        return BufferWriter(app, interval=float(app.config["FLUSH_SECONDS"]))
    if mode == "stream":
        if not app.config.get("REDIS_URL"):
            raise ValueError("TESSERA_WRITES=stream needs REDIS_URL")
        return StreamWriter(app, redis_client(app.config["REDIS_URL"]), app.config["REDIS_PREFIX"])
    raise ValueError(f"TESSERA_WRITES must be direct, buffer or stream, got {mode!r}")
