"""PostgreSQL, the scale-out path: the same store works there, across connections."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.store.models import Exposure
from tests.conftest import IPHONE, dispose, get, make_app

URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgresql"),
    reason="PostgreSQL not configured: set TEST_DATABASE_URL=postgresql+psycopg://... to run these",
)


def test_suite_really_runs_on_postgresql(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        with app.app_context():
            assert db.engine.dialect.name == "postgresql"
        get(app.test_client(), "/", IPHONE)
        with app.app_context():
            exposure = db.session.scalars(select(Exposure)).one()
            assert exposure.blocks[0]["block"] == "home-hero"  # JSON round trip
    finally:
        dispose(app)
