"""The learn job on a large log: time and peak memory.

Writes a synthetic log straight into a fresh database (exposures of the home
page, each with a learning draw of home-cta and a rule test of home-hero,
clicks and sign-ups), then times ``run_learn`` over it and reports the peak
resident memory of the process. The log's click rates are seeded and differ by
candidate and device, so the job has something to find.

    .venv/bin/python bench/learn.py --exposures 1000000
    .venv/bin/python bench/learn.py --exposures 1000000 --database postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.content import current_site  # noqa: E402
from app.extensions import db  # noqa: E402
from app.ml.learn import run_learn  # noqa: E402
from app.store import schema  # noqa: E402
from app.store.models import Conversion, Decision, Event, Exposure, Visitor  # noqa: E402

DEVICES = ("mobile", "desktop", "tablet")
BATCH = 20_000


def fill(exposures: int, seed: int, now: datetime) -> None:
    rng = random.Random(seed)
    site = current_site()
    block = "home-cta"
    candidates = [site.catalog.defaults[block].id, *(v.id for v in site.catalog.conditional[block])]
    # A hidden click rate per (candidate, device): what the job should discover.
    truth = {(c, d): rng.uniform(0.02, 0.12) for c in candidates for d in DEVICES}
    visitors = max(1, exposures // 5)
    ids = [f"{i:032x}" for i in range(visitors)]
    start = now - timedelta(days=27)
    for first in range(0, visitors, BATCH):
        db.session.execute(
            Visitor.__table__.insert(),
            [{"id": v, "created_at": start, "last_seen_at": now, "visits": 1, "recent_pages": []}
             for v in ids[first:first + BATCH]],
        )  # fmt: skip
    db.session.commit()
    exposure_id = 0
    for first in range(0, exposures, BATCH):
        size = min(BATCH, exposures - first)
        expo, decisions, events, conversions = [], [], [], []
        for _ in range(size):
            exposure_id += 1
            visitor = ids[rng.randrange(visitors)]
            device = DEVICES[int(visitor, 16) % 3]
            at = start + timedelta(seconds=rng.randrange(27 * 86400))
            pick = candidates[rng.randrange(len(candidates))]
            control = rng.random() < 0.1
            expo.append({"id": exposure_id, "visitor_id": visitor, "path": "/", "holdout": False, "blocks": [],
                         "created_at": at, "device": device, "daypart": "afternoon", "country": "US",
                         "layers": "contextual,behavioral,predictive"})  # fmt: skip
            decisions.append({"exposure_id": exposure_id, "visitor_id": visitor, "created_at": at, "path": "/",
                              "block": block, "variant": pick, "rule": None, "test": None, "control": False,
                              "propensity": 1 / len(candidates), "strategy": "learn", "segment": f"device={device}",
                              "allocation": 1, "candidates": " ".join(candidates)})  # fmt: skip
            decisions.append({"exposure_id": exposure_id, "visitor_id": visitor, "created_at": at, "path": "/",
                              "block": "home-hero", "variant": "default" if control else "phone",
                              "rule": None if control else "home-hero/phone", "test": "home-hero/phone",
                              "control": control, "propensity": 0.1 if control else 0.9, "strategy": "rules",
                              "segment": None, "allocation": None, "candidates": None})  # fmt: skip
            if rng.random() < truth[(pick, device)]:
                events.append({"event_id": f"{exposure_id:036d}", "visitor_id": visitor, "type": "click", "page": "/",
                               "block": block, "variant": pick, "target": "cta",
                               "created_at": at + timedelta(seconds=40)})  # fmt: skip
            if rng.random() < 0.01:
                conversions.append({"visitor_id": visitor, "goal": "signup", "path": "/signup", "holdout": False,
                                    "created_at": at + timedelta(minutes=5)})  # fmt: skip
        for table, rows in ((Exposure, expo), (Decision, decisions), (Event, events), (Conversion, conversions)):
            if rows:
                db.session.execute(table.__table__.insert(), rows)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exposures", type=int, default=1_000_000)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/learn.sqlite"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off"})
        now = datetime(2026, 11, 27, 12, 0)
        with app.app_context():
            dialect = db.engine.dialect.name
            if dialect == "postgresql":
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            schema.upgrade()
            started = time.perf_counter()
            fill(args.exposures, args.seed, now)
            filled = time.perf_counter() - started
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            result = run_learn(now, current_site(), window=timedelta(days=180), control_share=0.1, min_sample=200)
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"database: {dialect}; log: {args.exposures} exposures, {2 * args.exposures} decisions "
              f"(written in {filled:.0f} s)")  # fmt: skip
        print(f"learn job: {seconds:.1f} s; peak resident memory {peak:.0f} MB (before the job {before:.0f} MB)")
        print(f"  published: {result['allocations']}; paused: {result['paused']}")


if __name__ == "__main__":
    main()
