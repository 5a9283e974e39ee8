"""A customer quote."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="testimonial",
    description="A quote, who said it and their role.",
    fields=(
        Field("quote", max_length=280),
        Field("name", max_length=40),
        Field("role", max_length=60),
    ),
)
