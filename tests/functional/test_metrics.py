"""``/metrics``: off by default, behind a bearer token, and summed across gunicorn's workers."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GOOGLEBOT, IPHONE, dispose, get, make_app
from tests.servers import Gunicorn, base_env, fetch, wait_until

TOKEN = "s3cret-metrics-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_unless_a_token_is_configured(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


def test_metrics_need_the_bearer_token(tmp_path: Path) -> None:
    app = make_app(tmp_path, METRICS_TOKEN=TOKEN)
    try:
        client = app.test_client()
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]
        before = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True))
        get(client, "/", IPHONE)
        get(client, "/pricing", IPHONE)
        get(app.test_client(), "/", GOOGLEBOT)
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200 and response.mimetype == "text/plain"
        after = samples(response.get_data(as_text=True))

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert grew("tessera_pages_total", group="personalized") == 2
        assert grew("tessera_pages_total", group="bot") == 1
        assert grew("tessera_blocks_shown_total", layer="contextual") >= 2
        assert grew("tessera_decisions_total", layer="contextual", kind="variant") >= 2
        assert grew("tessera_request_duration_seconds_count", route="/", method="GET") == 2
        assert value(after, "tessera_database_up") == 1
    finally:
        dispose(app)


def test_metrics_add_up_across_gunicorn_workers(tmp_path: Path) -> None:
    env = base_env(f"sqlite:///{tmp_path / 'metrics.sqlite'}", TESSERA_METRICS_TOKEN=TOKEN, TESSERA_HOLDOUT_SHARE="0")
    server = Gunicorn(env, workers=3).start(tmp_path / "gunicorn.log")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_until(lambda: fetch(server.url + "/metrics", headers=auth, timeout=5).status == 200, timeout=60)
        for _ in range(30):
            assert fetch(server.url + "/", headers={"User-Agent": IPHONE}).status == 200
        assert fetch(server.url + "/metrics").status == 401
        # Several scrapes, answered by different workers, all see every worker's counts.
        for _ in range(6):
            found = samples(fetch(server.url + "/metrics", headers=auth).body)
            assert value(found, "tessera_pages_total", group="personalized") == 30, server.output()
            assert value(found, "tessera_request_duration_seconds_count", route="/", method="GET") == 30
            assert value(found, "tessera_responses_total", route="/", status="2xx") == 30
    finally:
        server.stop()
