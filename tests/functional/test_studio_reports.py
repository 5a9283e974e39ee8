"""The reports as pictures: every chart an SVG image with its numbers in a table beside it."""

from __future__ import annotations

import base64
import random
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

from bs4 import Tag
from flask import Flask

from app import store
from app.extensions import db
from app.store import models
from tests.conftest import dispose, make_app, soup
from tests.functional.test_studio_access import editor

START = datetime(2026, 11, 2)
#: rule -> (device it applies to, click rate when treated, in control, and the country where it hurts)
RULES = {
    "pricing-hero/phone": ("mobile", 0.30, 0.15, "IN"),
    "pricing-plans/eu-euro": (None, 0.30, 0.10, None),
}


def seed(app: Flask) -> None:
    """A week of records with known effects, written straight to the store."""
    rng = random.Random(11)
    visitors, exposures, decisions, events, conversions = [], [], [], [], []
    with app.app_context():
        for n in range(1200):
            at = START + timedelta(minutes=rng.randrange(7 * 24 * 60))
            vid, holdout = uuid.uuid4().hex, rng.random() < 0.3
            device, country = rng.choice(["mobile", "desktop"]), rng.choice(["US", "DE", "IN"])
            visitors.append({"id": vid, "created_at": at, "last_seen_at": at, "holdout": holdout})
            exposures.append({"id": n + 1, "visitor_id": vid, "path": "/pricing", "holdout": holdout,
                              "blocks": [], "created_at": at, "device": device, "country": country,
                              "daypart": "afternoon"})  # fmt: skip
            for rule, (only, treated, control_rate, hurts_in) in RULES.items() if not holdout else ():
                if only not in (None, device):
                    continue
                control = rng.random() < 0.3
                rate = control_rate if control else (0.02 if country == hurts_in else treated)
                block, variant = rule.split("/")
                decisions.append({"exposure_id": n + 1, "visitor_id": vid, "created_at": at, "path": "/pricing",
                                  "block": block, "variant": "default" if control else variant,
                                  "rule": None if control else rule, "test": rule, "control": control,
                                  "propensity": 0.3 if control else 0.7, "strategy": "rules"})  # fmt: skip
                if rng.random() < rate:
                    events.append({"event_id": str(uuid.uuid4()), "visitor_id": vid, "type": "click",
                                   "page": "/pricing", "block": block, "variant": variant, "target": "cta",
                                   "created_at": at + timedelta(minutes=1)})  # fmt: skip
            if rng.random() < (0.09 if holdout else 0.15):
                conversions.append({"visitor_id": vid, "goal": "signup", "path": "/signup", "holdout": holdout,
                                    "created_at": at + timedelta(minutes=4)})  # fmt: skip
        for model, rows in ((models.Visitor, visitors), (models.Exposure, exposures), (models.Decision, decisions),
                            (models.Event, events), (models.Conversion, conversions)):  # fmt: skip
            db.session.execute(model.__table__.insert(), rows)
        db.session.commit()
        for day in range(7):
            shift = 0.03 * day
            store.publish_allocation(
                "home-cta",
                {
                    "by": ["device"],
                    "segments": {},
                    "overall": {"default": 0.4 - shift, "phone": 0.3 + shift, "weekend": 0.3},
                },
                {},
                START + timedelta(days=day, hours=23),
            )
        bins = [[0.05, 0.04, 120], [0.2, 0.23, 40], [0.5, 0.46, 10]]
        for version, (auc, loss, status) in enumerate([(0.62, 0.40, "published"), (0.53, 0.42, "rejected")], 1):
            db.session.add(models.MLModel(
                kind="convert", version=version, status=status, trained_at=START + timedelta(days=2 * version),
                reason=None if status == "published" else "not better than the baseline: AUC 0.530 (need 0.55)",
                metrics={"n_train": 300, "n_validation": 120, "roc_auc": auc, "baseline_roc_auc": 0.5,
                         "log_loss": loss, "baseline_log_loss": 0.41, "calibration_error": 0.03, "calibration": bins},
            ))  # fmt: skip
        db.session.add(models.MLModel(kind="affinity", version=1, status="published", trained_at=START,
                                      metrics={"log_loss": 1.0, "baseline_log_loss": 1.1, "accuracy": 0.4,
                                               "baseline_accuracy": 0.33}))  # fmt: skip
        for day in range(7):
            began = START + timedelta(days=day, hours=3)
            db.session.add(models.JobRun(job="train", slot=day, owner="host:1", started_at=began,
                                         finished_at=began + timedelta(seconds=30 + day),
                                         status="failed" if day == 3 else "ok", detail="done"))  # fmt: skip
        db.session.commit()


