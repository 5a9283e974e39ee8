"""Preview: the engine called with a hand-built visitor, and the real page rendered from its decision.

Nothing here decides: the inputs become a ``Context``, a ``Profile`` (through
``build_profile``, so the same data-quality rules apply), ``Scores`` (through
``build_scores``) and ``Preferences``, and :func:`~app.engine.decide` does the
rest, with the live experiments (paused rules, learning allocations). The
trace then says, for every candidate, why it is or is not on the page.

The page's HTML is what a visitor with that decision gets, rendered as if at
the page's own path (the locked navigation depends on it), with the studio's
overlay put around it: a bar before the site header, a label before every
block and the full trace after the main content. The navigation, the blocks
and the footer are left exactly as rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app, render_template, url_for

from app.content import Page, Site
from app.engine import Context, PageDecision, Preferences, Profile, Scores, decide
from app.engine.model import Catalog, Experiments
from app.engine.profile import ProfileFacts, build_profile, growth
from app.engine.scores import build_scores
from app.engine.trace import BlockTrace, render_condition, trace_page
from app.studio.inputs import PreviewInputs
from app.web.context import daypart
from app.web.pages import COMPANY_SIZES
from app.web.render import render_decision


@dataclass(frozen=True)
class Preview:
    """A decision with everything it was made from, and its trace."""

    inputs: PreviewInputs
    page: Page
    context: Context
    profile: Profile
    scores: Scores
    prefs: Preferences
    experiments: Experiments
    decision: PageDecision
    traces: tuple[BlockTrace, ...]
    #: Page views the persona adds up to, and how many the behavioral layer needs.
    evidence: tuple[int, int]

    def trace(self, block: str) -> BlockTrace | None:
        return next((t for t in self.traces if t.block == block), None)

    def why_not(self) -> str | None:
        """The answer to the "why didn't it show?" question the inputs ask, if they ask one."""
        if not self.inputs.why:
            return None
        block, variant = self.inputs.why.split("/", 1)
        trace = self.trace(block)
        if trace is None:
            return f"The block {block} is not on {self.page.path}."
        return trace.why_not(variant)


def build_context(inputs: PreviewInputs) -> Context:
    """The contextual layer from the chosen moment in the chosen zone."""
    local = inputs.local
    visitor = inputs.visitor
    if inputs.device == "bot":
        return Context(path=inputs.page, visitor_id=None, device="bot", now=inputs.now_utc)
    return Context(
        path=inputs.page,
        visitor_id=visitor,
        device=inputs.device,
        daypart=daypart(local.hour),
        hour=local.hour,
        weekend=local.weekday() >= 5,
        timezone=inputs.zone,
        timezone_source="studio",
        country=inputs.country or None,
        language=inputs.language or None,
        referrer=inputs.referrer or None,
        returning=inputs.returning,
        now=inputs.now_utc,
    )


def persona_facts(inputs: PreviewInputs) -> ProfileFacts:
    """The persona as the store would hold it: page views, and topic interest on the store's growing scale."""
    persona = inputs.persona
    interests = {}
    if persona.topic and persona.guides:
        # Read just now: the decayed interest is the number of guides read.
        interests[persona.topic] = (persona.guides * growth(inputs.now_utc), persona.guides)
    return ProfileFacts(
        visits=2 if inputs.returning else 1,
        page_views=persona.guides + persona.pricing_views,
        pricing_views=persona.pricing_views,
        articles_read=persona.guides,
        converted=persona.converted,
        interests=interests,
    )


def build_preview_scores(inputs: PreviewInputs, versions: dict[str, int]) -> Scores:
    scores = inputs.scores
    values: dict[str, Any] = {"convert": scores.convert, "churn": scores.churn}
    if scores.next_topic:
        values["affinity"] = {scores.next_topic: scores.next_topic_p}
    return build_scores(values, versions)


#: The arms' catalogs of the newest content snapshots: (catalog, arm) -> the catalog as that arm sees it.
_ARMS: dict[tuple[int, str], tuple[Catalog, Catalog]] = {}


