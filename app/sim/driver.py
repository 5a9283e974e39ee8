"""Drive the real app with the synthetic population, through its public surface.

Every visit is a Flask test client sending what a browser would: page GETs
with a User-Agent, Accept-Language, client address and (after the first page,
as ``static/tessera.js`` does) the ``tz`` cookie; beacon batches to
``POST /events`` only where the page carries ``<body data-beacon>``; the
preferences form and the sign-up form with their CSRF tokens. A later visit is
a new browser session that keeps the persistent cookies (the visitor id and
``tz``) and drops the session cookie.

Two seams make a run reproducible, both only for the duration of the run:
the app's ``CLOCK`` setting (simulated days instead of the wall clock), and
the source of new visitor ids (drawn from the seeded stream, because the
holdout bucket is a hash of the id).
"""

from __future__ import annotations

import contextlib
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.content import current_site
from app.extensions import db
from app.sim import population as model
from app.sim.population import Visitor
from app.sim.reader import Page, read_page
from app.store.models import Visitor as VisitorRow

ORIGIN = "http://localhost"
VISITOR_COOKIE = "tessera_vid"
TZ_COOKIE = "tz"

#: The arms and what each posts to /preferences before browsing (None: untouched defaults).
ARMS: dict[str, dict[str, str] | None] = {
    "all layers": None,
    "contextual only": {"contextual": "on"},
    "contextual+behavioral": {"contextual": "on", "behavioral": "on"},
}
#: New visits start at least this long after the previous one ended (the app's visit gap is 30 minutes).
MIN_GAP = timedelta(minutes=31)


class SimulationError(RuntimeError):
    """The app answered something a browser would not expect."""


