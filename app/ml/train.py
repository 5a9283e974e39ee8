"""Training: time-based split, metrics against a naive baseline, publish only when better.

Three models, all scikit-learn logistic regressions on standardized features
(``app.ml.features``):

- ``convert``: will a visitor who has not signed up sign up within the window?
- ``churn``: will a returning visitor (page views spanning more than one visit,
  active in the last window) fail to come back within the window?
- ``affinity``: which topic is the next guide the visitor reads about?

Time-based split, with W = ``PREDICTION_WINDOW_DAYS`` and T = now: train on
features as of T-2W with labels from (T-2W, T-W]; validate on features as of
T-W with labels from (T-W, T]. The model is then refitted on nothing newer:
what was validated is what is published (scored on features as of now).

Publishing rule (the margin, documented): enough data (``MIN_TRAIN`` training
rows, ``MIN_VALIDATION`` validation rows, ``MIN_CLASS`` of each class among them)
and, on validation, ROC AUC at least ``AUC_MARGIN`` above the baseline's 0.5 and
a log loss no worse than the baseline's (binary: the margin is on ranking,
and the probabilities must be at least as good as the base rate's); log loss
at most ``LOSS_RATIO`` of the class-prior baseline and accuracy no worse than
always guessing the commonest topic (affinity). Otherwise the run is recorded as
rejected with its metrics and the last published version keeps serving; a
run that raises is recorded as failed, likewise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import func, select

from app.extensions import db
from app.ml.features import Summary, feature_names, summaries_as_of, vectorize
from app.store.models import Conversion, Exposure, MLModel

log = logging.getLogger(__name__)

KINDS = ("convert", "churn", "affinity")
MIN_TRAIN = 100
MIN_VALIDATION = 80
MIN_CLASS = 10
AUC_MARGIN = 0.05
LOSS_RATIO = 0.98
RANDOM_STATE = 0


@dataclass(frozen=True)
class SiteFacts:
    """What training needs to know about the content: topics and which pages are guides."""

    topics: tuple[str, ...]
    page_topics: Mapping[str, tuple[str, ...]]
    article_paths: frozenset[str]


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    y: np.ndarray


def _summaries(cutoff: datetime, site: SiteFacts) -> dict[str, Summary]:
    return summaries_as_of(cutoff, topics=site.topics, page_topics=site.page_topics,
                           article_paths=set(site.article_paths))  # fmt: skip


def _matrix(summaries: Mapping[str, Summary], ids: list[str], site: SiteFacts) -> np.ndarray:
    if not ids:
        return np.zeros((0, len(feature_names(site.topics))))
    return np.array([vectorize(summaries[i], site.topics) for i in ids], dtype=float)


def _window_ids(model: Any, start: datetime, end: datetime) -> set[str]:
    return set(db.session.scalars(
        select(model.visitor_id).where(model.created_at > start, model.created_at <= end).distinct()
    ))  # fmt: skip


def build_dataset(kind: str, cutoff: datetime, window: timedelta, site: SiteFacts) -> Dataset:
    """Features as of ``cutoff`` and labels from (cutoff, cutoff + window]."""
    summaries = _summaries(cutoff, site)
    end = cutoff + window
    if kind == "convert":
        ids = sorted(i for i, s in summaries.items() if not s.converted)
        converted = _window_ids(Conversion, cutoff, end)
        y = np.array([1 if i in converted else 0 for i in ids])
    elif kind == "churn":
        # Returning and recently active: views spread over more than one visit,
        # the latest within the last window.
        ids = sorted(
            i for i, s in summaries.items()
            if s.days_since_first - s.days_since_last > 1 / 48 and s.days_since_last <= window.days
        )  # fmt: skip
        came_back = _window_ids(Exposure, cutoff, end)
        y = np.array([0 if i in came_back else 1 for i in ids])
    elif kind == "affinity":
        first_topic: dict[str, str] = {}
        rows = db.session.execute(
            select(Exposure.visitor_id, Exposure.path, Exposure.created_at)
            .where(Exposure.created_at > cutoff, Exposure.created_at <= end,
                   Exposure.path.in_(sorted(site.article_paths)))
            .order_by(Exposure.created_at)
        )  # fmt: skip
        for visitor_id, path, _ in rows:
            topics = site.page_topics.get(path, ())
            if visitor_id in summaries and visitor_id not in first_topic and topics:
                first_topic[visitor_id] = topics[0]
        ids = sorted(first_topic)
        y = np.array([site.topics.index(first_topic[i]) for i in ids])
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    db.session.rollback()
    return Dataset(_matrix(summaries, ids, site), y)


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[list[float]]:
    """Per non-empty bin of predicted probability: [mean predicted, observed rate, rows]."""
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return [
        [float(p[index == b].mean()), float(y[index == b].mean()), int((index == b).sum())]
        for b in range(bins)
        if (index == b).any()
    ]


def _calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: mean |observed rate - predicted| over probability bins, weighted by rows."""
    return float(sum(rows * abs(observed - predicted) for predicted, observed, rows in calibration_bins(y, p, bins))
                 / max(len(y), 1))  # fmt: skip


