"""The documented attributes that variant conditions may use.

Each attribute belongs to one layer. A condition's layer is the highest layer
among the attributes it names, and a layer the visitor switched off makes its
attributes invisible. The README's attribute table is generated from (and
tested against) this module, so editors and the lint command see one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Layer = Literal["default", "contextual", "behavioral", "predictive"]

#: Layers in rising order of how much they know about the visitor.
LAYERS: tuple[Layer, ...] = ("contextual", "behavioral", "predictive")

DAYPARTS = ("morning", "afternoon", "evening", "night")
DEVICES = ("mobile", "tablet", "desktop", "other")


@dataclass(frozen=True)
class Attribute:
    """A condition attribute: its layer, value kind and allowed values."""

    name: str
    layer: Layer
    kind: Literal["string", "number", "boolean", "array"]
    description: str
    values: tuple[str, ...] = ()
    #: The value (or, for a wildcard, the last path segment) is one of the site's topics.
    topical: bool = False
    #: Another attribute that backs this one up in explanations ("{value}" is filled in).
    evidence: str = ""


ATTRIBUTES: dict[str, Attribute] = {
    a.name: a
    for a in (
        Attribute(
            "device",
            "contextual",
            "string",
            "Device class from the User-Agent and Client Hints (bots always get the default page).",
            DEVICES,
        ),
        Attribute(
            "daypart",
            "contextual",
            "string",
            "Part of the visitor's local day: morning 05-12, afternoon 12-17, evening 17-22, night 22-05.",
            DAYPARTS,
        ),
        Attribute("hour", "contextual", "number", "The visitor's local hour, 0-23."),
        Attribute("weekend", "contextual", "boolean", "Saturday or Sunday, visitor's local time."),
        Attribute(
            "country",
            "contextual",
            "string",
            "ISO 3166 two-letter country code, e.g. DE (absent when unknown).",
        ),
        Attribute(
            "language",
            "contextual",
            "string",
            "Primary language the browser asks for, lower case, e.g. de (absent when not sent).",
        ),
        Attribute(
            "referrer",
            "contextual",
            "string",
            "Host name of the external site the visitor came from (absent when direct or internal).",
        ),
        Attribute(
            "returning",
            "contextual",
            "boolean",
            "True when the visitor has been here on an earlier visit (30 minutes apart).",
        ),
        # Behavioral: present only once the profile holds enough evidence
        # (TESSERA_MIN_EVIDENCE page views); until then behavioral rules never fire.
        Attribute("behavior.visits", "behavioral", "number", "Visits so far, this one included."),
        Attribute("behavior.pages_viewed", "behavioral", "number", "Pages viewed before this one."),
        Attribute("behavior.pricing_views", "behavioral", "number", "Times the pricing page was viewed before."),
        Attribute("behavior.articles_read", "behavioral", "number", "Guide pages viewed before."),
        Attribute(
            "behavior.top_topic",
            "behavioral",
            "string",
            "The topic the visitor clearly engages with most (absent when two topics are close).",
            topical=True,
            evidence="behavior.topic_articles.{value}",
        ),
        Attribute(
            "behavior.topic_articles.*",
            "behavioral",
            "number",
            "Guides read on a topic, e.g. behavior.topic_articles.privacy.",
            topical=True,
        ),
        Attribute(
            "behavior.affinity.*",
            "behavioral",
            "number",
            "Share of the visitor's recent interest in a topic, 0-1, decaying with a 7-day half-life.",
            topical=True,
        ),
        Attribute("behavior.scroll_depth", "behavioral", "number", "Typical scroll depth, percent (0-100)."),
        Attribute("behavior.dwell_seconds", "behavioral", "number", "Typical visible time on a page, seconds."),
        Attribute("behavior.clicks", "behavioral", "number", "Clicks on blocks and their calls to action."),
        Attribute("behavior.converted", "behavioral", "boolean", "True once the visitor has signed up."),
        Attribute("behavior.last_article", "behavioral", "string", "Path of the guide read most recently."),
        Attribute("behavior.recent_pages", "behavioral", "array", "The last 10 pages viewed, newest first."),
        Attribute(
            "behavior.days_since_last_visit",
            "behavioral",
            "number",
            "Days between the previous visit and this one (absent on a first visit).",
        ),
        # Predictive: scores from the published models; absent when there is no
        # fresh score (older than TESSERA_SCORE_MAX_AGE_HOURS counts as none).
        Attribute(
            "score.convert",
            "predictive",
            "number",
            "Estimated probability (0-1) that the visitor signs up within the prediction window.",
            evidence="score.model.convert",
        ),
        Attribute(
            "score.churn",
            "predictive",
            "number",
            "Estimated probability (0-1) that a returning visitor does not come back within the window.",
            evidence="score.model.churn",
        ),
        Attribute(
            "score.affinity.*",
            "predictive",
            "number",
            "Estimated probability (0-1) that the visitor's next guide is about a topic, e.g. score.affinity.growth.",
            topical=True,
            evidence="score.model.affinity",
        ),
        Attribute(
            "score.top_topic",
            "predictive",
            "string",
            "The topic the affinity model expects next, when it gives it at least 0.5.",
            topical=True,
            evidence="score.model.affinity",
        ),
    )
}


def lookup(path: str) -> Attribute | None:
    """The documented attribute for a path, matching ``name.*`` wildcards."""
    attribute = ATTRIBUTES.get(path)
    if attribute is None and "." in path:
        attribute = ATTRIBUTES.get(path.rsplit(".", 1)[0] + ".*")
    return attribute


def layer_of(path: str) -> Layer | None:
    """Return the layer of an attribute path, or None if it is not documented."""
    attribute = lookup(path)
    return attribute.layer if attribute else None


def attribute_kinds() -> dict[str, str]:
    """Attribute name to value kind, as the condition checker expects."""
    return {name: a.kind for name, a in ATTRIBUTES.items()}


def attribute_table() -> str:
    """The README's attribute table, generated here so the two cannot drift."""
    rows = ["| attribute | layer | kind | meaning |", "|---|---|---|---|"]
    for a in ATTRIBUTES.values():
        values = f" Values: {', '.join(a.values)}." if a.values else ""
        rows.append(f"| `{a.name}` | {a.layer} | {a.kind} | {a.description}{values} |")
    return "\n".join(rows)
