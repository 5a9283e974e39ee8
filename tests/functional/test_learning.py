"""The learning loop through the app: records, control groups, the learn job, pauses and the report."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.store.models import Decision, Exposure
from tests.conftest import DESKTOP, IPHONE, blocks, dispose, get, make_app, zone_at

DAY = zone_at({13, 14, 15})


def click(client, page: str, block: str, variant: str) -> None:  # type: ignore[no-untyped-def]
    event = {"id": str(uuid.uuid4()), "type": "click", "page": page, "block": block, "variant": variant,
             "target": "cta"}  # fmt: skip
    response = client.post(
        "/events",
        data=json.dumps({"events": [event]}),
        headers={"User-Agent": DESKTOP, "Content-Type": "application/json", "Origin": "http://localhost"},
    )
    assert response.status_code == 200, response.get_json()


def run_job(app: Flask, name: str) -> str:
    result = app.test_cli_runner().invoke(args=["jobs", "run", name, "--force"])
    assert result.exit_code == 0, result.output
    return result.output


def report(app: Flask, *args: str) -> dict:  # type: ignore[type-arg]
    result = app.test_cli_runner().invoke(args=["report", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_rules_control_group_sees_the_fallback_and_every_block_is_recorded(tmp_path: Path) -> None:
    app = make_app(tmp_path, RULE_CONTROL_SHARE=0.3)
    try:
        arms = Counter()
        for _ in range(200):
            client = app.test_client()
            hero = blocks(get(client, "/pricing", IPHONE, tz=DAY))["pricing-hero"]
            arms[hero["variant"]] += 1
            if hero["variant"] == "default":
                assert hero["layer"] == "default" and hero["why"] == ""  # no personalized reason claimed
            else:
                assert hero["variant"] == "phone" and "phone" in hero["why"]
        assert 0.2 < arms["default"] / 200 < 0.4
        with app.app_context():
            rows = db.session.scalars(select(Decision).where(Decision.block == "pricing-hero")).all()
            exposure = db.session.scalars(select(Exposure)).first()
        assert len(rows) == 200 and {r.test for r in rows} == {"pricing-hero/phone"}
        assert all(r.propensity == (0.3 if r.control else 0.7) for r in rows)
        assert all((r.variant == "default") == r.control for r in rows)
        assert exposure.device == "mobile" and exposure.layers == "contextual,behavioral,predictive"
        hero_record = next(b for b in exposure.blocks if b["block"] == "pricing-hero")
        assert {"test", "control", "p", "strategy"} <= set(hero_record)
        # The report's rule line: both arms counted, the split checked against the share.
        found = next(r for r in report(app)["rules"] if r["rule"] == "pricing-hero/phone")
        assert found["treated"]["visitors"] + found["control"]["visitors"] == 200
        assert found["srm"] is False and found["status"] == "collecting"
    finally:
        dispose(app)


def test_the_learn_job_shifts_a_segments_traffic_to_what_works_there(tmp_path: Path) -> None:
    """Phone visitors click the "phone" call to action and nothing else: the allocation follows."""
    # A weekday night where the visitors are (New York, from their address): the default, "phone" and
    # "late-night" are the candidates, whatever the time of the test run.
    night, started = datetime(2026, 11, 25, 4, 30), time.monotonic()  # UTC: Tuesday 23:30 in New York
    app = make_app(tmp_path, CLOCK=lambda: night + timedelta(seconds=time.monotonic() - started))
    try:
        first = Counter()
        for _ in range(240):
            client = app.test_client()
            cta = blocks(get(client, "/", IPHONE))["home-cta"]
            first[cta["variant"]] += 1
            assert "comparing versions" in cta["why"] and "on a phone" in cta["why"]
            if cta["variant"] == "phone":
                click(client, "/", "home-cta", "phone")
        assert len(first) >= 3  # no allocation yet: every eligible candidate is drawn
        assert "home-cta" in run_job(app, "learn")
        shown = Counter(blocks(get(app.test_client(), "/", IPHONE))["home-cta"]["variant"] for _ in range(200))
        assert shown["phone"] / 200 > 0.6
        learned = next(b for b in report(app)["learning"] if b["block"] == "home-cta")
        mobile = next(s for s in learned["segments"] if s["segment"] == "device=mobile")
        phone = next(c for c in mobile["candidates"] if c["variant"] == "phone")
        assert phone["share"] == max(c["share"] for c in mobile["candidates"])
        assert all(c["share"] >= 0.05 - 1e-9 for c in mobile["candidates"])  # the exploration floor
        assert mobile["gain"][0] > 0  # over the default, which nobody clicked
        with app.app_context():
            versions = {r.allocation for r in db.session.scalars(select(Decision).where(Decision.block == "home-cta"))}
        assert versions == {0, 1}
        # Off-policy: the favourite per segment beats always-the-default, on the logged propensities.
        value = report(app, "policy-value")
        block = next(b for b in value["learning"] if b["block"] == "home-cta")
        favourite = {e["estimator"]: e for e in block["policies"]["learned favourite per segment"]}
        default = {e["estimator"]: e for e in block["policies"]["always the default"]}
        # Phone visitors clicked the phone CTA before the learn job ran (not after): about half its draws paid off.
        assert favourite["snips"]["value"] is not None and favourite["snips"]["value"] > 0.3
        low = favourite["snips"]["low"]
        # The default was drawn too rarely after learning to say much: the estimate says so, or is lower.
        assert (
            default["snips"]["value"] is None
            and "too little data" in default["snips"]["reason"]
            or (default["snips"]["value"] < low)
        )
    finally:
        dispose(app)


def test_a_rule_that_hurts_is_paused_until_its_file_changes(tmp_path: Path, content_root: Path) -> None:
    app = make_app(tmp_path, CONTENT_ROOT=str(content_root), RULE_CONTROL_SHARE=0.5, RULE_MIN_SAMPLE=40)
    rule = "pricing-hero/phone"
    try:
        for _ in range(160):
            client = app.test_client()
            hero = blocks(get(client, "/pricing", IPHONE, tz=DAY))["pricing-hero"]
            # Its control group clicks the hero; those who get the rule never do.
            if hero["variant"] == "default":
                click(client, "/pricing", "pricing-hero", "default")
        assert rule in run_job(app, "learn")
        found = next(r for r in report(app)["rules"] if r["rule"] == rule)
        assert found["status"] == "paused" and found["lift"]["high"] < 0
        assert "below zero" in found["paused"]["reason"]
        # Paused: every phone visitor gets the next candidate now, and lint says why.
        app.extensions["tessera.experiments"].invalidate()
        shown = {
            blocks(get(app.test_client(), "/pricing", IPHONE, tz=DAY))["pricing-hero"]["variant"] for _ in range(20)
        }
        assert shown == {"default"}
        lint = app.test_cli_runner().invoke(args=["content", "lint"])
        assert "content_variants/pricing-hero/phone.yaml: paused since" in lint.output and lint.exit_code == 0
        # An editor changes the file: the rule serves again (its treated arm sees it).
        path = content_root / "content_variants" / "pricing-hero" / "phone.yaml"
        path.write_text(path.read_text() + "\n# Reworded after the pause.\n")
        app.extensions["tessera.content"].reload()
        shown = {
            blocks(get(app.test_client(), "/pricing", IPHONE, tz=DAY))["pricing-hero"]["variant"] for _ in range(20)
        }
        assert shown == {"phone", "default"}
        assert "paused since" not in app.test_cli_runner().invoke(args=["content", "lint"]).output
    finally:
        dispose(app)
