"""Drive the real app with the synthetic population, through its public surface.

Every visit is a Flask test client sending what a browser would: page GETs
with a User-Agent, Accept-Language, client address and (after the first page,
as ``static/tessera.js`` does) the ``tz`` cookie; the page script's batches to
``POST /events`` only where the page carries ``<body data-beacon>``
(``app.sim.beacon``); the preferences form and the sign-up form with their
CSRF tokens. A later visit is a new browser session that keeps the persistent
cookies (the visitor id and ``tz``) and drops the session cookie. After each
simulated day the app's own jobs run, as its scheduler would overnight.

Two seams make a run reproducible, both only for the duration of the run:
the app's ``CLOCK`` setting (simulated days instead of the wall clock), and
the source of new visitor ids (drawn from the seeded stream, because the
holdout bucket and every test's control group are hashes of the id).
"""

from __future__ import annotations

import contextlib
import json
import random
import time as wall
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
from app.sim import beacon
from app.sim import population as model
from app.sim.effects import HiddenEffects, Segment, logit
from app.sim.ledger import FormLog, Ledger, PageLog, PersonLog, SeenBlock, VisitLog
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
#: The jobs a scheduler would run between simulated days, in order.
DAILY_JOBS = ("train", "score", "learn")


class SimulationError(RuntimeError):
    """The run cannot go on: the app answered what a browser would not expect, or is not set up for a run."""


