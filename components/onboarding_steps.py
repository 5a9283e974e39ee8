"""Numbered steps that show how getting started works."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="onboarding_steps",
    description="A heading and two to five numbered steps.",
    fields=(
        Field("heading", max_length=70),
        Field(
            "steps",
            "list",
            min_items=2,
            max_items=5,
            items=(
                Field("title", max_length=48),
                Field("body", "markdown", max_length=180),
            ),
        ),
    ),
)
