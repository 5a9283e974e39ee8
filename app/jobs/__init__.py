"""Scheduled jobs: each is a plain function, a CLI command and an APScheduler job.

Exactly-once per interval across processes and hosts: before a job runs, its
run is claimed in the ``job_runs`` table under a unique (job, slot) key, where
the slot is the interval the run belongs to. A second scheduler started by
mistake, or a CLI run in the same interval, finds the slot taken and does no
duplicate work. ``flask jobs run NAME --force`` runs a job regardless.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import store
from app.clock import utcnow
from app.extensions import db
from app.jobs.leader import Leadership
from app.jobs.runs import claim_run, finish_run, heartbeat, recent_runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A job: what it does and how often (a config key holding seconds)."""

    name: str
    run: Callable[[datetime], dict[str, Any]]
    interval_key: str
    description: str


def _purge(now: datetime) -> dict[str, Any]:
    config = current_app.config
    retention = store.Retention(
        events=timedelta(days=config["EVENT_RETENTION_DAYS"]),
        exposures=timedelta(days=config["EXPOSURE_RETENTION_DAYS"]),
        conversions=timedelta(days=config["CONVERSION_RETENTION_DAYS"]),
        visitors=timedelta(days=config["VISITOR_RETENTION_DAYS"]),
    )
    return {**store.expire(now, retention), **store.purge(now)}


def _site_facts() -> Any:
    from app.content import current_site
    from app.ml.train import SiteFacts

    site = current_site()
    articles = [p for p in site.pages.values() if p.layout == "article"]
    return SiteFacts(
        topics=site.topics,
        page_topics={p.path: p.topics for p in articles},
        article_paths=frozenset(p.path for p in articles),
    )


def _train(now: datetime) -> dict[str, Any]:
    from app.ml.train import train_all

    window = timedelta(days=current_app.config["PREDICTION_WINDOW_DAYS"])
    result = train_all(now, window, _site_facts())
    current_app.extensions["tessera.models"].invalidate()
    return result


def _score(now: datetime) -> dict[str, Any]:
    from app.ml.serving import batch_score

    site = _site_facts()
    return batch_score(
        now,
        topics=site.topics,
        page_topics=site.page_topics,
        article_paths=set(site.article_paths),
        active_days=current_app.config["ACTIVE_DAYS"],
    )


def _learn(now: datetime) -> dict[str, Any]:
    from app.content import current_site
    from app.ml.learn import run_learn

    config = current_app.config
    result = run_learn(
        now,
        current_site(),
        window=timedelta(days=config["EXPOSURE_RETENTION_DAYS"]),
        control_share=config["RULE_CONTROL_SHARE"],
        min_sample=config["RULE_MIN_SAMPLE"],
    )
    current_app.extensions["tessera.experiments"].invalidate()
    return result


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("train", _train, "TRAIN_INTERVAL", "Train the three models; publish those that beat the baseline."),
        Job("score", _score, "SCORE_INTERVAL", "Score active visitors with the published models."),
        Job("learn", _learn, "LEARN_INTERVAL", "Allocate learning blocks; pause rules whose test shows they hurt."),
        Job("purge", _purge, "PURGE_INTERVAL", "Delete records past their retention; profiles stay in aggregate."),
    )
}


def _now() -> datetime:
    return utcnow()


