"""Flask glue: request -> Context -> engine -> templates, plus the visitor's controls."""

from __future__ import annotations

from flask import Flask

from app.web import errors, events, favicon, pages, preferences
from app.web.security import add_security_headers
from app.web.visit import set_visitor_cookie


def init_app(app: Flask) -> None:
    app.register_blueprint(favicon.bp)
    app.register_blueprint(preferences.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(pages.bp)
    app.after_request(set_visitor_cookie)
    app.after_request(add_security_headers)
    errors.init_app(app)

    @app.context_processor
    def beacon() -> dict[str, str | None]:
        # The page script sends events only where this is set: a person who
        # allows behavioral personalization (Sec-GPC turns it off by default).
        from flask import g

        visit = g.get("tessera_visit")
        return {"beacon": "/events" if visit is not None and visit.tracked else None}
