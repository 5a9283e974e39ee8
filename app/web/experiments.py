"""What the measurement loop hands the engine, loaded as plain data like content.

The paused rules and the learning blocks' allocations are written by the
``learn`` job; every worker reads them from the database at most every
``ttl`` seconds (two small queries), so all workers and hosts converge on the
same allocation version within ``ttl``. Nothing here computes anything.
"""

from __future__ import annotations

import threading
import time

from flask import current_app

from app import store
from app.engine.model import Allocation, Experiments

TTL_SECONDS = 30.0


class ExperimentsCache:
    """The engine's ``Experiments``, refreshed from the database at most every ``ttl`` seconds."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._value: Experiments | None = None
        self._loaded = -1e9
        self._lock = threading.Lock()

    def get(self, control_share: float) -> Experiments:
        if self._value is None or time.monotonic() - self._loaded > self.ttl:
            with self._lock:
                if self._value is None or time.monotonic() - self._loaded > self.ttl:
                    self._value = _load()
                    self._loaded = time.monotonic()
        value = self._value
        if value.control_share != control_share:
            value = Experiments(control_share=control_share, paused=value.paused, allocations=value.allocations)
        return value

    def invalidate(self) -> None:
        self._loaded = -1e9


def _load() -> Experiments:
    paused, published = store.load_experiments()
    allocations = {
        block: Allocation(
            block=block,
            version=row.version,
            by=tuple(row.table.get("by", ())),
            segments={segment: dict(shares) for segment, shares in row.table.get("segments", {}).items()},
            overall=dict(row.table.get("overall", {})),
        )
        for block, row in published.items()
    }
    return Experiments(paused=paused, allocations=allocations)


def current_experiments() -> Experiments:
    cache: ExperimentsCache = current_app.extensions["tessera.experiments"]
    return cache.get(current_app.config["RULE_CONTROL_SHARE"])
