"""The ``/events`` rate limit: in the database by default, in Redis when ``REDIS_URL`` is set.

Both count the same sliding window (``queries._wait``): this minute's count
plus the last minute's, weighted by how much of it is still within the last
60 seconds. In Redis a request costs one pipelined round trip (the last
minute's counters read, this minute's incremented with a two-minute expiry)
and a refused one a second to take its count back: no database write on the
request path, and every worker and host shares the counts. On PostgreSQL
the same is one statement (``queries._hit_in_one_round_trip``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import current_app

from app.store.queries import _minute, _wait, hit_rate_limits

#: Counters outlive their minute by one more: the window still weighs the last minute.
EXPIRE_SECONDS = 120


def hit(limits: Sequence[tuple[str, int]], now: datetime) -> int | None:
    """Count one request against each ``(key, limit a minute)``; None when it fits, else Retry-After seconds."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return hit_rate_limits(limits, now)
    return _redis_hit(_client(url), current_app.config["REDIS_PREFIX"], limits, now)


@functools.cache
def _client(url: str) -> Any:
    from app.store.writes import redis_client

    return redis_client(url)


def _redis_hit(redis: Any, prefix: str, limits: Sequence[tuple[str, int]], now: datetime) -> int | None:
    window, elapsed = _minute(now)

    def name(key: str, at: int) -> str:
        return f"{prefix}:rl:{key}:{at}"

    # One round trip: count this request under every key and read the last minute's counts.
    pipe = redis.pipeline(transaction=True)
    pipe.mget([name(key, window - 1) for key, _ in limits])
    for key, _ in limits:
        pipe.incr(name(key, window))
        pipe.expire(name(key, window), EXPIRE_SECONDS)
    answers = pipe.execute()
    wait = max(
        _wait(int(answers[0][index] or 0), int(answers[1 + 2 * index]) - 1, max(limit, 1), elapsed)
        for index, (_, limit) in enumerate(limits)
    )
    if wait:
        # It does not fit: take its count back (a second round trip, for refused requests only).
        pipe = redis.pipeline(transaction=True)
        for key, _ in limits:
            pipe.decr(name(key, window))
        pipe.execute()
    return None if wait == 0 else -(-wait // 1_000_000)
