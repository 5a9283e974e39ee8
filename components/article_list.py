"""A list of links to articles."""

from __future__ import annotations

from components import Component, Field

COMPONENT = Component(
    name="article_list",
    description="A heading and one to six linked articles with a summary.",
    fields=(
        Field("heading", max_length=70),
        Field(
            "articles",
            "list",
            min_items=1,
            max_items=6,
            items=(
                Field("title", max_length=80),
                Field("href", "link"),
                Field("summary", max_length=160),
            ),
        ),
    ),
)
