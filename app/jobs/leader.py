"""One scheduler across processes and hosts: a lock held for the scheduler's lifetime.

PostgreSQL: a session-level advisory lock on a dedicated connection (every
host sharing the database sees it). SQLite: an exclusive ``flock`` on a file
next to the database file (every process on the host sharing the file sees
it). The process holding the lock runs the jobs; the others stand by and take
over when it exits, since the lock dies with its holder. The ``job_runs``
slot claims stay as a second guard.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: Advisory lock key: an arbitrary constant shared by every Tessera scheduler, paired with a hash of
#: the database's name (advisory locks are server-wide: two sites on one server must not share one).
ADVISORY_KEY = 0x7E55E7A


class Leadership:
    """Try to become the one scheduler; keep the lock once held."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held: Any = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def acquire(self) -> bool:
        """True when this process is the scheduler (checked on every call, not assumed)."""
        if self._held is not None:
            if self._still_held():
                return True
            # The lock's connection dropped (a database restart, a network cut): PostgreSQL
            # released the lock with it and another process may hold it now. Stand down,
            # then compete again like everyone else.
            log.warning("this process (pid %s) lost the scheduler lock; standing down", os.getpid())
            self._drop()
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key, hashtext(current_database()))"), {"key": ADVISORY_KEY}
            ).scalar()
            connection.commit()
            if got:
                self._held = connection
            else:
                connection.close()
        else:
            path = f"{self.engine.url.database}.scheduler.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
            else:
                self._held = fd
        if self._held is not None:
            log.info("this process (pid %s) is now the scheduler", os.getpid())
        return self._held is not None

    def _still_held(self) -> bool:
        if isinstance(self._held, int):
            return True  # a flock lives as long as this process
        try:
            held = self._held.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                    "AND granted AND classid::bigint = :key"
                ),
                {"key": ADVISORY_KEY},
            ).scalar()
            self._held.commit()
        except Exception:
            return False
        return bool(held)

    def _drop(self) -> None:
        held, self._held = self._held, None
        with contextlib.suppress(Exception):
            held.invalidate()

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        if isinstance(held, int):
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)
        else:
            held.execute(text("SELECT pg_advisory_unlock(:key, hashtext(current_database()))"), {"key": ADVISORY_KEY})
            held.close()
