"""Tessera: a server-side rendered framework for personalized websites.

Nothing happens at import: ``create_app`` builds everything. Imports stay
inside it so that ``app.engine`` can be imported without Flask or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, database, content, blueprints and CLI.

    ``config`` overrides the environment (tests pass a temporary database).
    """
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import config as config_module
    from app import content, jobs, logs, metrics, sim, store, studio, web
    from app.extensions import csrf, db, migrate
    from app.ml.cli import report_cli
    from app.ml.serving import ModelCache
    from app.web.experiments import ExperimentsCache

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(config_module.ROOT / "templates"),
        static_folder=str(config_module.ROOT / "static"),
    )
    overrides = dict(config or {})
    # The instance folder holds the default SQLite database and generated key.
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        config_module.from_environment(Path(app.instance_path), need_secret="SECRET_KEY" not in overrides)
    )
    app.config.from_mapping(overrides)
    keys = [app.config["SECRET_KEY"], *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
    app.config.update(
        # Newest first; the visitor cookie, sessions and CSRF tokens verify with any, sign with the newest.
        SECRET_KEYS=tuple(keys),
        SECRET_KEY_FALLBACKS=keys[1:],
        WTF_CSRF_SECRET_KEY=keys[::-1],  # itsdangerous takes them oldest first
        SQLALCHEMY_ENGINE_OPTIONS=store.engine_options(app.config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["COOKIE_SECURE"],
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if app.config["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"])  # type: ignore[method-assign]
    logs.init_app(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    store.init_app(app)
    content.init_app(app)
    metrics.init_app(app)
    web.init_app(app)
    jobs.init_app(app)
    sim.init_app(app)
    studio.init_app(app)
    app.cli.add_command(report_cli)
    app.extensions["tessera.models"] = ModelCache(ttl=60.0)
    app.extensions["tessera.experiments"] = ExperimentsCache()
    return app
