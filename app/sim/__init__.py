"""``flask --app wsgi simulate``: seeded synthetic traffic through the real app, and the lift it measures.

A new user can fill the demo site with traffic in one command and see, from
the app's own records, whether personalization helps and which layer does it::

    flask --app wsgi simulate                      # 600 visitors, 5 days, seed 7, holdout 25%
    flask --app wsgi simulate --report-only        # just the report, from what is stored

What it does
------------
It creates N synthetic visitors with hidden traits and plays D simulated days
of their visits against the real app, in process, through its public surface
only: Flask test clients GET the real pages, send the beacon's batches to
``POST /events`` (only where a page carries ``<body data-beacon>``, as
``static/tessera.js`` does), post the ``/preferences`` form and the sign-up
form with their CSRF tokens. A later visit is a new browser session that keeps
the persistent cookies (visitor id, ``tz``). After each simulated day the
app's own scheduled jobs run (``train``, then ``score``), as the scheduler
would overnight. The engine decides every page and the store records every
exposure, event and conversion; nothing inside the app is faked.

Two seams make a run reproducible, and only for the duration of the run: the
app's ``CLOCK`` setting (simulated days starting on the latest Monday at
least D + 2 days back, so everything lies in the past and weekdays repeat
exactly), and the source of new visitor ids (the ``VISITOR_IDS`` setting
draws from the seeded stream, because the holdout bucket is a hash of the id;
ids already in the database are skipped). Every
other random choice comes from ``random.Random`` streams derived from the seed,
one per visitor, including the beacon's event ids
(``uuid.UUID(int=rng.getrandbits(128), version=4)``).

Hidden traits (``app/sim/population.py``)
-----------------------------------------
- **device**: phone 50%, desktop 40%, tablet 10%, each with real User-Agent
  strings (iPhone Safari or Android Chrome; Windows Chrome or Mac Safari; iPad).
- **country**: US 35%, DE 25%, GB 20%, IN 20%, sent as the client address the
  offline lookup places there (8.8.8.8, 5.9.0.1, 81.2.69.160, 49.44.0.1); with
  it a time zone (US: New York, Chicago, Denver or Los Angeles; Berlin; London;
  Kolkata) set as the ``tz`` cookie after the first page loads, an
  Accept-Language (70% of German visitors ask for German) and a local currency
  ($, €, £, ₹).
- **source** of the first visit: a guide is reached from Google; otherwise
  direct 60%, Google 15%, Hacker News 10%, Product Hunt 8%, Indie Hackers 7%
  (the Referer header).
- **interest**: one of the site's topics (``pages/_site.yaml``), uniformly.
- **propensity**: Beta(2, 14), mean 0.125: the base chance to complete the
  sign-up form once on it.
- **return chance**: uniform 0.10-0.60, per later day.
- **patience**: 2-6 pages per visit.
- **usual local hour**: 07-21, or 22-01 for 15% night owls; each visit within
  two hours of it.
- **arrival day**: uniform over the simulated days.
- **arm**, uniformly: "all layers" (settings untouched: the defaults),
  "contextual only" or "contextual+behavioral" (posted to ``/preferences``
  before the first page). The holdout is the app's own bucket
  (``HOLDOUT_SHARE`` = ``--holdout``), independent of the arm.

What a visitor reads off a page (``app/sim/reader.py``), and nothing else
-------------------------------------------------------------------------
- **relevance**: the best of the first three blocks (above the fold) by
  [their interest is in its ``data-topics``] / (number of topics): 1 for a block
  about exactly their topic, 1/3 for a block about all three, 0 without topics.
- **light** / **very long**, for phone visitors only: at most 300 / at least
  500 visible words in ``<main>`` (the folded "Why am I seeing this?" notes do
  not count).
- **local prices**: every ``.plan__amount`` on the page has their currency symbol.
- links with their ``data-target`` and the ``data-block``/``data-variant``
  they sit in, the CSRF token, the form's choices.

Never a variant id, a layer name or a rule: personalization earns lift only by
putting content about the visitor's interest near the top, lighter pages on
phones and prices in their currency. Where the content makes a page worse for
someone, the report shows that too.

Behaviour and effect sizes
--------------------------
- **landing**: first visit home 45%, a guide on their topic 35%, pricing 20%;
  later visits home 35%, pricing 35%, guides index 15%, a guide 15%.
- **reading**: scroll depth uniform 35-100% + 20 x relevance (x 0.75 for a
  very long page on a phone); visible time = words read / reading speed
  (phone 190, tablet 220, desktop 240 words a minute) x (1 + 0.5 x
  relevance) x log-normal noise (sigma 0.3), at least 2 s. Sent as one scroll
  and one dwell event per page, plus a click event when they leave through a
  link inside a block.
- **next link**, by weight, among the same-site links in ``<main>`` and the
  navigation: a link in a block 1 + 3 x that block's topic match; a call to
  action (``data-target`` cta or secondary) (0.4 + 3 x propensity) x (1 + 3 x
  page fit); outside blocks (navigation, guide cards, back links): pricing 0.8,
  guides 0.8, home 0.3, sign-up 0.2 + 2 x propensity, anything else 0.5; then
  x 2 for a guide on their topic, x 0.3 for a guide already read this visit,
  x 2 for pricing until they have seen it this visit.
- **leaving**: after ``patience`` pages; right after a very long page on a
  phone with chance 0.50; right after a pricing page in another currency with
  chance 0.60; after the sign-up form, submitted or not.
- **signing up**: on ``/signup`` they submit with the **submit chance** =
  propensity + 0.40 x mean relevance of this visit's pages + 0.20 x share of
  this visit's pages that were light (phones) - 0.20 x share that were very
  long (phones) + 0.30 if the last pricing page they saw showed their currency,
  clipped to 0.01-0.90. Then ``/welcome``; converted visitors do not return.
- **page fit** (for calls to action and returning) is the same sum for one
  page: 0.40 x relevance + 0.20 x light - 0.20 x very long + 0.30 x local prices.
- **returning**: on each later day with chance return chance x (1 + 2 x mean
  page fit of their last visit), at most 0.90.

The sizes are deliberately strong, so that a few hundred visitors give a clear
answer; real lifts are usually far smaller.

The report (``app/sim/report.py``)
----------------------------------
Computed only from the app's records (``exposures``, ``conversions``,
``events``, ``visitors``), over **every visitor in the database with at least
one page view**, simulated or not (use ``--database`` with a fresh database
for a clean measurement): per group (holdout, personalized, and each arm
among the personalized) the visitors, the conversion rate with a 95% Wilson
interval, mean pages and mean dwell seconds per visitor with 95% normal
intervals (dwell only over visitors who allow the behavioral layer: only
their pages carry the beacon), and the lift by layer: each personalized
group's conversion rate minus the holdout's, with a 95% Newcombe interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from app import store
from app.sim.driver import SimulationError, Tally, simulate
from app.sim.report import format_report, lift_report

__all__ = ["init_app", "lift_report", "run_simulation", "simulate_command"]


def run_simulation(
    app: Flask,
    *,
    visitors: int = 600,
    days: int = 5,
    seed: int = 7,
    holdout: float | None = 0.25,
    jobs: bool = True,
    progress: Callable[[int, int, Tally], None] | None = None,
) -> dict[str, Any]:
    """Play the traffic against ``app``; return :func:`lift_report` plus ``simulation``: what the run did.

    ``holdout`` sets the app's ``HOLDOUT_SHARE`` for the run (None keeps the app's
    own); ``jobs`` runs the scheduled jobs after each simulated day.
    """
    saved = app.config["HOLDOUT_SHARE"]
    share = saved if holdout is None else holdout
    app.config["HOLDOUT_SHARE"] = share
    try:
        tally = simulate(app, visitors=visitors, days=days, seed=seed, jobs=jobs, progress=progress)
    finally:
        app.config["HOLDOUT_SHARE"] = saved
    report = lift_report(app)
    report["simulation"] = {
        "visitors": visitors,
        "days": days,
        "seed": seed,
        "holdout": share,
        "arms": dict(sorted(tally.by_arm.items())),
        "visits": tally.visits,
        "requests": tally.requests,
        "events_sent": tally.events_sent,
        "events_rejected": tally.events_rejected,
        "signups": tally.signups,
        "jobs": dict(tally.jobs),
    }
    return report


def simulation_app(base: Flask, database: str, holdout: float) -> Flask:
    """A second app on the same database and content, limits raised and no scheduler, for the simulation."""
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "SECRET_KEY": base.config["SECRET_KEY"],
            "CONTENT_ROOT": base.config["CONTENT_ROOT"],
            "SERVER_TIMEZONE": base.config.get("SERVER_TIMEZONE"),
            "HOLDOUT_SHARE": holdout,
            "RATE_LIMIT_VISITOR": 10**9,
            "RATE_LIMIT_ADDRESS": 10**9,
            "SCHEDULER": "off",
            "GEO_HEADER": None,  # countries come from the client addresses
            "PROXY_HOPS": 0,
            "CONTENT_WATCH": False,
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


@click.command("simulate")
@click.option(
    "--visitors", default=600, show_default=True, type=click.IntRange(min=1), help="Synthetic visitors to create."
)
@click.option("--days", default=5, show_default=True, type=click.IntRange(1, 90), help="Simulated days.")
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=int,
    help="Seed: the same seed on a fresh database replays the same traffic.",
)
@click.option(
    "--holdout",
    default=0.25,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Holdout share during the simulation (the app's HOLDOUT_SHARE).",
)
@click.option(
    "--database",
    default=None,
    metavar="URL",
    help="SQLAlchemy URL to fill and report on (default: the app's configured database).",
)
@click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Run the scheduled jobs (train, score) after each simulated day.",
)
@click.option("--report-only", is_flag=True, help="Do not simulate; report from the records already there.")
@with_appcontext
def simulate_command(visitors: int, days: int, seed: int, holdout: float, database: str | None, jobs: bool,
                     report_only: bool) -> None:  # fmt: skip
    """Fill the site with seeded synthetic traffic and report the lift by layer."""
    url = database or current_app.config["SQLALCHEMY_DATABASE_URI"]
    shown = make_url(url).render_as_string(hide_password=True)
    app = simulation_app(current_app, url, holdout)
    try:
        with app.app_context():
            store.ready()  # a new database gets its schema before anything reads it
        if report_only:
            report = lift_report(app)
        else:
            click.echo(f"Simulating {visitors} visitors over {days} days (seed {seed}, holdout {holdout:.0%}) "
                       f"into {shown}")  # fmt: skip
            started = time.perf_counter()

            def progress(day: int, total: int, tally: Tally) -> None:
                click.echo(f"  day {day}/{total}: {tally.visits} visits, {tally.signups} sign-ups so far")

            try:
                report = run_simulation(app, visitors=visitors, days=days, seed=seed, holdout=holdout, jobs=jobs,
                                        progress=progress)  # fmt: skip
            except SimulationError as exc:
                raise click.ClickException(f"the app answered what a browser would not expect: {exc}") from exc
            run = report["simulation"]
            click.echo(
                f"Done in {time.perf_counter() - started:.1f} s: {run['visits']} visits, {run['requests']} requests, "
                f"{run['events_sent']} events ({run['events_rejected']} rejected), {run['signups']} sign-ups"
            )
            for line in _models_line(run["jobs"]):
                click.echo(line)
        click.echo("")
        click.echo(f"Report over every visitor with at least one page view in {shown}:")
        click.echo("")
        click.echo(format_report(report))
    finally:
        _dispose(app)


def init_app(app: Flask) -> None:
    """Register ``flask simulate``."""
    app.cli.add_command(simulate_command)
