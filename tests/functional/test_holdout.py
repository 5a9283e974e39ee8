"""The holdout group is fixed at the visitor's first exposure: changing the share moves nobody."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.store.models import Conversion, Visitor
from tests.conftest import IPHONE, blocks, dispose, get, make_app


def _personalized(response) -> bool:  # type: ignore[no-untyped-def]
    return blocks(response)["home-hero"]["layer"] != "default"


def test_changing_the_holdout_share_moves_no_visitor(tmp_path: Path) -> None:
    app = make_app(tmp_path, HOLDOUT_SHARE=0.0)
    try:
        personalized = app.test_client()
        assert _personalized(get(personalized, "/", IPHONE))
        app.config["HOLDOUT_SHARE"] = 1.0  # an operator raises the share to everyone
        assert _personalized(get(personalized, "/", IPHONE))  # still in the personalized group
        newcomer = app.test_client()
        assert not _personalized(get(newcomer, "/", IPHONE))  # new visitors get the new share
        app.config["HOLDOUT_SHARE"] = 0.0
        assert not _personalized(get(newcomer, "/", IPHONE))  # and keep their group too
        assert _personalized(get(personalized, "/", IPHONE))
        with app.app_context():
            groups = sorted(db.session.scalars(select(Visitor.holdout)).all())
        assert groups == [False, True]
    finally:
        dispose(app)


def test_the_conversion_carries_the_stored_group(tmp_path: Path) -> None:
    from tests.functional.test_signup import post_signup

    app = make_app(tmp_path, HOLDOUT_SHARE=1.0)
    try:
        client = app.test_client()
        get(client, "/", IPHONE)  # first exposure: holdout
        app.config["HOLDOUT_SHARE"] = 0.0
        assert post_signup(client).status_code == 303
        with app.app_context():
            assert db.session.scalars(select(Conversion.holdout)).one() is True
    finally:
        dispose(app)
