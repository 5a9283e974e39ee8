"""The visitor's controls: switches, Sec-GPC, reset, export, erasure, CSRF, cookies."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.store.models import Conversion, Exposure, Signup, Visitor
from app.web.context import VISITOR_COOKIE
from tests.conftest import DESKTOP, IP_DE, IPHONE, blocks, csrf_token, get, soup, zone_at

DAY = zone_at({13, 14, 15})
NIGHT = zone_at({0, 1, 2, 3})


def save(client: FlaskClient, **layers: bool):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    form = {"csrf_token": token, **{k: "on" for k, v in layers.items() if v}}
    return client.post("/preferences", data=form, headers={"User-Agent": DESKTOP})


def checked(client: FlaskClient, **headers: str) -> dict[str, bool]:
    page = soup(client.get("/preferences", headers={"User-Agent": DESKTOP, **headers}))
    return {
        name: page.select_one(f"input[name={name}]").has_attr("checked")
        for name in ("contextual", "behavioral", "predictive")
    }


def count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_switching_contextual_off_applies_on_the_next_request(client: FlaskClient) -> None:
    assert blocks(get(client, "/", IPHONE, tz=DAY))["home-hero"]["variant"] == "phone"
    response = save(client, contextual=False, behavioral=True, predictive=True)
    assert response.status_code == 303
    assert checked(client) == {"contextual": False, "behavioral": True, "predictive": True}
    after = blocks(get(client, "/", IPHONE, tz=DAY))
    assert all(b["layer"] == "default" for b in after.values())
    # And back on.
    save(client, contextual=True, behavioral=True, predictive=True)
    assert blocks(get(client, "/", IPHONE, tz=DAY))["home-hero"]["variant"] == "phone"


def test_every_switch_is_stored_and_shown(client: FlaskClient) -> None:
    for combo in ((False, False, False), (True, False, True), (False, True, False)):
        settings = dict(zip(("contextual", "behavioral", "predictive"), combo, strict=True))
        save(client, **settings)
        assert checked(client) == settings


def test_gpc_turns_off_behavioral_and_predictive_until_the_visitor_opts_in(client: FlaskClient) -> None:
    assert checked(client, **{"Sec-GPC": "1"}) == {
        "contextual": True,
        "behavioral": False,
        "predictive": False,
    }
    page = soup(client.get("/preferences", headers={"User-Agent": DESKTOP, "Sec-GPC": "1"}))
    assert "Global Privacy Control" in page.get_text()
    save(client, contextual=True, behavioral=True, predictive=False)
    assert checked(client, **{"Sec-GPC": "1"}) == {
        "contextual": True,
        "behavioral": True,
        "predictive": False,
    }


def test_missing_csrf_token_changes_nothing(app: Flask, client: FlaskClient) -> None:
    get(client, "/")
    for path, form in (
        ("/preferences", {"behavioral": "on"}),
        ("/preferences/delete", {}),
        ("/preferences/reset", {}),
        ("/signup", {"name": "A", "email": "a@b.co", "company_size": "1-10"}),
    ):
        response = client.post(path, data=form, headers={"User-Agent": DESKTOP})
        assert response.status_code == 400
        assert "nothing was changed" in soup(response).get_text()
    response = client.post("/preferences", data={"csrf_token": "forged"}, headers={"User-Agent": DESKTOP})
    assert response.status_code == 400
    assert count(app, Visitor) == 1 and count(app, Exposure) == 1 and count(app, Signup) == 0
    assert checked(client) == {"contextual": True, "behavioral": True, "predictive": True}


def test_export_contains_everything_stored(client: FlaskClient) -> None:
    get(client, "/", IPHONE, tz=DAY)
    get(client, "/pricing", DESKTOP, ip=IP_DE, tz=DAY)
    token = csrf_token(client, "/signup")
    client.post(
        "/signup",
        data={"csrf_token": token, "name": "Ada", "email": "ada@example.com", "company_size": "11-50"},
        headers={"User-Agent": DESKTOP},
        follow_redirects=True,
    )
    save(client, contextual=True, behavioral=False, predictive=True)
    response = client.get("/preferences/export", headers={"User-Agent": DESKTOP})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["visitor"]["settings"] == {"contextual": True, "behavioral": False, "predictive": True}
    paths = [v["path"] for v in data["page_views"]]
    assert paths[:2] == ["/", "/pricing"] and "/signup" in paths and "/welcome" in paths
    pricing = data["page_views"][1]
    plans = next(b for b in pricing["blocks"] if b["block"] == "pricing-plans")
    rule = "pricing-plans/eu-euro"
    assert plans == {
        "block": "pricing-plans", "variant": "eu-euro", "layer": "contextual", "rule": rule, "test": rule,
        "control": False, "p": 1.0, "strategy": "rules",
    }  # fmt: skip
    context = pricing["context"]
    assert context == {
        "device": "desktop", "daypart": "afternoon", "weekend": context["weekend"], "country": "DE", "language": None,
        "returning": False, "layers": "contextual,behavioral,predictive", "top_topic": False, "scored": False,
    }  # fmt: skip
    # The rule's test assignment is a row of its own too, for the reports.
    row = next(d for d in data["decisions"] if d["block"] == "pricing-plans")
    assert (row["variant"], row["test"], row["control"], row["propensity"]) == ("eu-euro", rule, False, 1.0)
    assert data["signups"] == [
        {"name": "Ada", "email": "ada@example.com", "company_size": "11-50", "at": data["signups"][0]["at"]}
    ]
    assert [c["goal"] for c in data["conversions"]] == ["signup"]
    # No raw address anywhere in what we hold.
    assert IP_DE not in response.get_data(as_text=True)


def test_delete_erases_everything_and_starts_a_new_id(app: Flask, client: FlaskClient) -> None:
    other = app.test_client()
    get(other, "/")  # another visitor, who must keep their data
    get(client, "/", IPHONE)
    token = csrf_token(client, "/signup")
    client.post(
        "/signup",
        data={"csrf_token": token, "name": "Ada", "email": "ada@example.com", "company_size": "1-10"},
        headers={"User-Agent": DESKTOP},
    )
    old_id = client.get_cookie(VISITOR_COOKIE).value
    response = client.post(
        "/preferences/delete",
        data={"csrf_token": csrf_token(client), "confirm": "yes"},
        headers={"User-Agent": DESKTOP},
    )
    assert response.status_code == 303
    new_id = client.get_cookie(VISITOR_COOKIE).value
    assert new_id != old_id
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Visitor)) == 1  # only the other visitor
        assert count(app, Signup) == 0 and count(app, Conversion) == 0
        assert count(app, Exposure) == 1
    page = soup(client.get("/preferences?done=deleted", headers={"User-Agent": DESKTOP}))
    assert "Everything we stored about you is deleted" in page.get_text()
    exported = json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))
    assert exported["visitor"] is None and exported["page_views"] == [] and exported["signups"] == []


def test_delete_asks_for_confirmation_first(app: Flask, client: FlaskClient) -> None:
    get(client, "/", IPHONE)
    get(client, "/pricing", IPHONE)
    settings = soup(client.get("/preferences", headers={"User-Agent": DESKTOP}))
    link = settings.find("a", string=lambda s: s and "Delete everything" in s)
    assert link is not None and link["href"] == "/preferences/delete"
    page = soup(client.get("/preferences/delete", headers={"User-Agent": DESKTOP}))
    assert "cannot be undone" in page.get_text()
    assert "2" in page.select_one(".stored").get_text()  # the two page views that will go
    # A POST without the confirmation (an old form, a forged click) deletes nothing and asks.
    old_id = client.get_cookie(VISITOR_COOKIE).value
    response = client.post(
        "/preferences/delete", data={"csrf_token": csrf_token(client)}, headers={"User-Agent": DESKTOP}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/preferences/delete")
    assert client.get_cookie(VISITOR_COOKIE).value == old_id
    assert count(app, Exposure) == 2


def test_delete_keeps_the_layers_the_visitor_switched_off(app: Flask, client: FlaskClient) -> None:
    get(client, "/", IPHONE, tz=DAY)
    save(client, contextual=True, behavioral=False, predictive=False)
    confirm = soup(client.get("/preferences/delete", headers={"User-Agent": DESKTOP}))
    assert "behavioral off" in confirm.select_one("[data-kept]").get_text()
    old_id = client.get_cookie(VISITOR_COOKIE).value
    response = client.post(
        "/preferences/delete",
        data={"csrf_token": csrf_token(client, "/preferences/delete"), "confirm": "yes"},
        headers={"User-Agent": DESKTOP},
    )
    assert client.get_cookie(VISITOR_COOKIE).value != old_id
    done = soup(client.get(response.headers["Location"], headers={"User-Agent": DESKTOP}))
    assert "settings below are kept" in done.get_text()
    assert checked(client) == {"contextual": True, "behavioral": False, "predictive": False}
    page = get(client, "/", IPHONE, tz=DAY)
    assert soup(page).body.get("data-beacon") is None  # behavioral stays off: nothing is tracked
    exported = json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))
    assert exported["visitor"]["settings"] == {"contextual": True, "behavioral": False, "predictive": False}
    assert exported["profile"]["pages_viewed"] == 0
    with app.app_context():
        assert db.session.get(Visitor, old_id) is None


def test_reset_history_forgets_visits_but_keeps_settings(app: Flask, client: FlaskClient) -> None:
    get(client, "/")
    get(client, "/pricing")
    save(client, contextual=True, behavioral=False, predictive=False)
    client.post("/preferences/reset", data={"csrf_token": csrf_token(client)}, headers={"User-Agent": DESKTOP})
    data = json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))
    assert data["page_views"] == []
    assert data["visitor"]["visits"] == 1
    assert data["visitor"]["settings"] == {"contextual": True, "behavioral": False, "predictive": False}


def test_visitor_cookie_is_signed_httponly_and_lax(client: FlaskClient) -> None:
    response = get(client, "/")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(VISITOR_COOKIE))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    value = client.get_cookie(VISITOR_COOKIE).value
    assert "." in value  # payload and signature


def test_forged_cookie_gets_a_fresh_id_not_an_error(app: Flask, client: FlaskClient) -> None:
    get(client, "/")
    client.set_cookie(VISITOR_COOKIE, "0" * 32)  # unsigned id of someone else
    response = get(client, "/pricing")
    assert response.status_code == 200
    fresh = client.get_cookie(VISITOR_COOKIE).value
    assert fresh != "0" * 32
    client.set_cookie(VISITOR_COOKIE, "garbage.!!.<script>")
    assert get(client, "/").status_code == 200
    with app.app_context():
        ids = set(db.session.scalars(select(Visitor.id)))
    assert "0" * 32 not in ids and len(ids) == 3


def test_invalid_tz_cookie_is_ignored(client: FlaskClient) -> None:
    for bad in ("Not/AZone", "../../etc/passwd", "x" * 300, ""):
        response = get(client, "/pricing", tz=bad, ip=IP_DE)
        assert response.status_code == 200
        assert blocks(response)["pricing-plans"]["variant"] == "eu-euro"


def test_bots_have_no_settings_to_change(client: FlaskClient) -> None:
    from tests.conftest import GOOGLEBOT

    response = client.post("/preferences", data={}, headers={"User-Agent": GOOGLEBOT})
    assert response.status_code in (400, 403)


def _erased_while_in_flight(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The next request's visitor vanishes right after it was read, as after an erasure in another tab."""
    import app.store as store

    real = store.load_visitor

    def load_then_erase(visitor_id: str, pending=()):  # type: ignore[no-untyped-def]
        state = real(visitor_id, pending)
        store.erase_visitor(visitor_id)
        monkeypatch.setattr(store, "load_visitor", real)
        return state

    monkeypatch.setattr(store, "load_visitor", load_then_erase)


def test_a_request_in_flight_during_erasure_finishes_cleanly(app: Flask, client: FlaskClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    get(client, "/", IPHONE)
    _erased_while_in_flight(monkeypatch)
    page = get(client, "/pricing", IPHONE)
    assert page.status_code == 200  # shown, and nothing about the erased visitor written back
    assert count(app, Visitor) == 0 and count(app, Exposure) == 0

    get(client, "/", IPHONE)  # a new visitor now, who erases in another tab while saving here
    token = csrf_token(client)
    _erased_while_in_flight(monkeypatch)
    saved = client.post("/preferences", data={"csrf_token": token, "behavioral": "on"}, headers={"User-Agent": DESKTOP})
    assert saved.status_code == 409 and "just erased" in soup(saved).get_text()
    assert count(app, Visitor) == 0

    token = csrf_token(client, "/signup")  # the sign-up page view makes the visitor again
    _erased_while_in_flight(monkeypatch)
    form = {"csrf_token": token, "name": "Ada", "email": "ada@example.com", "company_size": "1-10"}
    signed = client.post("/signup", data=form, headers={"User-Agent": DESKTOP})
    assert signed.status_code == 409
    assert count(app, Visitor) == 0 and count(app, Signup) == 0 and count(app, Conversion) == 0
