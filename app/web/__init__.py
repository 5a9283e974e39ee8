"""Flask glue: request -> Context -> engine -> templates, plus the visitor's controls."""

from __future__ import annotations

from flask import Flask

from app.web import errors, pages, preferences
from app.web.security import add_security_headers
from app.web.visit import set_visitor_cookie


def init_app(app: Flask) -> None:
    app.register_blueprint(preferences.bp)
    app.register_blueprint(pages.bp)
    app.after_request(set_visitor_cookie)
    app.after_request(add_security_headers)
    errors.init_app(app)
