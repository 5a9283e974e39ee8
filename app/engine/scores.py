"""From model outputs to the ``score.*`` attributes the engine reads (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.engine.model import Scores

#: The affinity model names a next topic only when it is at least this sure.
TOP_TOPIC_MIN = 0.5


def build_scores(values: Mapping[str, Any], versions: Mapping[str, int]) -> Scores:
    """``values``: convert, churn (floats) and affinity (topic -> p), any of them None.

    ``versions``: kind -> model version, shown in explanations ("convert v3").
    """
    attributes: dict[str, Any] = {}
    for kind in ("convert", "churn"):
        if values.get(kind) is not None:
            attributes[kind] = float(values[kind])
    affinity = values.get("affinity")
    if affinity:
        attributes["affinity"] = dict(affinity)
        topic, p = max(affinity.items(), key=lambda kv: (kv[1], kv[0]))
        if p >= TOP_TOPIC_MIN:
            attributes["top_topic"] = topic
    used = {kind for kind in ("convert", "churn") if kind in attributes} | ({"affinity"} if affinity else set())
    models = {kind: f"{kind} v{versions[kind]}" for kind in sorted(used) if kind in versions}
    if not attributes:
        return Scores()
    attributes["model"] = models
    return Scores(attributes=attributes, models=models)
