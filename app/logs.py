"""Logging: plain lines for a terminal, or one JSON object per line for a log pipeline.

``TESSERA_LOG_FORMAT=json`` makes every log line a JSON object with ``time``,
``level``, ``logger`` and ``message``, plus the structured fields a line
carries (a job run's ``job``, ``outcome`` and ``result``, a content reload's
counts, an error's ``exc_info``). Nothing is configured when the host (a test
runner, an embedding application) already set up logging.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

TEXT_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def init_app(app: Flask) -> None:
    """Configure the root logger once per process, before Flask's own logger is first used."""
    fmt = app.config["LOG_FORMAT"]
    if fmt not in ("text", "json"):
        raise ValueError(f"TESSERA_LOG_FORMAT must be text or json, got {fmt!r}")
    logging.getLogger("app").setLevel(logging.INFO)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)  # which migrations ran
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
