"""The site's pages: resolve, render, record the exposure; and the sign-up goal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, session
from werkzeug.wrappers import Response

from app import metrics, store
from app.content import Page, Site, current_site
from app.engine import Context, PageDecision, Profile, Scores, decide
from app.engine.model import Experiments
from app.store.writes import new_key
from app.web.experiments import current_experiments
from app.web.render import fast_render
from app.web.visit import Visit, current_visit, database_failed

bp = Blueprint("pages", __name__)
_NO_EXPERIMENTS = Experiments()

COMPANY_SIZES = ("1-10", "11-50", "51-200", "201+")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
#: NUL and other control characters: PostgreSQL refuses NUL in text, and none belongs in a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Resolved:
    """The engine's decision and the inputs it was made from (for the exposure's context)."""

    decision: PageDecision
    context: Context
    profile: Profile
    scores: Scores


def resolve(site: Site, page: Page, visit: Visit) -> Resolved:
    """Run the engine for this visit (bots and the holdout get the default page)."""
    context, profile, scores = visit.context(), visit.profile(), visit.scores()
    experiments = current_experiments() if not visit.offline and not visit.is_bot else _NO_EXPERIMENTS
    decision = decide(
        page.spec,
        site.catalog,
        context,
        profile,
        scores,
        visit.preferences,
        holdout_share=current_app.config["HOLDOUT_SHARE"],
        holdout=visit.state.holdout if visit.state is not None else None,
        experiments=experiments,
    )
    return Resolved(decision, context, profile, scores)


def exposure_context(resolved: Resolved) -> store.ExposureContext:
    """The decision's coarse context as the exposure stores it."""
    context, decision = resolved.context, resolved.decision
    return store.ExposureContext(
        device=context.device,
        daypart=context.daypart,
        weekend=context.weekend,
        country=context.country,
        language=context.language,
        returning=context.returning,
        layers=decision.layers,
        top_topic="behavioral" in decision.layers and "top_topic" in resolved.profile.attributes,
        scored="predictive" in decision.layers and bool(resolved.scores.attributes),
    )


def render_page(page: Page, status: int = 200, **extra: Any) -> tuple[str, int]:
    """Decide, render and record. Without the database the page still renders, as everyone's default."""
    site = current_site()
    visit = current_visit(offline_ok=True)
    resolved = resolve(site, page, visit)
    decision = resolved.decision
    if visit.is_bot:
        # No session cookie for bots: a CSRF token would create one, and bots cannot sign up.
        extra["csrf_token"] = lambda: ""
    html = fast_render(site, page, decision, **extra)
    if visit.info.method != "HEAD" and not visit.offline:  # a HEAD request shows nobody anything
        try:
            _record(page, visit, resolved)
        except store.health.UNAVAILABLE as error:
            database_failed(error)  # the page is rendered: show it, unrecorded
    metrics.observe_page(decision, offline=visit.offline)
    return html, status


def _record(page: Page, visit: Visit, resolved: Resolved) -> None:
    if visit.is_bot:
        store.count_bot_request(visit.now.date())
        return
    assert visit.visitor_id is not None
    view = store.PageView(
        path=page.path,
        topics=page.topics,
        article=page.layout == "article",
        pricing=page.path == "/pricing",
    )
    key = new_key()
    writer = current_app.extensions["tessera.writer"]
    writer.submit(
        store.render_write(
            visit.visitor_id,
            visit.state,
            resolved.decision,
            visit.now,
            key=key,
            view=view,
            profile=visit.tracked,
            gpc=visit.info.gpc,
            context=exposure_context(resolved),
        )
    )
    if writer.mode != "direct":
        # Until the write lands, the visitor's next page counts this view from their pending cookie.
        at = int(visit.now.replace(tzinfo=UTC).timestamp())
        visit.pending_out = [*visit.pending, (key, page.path, at)]


def _page_for(path: str) -> Page:
    page = current_site().pages.get(path)
    if page is None:
        abort(404)
    return page


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def show(path: str) -> tuple[str, int] | Response:
    if path.endswith("/"):
        return redirect("/" + path.rstrip("/"), code=308)
    page = _page_for("/" + path)
    if page.layout == "welcome":
        name = session.pop("welcome_name") if "welcome_name" in session else None
        return render_page(page, name=name)
    if page.layout == "signup":
        return render_page(page, form={}, errors={}, sizes=COMPANY_SIZES)
    return render_page(page)


@bp.post("/signup")
def signup() -> tuple[str, int] | Response:
    """The goal action: a real sign-up, recorded with its conversion on the server."""
    page = _page_for("/signup")
    visit = current_visit()
    if visit.is_bot:
        abort(403, "Automated clients cannot sign up.")
    form = {
        "name": request.form.get("name", "").strip(),
        "email": request.form.get("email", "").strip(),
        "company_size": request.form.get("company_size", ""),
    }
    errors = {}
    if not 1 <= len(form["name"]) <= 80:
        errors["name"] = "Please tell us your name (up to 80 characters)."
    elif _CONTROL.search(form["name"]):
        errors["name"] = "Your name can't contain control characters; please type it again."
    if len(form["email"]) > 254 or not _EMAIL.match(form["email"]) or _CONTROL.search(form["email"]):
        errors["email"] = "Please enter an email address like you@example.com."
    if form["company_size"] not in COMPANY_SIZES:
        errors["company_size"] = "Please choose your team size."
    if errors:
        return render_page(page, status=422, form=form, errors=errors, sizes=COMPANY_SIZES)
    assert visit.visitor_id is not None
    store.record_conversion(
        visit.visitor_id,
        visit.state,
        goal="signup",
        path="/signup",
        holdout=visit.holdout,
        signup=form,
        now=visit.now,
    )
    session["welcome_name"] = form["name"]
    return redirect("/welcome", code=303)
