"""``flask --app wsgi simulate``: seeded synthetic traffic through the real app, and a test of its measurements.

A test bed, not a demo: synthetic visitors whose behaviour follows hidden
effects that nobody chose (drawn from a seed, helpful and harmful alike) use
the real site, and the report puts what the app measured next to the hidden
truth::

    flask --app wsgi simulate                       # 600 visitors, 5 days, seed 7, into a fresh temporary database
    flask --app wsgi simulate --visitors 3000 --days 7 --effects-seed 318
    flask --app wsgi simulate --database sqlite:////tmp/sim.sqlite   # a database of your choice

What it does
------------
It creates N synthetic visitors with hidden traits and plays D simulated days
of their visits against the real app, in process, through its public surface
only (``app/sim/driver.py``): Flask test clients GET the real pages, post the
page script's batches to ``POST /events`` where a page carries ``<body
data-beacon>`` (clicks with the block and variant the page's ``data-*``
attributes name, ``app/sim/beacon.py``), and post the ``/preferences`` and
sign-up forms with their CSRF tokens. After each simulated day the app's own
jobs run as its scheduler would: ``train``, ``score``, then ``learn`` (which
publishes learning blocks' allocations and pauses rules that hurt). Every
exposure, decision, event and conversion is the app's own record.

By default it writes into a fresh SQLite database in a new temporary folder
(the path is printed), never into the site's: a report is never mixed with
browsing. ``--database URL`` chooses another; the report still covers only
the run's own visitors. The run's app takes the site's content and
measurement settings (``RULE_CONTROL_SHARE``, ``RULE_MIN_SAMPLE``) and writes
each record within its request (``WRITES=direct``: the beacon right after a
page needs the visitor that page created, and a run must replay exactly).
Progress is printed as it goes (visitors arrived, visits, sign-ups, time
elapsed and left), and at the end the time spent on visits (wall clock and
CPU per visit), jobs and the report.

Reproducible: the same seeds on a fresh database give the same report. The
app's ``CLOCK`` is the simulation's (days starting on the latest Monday at
least D + 2 days back), new visitor ids come from the seeded stream (the
holdout and every control group are hashes of the id), and every random
choice comes from a ``random.Random`` stream per visitor.

Hidden traits (``app/sim/population.py``)
-----------------------------------------
- **device**: phone 50%, desktop 40%, tablet 10%, with real User-Agents.
- **country**: US 35%, DE 25%, GB 20%, IN 20%, as client addresses the offline
  lookup places there; a time zone (sent as the ``tz`` cookie after the first
  page) and an Accept-Language (70% of German visitors ask for German).
- **source** of the first visit (Referer): direct 60%, Google 15%, Hacker
  News 10%, Product Hunt 8%, Indie Hackers 7%; a guide is reached from Google.
- **interest**: one of the site's topics, uniformly. It only steers which
  guides they open (a guide's topic in ``pages/`` stands for what a person
  gathers from its title), so the behavioral layer has something to learn.
- **propensity**: Beta(2, 8), mean 0.2: the chance to complete the sign-up form
  once on it, before the sign-up effects of what they read. Intent shows: it
  also draws them to the prices and the sign-up button.
- **clickiness**: Normal(0, 0.5), added to the log-odds of every click.
- **return chance**: uniform 0.10-0.60 per later day; **patience**: 2-6 pages;
  **usual local hour**: 07-21, or 22-01 for 15% night owls; **arrival day**.
- **arm**, uniformly: "all layers" (the defaults), "contextual only" or
  "contextual+behavioral" (posted to ``/preferences``). The holdout is the
  app's own bucket (``--holdout``), independent of the arm.

What a visitor sees (``app/sim/reader.py``)
-------------------------------------------
Visible text, where each block's element begins and ends (the presence of
``data-block``, never its value), links and form fields. Never
``data-variant``, ``data-layer``, ``data-topics``, ``data-target``, the folded
"Why am I seeing this?" notes, rule ids or file names. A block's **identity** is
a hash of its visible text with whitespace collapsed: different copy, a
different thing; the same copy under another file name, the same thing.

The hidden effects (``app/sim/effects.py``)
-------------------------------------------
Every identity gets two effects, each a log-odds shift: on **clicking** its
link or button when read, and on **completing the sign-up form** later in a
visit in which it was read. Each effect is the sum of an overall term and one
term per value of each segment key: device (phone, tablet, desktop), country
(US, DE, GB, IN), returning (an earlier visit or not) and daypart of the
visit's start (morning 05-12, afternoon 12-17, evening 17-22, night 22-05,
local time). Every term is drawn on its own, seeded by (effects seed, effect,
identity, key), from a mixture centred on zero: Normal(0, small) or, with
chance large_share, Normal(0, large):

========  =================  ======================
effect    overall term       each segment key's term
========  =================  ======================
click     0.20 / 0.80, 15%   0.12 / 0.50, 15%
sign-up   0.10 / 0.50, 10%   0.07 / 0.30, 10%
========  =================  ======================

So a version may help phones in India, do nothing elsewhere and hurt at
night: some rules help, some do nothing and some hurt. What was dropped from
the earlier simulator, because it was written against the demo content:
effects of topic match, of page length on phones and of prices in the
visitor's currency. What remains is structural and has no sign: a block is
read only if it begins within the words they read down the page, so position
decides whose effect counts, not whether it helps.

Behaviour
---------
- **landing**: first visit home 45%, a guide on their topic 35%, pricing 20%;
  later visits home 35%, pricing 35%, guides index 15%, a guide 15%.
- **reading**: per page, words read ~ 500 x log-normal(0, 0.6); every block
  that begins within them is read; scroll depth is that share of the page's
  visible words, visible time those words at 190/220/240 words a minute
  (phone/tablet/desktop) x log-normal(0, 0.3).
- **clicking**: top to bottom, a read block with a link is followed with
  chance sigmoid(logit(0.10) + clickiness + its click effect); the page script
  reports the click; the rest of the page is not read. On the tenth page of a
  visit nothing is clicked any more.
- **otherwise**, with patience left, a link outside the blocks: pricing 0.4 +
  2 x propensity (x 2 until seen this visit: intent shows), guides 0.8, home
  0.3, sign-up 0.1 + 1 x propensity, any other page 0.5; a guide on their
  topic x 2, one read this visit x 0.3. Else they leave.
- **signing up**: on the form (when they do not click away in its blocks) they
  submit with chance sigmoid(logit(propensity) + the sign-up effects of every
  distinct block read this visit); then ``/welcome``; converted visitors do not
  return. Typing takes 20-90 s.
- **returning**: with their return chance on each later day.

The report (``app/sim/report.py``, ``app/sim/truth.py``)
--------------------------------------------------------
It says the traffic is synthetic, then the headline: how often the app's 95%
intervals contained the hidden truth (rule lifts, per segment, learning
candidates' rates), which rules the learn job paused and what they truly did,
and whether a helpful rule was paused. Then the holdout against personalized
visitors (conversion, pages, dwell; the arms are the visitors' own settings,
not causal), the blocks shown by layer, every rule test (the app's
``rule_tests``: measured lift with its interval, status) next to its true
lift, per segment, and every learning block per segment: candidates' true
goal rates next to the app's posterior (``learn_block``) and the served
allocation, and whether its favourite is the truly best. ``app/sim/truth.py``
says exactly how the truth is computed, and what it leaves out.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from app import store
from app.sim.driver import Progress, SimulationError, simulate, start_day
from app.sim.effects import HiddenEffects
from app.sim.report import format_report, lift_report
from app.sim.truth import truth_report

__all__ = ["ProgressPrinter", "init_app", "lift_report", "run_simulation", "simulate_command"]


def run_simulation(
    app: Flask,
    *,
    visitors: int = 600,
    days: int = 5,
    seed: int = 7,
    effects_seed: int | None = None,
    holdout: float | None = 0.25,
    jobs: bool = True,
    progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Play the traffic against ``app``; the report: world, holdout comparison, truth vs measured, run summary.

    ``effects_seed`` draws the hidden effects (default: ``seed``); ``holdout`` sets
    the app's ``HOLDOUT_SHARE`` for the run (None keeps the app's own); ``jobs``
    runs the scheduled jobs after each simulated day. ``timing`` is the only key
    that differs between two runs with the same seeds on fresh databases.
    """
    effects = HiddenEffects(seed if effects_seed is None else effects_seed)
    saved = app.config["HOLDOUT_SHARE"]
    share = saved if holdout is None else holdout
    app.config["HOLDOUT_SHARE"] = share
    started = time.perf_counter()
    try:
        tally, log = simulate(app, visitors=visitors, days=days, seed=seed, effects=effects, jobs=jobs,
                              progress=progress)  # fmt: skip
    finally:
        app.config["HOLDOUT_SHARE"] = saved
    simulated = time.perf_counter()
    run_ids = {p.app_id for p in log.people if p.app_id is not None}
    first = datetime.combine(start_day(days), datetime.min.time())
    # Local mornings east of UTC fall on the day before in UTC; the last jobs ran after the last visit.
    since, until = first - timedelta(days=1), first + timedelta(days=days + 2)
    report: dict[str, Any] = {
        "world": {"seed": seed, "effects_seed": effects.seed},
        **lift_report(app, run_ids),
        "truth": truth_report(app, log, effects, since, until),
    }
    report["simulation"] = {
        "visitors": visitors,
        "days": days,
        "holdout": share,
        "control_share": app.config["RULE_CONTROL_SHARE"],
        "min_sample": app.config["RULE_MIN_SAMPLE"],
        "arms": dict(sorted(tally.by_arm.items())),
        "visits": tally.visits,
        "requests": tally.requests,
        "events_sent": tally.events_sent,
        "events_rejected": tally.events_rejected,
        "signups": tally.signups,
        "jobs": dict(tally.jobs),
    }
    report["timing"] = {
        "visits_seconds": round(tally.visit_seconds, 2),
        "jobs_seconds": round(tally.job_seconds, 2),
        "report_seconds": round(time.perf_counter() - simulated, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "ms_per_visit": round(1000 * tally.visit_seconds / max(1, tally.visits), 1),
        "cpu_ms_per_visit": round(1000 * tally.visit_cpu_seconds / max(1, tally.visits), 1),
    }
    return report


#: Settings the simulation app takes from the site's app (the rest are the defaults and the environment).
SHARED_SETTINGS = ("SECRET_KEY", "CONTENT_ROOT", "SERVER_TIMEZONE", "RULE_CONTROL_SHARE", "RULE_MIN_SAMPLE")


def simulation_app(base: Flask, database: str, holdout: float) -> Flask:
    """A second app on ``database`` with the site's content and measurement settings, no limits and no scheduler."""
    from app import create_app

    return create_app(
        {
            **{key: base.config.get(key) for key in SHARED_SETTINGS},
            "SQLALCHEMY_DATABASE_URI": database,
            "HOLDOUT_SHARE": holdout,
            "RATE_LIMIT_VISITOR": 10**9,
            "RATE_LIMIT_ADDRESS": 10**9,
            "SCHEDULER": "off",
            "GEO_HEADER": None,  # countries come from the client addresses
            "PROXY_HOPS": 0,
            "CONTENT_WATCH": False,
            # Each write lands before the next request: the beacon right after a page needs the
            # visitor it created, the nightly jobs read everything, and a run must replay exactly.
            "WRITES": "direct",
        }
    )


def _dispose(app: Flask) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _models_line(jobs: dict[str, Any]) -> list[str]:
    """The last training run's outcome per model, for the summary."""
    trained = [result for name, result in jobs.items() if name.endswith(" train")]
    if not trained:
        return []
    last = trained[-1]
    if not isinstance(last, dict):
        return [f"Models after the last day: {last}"]
    return ["Models after the last day:", *(f"  {kind}: {outcome}" for kind, outcome in last.items())]


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class ProgressPrinter:
    """One line per simulated day and, in between, at most every ``every`` wall-clock seconds."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        if not p.day_done and p.elapsed - self.last < self.every:
            return
        self.last = p.elapsed
        left = "" if p.left is None or p.done >= 1 else f", about {_duration(p.left)} left"
        state = "done" if p.day_done else "under way"
        click.echo(f"  day {p.day}/{p.days} {state}: {p.arrived}/{p.visitors} visitors arrived, {p.tally.visits} "
                   f"visits, {p.tally.signups} sign-ups; {_duration(p.elapsed)} elapsed{left}")  # fmt: skip


@click.command("simulate")
@click.option(
    "--visitors", default=600, show_default=True, type=click.IntRange(min=1), help="Synthetic visitors to create."
)
@click.option("--days", default=5, show_default=True, type=click.IntRange(1, 90), help="Simulated days.")
@click.option("--seed", default=7, show_default=True, type=int,
              help="Seed of the traffic: the same seeds on a fresh database replay the same run.")  # fmt: skip
@click.option("--effects-seed", default=None, type=int,
              help="Seed of the hidden effects (default: --seed): another world for the same traffic.")  # fmt: skip
@click.option("--holdout", default=0.25, show_default=True, type=click.FloatRange(0, 1),
              help="Holdout share during the simulation (the app's HOLDOUT_SHARE).")  # fmt: skip
@click.option("--database", default=None, metavar="URL",
              help="SQLAlchemy URL to fill (default: a new SQLite file in a temporary folder).")  # fmt: skip
@click.option("--jobs/--no-jobs", default=True, show_default=True,
              help="Run the scheduled jobs (train, score, learn) after each simulated day.")  # fmt: skip
@with_appcontext
def simulate_command(visitors: int, days: int, seed: int, effects_seed: int | None, holdout: float,
                     database: str | None, jobs: bool) -> None:  # fmt: skip
    """Fill a database with seeded synthetic traffic; report what the app measured next to the hidden truth."""
    if database is None:
        path = Path(tempfile.mkdtemp(prefix="tessera-sim-")) / "simulation.sqlite"
        url = f"sqlite:///{path}"
        click.echo(f"Writing into a fresh database: {path}")
        click.echo("  (the site's own database is untouched; --database URL writes elsewhere)")
    else:
        url = database
        click.echo(f"Writing into {make_url(url).render_as_string(hide_password=True)} (--database)")
    app = simulation_app(current_app, url, holdout)
    try:
        with app.app_context():
            store.ready()  # a new database gets its schema before anything reads it
        world = seed if effects_seed is None else effects_seed
        click.echo(f"Simulating {visitors} visitors over {days} days (seed {seed}, effects seed {world}, holdout "
                   f"{holdout:.0%}, rule control share {app.config['RULE_CONTROL_SHARE']:.0%})")  # fmt: skip
        try:
            report = run_simulation(app, visitors=visitors, days=days, seed=seed, effects_seed=effects_seed,
                                    holdout=holdout, jobs=jobs, progress=ProgressPrinter())  # fmt: skip
        except SimulationError as exc:
            raise click.ClickException(str(exc)) from exc
        run, timing = report["simulation"], report["timing"]
        click.echo(
            f"Done in {_duration(timing['total_seconds'])}: visits {timing['visits_seconds']:.1f} s "
            f"({timing['ms_per_visit']:.0f} ms each, {timing['cpu_ms_per_visit']:.0f} ms of it CPU), jobs "
            f"{timing['jobs_seconds']:.1f} s, report {timing['report_seconds']:.1f} s. "
            f"{run['visits']} visits, {run['requests']} requests, "
            f"{run['events_sent']} events ({run['events_rejected']} rejected), {run['signups']} sign-ups"
        )
        for line in _models_line(run["jobs"]):
            click.echo(line)
        click.echo("")
        click.echo(format_report(report))
    finally:
        _dispose(app)


def init_app(app: Flask) -> None:
    """Register ``flask simulate``."""
    app.cli.add_command(simulate_command)