def run_job(name: str, *, force: bool = False, now: datetime | None = None) -> dict[str, Any] | None:
    """Run a job once for the current interval; None when another run already has it.

    The run holds a lease renewed by a heartbeat while it works, so a run
    whose process dies is taken over later rather than left "running".
    """
    job = JOBS[name]
    store.ready()
    now = now or _now()
    interval = int(current_app.config[job.interval_key])
    seconds = (now - datetime(1970, 1, 1)).total_seconds()
    slot = int(seconds // interval) if not force else -int(seconds * 1000)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    run_id = claim_run(name, slot, owner, now)
    if run_id is None:
        log.info("job %s: slot %s already taken, skipped", name, slot)
        return None
    clock = current_app.config.get("CLOCK") or _real_now
    try:
        with heartbeat(db.engine, run_id, owner, clock), store.health.unbounded():
            result = job.run(now)
    except Exception as exc:  # a failed job is recorded and logged, never raised into the scheduler
        db.session.rollback()
        finish_run(run_id, owner, _now(), ok=False, detail=f"{type(exc).__name__}: {exc}")
        log.exception("job %s failed", name, extra={"event": "job_run", "job": name, "outcome": "failed"})
        raise
    finish_run(run_id, owner, _now(), ok=True, detail=str(result))
    log.info(
        "job %s done: %s", name, result, extra={"event": "job_run", "job": name, "outcome": "ok", "result": result}
    )
    return result


def _real_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


jobs_cli = AppGroup("jobs", help="Run and schedule Tessera's jobs.")


@jobs_cli.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@click.option("--force", is_flag=True, help="Run even if this interval's run already happened.")
def run_command(name: str, force: bool) -> None:
    """Run one job now."""
    result = run_job(name, force=force)
    if result is None:
        click.echo(f"{name}: already ran in this interval (use --force to run again)")
    else:
        click.echo(f"{name}: {result}")


@jobs_cli.command("list")
def list_command() -> None:
    """List the jobs, their intervals and recent runs."""
    for job in JOBS.values():
        click.echo(f"{job.name:<8} every {current_app.config[job.interval_key]}s  {job.description}")
    for run in recent_runs(10):
        click.echo(f"  {run}")


@jobs_cli.command("models")
def models_command() -> None:
    """List trained model versions: which serve, which were rejected and why, with their metrics."""
    from sqlalchemy import select

    from app.ml.serving import latest_published
    from app.store.models import MLModel

    serving = {kind: m.version for kind, m in latest_published().items()}
    rows = db.session.scalars(select(MLModel).order_by(MLModel.kind, MLModel.version)).all()
    if not rows:
        click.echo("no model trained yet: run `flask jobs run train` once there is traffic")
    for row in rows:
        mark = "serving" if serving.get(row.kind) == row.version else row.status
        shown = {k: v for k, v in row.metrics.items() if not k.endswith("_classes")}
        click.echo(f"{row.kind:<9} v{row.version:<3} {mark:<9} {row.trained_at:%Y-%m-%d %H:%M}  {shown}")
        if row.reason:
            click.echo(f"{'':14}{row.reason}")


@jobs_cli.command("ingest")
@click.option("--name", default=None, help="This consumer's name in the group (default: host and pid).")
@click.option("--once", is_flag=True, help="Apply what is waiting, then exit (instead of running until stopped).")
def ingest_command(name: str | None, once: bool) -> None:
    """Apply the writes that web workers append to the Redis stream, in batches (needs REDIS_URL).

    Entries are acknowledged after their batch commits; the pending entries of
    a consumer that died are taken over. Run one or more of these beside the
    web workers when TESSERA_WRITES is stream (the default with REDIS_URL).
    """
    import signal

    from app.store.writes import CLAIM_IDLE_MS, Consumer, redis_client

    config = current_app.config
    if not config.get("REDIS_URL"):
        raise click.ClickException("flask jobs ingest reads the Redis stream: set REDIS_URL")
    store.ready()
    consumer = Consumer(
        redis_client(config["REDIS_URL"]),
        config["REDIS_PREFIX"],
        name or f"{socket.gethostname()}:{os.getpid()}",
        claim_idle_ms=int(os.environ.get("TESSERA_CLAIM_IDLE_MS") or CLAIM_IDLE_MS),
    )
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    click.echo(f"ingest consumer {consumer.name} reading {consumer.stream} (Ctrl+C to stop)")
    applied = consumer.take_over()
    claimed_at = time.monotonic()
    while not stopping.is_set():
        try:
            count = consumer.step(block_ms=200 if not once else 1)
            applied += count
            if time.monotonic() - claimed_at > CLAIM_IDLE_MS / 2000:
                applied += consumer.take_over()
                claimed_at = time.monotonic()
        except store.health.UNAVAILABLE as error:
            # The entries stay pending in the stream; they are applied when the database is back.
            log.warning("ingest: database unavailable, retrying (%s)", str(error)[:200])
            db.session.rollback()
            time.sleep(1)
            continue
        finally:
            db.session.remove()
        if once and count == 0:
            break
    click.echo(f"ingest consumer {consumer.name} stopped after {applied} entries")


@jobs_cli.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler in the foreground: the dedicated process for multi-worker deployments."""
    scheduler = build_scheduler(current_app._get_current_object(), blocking=True)  # type: ignore[attr-defined]
    click.echo(f"scheduler running: {', '.join(JOBS)} (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


def build_scheduler(app: Flask, *, blocking: bool = False) -> Any:
    """An APScheduler with every job: one instance at a time, missed runs coalesced."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    with app.app_context():
        leadership = Leadership(db.engine)

    def wrapped(name: str) -> None:
        with app.app_context():
            try:
                if not leadership.acquire():
                    log.info("job %s: another process is the scheduler; standing by", name)
                    return
            except store.health.UNAVAILABLE as error:
                log.warning("job %s: database unavailable, next interval then (%s)", name, str(error)[:200])
                return
            # A failure is already logged and recorded by run_job; the scheduler goes on.
            with contextlib.suppress(Exception):
                run_job(name)

    for job in JOBS.values():
        interval = int(app.config[job.interval_key])
        scheduler.add_job(
            wrapped,
            "interval",
            seconds=interval,
            args=[job.name],
            id=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(30, interval // 2),
            next_run_time=datetime.now(UTC) + timedelta(seconds=min(interval, 60)),
        )
    return scheduler


_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Register the CLI; start the in-process scheduler with the first request if configured."""
    app.cli.add_command(jobs_cli)
    if app.config["SCHEDULER"] != "in-process":
        return
    # Under the debug reloader only the serving child runs it; the watcher never serves.
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") not in (None, "true"):
        return

    @app.before_request
    def start_scheduler() -> None:
        if "tessera.scheduler" in app.extensions:
            return
        with _lock:
            if "tessera.scheduler" not in app.extensions:
                scheduler = build_scheduler(app)
                scheduler.start()
                app.extensions["tessera.scheduler"] = scheduler
                log.info("in-process scheduler started (pid %s)", os.getpid())