def evaluate(kind: str, train: Dataset, val: Dataset, n_classes: int) -> tuple[Any, dict[str, Any], str | None]:
    """Fit on ``train``, measure on ``val`` against the naive baseline; (model, metrics, why not)."""
    metrics: dict[str, Any] = {"n_train": int(len(train.y)), "n_validation": int(len(val.y))}
    if len(train.y) < MIN_TRAIN or len(val.y) < MIN_VALIDATION:
        return None, metrics, (f"too little data: {len(train.y)} training and {len(val.y)} validation rows "
                               f"(need {MIN_TRAIN} and {MIN_VALIDATION})")  # fmt: skip
    classes_train = np.bincount(train.y, minlength=n_classes)
    classes_val = np.bincount(val.y, minlength=n_classes)
    metrics.update(train_classes=classes_train.tolist(), validation_classes=classes_val.tolist())
    if (classes_train > 0).sum() < 2 or (classes_val >= MIN_CLASS).sum() < 2:
        return None, metrics, f"too few examples of each outcome (need {MIN_CLASS} of at least two)"
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0, random_state=RANDOM_STATE))
    model.fit(train.x, train.y)
    labels = list(range(n_classes))
    prior = (classes_train + 1) / (classes_train.sum() + n_classes)  # smoothed base rates from training
    if n_classes == 2:
        p = model.predict_proba(val.x)[:, list(model.classes_).index(1)]
        auc = float(roc_auc_score(val.y, p))
        loss = float(log_loss(val.y, p, labels=labels))
        base_loss = float(log_loss(val.y, np.full(len(val.y), prior[1]), labels=labels))
        metrics.update(roc_auc=round(auc, 4), log_loss=round(loss, 4), baseline_roc_auc=0.5,
                       baseline_log_loss=round(base_loss, 4),
                       calibration_error=round(_calibration_error(val.y, p), 4),
                       calibration=[[round(a, 4), round(b, 4), n] for a, b, n in calibration_bins(val.y, p)],
                       positive_rate=round(float(val.y.mean()), 4))  # fmt: skip
        if auc < 0.5 + AUC_MARGIN or loss > base_loss:
            return model, metrics, (f"not better than the baseline: AUC {auc:.3f} (need {0.5 + AUC_MARGIN:.2f}), "
                                    f"log loss {loss:.4f} vs baseline {base_loss:.4f}")  # fmt: skip
        return model, metrics, None
    proba = np.zeros((len(val.y), n_classes))
    proba[:, model.classes_] = model.predict_proba(val.x)
    proba = np.clip(proba, 1e-6, 1)
    proba /= proba.sum(axis=1, keepdims=True)
    loss = float(log_loss(val.y, proba, labels=labels))
    base_loss = float(log_loss(val.y, np.tile(prior, (len(val.y), 1)), labels=labels))
    accuracy = float(accuracy_score(val.y, proba.argmax(axis=1)))
    base_accuracy = float((val.y == int(classes_train.argmax())).mean())
    metrics.update(log_loss=round(loss, 4), baseline_log_loss=round(base_loss, 4), accuracy=round(accuracy, 4),
                   baseline_accuracy=round(base_accuracy, 4))  # fmt: skip
    if loss > LOSS_RATIO * base_loss or accuracy < base_accuracy:
        return model, metrics, (f"not better than the baseline: log loss {loss:.4f} vs {base_loss:.4f}, "
                                f"accuracy {accuracy:.3f} vs {base_accuracy:.3f}")  # fmt: skip
    return model, metrics, None


def export_params(model: Any, kind: str, site: SiteFacts) -> dict[str, Any]:
    """Everything numpy scoring needs, as plain lists (no pickles in the database)."""
    scaler, regression = model.steps[0][1], model.steps[1][1]
    return {
        "features": feature_names(site.topics),
        "topics": list(site.topics),
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "coef": regression.coef_.tolist(),
        "intercept": regression.intercept_.tolist(),
        "classes": [int(c) for c in regression.classes_],
    }


def train_model(kind: str, now: datetime, window: timedelta, site: SiteFacts) -> MLModel:
    """Train, evaluate and record one model version; publish it only if it earns it."""
    train = build_dataset(kind, now - 2 * window, window, site)
    val = build_dataset(kind, now - window, window, site)
    n_classes = len(site.topics) if kind == "affinity" else 2
    model, metrics, reason = evaluate(kind, train, val, n_classes)
    version = (db.session.scalar(select(func.max(MLModel.version)).where(MLModel.kind == kind)) or 0) + 1
    row = MLModel(
        kind=kind,
        version=version,
        status="published" if reason is None else "rejected",
        reason=reason,
        trained_at=now,
        metrics=metrics,
        params=export_params(model, kind, site) if model is not None else None,
    )
    db.session.add(row)
    db.session.commit()  # one row: publishing a version is atomic
    log.info("model %s v%s %s: %s", kind, version, row.status, reason or metrics)
    return row


def train_all(now: datetime, window: timedelta, site: SiteFacts) -> dict[str, str]:
    """Train every kind; a failure in one is recorded and does not stop the others."""
    results: dict[str, str] = {}
    for kind in KINDS:
        try:
            row = train_model(kind, now, window, site)
            results[kind] = f"v{row.version} {row.status}" + (f" ({row.reason})" if row.reason else "")
        except Exception as exc:  # recorded as a failed run; the last good version keeps serving
            db.session.rollback()
            log.exception("training %s failed", kind)
            version = (db.session.scalar(select(func.max(MLModel.version)).where(MLModel.kind == kind)) or 0) + 1
            db.session.add(MLModel(kind=kind, version=version, status="failed", reason=str(exc)[:300],
                                   trained_at=now, metrics={}, params=None))  # fmt: skip
            db.session.commit()
            results[kind] = f"v{version} failed ({exc})"
    return results
