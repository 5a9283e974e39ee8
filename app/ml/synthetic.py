"""Synthetic visitor histories written straight into the store, for tests and benchmarks.

Not a simulation of the site (that is ``flask simulate``, which drives the real
pages): this writes timestamped rows fast, with known structure, so training
can be tested and measured at 100k or 1M events. Each visitor has a hidden
topic, a hidden intent (0-1) and a hidden loyalty (0-1):

- intent raises pricing views, dwell and the chance to sign up, so the
  conversion model has something real to find;
- loyalty decides whether the visitor keeps coming back (churn);
- the hidden topic decides which guides they read, so the next topic is
  predictable from the shares read so far.

With ``signal=False`` every outcome is drawn independently of the history:
no model can beat the baseline on it.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.extensions import db
from app.store.models import Conversion, Event, Exposure, Visitor

GUIDES = {
    "analytics": ("/guides/reading-your-first-dashboard", "/guides/funnels-that-tell-the-truth"),
    "privacy": ("/guides/cookieless-measurement", "/guides/consent-without-dark-patterns"),
    "growth": ("/guides/experiments-for-small-teams", "/guides/retention-before-acquisition"),
}


@dataclass(frozen=True)
class Generated:
    visitors: int
    exposures: int
    events: int
    conversions: int


def generate(
    *,
    visitors: int,
    now: datetime,
    days: int = 8,
    seed: int = 1,
    signal: bool = True,
    events_per_view: int = 3,
    chunk: int = 20_000,
) -> Generated:
    """Write ``visitors`` histories spread over the ``days`` before ``now``."""
    rng = random.Random(seed)
    topics = list(GUIDES)
    counts = {"exposures": 0, "events": 0, "conversions": 0}
    buffers: dict[Any, list[dict[str, Any]]] = {Visitor: [], Exposure: [], Event: [], Conversion: []}

    def flush(force: bool = False) -> None:
        for model in (Visitor, Exposure, Event, Conversion):
            rows = buffers[model]
            if rows and (force or len(rows) >= chunk):
                db.session.execute(model.__table__.insert(), rows)
                rows.clear()
        db.session.commit()

    horizon = timedelta(days=days)
    for _ in range(visitors):
        vid = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        topic = rng.choice(topics)
        intent, loyalty = rng.random(), rng.random()
        start = now - horizon * rng.random()
        t = start
        last = start
        converted_at = None
        sessions = 1 + int(loyalty * 6 * rng.random()) if signal else 1 + rng.randrange(4)
        for _session in range(sessions):
            if t >= now:
                break
            for _view in range(1 + rng.randrange(4)):
                if signal:
                    roll = rng.random()
                    if roll < 0.15 + 0.4 * intent:
                        path = "/pricing"
                    elif roll < 0.8:
                        path = rng.choice(GUIDES[topic] if rng.random() < 0.85 else GUIDES[rng.choice(topics)])
                    else:
                        path = "/"
                else:
                    path = rng.choice(["/", "/pricing", *[g for gs in GUIDES.values() for g in gs]])
                buffers[Exposure].append(
                    {"visitor_id": vid, "path": path, "holdout": False, "blocks": [], "created_at": t}
                )
                counts["exposures"] += 1
                for k in range(events_per_view):
                    kind = ("dwell", "scroll", "click")[k % 3]
                    event: dict[str, Any] = {
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "visitor_id": vid, "type": kind, "page": path, "block": None, "variant": None,
                        "target": None, "depth": None, "ms": None, "created_at": t + timedelta(seconds=k + 1),
                    }  # fmt: skip
                    if kind == "dwell":
                        event["ms"] = int(5000 + (60000 * intent if signal else 60000 * rng.random()))
                    elif kind == "scroll":
                        event["depth"] = int(30 + (70 * intent if signal else 70 * rng.random()))
                    else:
                        event.update(block="home-cta", variant="default", target="cta")
                    buffers[Event].append(event)
                    counts["events"] += 1
                last = t
                t += timedelta(minutes=2 + rng.random() * 5)
            if converted_at is None:
                chance = (0.02 + 0.5 * intent**2) if signal else 0.15
                if rng.random() < chance:
                    converted_at = t
            gap_days = (0.2 + 2.5 * (1 - loyalty)) if signal else 0.2 + 2.5 * rng.random()
            t += timedelta(days=gap_days * rng.random() * 2)
        if converted_at is not None and converted_at < now:
            buffers[Conversion].append(
                {"visitor_id": vid, "goal": "signup", "path": "/signup", "holdout": False, "created_at": converted_at}
            )
            counts["conversions"] += 1
        buffers[Visitor].append({"id": vid, "created_at": start, "last_seen_at": min(last, now), "visits": sessions,
                                 "recent_pages": [], "gpc": False})  # fmt: skip
        if sum(len(b) for b in buffers.values()) >= chunk:
            flush(force=True)
    flush(force=True)
    return Generated(visitors=visitors, **counts)
