"""The store under concurrent writers, on whichever database the suite runs against."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.store.models import BotRequests, Exposure, Visitor
from tests.conftest import GOOGLEBOT, IPHONE, dispose, get, make_app


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:

        def visit(i: int) -> int:
            client = app.test_client()
            ua = GOOGLEBOT if i % 2 else IPHONE
            return get(client, "/", ua).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(visit, range(80)))
        assert codes == [200] * 80
        with app.app_context():
            assert db.session.scalar(select(func.sum(BotRequests.requests))) == 40
            assert db.session.scalar(select(func.count()).select_from(Exposure)) == 40
            assert db.session.scalar(select(func.count()).select_from(Visitor)) == 40
    finally:
        dispose(app)
