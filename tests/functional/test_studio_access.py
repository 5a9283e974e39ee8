"""The studio's door: accounts from the command line, login with CSRF and a rate limit, and nothing under
/studio without a login."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import StudioUser
from tests.conftest import soup

EMAIL = "editor@example.com"
PASSWORD = "correct horse battery staple"


def add_editor(app: Flask, email: str = EMAIL, password: str = PASSWORD) -> None:
    result = app.test_cli_runner().invoke(args=["studio", "add-user", email, "--password-stdin"], input=password + "\n")
    assert result.exit_code == 0, result.output


def login_form_token(client: FlaskClient) -> str:
    field = soup(client.get("/studio/login")).select_one("input[name=csrf_token]")
    assert field is not None
    return str(field["value"])


def login(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD, *, token: str | None = None):  # type: ignore[no-untyped-def]
    data = {"email": email, "password": password, "next": "/studio"}
    data["csrf_token"] = login_form_token(client) if token is None else token
    return client.post("/studio/login", data=data)


def editor(app: Flask) -> FlaskClient:
    """A client with an editor logged in (the account is made if needed)."""
    with app.app_context():
        exists = db.session.scalar(select(func.count()).select_from(StudioUser).where(StudioUser.email == EMAIL))
    if not exists:
        add_editor(app)
    client = app.test_client()
    assert login(client).status_code == 303
    return client


def studio_token(client: FlaskClient, path: str = "/studio") -> str:
    field = soup(client.get(path)).select_one("input[name=csrf_token]")
    assert field is not None
    return str(field["value"])


# ------------------------------------------------------------------ accounts


def test_add_user_keeps_only_a_strong_hash(app: Flask) -> None:
    add_editor(app)
    with app.app_context():
        user = db.session.scalars(select(StudioUser)).one()
    assert user.email == EMAIL
    assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash
    runner = app.test_cli_runner()
    again = runner.invoke(args=["studio", "add-user", EMAIL.upper(), "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and f"{EMAIL} already has an account" in again.output
    short = runner.invoke(args=["studio", "add-user", "b@example.com", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad = runner.invoke(args=["studio", "add-user", "not-an-address", "--password-stdin"], input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "is not an email address" in bad.output
    prompted = runner.invoke(args=["studio", "add-user", "c@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0 and "Created the studio account c@example.com." in prompted.output
    assert PASSWORD not in prompted.output


def test_changing_the_password_or_removing_the_account_ends_its_sessions(app: Flask) -> None:
    client = editor(app)
    assert client.get("/studio").status_code == 200
    runner = app.test_cli_runner()
    changed = runner.invoke(
        args=["studio", "set-password", EMAIL, "--password-stdin"], input="a brand new passphrase\n"
    )
    assert changed.exit_code == 0, changed.output
    assert client.get("/studio").status_code == 303
    assert login(client, password=PASSWORD).status_code == 401
    assert login(client, password="a brand new passphrase").status_code == 303
    removed = runner.invoke(args=["studio", "remove-user", EMAIL])
    assert removed.exit_code == 0 and "Removed the studio account" in removed.output
    assert client.get("/studio").status_code == 303
    assert runner.invoke(args=["studio", "remove-user", EMAIL]).exit_code == 1


# --------------------------------------------------------------------- login


def test_login_needs_the_csrf_token_and_the_right_password(app: Flask) -> None:
    add_editor(app)
    client = app.test_client()
    assert client.get("/studio/login").status_code == 200
    forged = client.post("/studio/login", data={"email": EMAIL, "password": PASSWORD, "next": "/studio"})
    assert forged.status_code == 400
    assert client.get("/studio").status_code == 303
    wrong = login(client, password="not the password at all")
    assert wrong.status_code == 401
    assert "don't match an account" in soup(wrong).select_one("[data-login-error]").get_text()
    nobody = login(client, email="nobody@example.com")
    assert nobody.status_code == 401  # the same answer: no hint which accounts exist
    right = login(client)
    assert right.status_code == 303 and right.headers["Location"] == "/studio"
    cookie = next(c for c in right.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/studio")
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
    assert page.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert page.headers["Cache-Control"] == "private, no-store"


def test_login_is_rate_limited(app: Flask) -> None:
    add_editor(app)
    client = app.test_client()
    token = login_form_token(client)
    for _ in range(5):
        assert login(client, password="wrong password, again", token=token).status_code == 401
    limited = login(client, token=token)  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts" in soup(limited).select_one("[data-login-error]").get_text()
    assert client.get("/studio").status_code == 303


def test_login_only_returns_to_a_studio_page(app: Flask) -> None:
    add_editor(app)
    client = app.test_client()
    assert client.get("/studio/coverage?page=/pricing").headers["Location"] == (
        "/studio/login?next=%2Fstudio%2Fcoverage%3Fpage%3D%2Fpricing"
    )
    token = login_form_token(client)
    back = client.post("/studio/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD,
                                              "next": "/studio/coverage?page=/pricing"})  # fmt: skip
    assert back.headers["Location"] == "/studio/coverage?page=/pricing"
    client.post("/studio/logout", data={"csrf_token": studio_token(client)})
    for target in ("https://evil.example/studio", "//evil.example/studio", "/preferences"):
        token = login_form_token(client)
        away = client.post("/studio/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD,
                                                  "next": target})  # fmt: skip
        assert away.headers["Location"] == "/studio", target
        client.post("/studio/logout", data={"csrf_token": studio_token(client)})


def test_logout_ends_the_session(app: Flask) -> None:
    client = editor(app)
    assert client.post("/studio/logout").status_code == 400  # a POST needs its CSRF token
    out = client.post("/studio/logout", data={"csrf_token": studio_token(client)})
    assert out.status_code == 303 and out.headers["Location"] == "/studio/login"
    assert client.get("/studio").status_code == 303


def test_a_session_lasts_twelve_hours(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import dispose, make_app

    now = [datetime(2026, 12, 1, 8, 0)]
    app = make_app(tmp_path, CLOCK=lambda: now[0])
    try:
        client = editor(app)
        now[0] += timedelta(hours=11, minutes=59)
        assert client.get("/studio").status_code == 200
        now[0] += timedelta(minutes=2)
        assert client.get("/studio").status_code == 303
    finally:
        dispose(app)


# --------------------------------------------------------------------- crawl


def _crawl(client: FlaskClient) -> tuple[set[str], set[str]]:
    """Every studio URL linked from the studio (one per path), and every form that posts, as an editor sees them."""
    seen_paths: set[str] = set()
    gets: set[str] = set()
    posts: set[str] = set()
    queue = deque(["/studio"])
    while queue:
        url = queue.popleft()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        page = soup(response)
        found = [a["href"] for a in page.select("a[href]")]
        for form in page.select("form"):
            action = form.get("action") or url
            if form.get("method", "get").lower() == "post":
                posts.add(urlsplit(action).path)
            else:
                found.append(action)
        for href in found:
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/studio"):
                continue
            gets.add(href)
            if parts.path not in seen_paths:
                seen_paths.add(parts.path)
                queue.append(href)
    return gets, posts


def test_nothing_under_studio_opens_without_a_login(app: Flask) -> None:
    client = editor(app)
    gets, posts = _crawl(client)
    paths = {urlsplit(u).path for u in gets}
    assert {"/studio", "/studio/preview", "/studio/view", "/studio/coverage", "/studio/lint", "/studio/reports",
            "/studio/qa"} <= paths  # fmt: skip
    assert {"/studio/logout", "/studio/qa", "/studio/qa/rotate"} <= posts
    stranger = app.test_client()
    for url in sorted(gets | {"/studio/no-such-page", "/studio/no/such/page"}):
        response = stranger.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].startswith("/studio/login?next="), url
    for path in sorted(posts | {"/studio/no-such-page", "/studio/view"}):
        assert stranger.post(path, data={"csrf_token": "x"}).status_code == 401, path
        assert stranger.post(path).status_code == 401, path
    # The two doors: the login form, and a QA link, whose signature is its permission.
    assert stranger.get("/studio/login").status_code == 200
    assert stranger.get("/studio/qa/not-a-signed-link").status_code == 403
