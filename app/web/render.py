"""A decided page's HTML: through the templates, or from fragments the templates rendered earlier.

Everything a page shows is in the templates, and ``render_decision`` renders
it through them (Jinja, autoescaped): each block with ``_block.html``'s
``render_block``, the phone's summary of explanations with ``why_summary``,
then the page's layout around them.

The visitor's page takes a faster road to the same bytes (``fast_render``),
since most of that work gives the same answer every time:

- a block's ``<section>`` depends on its variant, layer, topics, the page (for
  a list of guides) and its explanation's words, and on nothing else about the
  visitor; it is rendered once through ``render_block`` and kept;
- the summary of explanations depends only on each block's label and sentence;
- the page around them (head, locked navigation, content outside the blocks,
  footer) depends on the page, the request's path and whether the page script
  reports events. It is rendered once with markers where the blocks and the
  summary go, and split there. A page whose layout asks for a CSRF token or
  takes other values (sign-up, welcome) is rendered through its template every
  time.

Fragments belong to one content snapshot: when the content reloads, they are
rendered again from the new one. Each cache is bounded (oldest out first).
``tests/functional/test_render.py`` checks that both roads give the same bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request
from markupsafe import Markup

from app.content import Page, Site
from app.engine import Explanation, PageDecision, explain
from app.engine.model import BlockDecision
from app.web.context import country_names

#: Most fragments kept per content snapshot, of each kind.
MAX_FRAGMENTS = 4096
_BLOCKS_MARK = Markup("\x00tessera:blocks\x00")
_WHY_MARK = Markup("\x00tessera:why\x00")


@dataclass(frozen=True)
class RenderedBlock:
    """What a component template reads: the decision plus its explanation."""

    decision: BlockDecision
    why: Explanation | None
    page_path: str

    block = property(lambda self: self.decision.block)
    component = property(lambda self: self.decision.component)
    variant = property(lambda self: self.decision.variant.id)
    layer = property(lambda self: self.decision.layer)
    topics = property(lambda self: self.decision.topics)
    template = property(lambda self: f"components/{self.decision.component}.html")

    @property
    def label(self) -> str:
        """How a visitor would name this section: its kind, and its heading when it has one."""
        kind = _SECTION_NAMES.get(self.decision.component, "section")
        heading = self.decision.variant.fields.get("headline") or self.decision.variant.fields.get("heading")
        return f"The {kind} “{heading}”" if heading else f"The {kind}"

    @property
    def fields(self) -> Mapping[str, Any]:
        fields = self.decision.variant.fields
        if self.decision.component == "article_list":
            # A shared "related articles" block never points at the page it is on.
            articles = [a for a in fields["articles"] if a["href"] != self.page_path]
            return {**fields, "articles": articles}
        return fields

    def key(self) -> Hashable:
        """Everything ``render_block`` reads: equal keys, equal HTML (within one content snapshot)."""
        d = self.decision
        why = None if self.why is None else (self.why.sentence, self.why.details)
        page = self.page_path if d.component == "article_list" else None
        return (d.block, d.component, d.variant.id, d.layer, d.topics, page, why)


#: What each component is, in a visitor's words (for the page's list of explanations).
_SECTION_NAMES = {
    "hero": "banner",
    "announcement": "announcement",
    "feature_grid": "section",
    "cta_banner": "call to action",
    "testimonial": "testimonial",
    "article_list": "list of guides",
    "pricing_table": "plans",
    "onboarding_steps": "steps",
}


def rendered_blocks(site: Site, page: Page, decision: PageDecision) -> list[RenderedBlock]:
    """The decision's blocks with their explanations, saying where a moved block went."""
    fragments = _fragments(site)
    flexible = [slot.block for slot in page.spec.slots if not slot.pinned]
    shown_flexible = [b.block for b in decision.blocks if b.block in flexible]
    blocks = []
    for b in decision.blocks:
        placement = "here"
        if b.moved is not None and b.block in flexible:
            now_at, was_at = shown_flexible.index(b.block), flexible.index(b.block)
            if now_at == 0:
                placement = "first"
            elif now_at != was_at:
                placement = "higher up" if now_at < was_at else "further down"
        blocks.append(RenderedBlock(b, fragments.explain(b, placement), page.path))
    return blocks


def render_decision(site: Site, page: Page, decision: PageDecision, **extra: Any) -> str:
    """The page's HTML for a decision, through the templates: nothing read, nothing recorded, nothing kept.

    The reference for ``fast_render``; the studio's preview renders through here.
    """
    blocks = rendered_blocks(site, page, decision)
    macros = _macros()
    blocks_html = Markup("").join(macros.render_block(b) for b in blocks)
    explained = [b for b in blocks if b.why is not None]
    why_html = macros.why_summary(explained) if explained else Markup("")
    return render_template(f"pages/{page.layout}.html", **_page_values(site, page, blocks_html, why_html, extra))


