"""Operations metrics in Prometheus's text format, at ``/metrics``.

Off unless ``TESSERA_METRICS_TOKEN`` is set, and then only for a request that
carries ``Authorization: Bearer <token>``: never public by accident.

Under gunicorn every worker counts in its own process; ``gunicorn.conf.py``
sets ``PROMETHEUS_MULTIPROC_DIR`` so that prometheus-client's multiprocess
mode sums them at scrape time. What lives in the database rather than in a
process (job runs, model versions serving) is read from it at scrape time,
so every worker and host reports the same.
"""

from __future__ import annotations

import functools
import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "tessera_request_duration_seconds",
    "Time to answer a request, by route.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RESPONSES = Counter("tessera_responses_total", "Responses, by route and status class.", ["route", "status"])
PAGES = Counter(
    "tessera_pages_total",
    "Pages rendered, by who saw what: personalized, default (no rule applied), holdout, bot, or offline "
    "(the database was unreachable, so the default page).",
    ["group"],
)
DECISIONS = Counter(
    "tessera_decisions_total",
    "Personalized choices applied, by the layer that made them: a variant chosen, or the flexible zone reordered.",
    ["layer", "kind"],
)
BLOCKS = Counter("tessera_blocks_shown_total", "Blocks rendered, by data-layer.", ["layer"])
EVENTS = Counter(
    "tessera_events_total",
    "Beacon events by outcome (accepted, duplicate, rejected) and, for rejections, the reason code.",
    ["outcome", "reason"],
)
EVENT_REQUESTS = Counter(
    "tessera_event_requests_total",
    "POST /events requests by answer: ok, or the code of the refusal (rate_limited, bad_json, ...).",
    ["code"],
)
RATE_LIMITED = Counter("tessera_rate_limited_total", "POST /events requests refused by the rate limit.")
DATABASE_UNAVAILABLE = Counter(
    "tessera_database_unavailable_total", "Requests that found the database unreachable (timeouts, refusals)."
)


def observe_page(decision: Any, *, offline: bool) -> None:
    """Count a rendered page: its group, the choices made and the blocks shown by layer."""
    if offline:
        group = "offline"
    elif decision.bot:
        group = "bot"
    elif decision.holdout:
        group = "holdout"
    else:
        group = "personalized" if decision.personalized else "default"
    _child(PAGES, group).inc()
    shown: dict[str, int] = {}
    chosen: dict[str, int] = {}
    for block in decision.blocks:
        shown[block.layer] = shown.get(block.layer, 0) + 1
        if block.chose is not None:
            chosen[block.chose.layer] = chosen.get(block.chose.layer, 0) + 1
    for layer, count in shown.items():
        _child(BLOCKS, layer).inc(count)
    for layer, count in chosen.items():
        _child(DECISIONS, layer, "variant").inc(count)
    if decision.arrangement is not None:
        _child(DECISIONS, decision.arrangement.layer, "order").inc()


@functools.cache
def _child(metric: Any, *labels: str) -> Any:
    """A metric's child for these label values, looked up once (``labels()`` takes a lock every call)."""
    return metric.labels(*labels)


class DatabaseCollector(Collector):
    """Job runs by outcome and the model versions serving, read from the database at scrape time."""

    def collect(self) -> Iterator[Any]:
        from sqlalchemy import func, select

        from app.extensions import db
        from app.ml.serving import latest_published
        from app.store.models import JobRun

        up = GaugeMetricFamily("tessera_database_up", "1 when the database answered this scrape.")
        try:
            runs = db.session.execute(
                select(JobRun.job, JobRun.status, func.count(), func.max(JobRun.finished_at)).group_by(
                    JobRun.job, JobRun.status
                )
            ).all()
            serving = latest_published()
            db.session.rollback()
        except Exception:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        total = CounterMetricFamily(
            "tessera_job_runs", "Job runs recorded, by job and outcome.", labels=["job", "outcome"]
        )
        last = GaugeMetricFamily(
            "tessera_job_last_success_timestamp_seconds", "When each job last finished well.", labels=["job"]
        )
        for job, status, count, finished in runs:
            total.add_metric([job, status], count)
            if status == "ok" and finished is not None:
                last.add_metric([job], finished.timestamp())
        yield total
        yield last
        versions = GaugeMetricFamily(
            "tessera_model_version_serving", "The model version serving, by kind.", labels=["kind"]
        )
        for kind, model in serving.items():
            versions.add_metric([kind], model.version)
        yield versions


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the serve command): this process's own counts
        for collector in (REQUEST_SECONDS, RESPONSES, PAGES, DECISIONS, BLOCKS, EVENTS, EVENT_REQUESTS,
                          RATE_LIMITED, DATABASE_UNAVAILABLE):  # fmt: skip
            registry.register(collector)
    registry.register(DatabaseCollector())
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return Response("a bearer token is required\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'})
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def start_clock() -> None:
        g.tessera_started = time.perf_counter()

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("tessera_started", None)
        if started is not None and request.endpoint != "metrics.metrics":
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            REQUEST_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)
            RESPONSES.labels(route, f"{response.status_code // 100}xx").inc()
        return response
