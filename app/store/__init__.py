"""Persistence: tables, the per-request reads and writes, export and erasure."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db
from app.store import models
from app.store.queries import (
    VISIT_GAP,
    NewEvent,
    PageView,
    VisitorState,
    count_bot_request,
    erase_visitor,
    export_visitor,
    hit_rate_limits,
    load_visitor,
    purge,
    record_conversion,
    record_events,
    record_render,
    reset_history,
    save_preferences,
    stored_counts,
)

__all__ = [
    "VISIT_GAP",
    "NewEvent",
    "PageView",
    "VisitorState",
    "hit_rate_limits",
    "purge",
    "record_events",
    "count_bot_request",
    "erase_visitor",
    "export_visitor",
    "init_app",
    "load_visitor",
    "models",
    "record_conversion",
    "record_render",
    "reset_history",
    "save_preferences",
    "stored_counts",
]


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers and one writer work at once; the busy timeout makes a
    # second writer wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_app(app: Flask) -> None:
    """Bind the database and create the tables on first start."""
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()  # connections made before the listener existed
        db.create_all()
