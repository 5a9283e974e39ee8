"""A one-line announcement bar inside the page (not the locked navigation)."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="announcement",
    description="A short notice with an optional link.",
    fields=(
        Field("text", "markdown", max_length=160),
        Field("link_label", required=False, max_length=28),
        Field("link_href", "link", required=False),
    ),
)
