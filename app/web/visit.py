"""Who is visiting: the signed visitor cookie, their stored settings and the Context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Response, current_app, g, request
from werkzeug.exceptions import ServiceUnavailable

from app import store
from app.clock import utcnow
from app.engine import Context, Preferences, Profile, Scores
from app.engine.bucketing import in_holdout
from app.engine.profile import build_profile
from app.engine.scores import build_scores
from app.extensions import db
from app.store import VisitorState
from app.web.context import (
    PENDING_COOKIE,
    VISITOR_COOKIE,
    RequestInfo,
    build_context,
    read_request,
    sign_pending,
    sign_visitor_id,
)

COOKIE_MAX_AGE = 365 * 24 * 3600


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached: this request needs it, so it gets the outage page."""

    description = "We can't reach our database right now, so nothing was changed. Please try again in a minute."


_OFFLINE = Preferences(contextual=False, behavioral=False, predictive=False)


@dataclass
class Visit:
    """This request's visitor. ``visitor_id`` is None for bots, who are never tracked.

    ``offline`` is True when the database could not be read: the visitor's
    settings are unknown, so they get the default page, nothing is recorded
    and their cookie is left as it is.
    """

    info: RequestInfo
    visitor_id: str | None
    state: VisitorState | None
    new_cookie: bool
    now: datetime
    offline: bool = False
    #: The visitor's page views still on their way to the database, carried in their pending cookie.
    pending: tuple[tuple[str, str, int], ...] = ()
    #: The pending cookie to send back (None: leave it as it is).
    pending_out: list[tuple[str, str, int]] | None = None

    @property
    def is_bot(self) -> bool:
        return self.info.device == "bot"

    @property
    def returning(self) -> bool:
        if self.state is None:
            return False
        return self.state.visits > 1 or self.now - self.state.last_seen_at > store.VISIT_GAP

    @property
    def preferences(self) -> Preferences:
        if self.offline:
            return _OFFLINE
        return effective_preferences(self.state, gpc=self.info.gpc)

    @property
    def holdout(self) -> bool:
        """The visitor's group: stored at their first exposure, so a later change of the share moves nobody."""
        if self.visitor_id is None:
            return False
        if self.state is not None and self.state.holdout is not None:
            return self.state.holdout
        return in_holdout(self.visitor_id, current_app.config["HOLDOUT_SHARE"])

    @property
    def tracked(self) -> bool:
        """True when behavior may be recorded: a person who allows the behavioral layer."""
        return not self.is_bot and self.preferences.behavioral

    def scores(self) -> Scores:
        """The ``score.*`` attributes: a fresh batch score, else an online one, else none."""
        if self.state is None or not self.preferences.predictive:
            return Scores()
        config = current_app.config
        stored = self.state.scores
        if stored is not None and self.now - stored.scored_at <= timedelta(hours=config["SCORE_MAX_AGE_HOURS"]):
            values = {"convert": stored.convert, "churn": stored.churn, "affinity": stored.affinity}
            return build_scores(values, stored.models)
        if not config["ONLINE_SCORING"]:
            return Scores()
        models = current_app.extensions["tessera.models"].get()
        if not models:
            return Scores()
        from app.content import current_site
        from app.ml.features import summary_from_profile
        from app.ml.serving import score_summary

        summary = summary_from_profile(self.state.facts, self.state.created_at, self.state.last_seen_at, self.now)
        values = score_summary(models, summary, current_site().topics)
        return build_scores(values, {kind: m.version for kind, m in models.items()})

    def profile(self) -> Profile:
        """The ``behavior.*`` attributes, empty until there is enough evidence."""
        if self.state is None:
            return Profile()
        return build_profile(self.state.facts, self.now, min_evidence=current_app.config["MIN_EVIDENCE"])

    def context(self) -> Context:
        return build_context(
            self.info,
            visitor_id=self.visitor_id,
            returning=self.returning,
            now_utc=self.now,
            server_zone=current_app.config["SERVER_TIMEZONE"],
        )


def effective_preferences(state: VisitorState | None, *, gpc: bool) -> Preferences:
    """The visitor's explicit choices win; unset layers default to on, except that
    Sec-GPC: 1 turns behavioral and predictive off until the visitor turns them on."""

    def pick(value: bool | None, default: bool) -> bool:
        return default if value is None else value

    return Preferences(
        contextual=pick(state.contextual if state else None, True),
        behavioral=pick(state.behavioral if state else None, not gpc),
        predictive=pick(state.predictive if state else None, not gpc),
    )


