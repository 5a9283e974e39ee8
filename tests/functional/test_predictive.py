"""The predictive layer: publishing rules, versions, exclusions, stale scores, scores on the page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from app.clock import utcnow
from app.extensions import db
from app.jobs import _site_facts, run_job
from app.ml.features import summaries_as_of
from app.ml.serving import latest_published
from app.ml.synthetic import generate
from app.ml.train import SiteFacts, train_all
from app.store.models import MLModel, Score, Visitor
from tests.conftest import DESKTOP, blocks, csrf_token, dispose, get, make_app, zone_at

DAY = zone_at({13, 14, 15})
WINDOW = timedelta(days=2)


def export(client: FlaskClient) -> dict[str, Any]:
    return json.loads(client.get("/preferences/export", headers={"User-Agent": DESKTOP}).get_data(as_text=True))


def put_scores(app: Flask, visitor_id: str, *, age: timedelta = timedelta(0), **values: Any) -> None:
    with app.app_context():
        db.session.merge(Score(visitor_id=visitor_id, convert=values.get("convert"), churn=values.get("churn"),
                               affinity=values.get("affinity"), models={"convert": 3, "churn": 2, "affinity": 5},
                               scored_at=utcnow() - age))  # fmt: skip
        db.session.commit()


@pytest.fixture
def scored(client: FlaskClient) -> str:
    get(client, "/", DESKTOP, tz=DAY)
    return str(export(client)["visitor_id"])


def test_a_likely_converter_gets_the_direct_trial(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, convert=0.82)
    cta = blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-cta"]
    assert cta["variant"] == "likely-to-convert" and cta["layer"] == "predictive"
    assert "our model estimates a free trial may suit you now" in cta["why"]
    # Plain words: an estimate, from this site's visits; the model's name and version are the studio's.
    assert "an estimate from a model trained on visits to this site only" in cta["why"]
    assert "convert v3" not in cta["why"] and "Change your personalization settings" in cta["why"]


def test_a_likely_churner_sees_whats_new(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, churn=0.75)
    notice = blocks(get(client, "/", DESKTOP, tz=DAY))["home-announcement"]
    assert notice["variant"] == "whats-new"
    assert "our model estimates it may be a while before your next visit" in notice["why"]


def test_predicted_topic_orders_the_flexible_zone(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, affinity={"analytics": 0.1, "privacy": 0.2, "growth": 0.7})
    home = get(client, "/", DESKTOP, tz=DAY)
    shown = blocks(home)
    assert shown["home-growth"]["layer"] == "predictive"
    assert "our model expects growth to interest you next" in shown["home-growth"]["why"]
    order = [b for b in shown]
    assert order.index("home-growth") < order.index("home-features")


def test_stale_scores_are_ignored_and_not_explained(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, convert=0.9, churn=0.9, age=timedelta(hours=app.config["SCORE_MAX_AGE_HOURS"] + 1))
    for path in ("/", "/pricing"):
        shown = blocks(get(client, path, DESKTOP, tz=DAY))
        assert all(b["layer"] != "predictive" for b in shown.values())
        assert all("model" not in b["why"] for b in shown.values())


def test_predictive_off_ignores_scores(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, convert=0.9)
    client.post("/preferences", data={"csrf_token": csrf_token(client), "contextual": "on", "behavioral": "on"},
                headers={"User-Agent": DESKTOP})  # fmt: skip
    assert blocks(get(client, "/pricing", DESKTOP, tz=DAY))["pricing-cta"]["variant"] != "likely-to-convert"


def test_scores_are_exported_and_erased(app: Flask, client: FlaskClient, scored: str) -> None:
    put_scores(app, scored, convert=0.4)
    assert export(client)["scores"]["convert"] == 0.4
    client.post(
        "/preferences/delete",
        data={"csrf_token": csrf_token(client), "confirm": "yes"},
        headers={"User-Agent": DESKTOP},
    )
    with app.app_context():
        assert db.session.scalars(select(Score)).all() == []


NOW = datetime(2026, 11, 20, 12, 0)


@pytest.fixture
def trained(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, CLOCK=lambda: NOW)
    with app.app_context():
        generate(visitors=2500, now=NOW, seed=3)
    yield app
    dispose(app)


def _published(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {kind: m.version for kind, m in latest_published().items()}


def test_models_that_beat_the_baseline_are_published(trained: Flask) -> None:
    with trained.app_context():
        results = train_all(NOW, WINDOW, _site_facts())
        rows = db.session.scalars(select(MLModel)).all()
    assert all("published" in r for r in results.values()), results
    convert = next(r for r in rows if r.kind == "convert")
    assert convert.metrics["roc_auc"] >= 0.55 and convert.metrics["log_loss"] < convert.metrics["baseline_log_loss"]
    assert {"calibration_error", "n_train", "n_validation"} <= set(convert.metrics)
    assert convert.params is not None and len(convert.params["coef"][0]) == len(convert.params["features"])


def test_no_signal_no_model(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        with app.app_context():
            generate(visitors=2500, now=NOW, seed=4, signal=False)
            train_all(NOW, WINDOW, _site_facts())
            rows = {r.kind: r for r in db.session.scalars(select(MLModel))}
        assert rows["affinity"].status == "rejected" and "not better than the baseline" in rows["affinity"].reason
        assert _published(app).get("affinity") is None
    finally:
        dispose(app)


def test_too_little_data_is_rejected_with_the_reason(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        with app.app_context():
            generate(visitors=60, now=NOW, seed=5)
            train_all(NOW, WINDOW, _site_facts())
            rows = db.session.scalars(select(MLModel)).all()
        assert {r.status for r in rows} == {"rejected"}
        assert all("too little data" in (r.reason or "") for r in rows)
        assert _published(app) == {}
    finally:
        dispose(app)


def test_a_failed_run_keeps_the_last_good_version(trained: Flask) -> None:
    with trained.app_context():
        train_all(NOW, WINDOW, _site_facts())
        before = _published(trained)
        # The content lost a topic the history still has: the affinity run fails.
        site = _site_facts()
        broken = SiteFacts(topics=("analytics", "growth"), page_topics=site.page_topics,
                           article_paths=site.article_paths)  # fmt: skip
        results = train_all(NOW, WINDOW, broken)
        failed = db.session.scalars(select(MLModel).where(MLModel.status == "failed")).all()
    assert "failed" in results["affinity"] and [f.kind for f in failed] == ["affinity"]
    assert _published(trained)["affinity"] == before["affinity"]


def test_training_excludes_opted_out_gpc_and_erased_visitors(trained: Flask) -> None:
    with trained.app_context():
        site = _site_facts()
        everyone = summaries_as_of(NOW, topics=site.topics, page_topics=site.page_topics,
                                   article_paths=set(site.article_paths))  # fmt: skip
        ids = sorted(everyone)
        opted_out, gpc, erased = ids[0], ids[1], ids[2]
        db.session.execute(Visitor.__table__.update().where(Visitor.id == opted_out).values(predictive=False))
        db.session.execute(Visitor.__table__.update().where(Visitor.id == gpc).values(gpc=True))
        db.session.execute(delete(Visitor).where(Visitor.id == erased))
        db.session.commit()
        after = summaries_as_of(NOW, topics=site.topics, page_topics=site.page_topics,
                                article_paths=set(site.article_paths))  # fmt: skip
    assert {opted_out, gpc, erased}.isdisjoint(after)
    assert len(after) == len(everyone) - 3


def test_score_job_writes_scores_the_page_reads(trained: Flask) -> None:
    with trained.app_context():
        assert run_job("train", now=NOW) is not None
        result = run_job("score", now=NOW)
        assert result is not None and result["scored"] > 1000
        score = db.session.scalars(select(Score)).first()
        assert score is not None and score.models == _published(trained)
        assert 0 <= (score.convert or 0) <= 1 and abs(sum((score.affinity or {}).values()) - 1) < 0.01


def test_online_scoring_for_a_visitor_without_a_batch_score(trained: Flask) -> None:
    with trained.app_context():
        train_all(NOW, WINDOW, _site_facts())
    client = trained.test_client()
    get(client, "/", DESKTOP, tz=DAY)
    # Predictive only: the model, not the reading history, orders the page.
    client.post("/preferences", data={"csrf_token": csrf_token(client), "contextual": "on", "predictive": "on"},
                headers={"User-Agent": DESKTOP})  # fmt: skip
    for path in ("/guides/experiments-for-small-teams", "/guides/retention-before-acquisition") * 2:
        get(client, path, DESKTOP, tz=DAY)
    assert export(client)["scores"] is None  # no batch score yet
    growth = blocks(get(client, "/", DESKTOP, tz=DAY))["home-growth"]
    assert growth["layer"] == "predictive" and "our model expects" in growth["why"]


def test_numpy_scoring_matches_scikit_learn(trained: Flask) -> None:
    import numpy as np

    from app.ml.serving import Published
    from app.ml.train import build_dataset, evaluate, export_params

    with trained.app_context():
        site = _site_facts()
        for kind, classes in (("convert", 2), ("affinity", len(site.topics))):
            train = build_dataset(kind, NOW - 2 * WINDOW, WINDOW, site)
            val = build_dataset(kind, NOW - WINDOW, WINDOW, site)
            model, _, _ = evaluate(kind, train, val, classes)
            row = MLModel(kind=kind, version=1, status="published", trained_at=NOW, metrics={},
                          params=export_params(model, kind, site))  # fmt: skip
            ours = Published.from_row(row).score(val.x)
            theirs = model.predict_proba(val.x)
            expected = theirs[:, 1] if kind == "convert" else theirs
            assert np.allclose(ours, expected, atol=1e-9)
            # The one-row path used online gives the same numbers.
            published = Published.from_row(row)
            for i in range(min(20, len(val.x))):
                assert np.allclose(published.score_one(val.x[i].tolist()), expected[i], atol=1e-9)


def test_operators_can_list_model_versions(trained: Flask) -> None:
    runner = trained.test_cli_runner()
    assert "no model trained yet" in runner.invoke(args=["jobs", "models"]).output
    with trained.app_context():
        train_all(NOW, WINDOW, _site_facts())
        train_all(NOW, WINDOW, _site_facts())
    output = runner.invoke(args=["jobs", "models"]).output
    assert "convert   v1   published" in output and "convert   v2   serving" in output
    assert "roc_auc" in output
