"""Tessera's decision core.

Pure Python over plain data: no Flask, SQLAlchemy, APScheduler or I/O. The web
glue builds the inputs, calls :func:`decide` and renders the result.
"""

from __future__ import annotations

from app.engine.explain import Explanation, explain
from app.engine.model import (
    Catalog,
    Context,
    PageDecision,
    PageSpec,
    Preferences,
    Profile,
    Scores,
)
from app.engine.resolver import decide

__all__ = [
    "Catalog",
    "Context",
    "Explanation",
    "PageDecision",
    "PageSpec",
    "Preferences",
    "Profile",
    "Scores",
    "decide",
    "explain",
]
