"""Editors' files: lint messages, bad files never break the site, reload, safe rendering."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from flask import Flask, render_template_string

from app.content import ContentStore, current_site
from app.engine.model import BlockDecision
from app.web.pages import RenderedBlock
from tests.conftest import DESKTOP, IPHONE, ROOT, blocks, dispose, get, make_app, soup, zone_at

DAY = zone_at({13, 14, 15})
HOME_BLOCKS = len(yaml.safe_load((ROOT / "pages/home.yaml").read_text())["blocks"])
GOOD_PHONE = (ROOT / "content_variants/home-hero/phone.yaml").read_text()


def lint(app: Flask) -> tuple[int, str]:
    result = (
        app.test_cli_runner(mix_stderr=False).invoke(args=["content", "lint"])
        if _mix_stderr_supported()
        else app.test_cli_runner().invoke(args=["content", "lint"])
    )
    return result.exit_code, result.output + (getattr(result, "stderr", "") or "")


def _mix_stderr_supported() -> bool:
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


@pytest.fixture
def site_app(tmp_path: Path, content_root: Path):  # type: ignore[no-untyped-def]
    def build(**overrides: object) -> Flask:
        app = make_app(tmp_path, CONTENT_ROOT=str(content_root), **overrides)
        apps.append(app)
        return app

    apps: list[Flask] = []
    yield build
    for app in apps:
        dispose(app)


def test_the_demo_content_lints_clean(app: Flask) -> None:
    code, output = lint(app)
    assert code == 0, output
    assert "All good" in output


BAD_FILES = [
    ("broken-yaml.yaml", "when: {device: mobile\nheadline: x\n", "broken-yaml.yaml:2", "not valid YAML"),
    (
        "unknown-field.yaml",
        "when: {device: mobile}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\nheadlin: typo\n",
        "unknown-field.yaml:6: headlin",
        "did you mean 'headline'",
    ),
    (
        "too-long.yaml",
        "when: {device: mobile}\nheadline: " + "x" * 95 + "\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "too-long.yaml:2: headline",
        "95 characters; the design holds at most 80",
    ),
    (
        "bad-operator.yaml",
        "when: {device: {$inn: [mobile]}}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "bad-operator.yaml:1: when.device.$inn",
        "unknown operator '$inn' (did you mean '$in'?)",
    ),
    (
        "unknown-attribute.yaml",
        "when: {devise: mobile}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "unknown-attribute.yaml:1: when.devise",
        "did you mean 'device'",
    ),
    (
        "bad-value.yaml",
        "when: {device: phone}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "bad-value.yaml:1: when.device",
        "'phone' is never a device",
    ),
    (
        "wrong-type.yaml",
        "when: {hour: {$gte: late}}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "wrong-type.yaml:1: when.hour",
        "",
    ),
    (
        "missing-field.yaml",
        "when: {device: mobile}\nheadline: Hi\ncta_label: Go\ncta_href: /\n",
        "missing-field.yaml",
        "subhead: is required",
    ),
    (
        "js-link.yaml",
        "when: {device: mobile}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: 'javascript:alert(1)'\n",
        "js-link.yaml:5: cta_href",
        "is not an allowed link",
    ),
    (
        "dead-link.yaml",
        "when: {device: mobile}\nheadline: Hi\nsubhead: See [this](/prices)\ncta_label: Go\ncta_href: /\n",
        "dead-link.yaml:3: subhead",
        "'/prices', which is not a page of this site (did you mean '/pricing'?)",
    ),
    (
        "second-default.yaml",
        "headline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n",
        "second-default.yaml",
        "is already the default",
    ),
]


@pytest.mark.parametrize(("name", "text", "where", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_variant_file_is_reported_and_skipped(
    site_app,
    content_root: Path,
    name: str,
    text: str,  # type: ignore[no-untyped-def]
    where: str,
    message: str,
) -> None:
    (content_root / "content_variants/home-hero" / name).write_text(text)
    app = site_app()
    code, output = lint(app)
    assert code == 1
    line = next((line for line in output.splitlines() if where in line), None)
    assert line is not None, output
    assert message in line
    # The site still renders, with every block, and never the broken variant.
    client = app.test_client()
    for ua in (IPHONE, DESKTOP):
        response = get(client, "/", ua, tz=DAY)
        assert response.status_code == 200
        shown = blocks(response)
        assert len(shown) == HOME_BLOCKS
        assert shown["home-hero"]["variant"] != name.removesuffix(".yaml")
    assert blocks(get(client, "/", IPHONE, tz=DAY))["home-hero"]["variant"] == "phone"


def test_broken_default_hides_only_that_block(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    (content_root / "content_variants/home-cta/default.yaml").write_text("headline: [unclosed\n")
    app = site_app()
    code, output = lint(app)
    assert code == 1 and "content_variants/home-cta: has no valid default variant" in output
    response = get(app.test_client(), "/", DESKTOP, tz=DAY)
    assert response.status_code == 200
    assert "home-cta" not in blocks(response) and len(blocks(response)) == HOME_BLOCKS - 1


def test_broken_page_file_is_reported(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    (content_root / "pages/pricing.yaml").write_text(
        (content_root / "pages/pricing.yaml").read_text().replace("component: hero", "component: heroo")
    )
    app = site_app()
    code, output = lint(app)
    assert code == 1
    assert output.splitlines()[0] == (
        "pages/pricing.yaml:7: blocks[0].component: unknown component 'heroo' (did you mean 'hero'?)"
    )
    assert "no page uses" not in output
    assert get(app.test_client(), "/").status_code == 200


def test_reload_keeps_the_previous_good_version(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = site_app()
    store: ContentStore = app.extensions["tessera.content"]
    phone = content_root / "content_variants/home-hero/phone.yaml"
    phone.write_text(GOOD_PHONE.replace("Analytics your visitors can trust", "Edited headline for phones"))
    store.reload()
    client = app.test_client()
    assert "Edited headline for phones" in get(client, "/", IPHONE, tz=DAY).get_data(as_text=True)
    phone.write_text("when: {device: mobile\n")  # an editor saves a broken file
    site = store.reload()
    assert any(p.path.endswith("home-hero/phone.yaml") and "previous good version" in p.message for p in site.problems)
    response = get(client, "/", IPHONE, tz=DAY)
    assert blocks(response)["home-hero"]["variant"] == "phone"
    assert "Edited headline for phones" in response.get_data(as_text=True)


def test_debug_mode_reloads_changed_files(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = site_app(CONTENT_WATCH=True)
    client = app.test_client()
    get(client, "/", IPHONE, tz=DAY)
    phone = content_root / "content_variants/home-hero/phone.yaml"
    phone.write_text(GOOD_PHONE.replace("Analytics your visitors can trust", "Fresh from the editor"))
    time.sleep(1.1)  # changes are looked for at most once a second
    assert "Fresh from the editor" in get(client, "/", IPHONE, tz=DAY).get_data(as_text=True)


def test_variant_text_is_escaped_and_markdown_is_safe(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    (content_root / "content_variants/home-hero/phone.yaml").write_text(
        GOOD_PHONE.replace(
            "headline: Analytics your visitors can trust", "headline: <script>alert(1)</script>"
        ).replace("subhead: Funnels", "subhead: <img src=x onerror=alert(1)> **bold** [ok](/pricing) Funnels")
    )
    app = site_app()
    html = get(app.test_client(), "/", IPHONE, tz=DAY).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<strong>bold</strong>" in html and '<a href="/pricing">ok</a>' in html


def test_every_variant_file_renders(app: Flask) -> None:
    """The sweep: every variant of every block through its component template."""
    with app.test_request_context("/"):
        site = current_site()
        variants = list(site.catalog.defaults.values()) + [v for vs in site.catalog.conditional.values() for v in vs]
        assert len(variants) == len(list((ROOT / "content_variants").glob("*/*.yaml")))
        for variant in variants:
            decision = BlockDecision(block=variant.block, component=variant.component, variant=variant)
            html = render_template_string(
                '{% from "_block.html" import render_block %}{{ render_block(b) }}',
                b=RenderedBlock(decision, None, "/"),
            )
            section = soup_of(html).select_one("[data-block]")
            assert section["data-variant"] == variant.id, variant.source
            assert section["data-component"] == variant.component
            text = section.get_text(" ", strip=True)
            first_text = next(v for v in variant.fields.values() if isinstance(v, str) and v)
            assert soup_of(str(first_text)).get_text()[:20] in text, variant.source


def soup_of(html: str):  # type: ignore[no-untyped-def]
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def test_every_block_has_three_variants_and_one_default(app: Flask) -> None:
    with app.app_context():
        site = current_site()
    blocks_on_pages = {s.block for p in site.pages.values() for s in p.spec.slots}
    for block in blocks_on_pages:
        assert block in site.catalog.defaults, block
        assert len(site.catalog.conditional.get(block, ())) >= 2, block
    assert soup  # keep the helper import used
