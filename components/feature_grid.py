"""A grid of product features."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="feature_grid",
    description="A heading and two to six features, each a title and a short text.",
    fields=(
        Field("heading", max_length=70),
        Field("intro", "markdown", required=False, max_length=240),
        Field(
            "features",
            "list",
            min_items=2,
            max_items=6,
            items=(
                Field("title", max_length=40),
                Field("body", "markdown", max_length=180),
            ),
        ),
    ),
)