def fast_render(site: Site, page: Page, decision: PageDecision, **extra: Any) -> str:
    """The same bytes as ``render_decision``, from fragments rendered once per content snapshot."""
    fragments = _fragments(site)
    blocks = rendered_blocks(site, page, decision)
    # A bot's page asks for no CSRF token (it would make a session); a shell never asks for one anyway.
    shell = fragments.shell(page) if set(extra) <= {"csrf_token"} else None
    if shell is None:
        return render_decision(site, page, decision, **extra)
    blocks_html = "".join(fragments.block(b) for b in blocks)
    explained = tuple((b.label, b.why.sentence) for b in blocks if b.why is not None)
    why_html = fragments.summary(explained, blocks) if explained else ""
    before, between, after = shell
    return f"{before}{blocks_html}{between}{why_html}{after}"


def _page_values(site: Site, page: Page, blocks_html: Markup, why_html: Markup, extra: dict[str, Any]) -> dict:
    values = {"page": page, "blocks_html": blocks_html, "why_html": why_html, **extra}
    if page.layout == "guides":
        values.update(guides=site.guides(), topics=site.topics)
    return values


def _macros() -> Any:
    return current_app.jinja_env.get_template("_block.html").module


class _Bounded:
    """A dict of at most ``size`` entries; the oldest goes first. Filled under a lock, read without."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, dict[Hashable, Any](), threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        try:
            return self.items[key]
        except KeyError:
            pass
        value = make()
        with self.lock:
            while len(self.items) >= self.size:
                del self.items[next(iter(self.items))]
            self.items[key] = value
        return value


class Fragments:
    """One content snapshot's rendered fragments: blocks, summaries of explanations, page shells."""

    def __init__(self, site: Site) -> None:
        self.site = site
        names = dict(country_names())
        names.update({f"page:{p.path}": p.title for p in site.pages.values()})
        self.names = names  # display names for explanations: countries, and page titles for ``page:<path>``
        self.explanations = _Bounded(MAX_FRAGMENTS)
        self.blocks = _Bounded(MAX_FRAGMENTS)
        self.summaries = _Bounded(MAX_FRAGMENTS)
        self.shells = _Bounded(MAX_FRAGMENTS)

    def explain(self, b: BlockDecision, placement: str) -> Explanation | None:
        """``explain``: a function of the choices' signals and the placement, so kept like a fragment."""
        if b.chose is None and b.moved is None:
            return None
        key = (b.chose, b.moved, placement)
        try:
            hash(key)
        except TypeError:  # a signal's value that cannot be a key (a list): said afresh
            return explain(b, self.names, placement=placement)
        return self.explanations.get(key, lambda: explain(b, self.names, placement=placement))

    def block(self, b: RenderedBlock) -> str:
        return self.blocks.get(b.key(), lambda: str(_macros().render_block(b)))

    def summary(self, explained: tuple[tuple[str, str], ...], blocks: Sequence[RenderedBlock]) -> str:
        return self.summaries.get(explained, lambda: str(_macros().why_summary([b for b in blocks if b.why])))

    def shell(self, page: Page) -> tuple[str, str, str] | None:
        """The page around its blocks, split where they and the summary go; None when it is not the same for all."""
        from app.web.visit import current_visit

        beacon = "/events" if current_visit(offline_ok=True).tracked else None
        return self.shells.get((page.path, request.path, beacon), lambda: self._make_shell(page, beacon))

    def _make_shell(self, page: Page, beacon: str | None) -> tuple[str, str, str] | None:
        asked = []

        def csrf_token() -> str:  # a form's token is the session's own: such a page is rendered every time
            asked.append(True)
            return ""

        values = _page_values(self.site, page, _BLOCKS_MARK, _WHY_MARK, {"beacon": beacon, "csrf_token": csrf_token})
        html = render_template(f"pages/{page.layout}.html", **values)
        if asked or html.count(_BLOCKS_MARK) != 1 or html.count(_WHY_MARK) != 1:
            return None
        before, rest = html.split(_BLOCKS_MARK)
        if _WHY_MARK not in rest:  # the summary before the blocks: not a layout this knows how to split
            return None
        between, after = rest.split(_WHY_MARK)
        return before, between, after


def _fragments(site: Site) -> Fragments:
    """This app's fragments for ``site``, rendered afresh when the content snapshot changes."""
    held = current_app.extensions.get("tessera.fragments")
    if held is None or held.site is not site:
        held = current_app.extensions["tessera.fragments"] = Fragments(site)
    return held
