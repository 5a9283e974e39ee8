"""Headers, body limits and where the client address goes (nowhere)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text

from app.extensions import db
from tests.conftest import DESKTOP, IP_DE, csrf_token, get


@pytest.mark.parametrize(
    "path", ["/", "/pricing", "/preferences", "/preferences/export", "/no-such-page", "/static/tessera.css"]
)
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = get(client, path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    response.close()  # a static file response holds the file open until closed


def test_pages_have_no_inline_script_or_style(client: FlaskClient) -> None:
    from tests.conftest import soup

    for path in ("/", "/pricing", "/signup", "/preferences", "/guides"):
        page = soup(get(client, path))
        assert all(s.get("src") for s in page.select("script")), path
        assert not page.select("style") and not page.select("[style]"), path


def test_personalized_pages_are_never_cached_by_shared_caches(client: FlaskClient) -> None:
    response = get(client, "/")
    assert "no-store" in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]


def test_oversized_body_is_rejected_and_changes_nothing(app: Flask, client: FlaskClient) -> None:
    get(client, "/")
    token = csrf_token(client)
    response = client.post(
        "/preferences", data={"csrf_token": token, "junk": "x" * 70_000}, headers={"User-Agent": DESKTOP}
    )
    assert response.status_code == 413
    from tests.functional.test_preferences import checked

    assert checked(client) == {"contextual": True, "behavioral": True, "predictive": True}


def test_no_raw_ip_address_is_stored(app: Flask, client: FlaskClient) -> None:
    get(client, "/pricing", ip=IP_DE)
    token = csrf_token(client, "/signup")
    client.post(
        "/signup",
        data={"csrf_token": token, "name": "A", "email": "a@example.com", "company_size": "1-10"},
        headers={"User-Agent": DESKTOP},
        environ_base={"REMOTE_ADDR": IP_DE},
    )
    with app.app_context():
        for table in inspect(db.engine).get_table_names():
            for row in db.session.execute(select(text("*")).select_from(text(table))):
                assert IP_DE not in repr(tuple(row)), table
