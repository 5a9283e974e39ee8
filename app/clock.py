"""The server's clock: the only source of "now" for requests and jobs.

A simulation can set ``CLOCK`` in the app config to a callable returning a
naive UTC datetime, to play days of traffic in minutes; everything else uses
the real time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def utcnow() -> datetime:
    """Now, in naive UTC (the store keeps naive UTC datetimes)."""
    clock = current_app.config.get("CLOCK")
    if clock is not None:
        return clock()  # type: ignore[no-any-return]
    return datetime.now(UTC).replace(tzinfo=None)
