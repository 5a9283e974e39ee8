"""The schema is managed by migrations (Alembic through Flask-Migrate), never by ``create_all``.

``flask --app wsgi db upgrade`` brings a database to the newest revision. A
process that finds its database behind (a new SQLite file on first start, an
empty PostgreSQL database) upgrades it itself when ``AUTO_MIGRATE`` is on,
lazily, at its first request or job, never at import or worker start, so a
worker starts even while the database is down.

However many processes start together, one upgrades and the others wait for
it: ``migrations/env.py`` runs every upgrade under :func:`migration_lock` (a
PostgreSQL advisory lock, or an exclusive ``flock`` next to the SQLite file)
and reads the current revision only once it holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from app.config import ROOT

log = logging.getLogger(__name__)

MIGRATIONS = ROOT / "migrations"
#: Advisory lock key shared by every Tessera process that migrates (not the scheduler's), paired
#: with a hash of the database's name so that sites sharing a server never wait for each other.
MIGRATION_LOCK_KEY = 0x7E55E7B


@functools.cache
def head_revision() -> str:
    """The newest revision in ``migrations/versions`` (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database that has none (new or made before migrations)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def sqlite_path(engine: Engine) -> Path | None:
    """The SQLite file behind ``engine``; None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


@contextlib.contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the migration lock: one process upgrades, the others wait, then find nothing to do."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_lock(:key, hashtext(current_database()))"), {"key": MIGRATION_LOCK_KEY}
        )
        connection.commit()
        try:
            yield
        finally:
            connection.rollback()
            connection.execute(
                text("SELECT pg_advisory_unlock(:key, hashtext(current_database()))"), {"key": MIGRATION_LOCK_KEY}
            )
            connection.commit()
        return
    path = sqlite_path(connection.engine)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # WAL (readers and one writer at once) is a property of the file, set
        # once here under the lock: setting it from every new connection made
        # workers starting together fail with "database is locked".
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.commit()
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def upgrade() -> None:
    """``flask db upgrade`` to head, in the current app context."""
    from flask_migrate import upgrade as alembic_upgrade

    alembic_upgrade(directory=str(MIGRATIONS))


_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure_schema(app: Flask, engine: Engine) -> None:
    """Bring the database to head once per process, if ``AUTO_MIGRATE`` allows.

    Raises the database's error while it is unreachable (the caller answers
    with the outage page) and tries again next time.
    """
    key = str(engine.url)
    if key in _ready:
        return
    with _ready_lock:
        if key in _ready:
            return
        if current_revision(engine) != head_revision():
            if not app.config["AUTO_MIGRATE"]:
                raise SchemaBehind(current_revision(engine), head_revision())
            log.info("database behind (%s); upgrading to %s", current_revision(engine), head_revision())
            with app.app_context():
                upgrade()
        _ready.add(key)


class SchemaBehind(RuntimeError):
    """The database is not at the code's revision and automatic upgrades are off."""

    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"the database is at revision {current or 'none'} but this code needs {head}: "
            "run `flask --app wsgi db upgrade`"
        )
