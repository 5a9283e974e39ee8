"""A site that outlives its database: timeouts, a watchdog, dead connections and a breaker.

- Connecting and every statement of a web request have a deadline
  (``DB_TIMEOUT``): libpq's ``connect_timeout`` and PostgreSQL's
  ``statement_timeout`` on the server, and, for a server that hangs without
  answering at all, a watchdog thread that shuts down the sockets of a
  request's connections once its deadline has passed (the driver then fails
  at once with a disconnect, instead of waiting for the worker to be killed).
- Every connection taken from the pool is checked first, so the connections
  PostgreSQL dropped while it restarted are replaced without a failed request:
  a look at its socket, which costs no round trip (a healthy idle connection
  has nothing to read; one the server closed has its end of file, or its
  "terminating connection" message, waiting), and a real ping when there is
  anything to read or the connection's statement timeout must change.
- After a failure the process stops trying for ``BREAK_SECONDS``: visitors
  get the default page (or the outage page) at once rather than each waiting
  for a timeout; then the next request tries again, so the site recovers by
  itself when the database returns.

Jobs are not web requests: they run without the deadline and, on PostgreSQL,
without a statement timeout (see :func:`unbounded`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from app.store.schema import SchemaBehind

log = logging.getLogger(__name__)

#: Errors that mean "the database cannot answer now" rather than a bug.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.TimeoutError,
    SchemaBehind,
)
#: How long a process stops calling a database that just failed.
BREAK_SECONDS = 2.0

_broken_until = 0.0


def trip(error: BaseException) -> None:
    """Note a failure: skip the database for a moment."""
    global _broken_until
    if time.monotonic() >= _broken_until:
        log.warning("database unavailable, retrying in %.0fs: %s", BREAK_SECONDS, str(error).splitlines()[0][:300])
    _broken_until = time.monotonic() + BREAK_SECONDS


def forget(session: Any, error: BaseException) -> None:
    """After ``error``: drop the session's transaction and open the breaker."""
    with contextlib.suppress(Exception):
        session.rollback()
    trip(error)


def is_broken() -> bool:
    """True while the breaker is open after a recent failure."""
    return time.monotonic() < _broken_until


def reset() -> None:
    global _broken_until
    _broken_until = 0.0


class Watchdog:
    """Breaks the connections of a thread whose deadline has passed."""

    def __init__(self, tick: float = 0.05) -> None:
        self.tick = tick
        self._lock = threading.Lock()
        self._deadlines: dict[threading.Thread, float] = {}
        self._in_use: dict[threading.Thread, set[Any]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, seconds: float) -> None:
        self._ensure_thread()
        with self._lock:
            self._deadlines[threading.current_thread()] = time.monotonic() + seconds

    def disarm(self) -> None:
        with self._lock:
            self._deadlines.pop(threading.current_thread(), None)

    def checkout(self, connection: Any) -> None:
        with self._lock:
            self._in_use.setdefault(threading.current_thread(), set()).add(connection)

    def checkin(self, connection: Any) -> None:
        with self._lock:
            for thread, connections in list(self._in_use.items()):
                connections.discard(connection)
                if not connections:
                    del self._in_use[thread]

    def _ensure_thread(self) -> None:
        # After a fork (gunicorn workers) the parent's thread is gone: start one per process.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="tessera-db-watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                late = [
                    connection
                    for thread, deadline in self._deadlines.items()
                    if now > deadline
                    for connection in self._in_use.get(thread, ())
                ]
            for connection in late:
                _shut_down(connection)


def _shut_down(connection: Any) -> None:
    """Shut the socket down under the driver: its wait ends at once with a disconnect error."""
    try:
        fd = connection.fileno()
    except Exception:  # already closed
        return
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
        log.warning("database call past its deadline: connection shut down")


watchdog = Watchdog()
_local = threading.local()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Database work in this block must finish within ``seconds`` (a web request)."""
    watchdog.arm(seconds)
    try:
        yield
    finally:
        watchdog.disarm()


@contextlib.contextmanager
def unbounded() -> Iterator[None]:
    """Database work in this block has no statement timeout (jobs: training reads a lot)."""
    previous = getattr(_local, "statement_timeout", None)
    _local.statement_timeout = 0
    try:
        yield
    finally:
        _local.statement_timeout = previous


def _quiet(dbapi_connection: Any) -> bool:
    """Nothing waits to be read on an idle connection: the server has not closed it (no round trip)."""
    try:
        readable, _, broken = select.select([dbapi_connection.fileno()], [], [dbapi_connection.fileno()], 0)
    except (OSError, ValueError, AttributeError):
        return False
    return not readable and not broken


def install(engine: Engine, timeout_seconds: float) -> None:
    """Ping on checkout and track connections for the watchdog (PostgreSQL)."""
    default_ms = int(timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info["statement_timeout"] = default_ms  # set by the connection's startup options
        record.info["fresh"] = True

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        watchdog.checkout(dbapi_connection)
        wanted = getattr(_local, "statement_timeout", None)
        wanted = default_ms if wanted is None else wanted
        fresh = record.info.pop("fresh", False)
        settled = record.info.get("statement_timeout") == wanted
        if settled and (fresh or _quiet(dbapi_connection)):
            return
        # A pooled connection is pinged (or given this thread's timeout, which pings
        # too) before use: one PostgreSQL dropped while it restarted is replaced here,
        # and the pool retries with a new one, instead of failing the request.
        autocommit = dbapi_connection.autocommit
        try:
            dbapi_connection.autocommit = True
            dbapi_connection.execute("SELECT 1" if settled else f"SET statement_timeout = {int(wanted)}")
            dbapi_connection.autocommit = autocommit
        except Exception as error:
            watchdog.checkin(dbapi_connection)
            raise exc.DisconnectionError(f"connection check failed: {error}") from error
        record.info["statement_timeout"] = wanted

    @event.listens_for(engine, "checkin")
    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        watchdog.checkin(dbapi_connection)

    @event.listens_for(engine, "close")
    def on_close(dbapi_connection: Any, record: Any) -> None:
        watchdog.checkin(dbapi_connection)
