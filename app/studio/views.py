"""The studio's routes: thin glue between the request and the studio's modules.

Every route needs a logged-in editor except the login form and a QA link
(whose signature is its permission). No route reads or writes visitor data:
nothing here calls the visit, so no cookie, exposure, event or profile is
made, and nothing trains a model.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request
from werkzeug.wrappers import Response

from app import store
from app.clock import utcnow
from app.content import Site, current_site
from app.content.cli import lint_summary, paused_lines
from app.content.loader import Loader
from app.extensions import csrf
from app.store import studio as queries
from app.studio import accounts, coverage, qa
from app.studio.inputs import ARMS, DEVICES, LAYERS, PreviewInputs, parse, presets
from app.studio.preview import Preview, page_html, run_preview, with_overlay
from app.web.experiments import current_experiments
from components import load_registry

bp = Blueprint("studio", __name__, url_prefix="/studio")

#: Seconds the report page may spend reading the store (a page gets ``TESSERA_DB_TIMEOUT``).
REPORT_SECONDS = 60
#: Endpoints open without a login: the form, and QA links (checked by their signature).
_OPEN = {"studio.login", "studio.login_post", "studio.qa_view"}
_SAFE = ("GET", "HEAD", "OPTIONS")


@bp.before_request
def require_login() -> Response | None:
    if request.endpoint not in _OPEN:
        user = accounts.current_user(utcnow())
        if user is None:
            if request.method in _SAFE:
                return redirect("/studio/login?" + urlencode({"next": request.full_path.rstrip("?")}), code=303)
            return Response("Log in to the studio first.\n", 401, mimetype="text/plain")
        g.studio_email = user.email  # a plain value: the session may end before the page is drawn
    # The login first, then the CSRF token (the app-wide check skips this blueprint): a request without
    # a login gets 401 whatever it carries.
    if request.method not in _SAFE and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    return None


@bp.after_request
def private(response: Response) -> Response:
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    # A QA link's token must not travel on in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.context_processor
def studio_user() -> dict[str, Any]:
    return {"user": g.get("studio_email")}


# ------------------------------------------------------------------ login


def _safe_next(target: str | None) -> str:
    """Only a path inside the studio: never another site."""
    if not target:
        return "/studio"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/studio") or target.startswith("//"):
        return "/studio"
    return target


@bp.get("/login")
def login() -> str:
    return render_template("studio/login.html", next=_safe_next(request.args.get("next")), error=None, email="")


@bp.post("/login")
def login_post() -> tuple[str, int, dict[str, str]] | Response:
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    now = utcnow()
    wait = accounts.login_wait(email, request.remote_addr, now)
    if wait is not None:
        message = f"Too many attempts. Please wait {wait} seconds and try again."
        page = render_template("studio/login.html", next=target, error=message, email=email)
        return page, 429, {"Retry-After": str(wait)}
    user = accounts.authenticate(email, password)
    if user is None:
        page = render_template("studio/login.html", next=target, error="That email and password don't match an "
                               "account.", email=email)  # fmt: skip
        return page, 401, {}
    accounts.start_session(user, now)
    return redirect(target, code=303)


@bp.post("/logout")
def logout() -> Response:
    accounts.end_session()
    return redirect("/studio/login", code=303)


@bp.get("")
def home() -> str:
    site = current_site()
    return render_template("studio/home.html", site=site, pages=sorted(site.pages), problems=len(site.problems))


# ---------------------------------------------------------------- preview


def _run(site: Site, inputs: PreviewInputs) -> Preview:
    config = current_app.config
    return run_preview(
        site,
        inputs,
        experiments=current_experiments(),
        holdout_share=config["HOLDOUT_SHARE"],
        min_evidence=config["MIN_EVIDENCE"],
        versions=queries.published_versions(),
    )


def _form(site: Site, inputs: PreviewInputs, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    page = render_template(
        "studio/preview.html",
        site=site,
        inputs=inputs,
        errors=errors,
        devices=DEVICES,
        arms=ARMS,
        layers=LAYERS,
        presets=[(p.name, p.apply(inputs).url("/studio/view")) for p in presets(site.topics)],
    )
    return page, status


@bp.get("/preview")
def preview_form() -> tuple[str, int]:
    site = current_site()
    inputs, errors = parse(request.args, site, utcnow())
    return _form(site, inputs, errors if request.args else {})


@bp.get("/view")
def view() -> tuple[str, int]:
    site = current_site()
    inputs, errors = parse(request.args, site, utcnow())
    if errors:
        return _form(site, inputs, errors, 400)
    preview = _run(site, inputs)
    html = page_html(site, preview.page, preview.decision)
    return with_overlay(html, preview, qa=None, lifetimes=qa.LIFETIME_WORDS), 200


# --------------------------------------------------------------- QA links


@bp.get("/qa")
def qa_links() -> str:
    return render_template("studio/qa.html", link=None, rotated=request.args.get("done") == "rotated")


@bp.post("/qa")
def qa_create() -> tuple[str, int]:
    site = current_site()
    query = dict(parse_qsl(request.form.get("query", ""), keep_blank_values=False))
    inputs, errors = parse(query, site, utcnow())
    lifetime = request.form.get("lifetime", "1d")
    if errors or lifetime not in qa.LIFETIMES:
        return render_template("studio/qa.html", link=None, rotated=False, error="That preview could not be "
                               "shared: go back to it and try again."), 400  # fmt: skip
    now = utcnow()
    expires = now + qa.LIFETIMES[lifetime]
    secret = queries.newest_qa_key() or queries.rotate_qa_key(now)
    token = qa.sign(inputs.query(why=""), expires, secret)
    link = request.host_url.rstrip("/") + f"/studio/qa/{token}"
    return render_template("studio/qa.html", link=link, expires=expires, inputs=inputs, rotated=False), 200


@bp.post("/qa/rotate")
def qa_rotate() -> Response:
    queries.rotate_qa_key(utcnow())
    return redirect("/studio/qa?done=rotated", code=303)


@bp.get("/qa/<token>")
def qa_view(token: str) -> tuple[str, int]:
    now = utcnow()
    secret = queries.newest_qa_key()
    found = qa.verify(token, secret, now) if secret is not None else None
    site = current_site()
    if found is None:
        return render_template("studio/qa_gone.html"), 403
    query, expires = found
    inputs, errors = parse(query, site, now)
    if errors:  # the page or a topic was removed since the link was made
        return render_template("studio/qa_gone.html", changed=True), 410
    preview = _run(site, inputs)
    html = page_html(site, preview.page, preview.decision)
    return with_overlay(html, preview, qa=expires, lifetimes={}), 200


# --------------------------------------------------------------- coverage


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@bp.get("/coverage")
def coverage_page() -> str:
    site = current_site()
    page = request.args.get("page") or "/"
    if page not in site.pages:
        abort(404)
    on = _day(request.args.get("date"), utcnow().date())
    config = current_app.config
    options: dict[str, Any] = {
        "experiments": current_experiments(),
        "holdout_share": config["HOLDOUT_SHARE"],
        "min_evidence": config["MIN_EVIDENCE"],
        "versions": queries.published_versions(),
    }
    queries.release()  # what follows is computing only
    every = [coverage.page_coverage(site, path, on, **options) for path in sorted(site.pages)]
    unreached, all_default = coverage.site_flags(every)
    shown = next(c for c in every if c.page == page)
    return render_template(
        "studio/coverage.html",
        site=site,
        coverage=shown,
        on=on,
        unreached=unreached,
        all_default=all_default,
        flagged={(u.variant.block, u.variant.id) for _, u, _ in unreached},
    )


# ------------------------------------------------------------------- lint


@bp.get("/lint")
def lint() -> str:
    """``flask content lint``, in the browser: the same lines, from a fresh load of the files on disk."""
    root = current_app.config["CONTENT_ROOT"]
    site = Loader(Path(root), load_registry()).load()
    errors, summary = lint_summary(site, root)
    return render_template("studio/lint.html", problems=site.problems, paused=paused_lines(site), summary=summary,
                           errors=errors)  # fmt: skip


# ---------------------------------------------------------------- reports


def _moment(value: str | None, *, end: bool) -> datetime | None:
    """A date (its start, or its end for ``end``) or a date-time, in UTC; None when absent or not one."""
    if not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time()) + timedelta(days=int(end))
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@bp.get("/reports")
def reports_page() -> tuple[str, int]:
    until = _moment(request.args.get("until"), end=True) or utcnow()
    since = _moment(request.args.get("since"), end=False) or until - timedelta(days=28)
    if since >= until or until - since > timedelta(days=400):
        return render_template("studio/reports.html", sections=[], since=since, until=until,
                               error="Choose a start before the end, at most 400 days apart."), 400  # fmt: skip
    # Matplotlib and the statistics are loaded with the first report, not by every ``flask`` command.
    from app.studio import reports

    # The report reads much more than a page does: it gets a deadline of its own, and a fresh connection
    # without the per-statement timeout, and gives it back before the charts are drawn.
    queries.release()
    with store.health.deadline(REPORT_SECONDS), store.health.unbounded():
        records = reports.read(since, until, current_site(), current_app.config)
    queries.release()
    sections = reports.build(records)
    return render_template("studio/reports.html", sections=sections, since=since, until=until, error=None), 200


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_here(rest: str) -> Response:
    abort(404)
