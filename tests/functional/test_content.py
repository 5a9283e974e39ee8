"""Editors' files: lint messages, bad files never break the site, reload, safe rendering."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from flask import Flask, render_template_string

from app.content import ContentStore, current_site
from app.engine.model import BlockDecision
from app.web.render import RenderedBlock
from tests.conftest import DESKTOP, IPHONE, ROOT, blocks, database_url, dispose, get, make_app, soup, zone_at

DAY = zone_at({13, 14, 15})
HOME_BLOCKS = len(yaml.safe_load((ROOT / "pages/home.yaml").read_text())["blocks"])
GOOD_PHONE = (ROOT / "content_variants/home-hero/phone.yaml").read_text()


def lint(app: Flask) -> tuple[int, str]:
    """Run ``flask content lint``; its exit code and stdout (it writes nothing to stderr)."""
    runner = app.test_cli_runner(mix_stderr=False) if _mix_stderr_supported() else app.test_cli_runner()
    result = runner.invoke(args=["content", "lint"])
    assert result.stderr == "", result.stderr
    return result.exit_code, result.stdout


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
        "number-key.yaml",
        "when: {device: mobile}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n1: typo\n",
        "number-key.yaml:6",
        "the key '1' must be a name; put it in quotes if it is one",
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


def _problem_lines(output: str) -> tuple[list[str], str]:
    """The problem lines of a lint run, and its summary (the last line)."""
    lines = output.splitlines()
    return lines[:-1], lines[-1]


def _sort_key(line: str) -> tuple[str, int, str]:
    """(file, line, field) of a ``file:line: field: message`` line."""
    where, _, rest = line.partition(": ")
    path, _, number = where.partition(":")
    head, sep, _ = rest.partition(": ")
    field = head if sep and " " not in head else ""
    return path, int(number or 0), field


def test_lint_prints_every_problem_of_every_file_once_sorted_on_stdout(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    hero = content_root / "content_variants/home-hero"
    # A field, a priority, a link (twice) and a condition problem in one file.
    (hero / "both.yaml").write_text(
        "when: {devise: mobile}\n"
        "priority: high\n"
        "headline: Hi\n"
        "subhead: See [our prices](/prices) or [the plans](/prices)\n"
        "cta_label: Go\n"
        "cta_href: /\n"
        "headlin: typo\n"
    )
    (hero / "broken-yaml.yaml").write_text("when: {device: mobile\nheadline: x\n")
    # A broken page: an arrangement without an order whose condition is wrong too ...
    pricing = content_root / "pages/pricing.yaml"
    pricing.write_text(
        pricing.read_text()
        .replace("    order: [pricing-cta, pricing-testimonial]\n", "")
        .replace("when: {daypart: night}", "when: {daypart: nite}")
    )
    # ... does not hide the problems of its blocks' variant files.
    late = content_root / "content_variants/pricing-cta/late-night.yaml"
    late.write_text(late.read_text().replace("when: {daypart: night}", "when: {daypart: {$inn: [night]}}"))

    code, output = lint(site_app())

    assert code == 1
    problems, summary = _problem_lines(output)
    expected = [
        "content_variants/home-hero/both.yaml:1: when.devise: unknown attribute 'devise' (did you mean 'device'?)",
        "content_variants/home-hero/both.yaml:2: priority: must be a whole number",
        "content_variants/home-hero/both.yaml:4: subhead: links to '/prices', which is not a page of this site",
        "content_variants/home-hero/both.yaml:7: headlin: is not a field of the hero component",
        "content_variants/home-hero/broken-yaml.yaml:2: this is not valid YAML",
        "content_variants/pricing-cta/late-night.yaml:1: when.daypart.$inn: unknown operator '$inn'",
        "pages/pricing.yaml:13: arrangements[0].order: must list the flexible blocks in their new order",
        "pages/pricing.yaml:14: arrangements[0].when.daypart: 'nite' is never a daypart",
    ]
    assert len(problems) == len(expected), output
    for line, start in zip(problems, expected, strict=True):
        assert line.startswith(start), output
    assert [_sort_key(line) for line in problems] == sorted(_sort_key(line) for line in problems)
    assert len(set(problems)) == len(problems)
    assert summary.startswith(f"{len(expected)} problems in 4 files"), summary


def test_lint_checks_the_variants_of_a_page_with_an_unknown_component(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    pricing = content_root / "pages/pricing.yaml"
    pricing.write_text(pricing.read_text().replace("component: hero", "component: heroo"))
    late = content_root / "content_variants/pricing-hero/late-night.yaml"
    late.write_text(late.read_text().replace("when: {daypart: night}", "when: {daypart: nite}"))
    code, output = lint(site_app())
    assert code == 1
    problems, summary = _problem_lines(output)
    assert problems == [
        "content_variants/pricing-hero/late-night.yaml:1: when.daypart: 'nite' is never a daypart; "
        "it is one of morning, afternoon, evening, night (did you mean 'night'?)",
        "pages/pricing.yaml:7: blocks[0].component: unknown component 'heroo' (did you mean 'hero'?)",
    ]
    assert summary.startswith("2 problems in 2 files")


def test_lint_of_clean_content_prints_one_summary_line(app: Flask) -> None:
    code, output = lint(app)
    assert code == 0
    assert len(output.splitlines()) == 1 and output.startswith("All good: ")


def test_the_lint_command_writes_each_problem_once_and_nothing_to_stderr(tmp_path: Path, content_root: Path) -> None:
    """The command as editors run it: building the app for the command must not report problems too."""
    (content_root / "content_variants/home-hero/broken-yaml.yaml").write_text("when: {device: mobile\nheadline: x\n")
    (content_root / "content_variants/home-hero/typo.yaml").write_text(
        "when: {device: {$inn: [mobile]}}\nheadline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\nheadlin: typo\n"
    )
    dispose(make_app(tmp_path))  # a migrated database for the command's app
    env = {
        **os.environ,
        "DATABASE_URL": database_url(tmp_path),
        "SECRET_KEY": "test-secret-key",
        "TESSERA_SCHEDULER": "off",
        "TESSERA_CONTENT_ROOT": str(content_root),
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "content", "lint"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    problems, summary = _problem_lines(done.stdout)
    assert [line.split(": ")[0] for line in problems] == [
        "content_variants/home-hero/broken-yaml.yaml:2",
        "content_variants/home-hero/typo.yaml:1",
        "content_variants/home-hero/typo.yaml:6",
    ]
    assert summary.startswith("3 problems in 2 files")


def test_the_served_site_logs_each_problem_once(site_app, content_root: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    (content_root / "content_variants/home-hero/broken-yaml.yaml").write_text("when: {device: mobile\nheadline: x\n")
    with caplog.at_level(logging.WARNING, logger="app.content"):
        app = site_app()
        assert caplog.records == []  # every flask command builds the app; that alone reports nothing
        client = app.test_client()
        for path in ("/", "/pricing", "/"):
            assert get(client, path, tz=DAY).status_code == 200
    assert [r.getMessage() for r in caplog.records] == [
        "content problem: content_variants/home-hero/broken-yaml.yaml:2: "
        "this is not valid YAML: expected ',' or '}', but got ':'"
    ]


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
        assert len(variants) == len(
            [p for p in (ROOT / "content_variants").glob("*/*.yaml") if p.name != "_block.yaml"]
        )
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


HERO_FIELDS = "headline: Hi\nsubhead: Sub\ncta_label: Go\ncta_href: /\n"


def test_lint_prints_warnings_sorted_with_the_problems_and_exits_1_for_the_problems(  # type: ignore[no-untyped-def]
    site_app, content_root: Path
) -> None:
    hero = content_root / "content_variants/home-hero"
    (hero / "never.yaml").write_text("when: {hour: {$gt: 25}}\n" + HERO_FIELDS)
    (hero / "typo.yaml").write_text("when: {device: {$inn: [mobile]}}\n" + HERO_FIELDS)
    (hero / "german.yaml").write_text("when:\n  device: mobile\n  country: de\n" + HERO_FIELDS)
    pricing = content_root / "pages/pricing.yaml"
    pricing.write_text(pricing.read_text().replace("when: {daypart: night}", "when: {daypart: night, hour: {$lt: 24}}"))

    code, output = lint(site_app())

    assert code == 1
    problems, summary = _problem_lines(output)
    assert problems == [
        "content_variants/home-hero/german.yaml:3: when.country: warning: 'country' is a two-letter code "
        "in upper case, like 'DE', never 'de' (did you mean 'DE'?)",
        "content_variants/home-hero/never.yaml:1: when.hour: warning: 'hour' is 0-23, so $gt: 25 never matches",
        "content_variants/home-hero/typo.yaml:1: when.device.$inn: unknown operator '$inn' (did you mean '$in'?)",
        "pages/pricing.yaml:14: arrangements[0].when.hour: warning: 'hour' is 0-23, so $lt: 24 always matches "
        "and narrows nothing",
    ]
    assert [_sort_key(line) for line in problems] == sorted(_sort_key(line) for line in problems)
    assert summary == f"1 problem and 3 warnings in 4 files under {content_root}."


def test_a_variant_with_only_warnings_is_served_and_lint_exits_0(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    (content_root / "content_variants/home-hero/everyone.yaml").write_text(
        "when: {hour: {$gte: 0}}\npriority: 100\n" + HERO_FIELDS
    )
    (content_root / "content_variants/home-hero/unknown-country.yaml").write_text(
        "when: {country: {$ne: US}}\npriority: 50\n" + HERO_FIELDS
    )
    app = site_app()

    code, output = lint(app)

    assert code == 0, output
    problems, summary = _problem_lines(output)
    assert problems == [
        "content_variants/home-hero/everyone.yaml:1: when.hour: warning: 'hour' is 0-23, so $gte: 0 always matches "
        "and narrows nothing",
        "content_variants/home-hero/unknown-country.yaml:1: when.country: warning: 'country' is absent when the "
        "visitor's country is unknown, and $ne: 'US' matches those visitors too; add $exists: true to leave them "
        "out (or $exists: false in an '$or' to keep them on purpose)",
    ]
    assert summary.startswith(f"2 warnings in 2 files under {content_root}, no problems: ")
    # Warnings do not keep a file from being served: what they describe happens.
    client = app.test_client()
    for ua in (IPHONE, DESKTOP):
        assert blocks(get(client, "/", ua, tz=DAY))["home-hero"]["variant"] == "everyone"


def test_an_invalid_not_regex_is_a_problem_and_the_variant_is_skipped(site_app, content_root: Path) -> None:  # type: ignore[no-untyped-def]
    (content_root / "content_variants/home-hero/no-search.yaml").write_text(
        "when: {referrer: {$notRegex: '(google'}}\npriority: 100\n" + HERO_FIELDS
    )
    (content_root / "content_variants/home-hero/not-google.yaml").write_text(
        "when:\n  referrer: {$exists: true, $notRegexi: '^(www\\.)?GOOGLE\\.'}\npriority: 90\n" + HERO_FIELDS
    )
    app = site_app()
    code, output = lint(app)
    assert code == 1
    problems, summary = _problem_lines(output)
    assert problems == [
        "content_variants/home-hero/no-search.yaml:1: when.referrer.$notRegex: '$notRegex' pattern '(google' "
        "is not a valid regular expression: missing ), unterminated subpattern at position 0"
    ]
    assert summary == f"1 problem in 1 file under {content_root}."
    client = app.test_client()
    assert blocks(get(client, "/", DESKTOP, tz=DAY))["home-hero"]["variant"] != "no-search"
    from_google = get(client, "/", DESKTOP, tz=DAY, Referer="https://www.google.com/search?q=x")
    from_elsewhere = get(client, "/", DESKTOP, tz=DAY, Referer="https://news.ycombinator.com/")
    assert blocks(from_google)["home-hero"]["variant"] != "not-google"
    assert blocks(from_elsewhere)["home-hero"]["variant"] == "not-google"
