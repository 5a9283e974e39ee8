"""Scheduled variants appear and disappear at their times; named audiences are reusable conditions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Flask

from tests.conftest import DESKTOP, IP_DE, IP_US, blocks, dispose, get, make_app
from tests.functional.test_content import lint

CAMPAIGN = """when: {device: desktop}
starts: 2026-12-05T00:00:00+01:00
ends: 2026-12-07T00:00:00Z
priority: 20
eyebrow: This weekend only
headline: Two months free on any annual plan
subhead: Start before Monday and the first two months are on us.
cta_label: Claim the offer
cta_href: /signup
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _app(tmp_path: Path, content_root: Path, clock: Clock) -> Flask:
    return make_app(tmp_path, CONTENT_ROOT=str(content_root), CLOCK=clock)


def test_a_scheduled_variant_shows_only_within_its_window(tmp_path: Path, content_root: Path) -> None:
    (content_root / "content_variants" / "pricing-hero" / "weekend-offer.yaml").write_text(CAMPAIGN)
    clock = Clock(datetime(2026, 12, 4, 22, 59))  # 23:59 in UTC+1: not yet
    app = _app(tmp_path, content_root, clock)
    try:

        def hero() -> str:
            return blocks(get(app.test_client(), "/pricing", DESKTOP, tz="UTC"))["pricing-hero"]["variant"]

        assert hero() != "weekend-offer"
        clock.now = datetime(2026, 12, 4, 23, 0)  # midnight in UTC+1: it starts
        assert hero() == "weekend-offer"
        clock.now = datetime(2026, 12, 6, 23, 59)
        assert hero() == "weekend-offer"
        clock.now = datetime(2026, 12, 7, 0, 0)  # ends is excluded
        assert hero() != "weekend-offer"
    finally:
        dispose(app)


def test_lint_checks_the_window(tmp_path: Path, content_root: Path) -> None:
    folder = content_root / "content_variants" / "pricing-hero"
    (folder / "backwards.yaml").write_text(CAMPAIGN.replace("2026-12-07T00:00:00Z", "2026-12-01T00:00:00Z"))
    (folder / "no-zone.yaml").write_text(CAMPAIGN.replace("2026-12-07T00:00:00Z", "2026-12-07T00:00:00"))
    (folder / "not-a-date.yaml").write_text(CAMPAIGN.replace("2026-12-07T00:00:00Z", "next monday"))
    (folder / "over.yaml").write_text(CAMPAIGN.replace("2026-12-05T00:00:00+01:00", "2020-01-01").replace(
        "2026-12-07T00:00:00Z", "2020-01-02"))  # fmt: skip
    default = folder / "default.yaml"
    default.write_text(default.read_text() + "starts: 2026-12-01T00:00:00Z\n")
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        code, output = lint(app)
    finally:
        dispose(app)
    assert code == 1
    assert "pricing-hero/backwards.yaml:3: ends: must be after starts (2026-12-04 23:00 UTC)" in output
    assert "pricing-hero/no-zone.yaml:3: ends: warning: has no time zone, so it is read as UTC" in output
    assert "pricing-hero/not-a-date.yaml:3: ends: must be a date-time such as 2026-12-24T18:00:00Z" in output
    assert (
        "pricing-hero/over.yaml:3: ends: warning: ended 2020-01-02 00:00 UTC, so it is no longer a candidate" in output
    )
    assert "pricing-hero/default.yaml" in output and "always a candidate; schedule another variant" in output


def test_a_named_audience_is_a_reusable_condition(tmp_path: Path, content_root: Path) -> None:
    variants = content_root / "content_variants"
    (variants / "_audiences.yaml").write_text("# Reusable conditions.\nnight-owls-de: {daypart: night, country: DE}\n")
    (variants / "pricing-testimonial" / "_block.yaml").unlink()  # a rules block for this test
    (variants / "pricing-hero" / "owls.yaml").write_text(
        "audience: night-owls-de\npriority: 30\neyebrow: Nachtschicht?\nheadline: Still up in Germany\n"
        "subhead: Plans in euros, no cookies.\ncta_label: See plans\ncta_href: '#plans'\n"
    )
    (variants / "pricing-cta" / "owls-desktop.yaml").write_text(
        "audience: night-owls-de\nwhen: {device: desktop}\npriority: 30\nheadline: Night owls on a desk\n"
        "body: Start your trial tonight.\ncta_label: Start\ncta_href: /signup\n"
    )
    from tests.conftest import zone_at

    night, day = zone_at({23, 0, 1}), zone_at({13, 14})
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        shown = blocks(get(app.test_client(), "/pricing", DESKTOP, ip=IP_DE, tz=night))
        assert shown["pricing-hero"]["variant"] == "owls" and shown["pricing-cta"]["variant"] == "owls-desktop"
        assert "late at night" in shown["pricing-hero"]["why"] and "Germany" in shown["pricing-hero"]["why"]
        assert (
            blocks(get(app.test_client(), "/pricing", DESKTOP, ip=IP_US, tz=night))["pricing-hero"]["variant"] != "owls"
        )
        assert (
            blocks(get(app.test_client(), "/pricing", DESKTOP, ip=IP_DE, tz=day))["pricing-hero"]["variant"] != "owls"
        )
        code, output = lint(app)
        assert code == 0, output
    finally:
        dispose(app)


def test_lint_resolves_audience_names(tmp_path: Path, content_root: Path) -> None:
    variants = content_root / "content_variants"
    audiences = "night-owls-de: {daypart: night, country: DE}\nbad one: {device: mobile}\n"
    audiences += "broken: {device: {$inn: [mobile]}}\n"
    (variants / "_audiences.yaml").write_text(audiences)
    (variants / "pricing-hero" / "owls.yaml").write_text(
        "audience: night-owl-de\neyebrow: x\nheadline: y\nsubhead: z\ncta_label: a\ncta_href: /signup\n"
    )
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root))
    try:
        code, output = lint(app)
    finally:
        dispose(app)
    assert code == 1
    assert ("content_variants/pricing-hero/owls.yaml:1: audience: 'night-owl-de' is not an audience in "
            "content_variants/_audiences.yaml (did you mean 'night-owls-de'?)") in output  # fmt: skip
    assert "content_variants/_audiences.yaml:2: bad one: an audience name may use letters" in output
    assert "content_variants/_audiences.yaml:3: broken.device.$inn: unknown operator '$inn'" in output
