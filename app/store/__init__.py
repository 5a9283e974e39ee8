"""Persistence: tables, the per-request reads and writes, export and erasure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine

from app.extensions import db
from app.store import health, models, schema, writes
from app.store.queries import (
    VISIT_GAP,
    ExposureContext,
    NewEvent,
    PageView,
    PendingView,
    PublishedAllocation,
    Retention,
    VisitorGone,
    VisitorState,
    count_bot_request,
    erase_visitor,
    events_write,
    expire,
    export_visitor,
    hit_rate_limits,
    known_event_ids,
    load_experiments,
    load_visitor,
    newest_allocation,
    pause_rule,
    paused_rules,
    publish_allocation,
    purge,
    record_conversion,
    record_events,
    render_write,
    reset_history,
    save_preferences,
    stored_counts,
    with_pending,
)

__all__ = [
    "VISIT_GAP",
    "NewEvent",
    "PageView",
    "PendingView",
    "with_pending",
    "Retention",
    "VisitorGone",
    "VisitorState",
    "hit_rate_limits",
    "purge",
    "record_events",
    "count_bot_request",
    "erase_visitor",
    "expire",
    "ExposureContext",
    "PublishedAllocation",
    "load_experiments",
    "newest_allocation",
    "pause_rule",
    "paused_rules",
    "publish_allocation",
    "events_write",
    "export_visitor",
    "known_event_ids",
    "engine_options",
    "health",
    "init_app",
    "ready",
    "schema",
    "writes",
    "load_visitor",
    "models",
    "record_conversion",
    "render_write",
    "reset_history",
    "save_preferences",
    "stored_counts",
]


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The busy timeout comes first: it makes a second writer wait instead of
    # failing with "database is locked". WAL is set once, when the schema is
    # migrated (app.store.schema), since it belongs to the file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Engine options: on PostgreSQL, a connect timeout and a statement timeout of ``DB_TIMEOUT``."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql":
        seconds = int(config["DB_TIMEOUT"])
        connect_args = {
            "connect_timeout": seconds,
            "options": f"-c statement_timeout={seconds * 1000}",
            **options.get("connect_args", {}),
        }
        options["connect_args"] = connect_args
    return options


def init_app(app: Flask) -> None:
    """Bind the database. Nothing connects here: a worker starts while the database is down."""
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            path = schema.sqlite_path(engine)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)  # SQLite makes the file, not its folder
        elif engine.dialect.name == "postgresql":
            health.install(engine, app.config["DB_TIMEOUT"])
            timeout = float(app.config["DB_TIMEOUT"])

            @app.before_request
            def arm_watchdog() -> None:
                health.watchdog.arm(timeout)

    app.extensions["tessera.writer"] = writes.make_writer(app)

    @app.teardown_appcontext
    def release(_error: BaseException | None) -> None:
        # End the session before the deadline goes, so that returning its connection is covered too.
        db.session.remove()
        health.watchdog.disarm()


def ready() -> None:
    """The schema is at head (upgraded now if ``AUTO_MIGRATE`` and needed); raises while unreachable."""
    from flask import current_app

    schema.ensure_schema(current_app._get_current_object(), db.engine)  # type: ignore[attr-defined]
