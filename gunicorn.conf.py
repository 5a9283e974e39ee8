"""Gunicorn settings for Tessera: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Each setting can be overridden on the command line (``-w 4``, ``-b 0.0.0.0:8000``)
or with ``GUNICORN_CMD_ARGS``. Web workers never run the scheduler: run
``flask --app wsgi jobs scheduler`` as its own process (one is enough; a
second stands by).
"""

import os
import shutil
import tempfile

bind = os.environ.get("TESSERA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
# A request's database work is bounded by TESSERA_DB_TIMEOUT (3 s by default), so a
# worker is only killed by this timeout for something far worse than a slow database.
timeout = 30
graceful_timeout = 30
keepalive = 5
# The app is loaded in each worker, after the fork: nothing is shared between them
# but the database, and a worker boots even while the database is down.
preload_app = False

# Set before the workers load the app.
os.environ["TESSERA_SCHEDULER"] = "off"
# /metrics sums every worker's counts (prometheus-client's multiprocess mode): the
# workers write them to files in this folder, emptied when the server starts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="tessera-metrics-"))


def on_starting(server):  # type: ignore[no-untyped-def]
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    # A clean stop loses nothing: the worker's buffered writes are applied before it goes.
    app = getattr(worker, "wsgi", None)
    writer = getattr(app, "extensions", {}).get("tessera.writer")
    if writer is not None:
        writer.close()
