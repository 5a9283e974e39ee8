"""Error pages in plain words."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

_MESSAGES = {
    400: "Something in that request didn't look right.",
    403: "You can't do that here.",
    404: "We couldn't find that page.",
    405: "That page doesn't accept this kind of request.",
    413: "That request was too large.",
}


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
            # The beacon speaks JSON, errors included.
            reason = "the body may be at most 65536 bytes" if code == 413 else _MESSAGES.get(code, error.name)
            return jsonify(error=reason), code
        if isinstance(error, InternalServerError):
            return _page(500, "Something went wrong on our side.")
        description = error.description if code == 403 and error.description else None
        return _page(code, description or _MESSAGES.get(code, error.name))