class SimClock:
    """The ``CLOCK`` the app reads during a run: whatever time the simulation says it is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tally:
    """What the run did, for the summary line (not part of the measured report)."""

    visits: int = 0
    requests: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    signups: int = 0
    by_arm: dict[str, int] = field(default_factory=dict)
    #: The app's scheduled jobs run after each simulated day: "day N job" -> result.
    jobs: dict[str, Any] = field(default_factory=dict)


def start_day(days: int, today: date | None = None) -> date:
    """The simulated first day: a Monday, so weekdays repeat exactly from run to run,
    and far enough back that every simulated moment lies in the past."""
    today = today or datetime.now(UTC).date()
    latest = today - timedelta(days=days + 2)
    return latest - timedelta(days=latest.weekday())


@contextlib.contextmanager
def _config(app: Flask, **values: Any) -> Iterator[None]:
    missing = object()
    saved = {key: app.config.get(key, missing) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.config.pop(key, None)
            else:
                app.config[key] = value


def _seeded_visitor_ids(rng: random.Random, taken: set[str]) -> Callable[[], str]:
    """New visitor ids from the seeded stream (skipping ids already in the database)."""

    def next_id() -> str:
        while True:
            candidate = uuid.UUID(int=rng.getrandbits(128), version=4).hex
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    return next_id


class Driver:
    def __init__(self, app: Flask, clock: SimClock, first_day: date) -> None:
        self.app = app
        self.clock = clock
        self.first_day = first_day
        self.tally = Tally()
        with app.app_context():
            site = current_site()
            self.topics = tuple(site.topics) or ("general",)
            self.guides = {g.path: tuple(g.topics) for g in site.guides()}
            self.pages = {path for path, page in site.pages.items() if page.layout != "welcome"}

    # ----------------------------------------------------------- requests

    def _headers(self, v: Visitor, **extra: str) -> dict[str, str]:
        return {"User-Agent": v.user_agent, "Accept-Language": v.language, **extra}

    def _environ(self, v: Visitor) -> dict[str, str]:
        return {"REMOTE_ADDR": v.address}

    def get(self, client: FlaskClient, v: Visitor, path: str, referrer: str | None = None) -> Page:
        headers = self._headers(v, **({"Referer": referrer} if referrer else {}))
        response = client.get(path, headers=headers, environ_base=self._environ(v))
        self.tally.requests += 1
        if response.status_code != 200:
            raise SimulationError(f"GET {path} answered {response.status_code}")
        return read_page(path, response.get_data(as_text=True))

    def post_form(self, client: FlaskClient, v: Visitor, path: str, data: dict[str, str]) -> str:
        response = client.post(path, data=data, headers=self._headers(v, Origin=ORIGIN),
                               environ_base=self._environ(v))  # fmt: skip
        self.tally.requests += 1
        if response.status_code != 303:
            raise SimulationError(f"POST {path} answered {response.status_code}")
        return response.headers["Location"]

    def send_events(self, client: FlaskClient, v: Visitor, events: list[dict[str, Any]]) -> None:
        response = client.post(
            "/events",
            data=json.dumps({"events": events}),
            headers=self._headers(v, Origin=ORIGIN, **{"Content-Type": "application/json"}),
            environ_base=self._environ(v),
        )
        self.tally.requests += 1
        self.tally.events_sent += len(events)
        if response.status_code != 200:
            raise SimulationError(f"POST /events answered {response.status_code}: {response.get_data(as_text=True)}")
        self.tally.events_rejected += len(response.get_json()["rejected"])

    # -------------------------------------------------------------- visits

    def session_start(self, v: Visitor, day: int) -> datetime:
        hour = (v.usual_hour + v.rng.randint(-2, 2)) % 24
        local = datetime.combine(
            self.first_day + timedelta(days=day),
            time(hour, v.rng.randrange(60), v.rng.randrange(60)),
            tzinfo=ZoneInfo(v.zone),
        )
        start = local.astimezone(UTC).replace(tzinfo=None)
        if v.last_end is not None and start < v.last_end + MIN_GAP:
            start = v.last_end + MIN_GAP
        return start

    def visit(self, v: Visitor, day: int) -> None:
        """One visit: land, read, follow links, maybe sign up; then leave."""
        rng = v.rng
        client = self.app.test_client()
        for name, value in v.cookies.items():  # persistent cookies only: a new browser session
            client.set_cookie(name, value)
        self.clock.now = self.session_start(v, day)
        first = v.visits == 0
        if first and ARMS[v.arm] is not None:
            page = self.get(client, v, "/preferences")
            self.post_form(client, v, "/preferences", {"csrf_token": page.csrf_token or "", **ARMS[v.arm]})  # type: ignore[dict-item]
            self.clock.now += timedelta(seconds=20)
        path = model.landing(v, self.guides)
        referrer = ("https://www.google.com/" if path in self.guides else v.source) if first else None
        v.visits += 1
        self.tally.visits += 1
        seen: list[model.Impression] = []
        fits: list[float] = []
        read: set[str] = set()
        pricing_seen = False
        while True:
            page = self.get(client, v, path, referrer)
            referrer = None
            if TZ_COOKIE not in v.cookies:  # the page script sets it once the first page has loaded
                client.set_cookie(TZ_COOKIE, v.zone)
                v.cookies[TZ_COOKIE] = v.zone
            shown = model.impression(page, v)
            seen.append(shown)
            local = model.shows_local_price(page, v.currency)
            if local is not None:
                v.local_price = local
                pricing_seen = True
            if path in self.guides:
                read.add(path)
            fits.append(model.page_fit(shown, local))
            depth, ms = model.reading(page, v, shown)
            events: list[dict[str, Any]] = [
                {"id": self._event_id(v), "type": "scroll", "page": path, "depth": depth},
                {"id": self._event_id(v), "type": "dwell", "page": path, "ms": ms},
            ]
            if path == "/signup":
                submit = rng.random() < model.submit_chance(v, seen)
                self._leave_page(client, v, page, events, ms)
                if submit:
                    self.sign_up(client, v, page)
                break
            link = None
            if len(seen) < v.patience and not model.leaves_now(v, shown, local):
                link = model.choose_link(page, v, pages=self.pages, guides=self.guides, read=read,
                                         pricing_seen=pricing_seen, fit=fits[-1])  # fmt: skip
            if link is not None and link.block is not None:
                events.append({"id": self._event_id(v), "type": "click", "page": path, "block": link.block,
                               "variant": link.variant, "target": link.target or "link"})  # fmt: skip
            self._leave_page(client, v, page, events, ms)
            if link is None:
                break
            path = model.path_of(link.href) or "/"
        cookie = client.get_cookie(VISITOR_COOKIE)
        if cookie is not None:
            v.cookies[VISITOR_COOKIE] = cookie.value
        v.last_end = self.clock.now
        v.last_fit = sum(fits) / len(fits)

    def _event_id(self, v: Visitor) -> str:
        return str(uuid.UUID(int=v.rng.getrandbits(128), version=4))

    def _leave_page(self, client: FlaskClient, v: Visitor, page: Page, events: list[dict[str, Any]], ms: int) -> None:
        """Time passes while they read; the page script sends its batch when the page is hidden."""
        self.clock.now += timedelta(milliseconds=ms)
        if page.beacon:
            self.send_events(client, v, events)
        self.clock.now += timedelta(seconds=2)

    def sign_up(self, client: FlaskClient, v: Visitor, page: Page) -> None:
        sizes = page.options.get("company_size") or ["1-10"]
        form = {
            "csrf_token": page.csrf_token or "",
            "name": f"Sim Visitor {v.index}",
            "email": f"visitor{v.index}@sim.example",
            "company_size": v.rng.choice(sizes),
        }
        self.clock.now += timedelta(seconds=v.rng.randint(20, 90))  # typing
        location = self.post_form(client, v, "/signup", form)
        self.get(client, v, location)
        v.converted = True
        self.tally.signups += 1


#: The jobs a scheduler would run between simulated days, in order.
DAILY_JOBS = ("train", "score")


def run_daily_jobs(app: Flask, day: int, tally: Tally) -> None:
    """What the scheduler would have done overnight: train and publish models, then score."""
    from app.jobs import JOBS, run_job

    with app.app_context():
        for name in DAILY_JOBS:
            if name not in JOBS:
                continue
            result: Any
            try:
                result = run_job(name, force=True)
            except Exception as exc:  # recorded by the app as a failed run; the traffic goes on
                result = f"failed: {type(exc).__name__}: {exc}"
            tally.jobs[f"day {day + 1} {name}"] = result
        db.session.remove()


def simulate(
    app: Flask,
    *,
    visitors: int,
    days: int,
    seed: int,
    jobs: bool = True,
    progress: Callable[[int, int, Tally], None] | None = None,
) -> Tally:
    """Play ``days`` days of traffic from ``visitors`` synthetic people against ``app``."""
    first_day = start_day(days)
    clock = SimClock(datetime.combine(first_day, time()))
    with app.app_context():
        taken = set(db.session.scalars(select(VisitorRow.id)))
        db.session.remove()
    driver = Driver(app, clock, first_day)
    people = model.make_population(seed, visitors, days, driver.topics, tuple(ARMS))
    for v in people:
        driver.tally.by_arm[v.arm] = driver.tally.by_arm.get(v.arm, 0) + 1
    ids = random.Random(f"tessera-sim-ids:{seed}")
    with _config(
        app,
        CLOCK=clock,
        VISITOR_IDS=_seeded_visitor_ids(ids, taken),
        RATE_LIMIT_VISITOR=10**9,
        RATE_LIMIT_ADDRESS=10**9,
        GEO_HEADER=None,
    ):
        for day in range(days):
            for v in people:
                if v.converted or day < v.arrival_day:
                    continue
                if day == v.arrival_day or model.returns_today(v):
                    driver.visit(v, day)
            if jobs:
                # Overnight, after everyone's day has ended.
                ended = [v.last_end for v in people if v.last_end is not None]
                clock.now = max(ended, default=clock.now) + timedelta(minutes=1)
                run_daily_jobs(app, day, driver.tally)
            if progress is not None:
                progress(day + 1, days, driver.tally)
    return driver.tally
