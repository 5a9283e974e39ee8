"""The editors' studio in a real browser: log in, preview /pricing as a phone in Germany at 23:00 next Saturday,
ask why a variant did not show, share a QA link a colleague opens without an account; the report's charts at
phone and desktop widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import dispose, make_app
from tests.e2e.conftest import serving
from tests.e2e.helpers import DESKTOP_VIEW, PHONE, blocks, browsing
from tests.functional.test_studio_access import EMAIL, PASSWORD, add_editor
from tests.functional.test_studio_reports import seed

if TYPE_CHECKING:
    from flask import Flask
    from playwright.sync_api import Browser, Page


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    """The app with an editor's account, served over HTTP."""
    app = make_app(tmp_path, HOLDOUT_SHARE=0.3, RULE_CONTROL_SHARE=0.3, RULE_MIN_SAMPLE=20)
    add_editor(app)
    try:
        with serving(app) as url:
            yield url, app
    finally:
        dispose(app)


def next_saturday() -> date:
    today = date.today()
    return today + timedelta(days=(5 - today.weekday()) % 7 or 7)


def log_in(page: Page, path: str) -> None:
    page.goto(path)
    assert "/studio/login" in page.url, "the studio asks for a login first"
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"**{path}")


def test_an_editor_previews_asks_why_and_shares_a_qa_link(browser: Browser, studio: tuple[str, Flask]) -> None:
    url, _ = studio
    saturday = next_saturday()
    with browsing(browser, url, **DESKTOP_VIEW) as (context, page):
        log_in(page, "/studio/preview")
        page.select_option("#page", "/pricing")
        page.select_option("#device", "mobile")
        page.fill("#date", saturday.isoformat())
        page.fill("#time", "23:00")
        page.fill("#country", "DE")
        page.click("[data-preview-form] button[type=submit]")
        page.wait_for_url("**/studio/view?**")
        shown = blocks(page)
        assert shown["pricing-plans"]["variant"] == "eu-euro" and shown["pricing-cta"]["variant"] == "weekend"
        assert "€19" in page.locator("[data-block=pricing-plans]").inner_text()
        assert page.locator("[data-block=pricing-cta]").is_visible()
        assert f"Saturday {saturday.isoformat()} 23:00 (Europe/Berlin, night)" in page.locator(
            "[data-studio-who]").inner_text()  # fmt: skip

        page.select_option("#studio-why", "pricing-cta/phone")
        page.click("[data-why-form] button[type=submit]")
        page.wait_for_url("**why=pricing-cta%2Fphone**")
        answer = page.locator("[data-why-not]").inner_text()
        assert "pricing-cta/phone did not show" in answer and "pricing-cta/weekend comes first" in answer

        page.select_option("#studio-lifetime", "1d")
        page.click("[data-qa-form] button[type=submit]")
        link = page.locator("[data-qa-link]").input_value()
        assert link.startswith(f"{url}/studio/qa/")
        assert not [c for c in context.cookies() if c["name"] == "tessera_vid"], "the editor is no visitor"

    with browsing(browser, url, **PHONE) as (context, colleague):
        colleague.goto(link)
        assert "Preview shared from the Tessera studio" in colleague.locator("[data-studio-preview=qa]").text_content()
        seen = blocks(colleague)
        assert seen["pricing-plans"]["variant"] == "eu-euro" and seen["pricing-cta"]["variant"] == "weekend"
        assert "€19" in colleague.locator("[data-block=pricing-plans]").inner_text()
        assert colleague.locator("[data-qa-form], [data-why-form]").count() == 0
        assert not [c for c in context.cookies() if c["name"] == "tessera_vid"], "nothing recorded for a QA view"
        colleague.goto("/studio")
        assert "/studio/login" in colleague.url


@pytest.mark.parametrize("view", [PHONE, DESKTOP_VIEW], ids=["phone", "desktop"])
def test_every_chart_renders_at_phone_and_desktop_widths(
    browser: Browser, studio: tuple[str, Flask], view: dict[str, object], tmp_path: Path
) -> None:
    url, app = studio
    seed(app)
    with browsing(browser, url, **view) as (_, page):
        log_in(page, "/studio/reports?since=2026-11-01&until=2026-11-09")
        page.wait_for_load_state("load")
        width = page.evaluate("() => document.documentElement.clientWidth")
        charts = page.eval_on_selector_all(
            "[data-chart]",
            """figures => figures.map(f => {
                const img = f.querySelector("img");
                return {loaded: img.complete && img.naturalWidth > 0, right: img.getBoundingClientRect().right,
                        narrow: img.currentSrc === f.querySelector("source").srcset};
            })""",
        )
        assert len(charts) == 8
        narrow = width < 736  # the <source media="(max-width: 46rem)">
        for chart in charts:
            assert chart["loaded"], "the SVG image loaded"
            assert chart["right"] <= width, "the chart fits the screen"
            assert chart["narrow"] == narrow, "phones get the narrow drawing, desktops the wide one"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "no sideways scrolling"
        page.screenshot(path=str(tmp_path / "reports.png"), full_page=True)
