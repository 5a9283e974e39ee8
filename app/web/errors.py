"""Error pages in plain words."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.store.schema import SchemaBehind
from app.web import events

log = logging.getLogger(__name__)

_MESSAGES = {
    400: "Something in that request didn't look right.",
    403: "You can't do that here.",
    404: "We couldn't find that page.",
    405: "That page doesn't accept this kind of request.",
    413: "That request was too large.",
    503: "We can't reach our database right now. Please try again in a minute.",
}
#: Seconds a client should wait before retrying during a database outage.
RETRY_AFTER = 5


def _page(code: int, message: str) -> tuple[str, int]:
    return render_template("error.html", code=code, message=message), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return _page(
            400,
            "This form had expired or did not come from this site, so nothing was changed. "
            "Please go back, reload the page and try again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        code = error.code or 500
        if request.path == "/events":
            # The beacon speaks JSON, errors included, each with its code.
            return events.http_error(error, _MESSAGES.get(code, error.name))
        if isinstance(error, InternalServerError):
            return _page(500, "Something went wrong on our side.")
        description = error.description if code == 403 and error.description else None
        return _page(code, description or _MESSAGES.get(code, error.name))

    from app.store import VisitorGone, health
    from app.web.visit import DatabaseUnavailable, database_failed

    def unavailable(error: Exception) -> tuple[Any, int, dict[str, str]]:
        # The database is down, hung or behind: answer at once, with our headers, and let
        # the breaker spare the next requests the wait. The site recovers by itself.
        if not isinstance(error, DatabaseUnavailable):  # that one found the breaker already open
            database_failed(error)
        if isinstance(error, SchemaBehind):
            log.error("%s", error)
        headers = {"Retry-After": str(RETRY_AFTER)}
        if request.path == "/events":
            answer = jsonify(error="the database is unavailable; try again later", code="database_unavailable")
            return answer, 503, headers
        return (*_page(503, _MESSAGES[503]), headers)

    for kind in (*health.UNAVAILABLE, DatabaseUnavailable):
        app.register_error_handler(kind, unavailable)

    @app.errorhandler(VisitorGone)
    def visitor_gone(error: VisitorGone) -> tuple[Any, int]:
        # Their data was erased (in another tab) while this request was on its way: nothing was written.
        if request.path == "/events":
            return jsonify(error="this visitor's data was erased; nothing was stored", code="visitor_erased"), 409
        return _page(409, "Your data was just erased, so nothing was saved. Please reload the page and try again.")
