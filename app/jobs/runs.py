"""The ``job_runs`` table: claims that make a job run once per interval, and its log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.store.models import JobRun
from app.store.queries import _insert


def claim_run(job: str, slot: int, owner: str, now: datetime) -> int | None:
    """Claim (job, slot); the id of the new run, or None when someone already has it."""
    run_id = db.session.scalar(
        _insert(JobRun)
        .values(job=job, slot=slot, owner=owner, started_at=now, status="running")
        .on_conflict_do_nothing(index_elements=[JobRun.job, JobRun.slot])
        .returning(JobRun.id)
    )
    db.session.commit()
    return run_id


def finish_run(run_id: int, now: datetime, *, ok: bool, detail: str) -> None:
    db.session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(finished_at=now, status="ok" if ok else "failed", detail=detail[:500])
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def recent_runs(limit: int) -> list[str]:
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
    return [f"{r.job} {r.started_at:%Y-%m-%d %H:%M:%S} {r.status} {r.owner} {r.detail or ''}" for r in runs]
