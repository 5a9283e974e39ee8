"""The ``job_runs`` table: claims that make a job run once per interval, leases, and the log.

A claim holds a lease (``LEASE``) that a heartbeat thread renews while the job
works. When the process dies mid-run (killed, out of memory, a lost host) the
lease runs out: the next claim of that (job, slot) takes the run over and does
the work again, and older runs left behind are marked ``expired``. A run is
never "running" forever.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine

from app.extensions import db
from app.store.models import JobRun
from app.store.queries import _insert

log = logging.getLogger(__name__)

#: How long a claim stays valid without a heartbeat.
LEASE = timedelta(seconds=60)
#: How often a running job renews its lease.
HEARTBEAT = LEASE / 4

_T = JobRun.__table__


def _expired(now: datetime) -> object:
    """A running run whose owner stopped renewing (or, from before leases, an old one)."""
    return and_(
        _T.c.status == "running",
        or_(_T.c.lease_until < now, and_(_T.c.lease_until.is_(None), _T.c.started_at < now - LEASE)),
    )


def claim_run(job: str, slot: int, owner: str, now: datetime) -> int | None:
    """Claim (job, slot); the id of the run, or None when a live run or a finished one has it.

    A run of the same slot whose lease expired is taken over (its work is
    redone); expired runs of earlier slots are closed as ``expired``.
    """
    run_id = db.session.scalar(
        _insert(JobRun)
        .values(job=job, slot=slot, owner=owner, started_at=now, status="running", lease_until=now + LEASE)
        .on_conflict_do_nothing(index_elements=[JobRun.job, JobRun.slot])
        .returning(JobRun.id)
    )
    if run_id is None:
        previous = db.session.execute(
            select(_T.c.owner).where(_T.c.job == job, _T.c.slot == slot, _expired(now))
        ).scalar()
        if previous is not None:
            run_id = db.session.scalar(
                update(_T)
                .where(_T.c.job == job, _T.c.slot == slot, _expired(now))
                .values(
                    owner=owner,
                    started_at=now,
                    lease_until=now + LEASE,
                    detail=f"taken over: {previous} stopped renewing its lease"[:500],
                )
                .returning(_T.c.id)
            )
            if run_id is not None:
                log.warning("job %s: run of slot %s taken over from %s (lease expired)", job, slot, previous)
    closed = db.session.execute(
        update(_T)
        .where(_T.c.job == job, _T.c.slot != slot, _expired(now))
        .values(status="expired", finished_at=now, detail="its process stopped before finishing; lease expired")
    ).rowcount
    if closed:
        log.warning("job %s: %d earlier run(s) marked expired", job, closed)
    db.session.commit()
    return run_id


def finish_run(run_id: int, owner: str, now: datetime, *, ok: bool, detail: str) -> None:
    """Record the outcome, unless another process took the run over meanwhile."""
    db.session.execute(
        update(_T)
        .where(_T.c.id == run_id, _T.c.owner == owner)
        .values(finished_at=now, status="ok" if ok else "failed", detail=detail[:500], lease_until=None)
    )
    db.session.commit()


@contextlib.contextmanager
def heartbeat(engine: Engine, run_id: int, owner: str, clock: object) -> Iterator[None]:
    """Renew the run's lease every ``HEARTBEAT`` while the block runs (its own connection)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT.total_seconds()):
            try:
                with engine.begin() as connection:
                    renewed = connection.execute(
                        update(_T)
                        .where(_T.c.id == run_id, _T.c.owner == owner, _T.c.status == "running")
                        .values(lease_until=clock() + LEASE)  # type: ignore[operator]
                    ).rowcount
                if not renewed:
                    log.warning("job run %s: lease lost to another process", run_id)
                    return
            except Exception:  # the database is away: the lease may run out, and that is the point
                log.warning("job run %s: could not renew its lease", run_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"tessera-lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def recent_runs(limit: int) -> list[str]:
    runs = db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)).all()
    return [f"{r.job} {r.started_at:%Y-%m-%d %H:%M:%S} {r.status} {r.owner} {r.detail or ''}" for r in runs]
