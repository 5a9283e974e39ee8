"""Coverage finds the content nobody sees; the studio's lint says what ``flask content lint`` says."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.conftest import dispose, make_app, soup
from tests.functional.test_content import lint
from tests.functional.test_studio_access import editor

SHADOWED = """# Never shown: the phone variant (priority 10) always comes first.
when: {device: mobile}
priority: 1
headline: A headline nobody reads
subhead: Because another phone variant always wins.
cta_label: See plans
cta_href: "#plans"
"""


def test_coverage_flags_an_unreachable_variant_and_a_block_everyone_gets_the_default_of(
    tmp_path: Path, content_root: Path
) -> None:
    variants = content_root / "content_variants"
    (variants / "pricing-hero" / "shadowed.yaml").write_text(SHADOWED)
    privacy = variants / "home-privacy"
    for name in ("phone.yaml", "reads-privacy.yaml"):
        (privacy / name).unlink()
    (privacy / "from-hacker-news.yaml").write_text(
        "when: {referrer: news.ycombinator.com}\n" + (privacy / "default.yaml").read_text()
    )
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        response = editor(app).get("/studio/coverage?page=/pricing&date=2026-12-02")
    finally:
        dispose(app)
    assert response.status_code == 200
    page = soup(response)
    flags = {li["data-flag-variant"]: li.get_text(" ", strip=True) for li in page.select("[data-flag-variant]")}
    assert "It matches, but pricing-hero/phone comes first: its priority is 10, this one's 1." in flags[
        "pricing-hero/shadowed"]  # fmt: skip
    assert "Its condition does not match. It needs {referrer: news.ycombinator.com}" in flags[
        "home-privacy/from-hacker-news"]  # fmt: skip
    assert [li["data-flag-block"] for li in page.select("[data-flag-block]")] == ["home-privacy"]
    # What some common visitor gets is not flagged: the weekend variant shows on the Saturday rows.
    assert "pricing-cta/weekend" not in flags and "pricing-plans/gb-pound" not in flags
    matrix = page.select_one("[data-coverage-matrix]")
    saturday_night = matrix.select_one('[data-row="phone · Sat night · DE"]')
    cells = {td["data-cell"]: td.get_text(strip=True) for td in saturday_night.select("td")}
    assert cells["pricing-cta"] == "weekend" and cells["pricing-plans"] == "eu-euro"
    weekday = matrix.select_one('[data-row="phone · Wed night · DE"]')
    assert {td["data-cell"]: td.get_text(strip=True) for td in weekday.select("td")}["pricing-cta"] == "phone"
    persona = matrix.select_one('[data-row="signed up"]')
    assert {td["data-cell"]: td.get_text(strip=True) for td in persona.select("td")}["pricing-hero"] == "converted"
    reach = page.select_one('[data-reach="pricing-hero/shadowed"]')
    assert "no one" in reach.get_text() and "studio-kind--flagged" in reach["class"]
    row_link = saturday_night.select_one("a")["href"]
    assert row_link.startswith("/studio/view?page=%2Fpricing&device=mobile&date=2026-12-05&time=23%3A00")


def test_coverage_of_the_demo_site(app: Flask) -> None:
    page = soup(editor(app).get("/studio/coverage?page=/&date=2026-12-02"))
    assert page.select_one("[data-all-default]") is None
    flags = {li["data-flag-variant"] for li in page.select("[data-flag-variant]")}
    # Visitors referred by developer sites are not among the common visitors: said, not hidden.
    assert "home-features/developers" in flags
    assert "pricing-cta/weekend" not in flags and "home-hero/late-night" not in flags
    assert len(page.select("[data-coverage-matrix] tbody tr[data-row]")) > 100


def test_the_studios_lint_says_what_the_command_says(tmp_path: Path, content_root: Path) -> None:
    late = content_root / "content_variants" / "pricing-cta" / "late-night.yaml"
    late.write_text(late.read_text().replace("{daypart: night}", "{daypart: {$inn: [night]}}"))
    hero = content_root / "content_variants" / "pricing-hero" / "late-night.yaml"
    hero.write_text(hero.read_text().replace("{daypart: night}", "{daypart: nite}"))
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        code, output = lint(app)
        page = soup(editor(app).get("/studio/lint"))
    finally:
        dispose(app)
    assert code == 1
    lines = output.strip().splitlines()
    shown = [li.get_text(strip=True) for li in page.select("[data-lint] li")]
    assert shown == lines[:-1] and len(shown) >= 2
    assert page.select_one("[data-lint-summary]").get_text(strip=True) == lines[-1]
    assert any("'nite' is never a daypart" in line for line in shown)
