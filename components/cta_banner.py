"""A call-to-action banner."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="cta_banner",
    description="A headline, a sentence and one action.",
    fields=(
        Field("headline", max_length=70),
        Field("body", "markdown", required=False, max_length=200),
        Field("cta_label", max_length=28),
        Field("cta_href", "link"),
    ),
)
