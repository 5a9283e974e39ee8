"""The goal action: a real sign-up form that records a conversion on the server."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.store.models import Conversion, Signup
from tests.conftest import DESKTOP, GOOGLEBOT, csrf_token, dispose, get, make_app, soup


def post_signup(client: FlaskClient, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": csrf_token(client, "/signup"),
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "company_size": "11-50",
    }
    data.update(fields)
    return client.post("/signup", data=data, headers={"User-Agent": DESKTOP})


def test_signup_records_the_conversion_and_welcomes(app: Flask, client: FlaskClient) -> None:
    get(client, "/pricing")
    response = post_signup(client)
    assert response.status_code == 303 and response.headers["Location"].endswith("/welcome")
    welcome = soup(client.get("/welcome", headers={"User-Agent": DESKTOP}))
    assert "Grace Hopper" in welcome.get_text()
    with app.app_context():
        signup = db.session.scalars(select(Signup)).one()
        conversion = db.session.scalars(select(Conversion)).one()
    assert (signup.name, signup.email, signup.company_size) == ("Grace Hopper", "grace@example.com", "11-50")
    assert conversion.goal == "signup" and conversion.visitor_id == signup.visitor_id
    assert conversion.holdout is False


def test_holdout_flag_is_recorded_with_the_conversion(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, HOLDOUT_SHARE=1.0)
    try:
        post_signup(app.test_client())
        with app.app_context():
            assert db.session.scalars(select(Conversion)).one().holdout is True
    finally:
        dispose(app)


def test_invalid_signup_shows_each_error_and_stores_nothing(app: Flask, client: FlaskClient) -> None:
    response = post_signup(client, name="", email="not-an-email", company_size="huge")
    assert response.status_code == 422
    page = soup(response)
    text = page.get_text()
    assert "Please tell us your name" in text
    assert "Please enter an email address" in text
    assert "Please choose your team size" in text
    assert page.select_one("input[name=email]")["value"] == "not-an-email"  # kept for correction
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []
        assert db.session.scalars(select(Conversion)).all() == []


def test_bots_cannot_sign_up(app: Flask, client: FlaskClient) -> None:
    form = soup(get(client, "/signup", GOOGLEBOT)).select_one("input[name=csrf_token]")
    assert form is not None and form["value"] == ""
    response = client.post(
        "/signup",
        data={"name": "x", "email": "x@y.zz", "company_size": "1-10"},
        headers={"User-Agent": GOOGLEBOT},
    )
    assert response.status_code in (400, 403)
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []


def test_control_characters_get_a_clear_error_not_a_500(app: Flask, client: FlaskClient) -> None:
    """A NUL byte crashed PostgreSQL's insert; now every control character is refused in words."""
    for fields in ({"name": "Grace\x00Hopper"}, {"email": "grace\x00@example.com"}, {"name": "Grace\x1bHopper"}):
        response = post_signup(client, **fields)
        assert response.status_code == 422, fields
        text = soup(response).get_text()
        assert "control characters" in text or "Please enter an email address" in text
    with app.app_context():
        assert db.session.scalars(select(Signup)).all() == []
        assert db.session.scalars(select(Conversion)).all() == []
    assert post_signup(client).status_code == 303  # and the form still works