def _svg(url: str) -> ElementTree.Element:
    prefix = "data:image/svg+xml;base64,"
    assert url.startswith(prefix)
    return ElementTree.fromstring(base64.b64decode(url.removeprefix(prefix)))


def _table_beside(figure: Tag) -> Tag:
    table = figure.find_next_sibling(class_="studio-table-wrap").select_one("table")
    assert table.select_one("caption").get_text(strip=True)
    assert table.select('thead th[scope="col"]') and table.select("tbody tr")
    return table


def test_every_chart_is_an_svg_image_with_its_table(tmp_path: Path) -> None:
    app = make_app(tmp_path, HOLDOUT_SHARE=0.3, RULE_CONTROL_SHARE=0.3, RULE_MIN_SAMPLE=20)
    try:
        seed(app)
        response = editor(app).get("/studio/reports?since=2026-11-01&until=2026-11-09")
    finally:
        dispose(app)
    assert response.status_code == 200
    page = soup(response)
    charts = {}
    for section in page.select("[data-report-section]"):
        charts[section["data-report-section"]] = section.select("figure[data-chart]")
    assert {name: len(found) for name, found in charts.items()} == {
        "holdout": 1, "rules": 1, "segments": 1, "learning": 1, "models": 3, "jobs": 1}  # fmt: skip
    for figure in page.select("figure[data-chart]"):
        image = figure.select_one("img")
        assert len(image["alt"]) > 40 and "table" in image["alt"]
        wide, narrow = _svg(image["src"]), _svg(figure.select_one("source")["srcset"])
        assert wide.tag.endswith("svg") and narrow.tag.endswith("svg")
        assert float(narrow.get("width").removesuffix("pt")) < float(wide.get("width").removesuffix("pt"))
        _table_beside(figure)
    text = page.get_text(" ", strip=True)
    assert "Over the period: personalized" in text and "lift +" in text
    rules = page.select_one('[data-report-section="rules"] table')
    assert {row.select_one("th").get_text(strip=True) for row in rules.select("tbody tr")} == set(RULES)
    hurting = page.select('[data-report-section="segments"] tbody tr[data-mark="hurts"]')
    assert [row.select("td")[0].get_text(strip=True) for row in hurting] == ["country=IN"]
    assert "pricing-hero/phone hurts in country=IN." in text
    models_text = page.select_one('[data-report-section="models"]').get_text(" ", strip=True)
    assert "not better than the baseline: AUC 0.530" in models_text
    assert "convert: v1 serves" in models_text and "0.620 (baseline 0.500)" in models_text
    assert page.select('[data-report-section="jobs"] tbody tr[data-mark="hurts"]')


def test_the_report_page_without_records_says_so(app: Flask) -> None:
    response = editor(app).get("/studio/reports")
    assert response.status_code == 200
    page = soup(response)
    assert not page.select("figure[data-chart]")
    text = page.get_text(" ", strip=True)
    assert "No visitor was first seen in this period." in text and "No model has been trained yet." in text
    assert editor(app).get("/studio/reports?since=2026-12-01&until=2026-11-01").status_code == 400
