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


def test_strict_transport_security_only_when_cookies_are_secure(client: FlaskClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import dispose, make_app

    assert "Strict-Transport-Security" not in get(client, "/").headers  # plain HTTP on a laptop: never pinned
    secure = make_app(tmp_path, COOKIE_SECURE=True)
    try:
        response = secure.test_client().get("/", base_url="https://localhost", headers={"User-Agent": DESKTOP})
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000"
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        dispose(secure)


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


def test_rotated_keys_still_verify_old_cookies_and_forms_and_sign_with_the_newest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from app.extensions import db
    from app.store.models import Visitor
    from app.web.context import VISITOR_COOKIE, read_visitor_cookie
    from tests.conftest import DESKTOP, csrf_token, dispose, get, make_app

    old_app = make_app(tmp_path, SECRET_KEY="old-key")
    client = old_app.test_client()
    get(client, "/")
    visitor = client.get_cookie(VISITOR_COOKIE).value
    token = csrf_token(client)  # a form rendered before the rotation
    dispose(old_app)

    from app import create_app
    from tests.conftest import database_url

    # The same database, restarted with a new key (make_app would empty it).
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
        "SCHEDULER": "off",
        "TESTING": True,
        "WRITES": "direct",
    }
    rotated = create_app(
        {**settings, "HOLDOUT_SHARE": 0.0, "SECRET_KEY": "new-key", "SECRET_KEY_FALLBACKS": ["old-key"]}
    )
    try:
        rotated_client = rotated.test_client()
        for cookie in client._cookies.values():  # the same browser, after the deploy
            rotated_client.set_cookie(cookie.key, cookie.value)
        with rotated.app_context():
            known = db.session.scalar(select(Visitor.id))
        page = get(rotated_client, "/")
        assert VISITOR_COOKIE not in page.headers.get("Set-Cookie", "")  # the old cookie still works
        saved = rotated_client.post("/preferences", data={"csrf_token": token}, headers={"User-Agent": DESKTOP})
        assert saved.status_code == 303  # and so does the old form
        with rotated.app_context():
            assert db.session.scalar(select(func.count()).select_from(Visitor)) == 1
            assert db.session.get(Visitor, known).behavioral is False  # the form's (empty) choice, saved
        # A new visitor's cookie is signed with the newest key only.
        newcomer = rotated.test_client()
        get(newcomer, "/")
        fresh = newcomer.get_cookie(VISITOR_COOKIE).value
        with rotated.test_request_context(headers={"Cookie": f"{VISITOR_COOKIE}={fresh}"}):
            from flask import request

            assert read_visitor_cookie(request, ("new-key",)) is not None
            assert read_visitor_cookie(request, ("old-key",)) is None
        assert visitor != fresh
    finally:
        dispose(rotated)
