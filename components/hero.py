"""The hero: the first thing on a page, a headline and one main action."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="hero",
    description="Page opener: eyebrow, headline, supporting line and up to two actions.",
    fields=(
        Field("eyebrow", required=False, max_length=40),
        Field("headline", max_length=80),
        Field("subhead", "markdown", max_length=220),
        Field("cta_label", max_length=28),
        Field("cta_href", "link"),
        Field("secondary_label", required=False, max_length=28),
        Field("secondary_href", "link", required=False),
    ),
)
