"""The fast render: the bytes a visitor gets are the templates' own, for every page, visitor and decision."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

import app.web.pages as pages
from app.content import ContentStore
from app.web.render import render_decision
from tests.conftest import DESKTOP, IP_DE, IP_GB, IP_IN, IP_US, IPAD, IPHONE, dispose, get, make_app, zone_at

ROOT = Path(__file__).resolve().parents[2]
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every page served is also rendered through the templates alone; (path, same bytes) per page."""
    seen: list[tuple[str, bool]] = []
    fast = pages.fast_render

    def both(site, page, decision, **extra):  # type: ignore[no-untyped-def]
        html = fast(site, page, decision, **extra)
        seen.append((page.path, html == render_decision(site, page, decision, **extra)))
        return html

    monkeypatch.setattr(pages, "fast_render", both)
    return seen


def _browse(app: Flask, *, layers_off: bool = False) -> None:
    night, day = zone_at({23, 0, 1}), zone_at({13, 14, 15})
    paths = [p for p in app.extensions["tessera.content"].site.pages if p != "/welcome"]
    for ua in (IPHONE, IPAD, DESKTOP, BOT):
        for ip, tz in ((IP_US, day), (IP_DE, night), (IP_GB, None), (IP_IN, day)):
            client = app.test_client()
            if layers_off:
                client.post("/preferences", data={}, headers={"User-Agent": ua})
            for path in (*paths, "/pricing", "/", *paths):  # returning, with a profile on the second round
                assert get(client, path, ua, ip, tz=tz, **{"Accept-Language": "de-DE"}).status_code == 200


def test_every_page_is_the_templates_own_bytes(tmp_path: Path, checked: list[tuple[str, bool]]) -> None:
    """Pages, devices, countries, times of day, bots, first and returning visits, each layer on and off."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=False)
    try:
        _browse(app)
        _browse(app, layers_off=True)
    finally:
        dispose(app)
    different = sorted({path for path, same in checked if not same})
    assert len(checked) > 400 and different == []
    assert {path for path, _ in checked} >= {"/", "/pricing", "/guides", "/signup"}


def test_an_edited_variant_shows_at_once_after_a_reload(tmp_path: Path) -> None:
    """Fragments belong to one content snapshot: a reload renders the edited file, never the old one."""
    content = tmp_path / "content"
    for folder in ("pages", "content_variants"):
        shutil.copytree(ROOT / folder, content / folder)
    app = make_app(tmp_path, CONTENT_ROOT=str(content))
    try:
        client = app.test_client()
        day = zone_at({13, 14, 15})
        before = get(client, "/", IPHONE, tz=day).get_data(as_text=True)
        phone = content / "content_variants/home-hero/phone.yaml"
        old = next(line for line in phone.read_text().splitlines() if line.startswith("headline:"))
        assert old.removeprefix("headline: ") in before
        phone.write_text(phone.read_text().replace(old, "headline: Edited <em>after</em> the first page"))
        store: ContentStore = app.extensions["tessera.content"]
        store.reload()
        after = get(client, "/", IPHONE, tz=day).get_data(as_text=True)
        assert old.removeprefix("headline: ") not in after
        assert "Edited &lt;em&gt;after&lt;/em&gt; the first page" in after  # still escaped
    finally:
        dispose(app)


def test_a_form_page_is_rendered_for_its_visitor(tmp_path: Path) -> None:
    """The sign-up form's CSRF token is the visitor's own session's, never a cached one."""
    app = make_app(tmp_path)
    try:
        tokens = set()
        for _ in range(3):
            html = get(app.test_client(), "/signup").get_data(as_text=True)
            token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            tokens.add(token)
        assert len(tokens) == 3 and "" not in tokens
    finally:
        dispose(app)
