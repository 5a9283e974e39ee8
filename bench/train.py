"""Training and scoring benchmark: time and peak memory at a given number of events.

    python bench/train.py --events 100000
    python bench/train.py --events 1000000

Writes synthetic histories (``app.ml.synthetic``) into a temporary SQLite
database, then, in a fresh process so the memory figure is the training's
own, runs the real ``train`` job (three models, time-based split, baseline
gate) and the real ``score`` job, and times online numpy scoring of one
visitor. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 20, 12, 0)
EVENTS_PER_VISITOR = 13.5  # what the generator writes on average, measured


def app_for(url: str):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off",
                       "CLOCK": lambda: NOW})  # fmt: skip


def child(url: str) -> None:
    """Train and score in this (fresh) process and print the figures as JSON."""
    import numpy as np

    from app.jobs import _site_facts, run_job
    from app.ml.features import Summary
    from app.ml.serving import latest_published, score_summary

    app = app_for(url)
    with app.app_context():
        start = time.perf_counter()
        trained = run_job("train", now=NOW)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scored = run_job("score", now=NOW)
        score_seconds = time.perf_counter() - start
        models = latest_published()
        topics = _site_facts().topics
        summary = Summary(page_views=6, pricing_views=2, articles_read=3, clicks=4, scroll_avg=70,
                          dwell_avg_seconds=40, topic_articles={"privacy": 3}, days_since_first=3,
                          days_since_last=1)  # fmt: skip
        n = 2000
        start = time.perf_counter()
        for _ in range(n):
            score_summary(models, summary, topics)
        online_us = (time.perf_counter() - start) / n * 1e6
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"train": trained, "train_seconds": train_seconds, "scored": scored,
                      "score_seconds": score_seconds, "online_us": online_us, "peak_mb": peak_mb,
                      "numpy": np.__version__}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from sqlalchemy import func, select

    from app.extensions import db
    from app.ml.synthetic import generate
    from app.store.models import Event

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/train.sqlite"
        app = app_for(url)
        start = time.perf_counter()
        with app.app_context():
            generated = generate(visitors=int(args.events / EVENTS_PER_VISITOR), now=NOW, days=8,
                                 seed=11)  # fmt: skip
            events = db.session.scalar(select(func.count()).select_from(Event))
        print(f"generated {generated.visitors:,} visitors, {generated.exposures:,} page views, {events:,} events, "
              f"{generated.conversions:,} conversions in {time.perf_counter() - start:.1f} s")  # fmt: skip
        out = subprocess.run([sys.executable, __file__, "--child", url], capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"train job (3 models, time split, baseline gate): {result['train_seconds']:.1f} s, "
        f"peak memory {result['peak_mb']:.0f} MB  (target: 1M events < 120 s, < 2048 MB)"
    )
    for kind, outcome in result["train"].items():
        print(f"  {kind}: {outcome}")
    scored = result["scored"]["scored"]
    print(
        f"score job: {scored:,} visitors in {result['score_seconds']:.1f} s "
        f"({scored / result['score_seconds']:,.0f} visitors/s)"
    )
    print(f"online scoring of one visitor (plain Python from the coefficients, 3 models): {result['online_us']:.0f} us")


if __name__ == "__main__":
    main()
