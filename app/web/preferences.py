"""The visitor's controls: layer switches, reset, export and erasure."""

from __future__ import annotations

import json

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.wrappers import Response

from app import store
from app.web.visit import current_visit, new_visitor_id, restart_visit

bp = Blueprint("preferences", __name__, url_prefix="/preferences")

LAYERS = ("contextual", "behavioral", "predictive")
_MESSAGES = {
    "saved": "Your settings are saved. They apply from the next page you open.",
    "reset": "Your history is cleared. Pages will treat you as a new visitor.",
    "deleted": "Everything we stored about you is deleted. You now have a new anonymous id.",
    "deleted-kept": "Everything we stored about you is deleted. You now have a new anonymous id, "
    "and your personalization settings below are kept for it.",
}


@bp.get("")
def show() -> str:
    visit = current_visit()
    visitor_id = visit.visitor_id or ""
    return render_template(
        "preferences.html",
        prefs=visit.preferences,
        gpc=visit.info.gpc,
        message=_MESSAGES.get(request.args.get("done", "")),
        stored=store.stored_counts(visitor_id) if visit.state is not None else {},
        visitor_id_short=visitor_id[:8],
    )


def _tracked_visit():  # type: ignore[no-untyped-def]
    visit = current_visit()
    if visit.visitor_id is None:
        abort(403, "Automated clients have no settings.")
    return visit


@bp.post("")
def save() -> Response:
    visit = _tracked_visit()
    settings = {layer: request.form.get(layer) == "on" for layer in LAYERS}
    store.save_preferences(visit.visitor_id, visit.state, settings, visit.now)
    return redirect("/preferences?done=saved", code=303)


@bp.post("/reset")
def reset() -> Response:
    visit = _tracked_visit()
    store.reset_history(visit.visitor_id)
    return redirect("/preferences?done=reset", code=303)


@bp.get("/export")
def export() -> Response:
    visit = _tracked_visit()
    body = json.dumps(store.export_visitor(visit.visitor_id, visit.now), indent=2, ensure_ascii=False)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-tessera-data.json"'
    return response


@bp.get("/delete")
def confirm_delete() -> str:
    """Erasure asks first, and says what goes and what stays."""
    visit = _tracked_visit()
    explicit = {layer: getattr(visit.state, layer) for layer in LAYERS} if visit.state is not None else {}
    return render_template(
        "confirm_delete.html",
        stored=store.stored_counts(visit.visitor_id) if visit.state is not None else {},
        kept={layer: on for layer, on in explicit.items() if on is not None},
        gpc=visit.info.gpc,
    )


@bp.post("/delete")
def delete() -> Response:
    visit = _tracked_visit()
    if request.form.get("confirm") != "yes":
        return redirect("/preferences/delete", code=303)  # from an old form: ask first
    successor = new_visitor_id()
    kept = store.erase_visitor(visit.visitor_id, successor=successor, now=visit.now)
    restart_visit(successor)
    return redirect("/preferences?done=" + ("deleted-kept" if kept else "deleted"), code=303)