def database_failed(error: BaseException) -> None:
    """The database failed this request: end its transaction, open the breaker, count it."""
    from app import metrics

    store.health.forget(db.session, error)
    metrics.DATABASE_UNAVAILABLE.inc()


def new_visitor_id() -> str:
    """A fresh anonymous id (a simulation may set ``VISITOR_IDS`` to draw them from a seed)."""
    source = current_app.config.get("VISITOR_IDS")
    return source() if source is not None else uuid.uuid4().hex


def current_visit(*, offline_ok: bool = False) -> Visit:
    """The visit for this request, read once and kept on ``g``.

    While the database is unreachable the visit is ``offline``; only a caller
    that can do without the database (``offline_ok``: rendering the default
    page) gets it, the others raise :class:`DatabaseUnavailable`.
    """
    visit: Visit | None = g.get("tessera_visit")
    if visit is None:
        visit = _read_visit()
        g.tessera_visit = visit
    if visit.offline and not offline_ok:
        raise DatabaseUnavailable()
    return visit


def _read_visit() -> Visit:
    info = read_request(
        request,
        secret_keys=current_app.config["SECRET_KEYS"],
        geo_header=current_app.config["GEO_HEADER"],
    )
    now = utcnow()
    state = None
    new_cookie = False
    visitor_id = info.visitor_id
    offline = store.health.is_broken()
    pending = info.pending if visitor_id is not None else ()
    if not offline:
        try:
            store.ready()
            if visitor_id is not None:
                state = store.load_visitor(visitor_id, [key for key, _, _ in pending])
        except store.health.UNAVAILABLE as error:
            database_failed(error)
            offline = True
    if visitor_id is not None and pending and not offline:
        # Read-your-writes: this visitor's own last page views count already, landed or not
        # (a first page view still on its way means a visitor we know, not a new one).
        views = _pending_views(pending)
        if state is None and views:
            first = min(v.at for v in views)
            state = store.VisitorState(
                id=visitor_id, created_at=first, last_seen_at=first, visits=1,
                contextual=None, behavioral=None, predictive=None, stored=False,
            )  # fmt: skip
        if state is not None:
            state = store.with_pending(state, views)
        pending = tuple(p for p in pending if state is None or p[0] not in state.applied)
    if info.device != "bot" and not offline and (visitor_id is None or state is None):
        # No cookie, a forged one, or an id we no longer hold: start fresh.
        visitor_id = new_visitor_id()
        new_cookie = True
    return Visit(
        info=info, visitor_id=visitor_id, state=state, new_cookie=new_cookie, now=now, offline=offline,
        pending=pending if state is not None else (),
    )  # fmt: skip


def _pending_views(pending: tuple[tuple[str, str, int], ...]) -> list[store.PendingView]:
    from app.content import current_site

    pages = current_site().pages
    views = []
    for key, path, at in pending:
        page = pages.get(path)
        if page is None:
            continue
        view = store.PageView(
            path=path, topics=page.topics, article=page.layout == "article", pricing=path == "/pricing"
        )
        views.append(store.PendingView(key=key, at=datetime.fromtimestamp(at, UTC).replace(tzinfo=None), view=view))
    return views


def restart_visit(visitor_id: str) -> Visit:
    """After erasure: the visitor's brand-new anonymous id for the rest of this request."""
    visit = current_visit()
    visit.visitor_id = visitor_id
    visit.state = None
    visit.new_cookie = True
    visit.pending, visit.pending_out = (), []  # the old id's pending views go with it
    return visit


def set_visitor_cookie(response: Response) -> Response:
    """After each request: give a new visitor their signed, HttpOnly id cookie (and the pending one)."""
    visit: Visit | None = g.get("tessera_visit")
    if visit is not None and visit.pending_out is not None:
        if visit.pending_out:
            response.set_cookie(
                PENDING_COOKIE,
                sign_pending(visit.pending_out, current_app.config["SECRET_KEYS"]),
                max_age=3600,
                httponly=True,
                samesite="Lax",
                secure=current_app.config["COOKIE_SECURE"],
            )
        else:
            response.delete_cookie(PENDING_COOKIE)
    if visit is not None and visit.new_cookie and visit.visitor_id is not None:
        response.set_cookie(
            VISITOR_COOKIE,
            sign_visitor_id(visit.visitor_id, current_app.config["SECRET_KEYS"]),
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["COOKIE_SECURE"],
        )
    return response
