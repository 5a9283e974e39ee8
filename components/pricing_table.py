"""Plans and prices."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="pricing_table",
    description="One to four plans with price, what is included and an action.",
    fields=(
        Field("heading", max_length=70),
        Field("note", "markdown", required=False, max_length=200),
        Field(
            "plans",
            "list",
            min_items=1,
            max_items=4,
            items=(
                Field("name", max_length=24),
                Field("price", max_length=14, help="As shown, with currency: '€19'."),
                Field("period", required=False, max_length=24),
                Field("summary", required=False, max_length=90),
                Field("features", "strings", min_items=1, max_items=8, max_length=60),
                Field("cta_label", max_length=28),
                Field("cta_href", "link"),
                Field("highlighted", "flag", required=False),
            ),
        ),
    ),
)