class SimClock:
    """The ``CLOCK`` the app reads during a run: whatever time the simulation says it is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Tally:
    """What the run did, for the summary lines (not part of the measured report)."""

    visits: int = 0
    requests: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    signups: int = 0
    by_arm: dict[str, int] = field(default_factory=dict)
    #: The app's scheduled jobs after each simulated day: "day N job" -> result.
    jobs: dict[str, Any] = field(default_factory=dict)
    #: Wall-clock seconds spent on visits and on jobs, and the CPU seconds of the visits (on a busy
    #: machine the wall clock also counts other processes' turns).
    visit_seconds: float = 0.0
    job_seconds: float = 0.0
    visit_cpu_seconds: float = 0.0


@dataclass(frozen=True)
class Progress:
    """Where a run is, for a progress line."""

    day: int  # the simulated day under way (1-based), or just finished when ``day_done``
    days: int
    arrived: int  # visitors who made their first visit
    visitors: int
    tally: Tally
    elapsed: float  # wall-clock seconds
    done: float  # share of the run done (0-1), by the expected visits of each simulated day
    day_done: bool = False

    @property
    def left(self) -> float | None:
        """Estimated wall-clock seconds left, once something is done."""
        if self.done <= 0:
            return None
        return self.elapsed / self.done * (1 - self.done)


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


def _seeded_visitor_ids(rng: random.Random, taken: set[str], given: Callable[[str], None]) -> Callable[[], str]:
    """New visitor ids from the seeded stream (skipping ids already in the database); ``given`` hears each."""

    def next_id() -> str:
        while True:
            candidate = uuid.UUID(int=rng.getrandbits(128), version=4).hex
            if candidate not in taken:
                taken.add(candidate)
                given(candidate)
                return candidate

    return next_id


class Driver:
    def __init__(self, app: Flask, clock: SimClock, first_day: date, effects: HiddenEffects) -> None:
        self.app = app
        self.clock = clock
        self.first_day = first_day
        self.effects = effects
        self.tally = Tally()
        self.ledger = Ledger()
        #: The person whose visit is under way: the app's new visitor id is theirs.
        self.current: PersonLog | None = None
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

    def get(self, client: FlaskClient, v: Visitor, path: str, referrer: str | None = None) -> str:
        headers = self._headers(v, **({"Referer": referrer} if referrer else {}))
        response = client.get(path, headers=headers, environ_base=self._environ(v))
        self.tally.requests += 1
        if response.status_code != 200:
            raise SimulationError(f"the app answered what a browser would not expect: GET {path} answered "
                                  f"{response.status_code}")  # fmt: skip
        return response.get_data(as_text=True)

    def post_form(self, client: FlaskClient, v: Visitor, path: str, data: dict[str, str]) -> str:
        response = client.post(path, data=data, headers=self._headers(v, Origin=ORIGIN),
                               environ_base=self._environ(v))  # fmt: skip
        self.tally.requests += 1
        if response.status_code != 303:
            raise SimulationError(f"the app answered what a browser would not expect: POST {path} answered "
                                  f"{response.status_code}")  # fmt: skip
        return response.headers["Location"]

    def send_events(self, client: FlaskClient, v: Visitor, url: str, events: list[dict[str, Any]]) -> None:
        response = client.post(
            url,
            data=json.dumps({"events": events}),
            headers=self._headers(v, Origin=ORIGIN, **{"Content-Type": "application/json"}),
            environ_base=self._environ(v),
        )
        self.tally.requests += 1
        self.tally.events_sent += len(events)
        if response.status_code != 200:
            raise SimulationError(f"the app answered what a browser would not expect: POST {url} answered "
                                  f"{response.status_code}: {response.get_data(as_text=True)}")  # fmt: skip
        self.tally.events_rejected += len(response.get_json()["rejected"])

    # -------------------------------------------------------------- visits

    def session_start(self, v: Visitor, day: int) -> tuple[datetime, int]:
        """When the visit starts (naive UTC) and its local hour."""
        hour = (v.usual_hour + v.rng.randint(-2, 2)) % 24
        zone = ZoneInfo(v.zone)
        local = datetime.combine(
            self.first_day + timedelta(days=day), time(hour, v.rng.randrange(60), v.rng.randrange(60)), tzinfo=zone
        )
        start = local.astimezone(UTC).replace(tzinfo=None)
        if v.last_end is not None and start < v.last_end + MIN_GAP:
            start = v.last_end + MIN_GAP
        return start, start.replace(tzinfo=UTC).astimezone(zone).hour

    def visit(self, v: Visitor, person: PersonLog, day: int) -> None:
        """One visit: land, read each page top down, follow a link or not, maybe sign up; then leave."""
        self.current = person
        client = self.app.test_client()
        for name, value in v.cookies.items():  # persistent cookies only: a new browser session
            client.set_cookie(name, value)
        self.clock.now, hour = self.session_start(v, day)
        first = v.visits == 0
        arm = ARMS[v.arm]
        if first and arm is not None:
            form = read_page("/preferences", self.get(client, v, "/preferences"))
            self.post_form(client, v, "/preferences", {"csrf_token": form.csrf_token or "", **arm})
            self.clock.now += timedelta(seconds=20)
        path = model.landing(v, self.guides)
        referrer = ("https://www.google.com/" if path in self.guides else v.source) if first else None
        v.visits += 1
        self.tally.visits += 1
        log = VisitLog(Segment(v.device, v.country, not first, model.daypart(hour)))
        person.visits.append(log)
        read: dict[str, None] = {}  # identities read this visit, in order
        guides_read: set[str] = set()
        pricing_seen = False
        while True:
            at = self.clock.now
            text = self.get(client, v, path, referrer)
            referrer = None
            if TZ_COOKIE not in v.cookies:  # the page script sets it once the first page has loaded
                client.set_cookie(TZ_COOKIE, v.zone)
                v.cookies[TZ_COOKIE] = v.zone
            page = read_page(path, text)
            url = beacon.beacon_url(text)
            budget = model.words_read(v)
            clickable = len(log.pages) + 1 < model.MAX_PAGES
            seen = model.walk(page, v, log.segment, self.effects, budget, clickable)
            self._log_page(log, page, text, at, url is not None, clickable, seen)
            read.update((b.identity, None) for b, r in zip(page.blocks, seen.reached, strict=True) if r)
            pricing_seen = pricing_seen or path == "/pricing"
            if path in self.guides:
                guides_read.add(path)
            depth, ms = model.reading(page, v, budget)
            events: list[dict[str, Any]] = [
                {"id": self._event_id(v), "type": "scroll", "page": path, "depth": depth},
                {"id": self._event_id(v), "type": "dwell", "page": path, "ms": ms},
            ]
            following: str | None = None
            if seen.clicked is not None and seen.link is not None:
                block = page.blocks[seen.clicked]
                events.append({"id": self._event_id(v), **beacon.click(text, path, block.offset, seen.link.offset)})
                following = model.path_of(seen.link.href)
            elif path == "/signup":
                self._leave_page(client, v, url, events, ms)
                self.decide_signup(client, v, log, page, read)
                break
            elif len(log.pages) < v.patience:
                link = model.choose_link(page, v, pages=self.pages, guides=self.guides, read=guides_read,
                                         pricing_seen=pricing_seen)  # fmt: skip
                following = model.path_of(link.href) if link is not None else None
            self._leave_page(client, v, url, events, ms)
            if following is None or following not in self.pages:
                break  # they left (a link to another site counts as leaving too)
            path = following
        cookie = client.get_cookie(VISITOR_COOKIE)
        if cookie is not None:
            v.cookies[VISITOR_COOKIE] = cookie.value
        v.last_end = self.clock.now

    def _log_page(self, log: VisitLog, page: Page, text: str, at: datetime, has_beacon: bool, clickable: bool,
                  seen: model.Walk) -> None:  # fmt: skip
        named = beacon.names(text, [b.offset for b in page.blocks])
        log.pages.append(
            PageLog(
                at=at,
                path=page.path,
                beacon=has_beacon,
                clickable=clickable,
                blocks=[
                    SeenBlock(name, variant, b.identity, bool(b.links), reached, seen.clicked == i)
                    for i, (b, (name, variant), reached) in enumerate(
                        zip(page.blocks, named, seen.reached, strict=True)
                    )
                ],
            )
        )

    def _event_id(self, v: Visitor) -> str:
        return str(uuid.UUID(int=v.rng.getrandbits(128), version=4))

    def _leave_page(self, client: FlaskClient, v: Visitor, url: str | None, events: list[dict[str, Any]],
                    ms: int) -> None:  # fmt: skip
        """Time passes while they read; the page script sends its batch when the page is hidden."""
        self.clock.now += timedelta(milliseconds=ms)
        if url is not None:
            self.send_events(client, v, url, events)
        self.clock.now += timedelta(seconds=2)

    def decide_signup(self, client: FlaskClient, v: Visitor, log: VisitLog, page: Page, read: dict[str, None]) -> None:
        """On the form: submit with the chance their propensity and what they read this visit give."""
        typing = timedelta(seconds=v.rng.randint(20, 90))
        base = logit(v.propensity)
        submitted = v.rng.random() < model.signup_chance(base, read, log.segment, self.effects)
        log.form = FormLog(at=self.clock.now + typing, base=base, submitted=submitted)
        if not submitted:
            return
        sizes = page.options.get("company_size") or ["1-10"]
        form = {
            "csrf_token": page.csrf_token or "",
            "name": f"Sim Visitor {v.index}",
            "email": f"visitor{v.index}@sim.example",
            "company_size": v.rng.choice(sizes),
        }
        self.clock.now += typing
        location = self.post_form(client, v, "/signup", form)
        self.get(client, v, location)
        v.converted = True
        self.tally.signups += 1


def run_daily_jobs(app: Flask, day: int, tally: Tally) -> None:
    """What the scheduler would have done overnight: train and publish models, score, learn."""
    from app.jobs import JOBS, run_job

    started = wall.perf_counter()
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
    tally.job_seconds += wall.perf_counter() - started


#: How often (in visits) the driver reports progress within a day.
PROGRESS_EVERY = 100


def simulate(
    app: Flask,
    *,
    visitors: int,
    days: int,
    seed: int,
    effects: HiddenEffects,
    jobs: bool = True,
    progress: Callable[[Progress], None] | None = None,
) -> tuple[Tally, Ledger]:
    """Play ``days`` days of traffic from ``visitors`` synthetic people against ``app``."""
    if app.config.get("WRITES", "direct") != "direct":
        raise SimulationError(
            "a simulation needs WRITES=direct (TESSERA_WRITES): each page's records must be stored before "
            "the visitor's next request, and the nightly jobs must see them"
        )
    started = wall.perf_counter()
    first_day = start_day(days)
    clock = SimClock(datetime.combine(first_day, time()))
    with app.app_context():
        taken = set(db.session.scalars(select(VisitorRow.id)))
        db.session.remove()
    driver = Driver(app, clock, first_day, effects)
    people = model.make_population(seed, visitors, days, driver.topics, tuple(ARMS))
    logs = [PersonLog(v.index, v.clickiness) for v in people]
    driver.ledger.people.extend(logs)
    for v in people:
        driver.tally.by_arm[v.arm] = driver.tally.by_arm.get(v.arm, 0) + 1
    ids = random.Random(f"tessera-sim-ids:{seed}")
    arrived = 0

    def given(visitor_id: str) -> None:
        # The last id drawn during someone's first visit is theirs: an id is drawn again while
        # no page view has stored the previous one yet (as after the /preferences form).
        if driver.current is not None:
            driver.current.app_id = visitor_id

    # Later days carry more visits (everyone who arrived earlier may come back): weigh each
    # day by its expected visits, for an estimate of the time left that does not run short.
    weights = [1 + sum(model.RETURN_CHANCE) / 2 * day for day in range(days)]

    def report(day: int, today: float, day_done: bool = False) -> None:
        if progress is not None:
            elapsed = wall.perf_counter() - started
            done = (sum(weights[:day]) + weights[day] * today) / sum(weights)
            progress(Progress(day + 1, days, arrived, visitors, driver.tally, elapsed, done, day_done))

    with _config(
        app,
        CLOCK=clock,
        VISITOR_IDS=_seeded_visitor_ids(ids, taken, given),
        RATE_LIMIT_VISITOR=10**9,
        RATE_LIMIT_ADDRESS=10**9,
        GEO_HEADER=None,
    ):
        for day in range(days):
            day_started, day_cpu = wall.perf_counter(), wall.process_time()
            for position, (v, log) in enumerate(zip(people, logs, strict=True)):
                if v.converted or day < v.arrival_day:
                    continue
                if day == v.arrival_day or model.returns_today(v):
                    arrived += day == v.arrival_day
                    driver.visit(v, log, day)
                    if driver.tally.visits % PROGRESS_EVERY == 0:
                        report(day, position / len(people))
            driver.tally.visit_seconds += wall.perf_counter() - day_started
            driver.tally.visit_cpu_seconds += wall.process_time() - day_cpu
            if jobs:
                # Overnight, after everyone's day has ended.
                ended = [v.last_end for v in people if v.last_end is not None]
                clock.now = max(ended, default=clock.now) + timedelta(minutes=1)
                run_daily_jobs(app, day, driver.tally)
            report(day, 1.0, day_done=True)
    return driver.tally, driver.ledger
