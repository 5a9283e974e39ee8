"""Exactly one scheduler: several `flask jobs scheduler` processes, each job once per interval."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.store.models import JobRun
from tests.conftest import ROOT, database_url, dispose, make_app


def test_several_schedulers_run_each_job_once_per_interval(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(tmp_path),
        "SECRET_KEY": "test-secret-key",
        "TESSERA_PURGE_INTERVAL": "1",
        "TESSERA_SCORE_INTERVAL": "1",
        "TESSERA_TRAIN_INTERVAL": "86400",  # first run would be a minute away: not in this test
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "scheduler"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)
    ]
    try:
        # Wait (bounded) until each job has had three intervals.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with app.app_context():
                # Finished runs: one under way is not counted (the processes are stopped next).
                finished = select(JobRun.id).where(JobRun.status == "ok")
                done = {j: len(db.session.scalars(finished.where(JobRun.job == j)).all()) for j in ("purge", "score")}
                db.session.rollback()
            if min(done.values()) >= 3:
                break
            time.sleep(0.5)
    finally:
        for p in processes:
            p.terminate()
        outputs = [p.communicate(timeout=20)[0].decode() for p in processes]
    try:
        with app.app_context():
            runs = db.session.scalars(select(JobRun).order_by(JobRun.id)).all()
        by_job = defaultdict(list)
        for run in runs:
            by_job[run.job].append(run)
        assert len(by_job["purge"]) >= 3, outputs
        assert len(by_job["score"]) >= 3, outputs
        for job, job_runs in by_job.items():
            slots = [r.slot for r in job_runs]
            assert len(slots) == len(set(slots)), f"{job} ran twice in one interval"
            # Every run ended well; the last may have been under way when the processes were
            # stopped (its lease lets a later scheduler redo it).
            assert [r.status for r in job_runs[:-1]] == ["ok"] * (len(job_runs) - 1), [r.detail for r in job_runs]
            assert job_runs[-1].status in ("ok", "running"), job_runs[-1].detail
        # One process did all the work; the others stood by.
        assert len({r.owner for r in runs}) == 1, {r.owner for r in runs}
        assert sum("standing by" in out for out in outputs) >= 1
    finally:
        dispose(app)


def test_the_serve_command_runs_one_scheduler_in_process(tmp_path: Path) -> None:
    app = make_app(tmp_path, SCHEDULER="in-process")
    try:
        assert "tessera.scheduler" not in app.extensions  # nothing starts at import or setup
        client = app.test_client()
        client.get("/")
        scheduler = app.extensions["tessera.scheduler"]
        client.get("/pricing")
        assert app.extensions["tessera.scheduler"] is scheduler  # started once
        assert scheduler.running
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"train", "score", "learn", "purge"}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        assert jobs["purge"].misfire_grace_time >= 30
        scheduler.shutdown(wait=False)
    finally:
        dispose(app)


def test_a_run_whose_process_died_is_taken_over_and_redone(tmp_path: Path) -> None:
    """A process killed mid-run leaves "running" behind; once its lease runs out the run is redone."""
    from datetime import timedelta

    from app.clock import utcnow
    from app.jobs import run_job
    from app.jobs.runs import LEASE

    app = make_app(tmp_path)
    try:
        with app.app_context():
            now = utcnow()
            interval = app.config["PURGE_INTERVAL"]
            slot = int((now - datetime(1970, 1, 1)).total_seconds() // interval)
            db.session.add_all([
                # This interval's run, by a process that was killed: its lease ran out.
                JobRun(job="purge", slot=slot, owner="ghost:1", started_at=now - 2 * LEASE, status="running",
                       lease_until=now - timedelta(seconds=1)),
                # An earlier interval's run, killed before leases existed (no lease at all).
                JobRun(job="purge", slot=slot - 5, owner="ghost:0", started_at=now - timedelta(hours=5),
                       status="running"),
            ])  # fmt: skip
            db.session.commit()
            assert run_job("purge") is not None  # redone, not skipped
            runs = {r.slot: r for r in db.session.scalars(select(JobRun)).all()}
            assert runs[slot].status == "ok"
            assert runs[slot].owner != "ghost:1"
            assert runs[slot - 5].status == "expired"
            # A run whose owner is alive (its lease holds) is left alone: no duplicate work.
            score_slot = int((now - datetime(1970, 1, 1)).total_seconds() // app.config["SCORE_INTERVAL"])
            alive = JobRun(
                job="score", slot=score_slot, owner="alive:2", started_at=now, status="running", lease_until=now + LEASE
            )
            db.session.add(alive)
            db.session.commit()
            assert run_job("score") is None
    finally:
        dispose(app)


def test_a_running_job_renews_its_lease(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    import app.jobs as jobs
    from app.jobs import runs

    monkeypatch.setattr(runs, "HEARTBEAT", timedelta(seconds=0.2))
    seen: list[object] = []
    app = make_app(tmp_path)

    def slow(now: datetime) -> dict[str, int]:
        first = db.session.scalars(select(JobRun.lease_until)).one()
        db.session.rollback()
        time.sleep(1.0)
        seen.extend([first, db.session.scalars(select(JobRun.lease_until)).one()])
        db.session.rollback()
        return {"slept": 1}

    monkeypatch.setitem(jobs.JOBS, "purge", jobs.Job("purge", slow, "PURGE_INTERVAL", "slow"))
    try:
        with app.app_context():
            assert jobs.run_job("purge") == {"slept": 1}
            first, later = seen
            assert later > first  # renewed while it worked
            run = db.session.scalars(select(JobRun)).one()
            assert run.status == "ok" and run.lease_until is None
    finally:
        dispose(app)


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="PostgreSQL not configured: set TEST_DATABASE_URL=postgresql+psycopg://... to run these",
)
def test_a_scheduler_that_lost_its_lock_connection_stands_down(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    from app.jobs.leader import Leadership

    first_engine = create_engine(os.environ["TEST_DATABASE_URL"])
    second_engine = create_engine(os.environ["TEST_DATABASE_URL"])
    first, second = Leadership(first_engine), Leadership(second_engine)
    try:
        assert first.acquire()
        assert not second.acquire()  # one scheduler
        pid = first._held.execute(text("SELECT pg_backend_pid()")).scalar()
        first._held.commit()
        with second_engine.begin() as connection:  # the lock's connection drops (restart, network cut)
            # with a timeout, PostgreSQL waits until the backend has gone (and its lock with it)
            connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        assert second.acquire()  # the lock is free: the other process takes over
        assert not first.acquire()  # and the first notices and stands down
        assert "lost the scheduler lock; standing down" in caplog.text
    finally:
        second.release()
        first.release()
        first_engine.dispose()
        second_engine.dispose()
