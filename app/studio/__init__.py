"""The editors' studio: login, preview as any visitor, QA links, coverage, lint and the reports as charts.

Its own room: it reads the engine, the content and the store, and nothing
imports it. A preview is the engine called with a hand-built context (see
:mod:`app.studio.preview`), never a second resolver, and studio traffic is
never recorded as visitor data.
"""

from __future__ import annotations

from flask import Flask

from app.extensions import csrf
from app.studio.cli import studio_cli
from app.studio.views import bp

__all__ = ["bp", "init_app", "studio_cli"]


def init_app(app: Flask) -> None:
    """Register the blueprint and ``flask studio``.

    The app-wide CSRF check skips the blueprint: its own check runs after the
    login check, so a request without a login is answered 401 whatever it carries.
    """
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(studio_cli)
