"""Structured logs: with TESSERA_LOG_FORMAT=json every line is one JSON object."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from app.logs import json_formatter
from tests.conftest import ROOT


def test_job_runs_are_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite'}", "SECRET_KEY": "x",
           "TESSERA_LOG_FORMAT": "json"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run", "purge"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines, done.stderr
    run = next(line for line in lines if line.get("event") == "job_run")
    assert run["job"] == "purge" and run["outcome"] == "ok" and run["level"] == "INFO"
    assert run["logger"] == "app.jobs" and "time" in run and isinstance(run["result"], dict)
    # The migrations that made the new database are logged the same way.
    assert any("Running upgrade" in line["message"] for line in lines)


def test_errors_carry_their_traceback_in_one_object() -> None:
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/", "GET"), None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json_formatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "Exception on / [GET]" and data["level"] == "ERROR"
    assert "ValueError: boom" in data["exc_info"]


def test_an_unknown_log_format_is_refused(tmp_path: Path) -> None:
    import pytest

    from tests.conftest import make_app

    with pytest.raises(ValueError, match="TESSERA_LOG_FORMAT must be text or json"):
        make_app(tmp_path, LOG_FORMAT="yaml")