def with_arm(catalog: Catalog, arm: str) -> Catalog:
    """The catalog as one arm of every rule's test sees it: everyone treated, or everyone in control.

    A control share of 0 puts no one in a control group and a share of 1
    puts everyone there; "visitor" keeps the real shares (a sticky hash of
    the visitor id decides, as for a real visitor). Built once per snapshot.
    """
    if arm == "visitor":
        return catalog
    cached = _ARMS.get((id(catalog), arm))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    share = 0.0 if arm == "treated" else 1.0
    conditional = {block: tuple(replace(v, control=share) for v in variants)
                   for block, variants in catalog.conditional.items()}  # fmt: skip
    made = replace(catalog, conditional=conditional)
    if len(_ARMS) >= 8:
        _ARMS.clear()
    _ARMS[(id(catalog), arm)] = (catalog, made)
    return made


def run_preview(
    site: Site,
    inputs: PreviewInputs,
    *,
    experiments: Experiments,
    holdout_share: float,
    min_evidence: int,
    versions: dict[str, int],
) -> Preview:
    """Decide the page for the inputs, with the live experiments, and trace it."""
    page = site.pages[inputs.page]
    context = build_context(inputs)
    facts = persona_facts(inputs)
    profile = build_profile(facts, inputs.now_utc, min_evidence=min_evidence)
    scores = build_preview_scores(inputs, versions)
    prefs = Preferences(*inputs.layers)
    decision = decide(
        page.spec,
        with_arm(site.catalog, inputs.arm),
        context,
        profile,
        scores,
        prefs,
        holdout_share=holdout_share,
        holdout=inputs.holdout,
        experiments=experiments,
    )
    traces = trace_page(decision, page.spec, site.catalog, context, profile, scores, prefs, experiments)
    return Preview(
        inputs=inputs,
        page=page,
        context=context,
        profile=profile,
        scores=scores,
        prefs=prefs,
        experiments=experiments,
        decision=decision,
        traces=traces,
        evidence=(facts.page_views, min_evidence),
    )


# ------------------------------------------------------------------ render


def page_html(site: Site, page: Page, decision: PageDecision) -> str:
    """The page's HTML for the decision, rendered as at its own path: what a visitor gets, byte for byte."""
    extra: dict[str, Any] = {}
    if page.layout == "signup":
        extra.update(form={}, errors={}, sizes=COMPANY_SIZES)
    elif page.layout == "welcome":
        extra.update(name=None)
    # A request of its own: the navigation marks the page by its path, and a form rendered here
    # carries no valid CSRF token for this session, so a preview cannot sign anyone up.
    with current_app.test_request_context(page.path):
        return render_decision(site, page, decision, **extra)


#: The trace's kinds of reason, as the overlay names them.
KIND_WORDS = {
    "shown": "shown",
    "bot": "bot",
    "holdout": "holdout",
    "layer": "layer off",
    "condition": "condition not met",
    "schedule": "outside its schedule",
    "paused": "paused",
    "priority": "lower priority",
    "control": "control group",
    "budget": "over the budget",
    "allocation": "not drawn",
    "default": "a rule applied",
}
#: A block's root element: the one that carries ``data-block`` (the HTML contract).
_BLOCK = re.compile(r'<[a-z][a-z0-9]*\b[^>]*\sdata-block="([^"]+)"')


def with_overlay(html: str, preview: Preview, **context: Any) -> str:
    """Put the studio's overlay around a rendered page, leaving the page's own markup as it is."""
    context.update(condition=render_condition, kinds=KIND_WORDS)
    tags = {t.block: render_template("studio/_tag.html", trace=t, preview=preview, **context) for t in preview.traces}
    bar = render_template("studio/_bar.html", preview=preview, **context)
    panel = render_template("studio/_trace.html", preview=preview, **context)
    head, found, body = html.partition("</head>")
    if not found:
        raise ValueError("the page has no </head>")
    sheet = f'<link rel="stylesheet" href="{url_for("static", filename="studio.css")}">\n'
    html = head + sheet + found + body
    html = html.replace("<header", bar + "<header", 1)
    html = _BLOCK.sub(lambda m: tags.get(m.group(1), "") + m.group(0), html)
    before, found, after = html.rpartition("</main>")
    return before + found + panel + after if found else html + panel
