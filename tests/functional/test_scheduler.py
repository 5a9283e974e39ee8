"""Exactly one scheduler: several `flask jobs scheduler` processes, each job once per interval."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

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
                done = {j: len(db.session.scalars(select(JobRun.id).where(JobRun.job == j)).all())
                        for j in ("purge", "score")}  # fmt: skip
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
            assert all(r.status == "ok" for r in job_runs), [r.detail for r in job_runs]
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
        assert set(jobs) == {"train", "score", "purge"}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        assert jobs["purge"].misfire_grace_time >= 30
        scheduler.shutdown(wait=False)
    finally:
        dispose(app)
