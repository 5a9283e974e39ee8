"""Scoring with published models: numpy over stored coefficients, never scikit-learn per row.

Batch scoring (the ``score`` job) writes every active visitor's scores to the
``scores`` table; a request reads them with the profile. A visitor without a
fresh batch score can be scored online from the same coefficients (a dot
product over a dozen features).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select

from app.extensions import db
from app.ml.features import Summary, summaries_as_of, vectorize
from app.store.models import MLModel, Score
from app.store.queries import _upsert_replace


@dataclass(frozen=True, eq=False)
class Published:
    """A published model version, ready to score."""

    kind: str
    version: int
    topics: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: tuple[int, ...]

    @classmethod
    def from_row(cls, row: MLModel) -> Published:
        p = row.params or {}
        return cls(
            kind=row.kind,
            version=row.version,
            topics=tuple(p["topics"]),
            mean=np.asarray(p["mean"], dtype=float),
            scale=np.asarray(p["scale"], dtype=float),
            coef=np.asarray(p["coef"], dtype=float),
            intercept=np.asarray(p["intercept"], dtype=float),
            classes=tuple(p["classes"]),
        )

    def score_one(self, x: list[float]) -> float | list[float]:
        """One row, in plain Python: for a dozen features this beats numpy's call overhead."""
        scaled = [(v - m) / s for v, m, s in zip(x, self._mean, self._scale, strict=True)]
        z = [
            sum(c * v for c, v in zip(row, scaled, strict=True)) + b
            for row, b in zip(self._coef, self._intercept, strict=True)
        ]
        if self.kind != "affinity":
            return 1.0 / (1.0 + math.exp(-z[0]))
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        out = [0.0] * len(self.topics)
        for cls, v in zip(self.classes, e, strict=True):
            out[cls] = v / total
        return out

    @property
    def _mean(self) -> list[float]:
        return self._lists[0]

    @property
    def _scale(self) -> list[float]:
        return self._lists[1]

    @property
    def _coef(self) -> list[list[float]]:
        return self._lists[2]

    @property
    def _intercept(self) -> list[float]:
        return self._lists[3]

    @functools.cached_property
    def _lists(self) -> tuple[Any, Any, Any, Any]:
        return (self.mean.tolist(), self.scale.tolist(), self.coef.tolist(), self.intercept.tolist())

    def score(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for a matrix of feature rows: (n,) for binary, (n, topics) for affinity."""
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.kind != "affinity":
            return 1.0 / (1.0 + np.exp(-z[:, 0]))
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        e /= e.sum(axis=1, keepdims=True)
        out = np.zeros((len(x), len(self.topics)))
        out[:, list(self.classes)] = e
        return out


def latest_published() -> dict[str, Published]:
    """The newest published version of each kind (one query)."""
    newest = (
        select(MLModel.kind, func.max(MLModel.version).label("version"))
        .where(MLModel.status == "published")
        .group_by(MLModel.kind)
        .subquery()
    )
    rows = db.session.scalars(
        select(MLModel).join(newest, (MLModel.kind == newest.c.kind) & (MLModel.version == newest.c.version))
    ).all()
    models = {row.kind: Published.from_row(row) for row in rows}
    db.session.rollback()
    return models


class ModelCache:
    """Published models for online scoring, refreshed at most every ``ttl`` seconds.

    Every process reads the same ``ml_models`` table, so all workers and hosts
    converge on the same versions within ``ttl``.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._models: dict[str, Published] = {}
        self._loaded = -1e9
        self._lock = threading.Lock()

    def get(self) -> dict[str, Published]:
        if time.monotonic() - self._loaded > self.ttl:
            with self._lock:
                if time.monotonic() - self._loaded > self.ttl:
                    self._models = latest_published()
                    self._loaded = time.monotonic()
        return self._models

    def invalidate(self) -> None:
        self._loaded = -1e9


def score_rows(models: Mapping[str, Published], x: np.ndarray) -> list[dict[str, Any]]:
    """Scores for each feature row, as the ``scores`` table holds them."""
    out: list[dict[str, Any]] = [{"convert": None, "churn": None, "affinity": None} for _ in range(len(x))]
    for kind in ("convert", "churn"):
        model = models.get(kind)
        if model is not None and len(x):
            for row, p in zip(out, model.score(x), strict=True):
                row[kind] = round(float(p), 4)
    affinity = models.get("affinity")
    if affinity is not None and len(x):
        for row, p in zip(out, affinity.score(x), strict=True):
            row["affinity"] = {t: round(float(v), 4) for t, v in zip(affinity.topics, p, strict=True)}
    return out


def score_summary(models: Mapping[str, Published], summary: Summary, topics: tuple[str, ...]) -> dict[str, Any]:
    """Online: one visitor's scores from their profile summary (same numbers as the batch path)."""
    x = vectorize(summary, topics)
    out: dict[str, Any] = {"convert": None, "churn": None, "affinity": None}
    for kind in ("convert", "churn"):
        if kind in models:
            out[kind] = round(float(models[kind].score_one(x)), 4)  # type: ignore[arg-type]
    if "affinity" in models:
        model = models["affinity"]
        p = model.score_one(x)
        out["affinity"] = {t: round(v, 4) for t, v in zip(model.topics, p, strict=True)}  # type: ignore[arg-type]
    return out


def batch_score(now: datetime, *, topics: tuple[str, ...], page_topics: Mapping[str, tuple[str, ...]],
                article_paths: set[str], active_days: int, chunk: int = 2000) -> dict[str, int]:  # fmt: skip
    """Score every eligible visitor seen in the last ``active_days`` into ``scores``."""
    models = latest_published()
    if not models:
        return {"scored": 0, "models": 0}
    summaries = summaries_as_of(now + timedelta(seconds=1), topics=topics, page_topics=page_topics,
                                article_paths=article_paths,
                                active_since=now - timedelta(days=active_days))  # fmt: skip
    ids = sorted(summaries)
    versions = {kind: m.version for kind, m in models.items()}
    statement = _upsert_replace(Score, ("visitor_id",), ("convert", "churn", "affinity", "models", "scored_at"))
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        x = np.asarray([vectorize(summaries[i], topics) for i in part], dtype=float)
        rows = [
            {"visitor_id": i, **s, "models": versions, "scored_at": now}
            for i, s in zip(part, score_rows(models, x), strict=True)
        ]
        db.session.connection().execute(statement, rows)
        db.session.commit()
    return {"scored": len(ids), "models": len(models)}
