"""``/favicon.ico``: browsers and crawlers ask for it at the site root.

Pages link their icons from ``static/`` (``templates/base.html``); this answers
the request that is made regardless, which the site's catch-all page route
would otherwise turn into a 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("favicon", __name__)


@bp.get("/favicon.ico")
def favicon() -> Response:
    folder = current_app.static_folder
    assert folder is not None  # create_app always sets it
    return send_from_directory(folder, "favicon.ico")
