"""What a simulated visitor sees on a rendered page: text, sections and links, as a person would.

A person sees words, where the sections of a page begin and end, and links.
They do not see attribute values: which variant a section is, which layer or
rule chose it, or what the analytics attributes say. So this reader uses the
HTML contract only to find where each block's element begins and ends (the
presence of its ``data-block`` attribute, never its value) and otherwise
reads what a browser would show: the visible text of ``<main>`` (not scripts,
styles, or the folded ``<details>`` notes, such as "Why am I seeing this?"),
the links in ``<main>`` and the navigation, and the form's fields.

A block's identity (``app.sim.effects.identity``) is a hash of its visible
text: all the hidden effects are keyed by it. What the page script reports
about a click (block and variant names) is ``app.sim.beacon``'s business.

Standard library only (a small tokenizer, several times faster than
``html.parser``, which matters when a run reads tens of thousands of pages).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from app.sim.effects import identity

_VOID = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr")
)
#: Only tags whose raw text holds one of these have their attributes parsed.
_WANTED = ("data-block", "href", "name=", "value=", "open")
_HIDDEN = frozenset(("script", "style", "svg", "template"))


@dataclass
class Link:
    """A link a visitor could follow."""

    href: str
    #: Where its tag starts in the page's HTML (what the page script looks at when it is clicked).
    offset: int
    #: The index of the block it sits in (``Page.blocks``), None outside blocks.
    block: int | None = None


@dataclass
class Block:
    """One section of the page as a person sees it."""

    #: A hash of its visible text (``app.sim.effects.identity``).
    identity: str
    #: Where its element's tag starts in the page's HTML.
    offset: int
    #: Visible words in <main> above it: how far down the page it begins.
    start: int
    words: int = 0
    links: list[Link] = field(default_factory=list)


@dataclass
class Page:
    """What a visitor can read off a rendered page."""

    path: str
    blocks: list[Block] = field(default_factory=list)
    #: Visible words in <main>.
    words: int = 0
    #: Every followable link in <main> and the navigation, in document order.
    links: list[Link] = field(default_factory=list)
    csrf_token: str | None = None
    #: Choices of each <select>, by its name (e.g. the sign-up form's team sizes).
    options: dict[str, list[str]] = field(default_factory=dict)


_TOKEN = re.compile(
    r"<!--.*?-->"  # a comment
    r"|<![^>]*>"  # the doctype
    r"|<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>"  # a tag (autoescaped attribute values hold no ">")
    r"|([^<]+)"  # text
    r"|<",  # a stray "<" in text
    re.S,
)
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


def _attributes(raw: str) -> dict[str, str]:
    return {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(raw)}


class _Reader:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.stack: list[tuple[str, str]] = []  # (tag, role): role marks main/nav/block/hidden/select
        self.block: Block | None = None
        self.text: list[str] = []  # the current block's visible text
        self.in_main = 0
        self.in_nav = 0
        self.hidden = 0
        self.select: str | None = None

    def feed(self, text: str) -> None:
        for m in _TOKEN.finditer(text):
            if m[4] is not None:
                self.data(m[4])
            elif m[2] is not None:
                tag = m[2].lower()
                if m[1]:
                    self.end(tag)
                else:
                    raw = m[3]
                    wanted = raw and any(marker in raw for marker in _WANTED)
                    self.start(tag, _attributes(raw) if wanted else {}, raw.endswith("/"), m.start())

    def start(self, tag: str, a: dict[str, str], self_closing: bool, offset: int) -> None:
        role = ""
        if tag == "main":
            role = "main"
            self.in_main += 1
        elif tag == "nav":
            role = "nav"
            self.in_nav += 1
        elif "data-block" in a and self.block is None and not self.hidden:
            role = "block"
            self.block = Block(identity="", offset=offset, start=self.page.words)
            self.text = []
            self.page.blocks.append(self.block)
        elif (tag == "details" and "open" not in a) or tag in _HIDDEN:
            role = "hidden"  # folded away or never shown
            self.hidden += 1
        elif tag == "select":
            role = "select"
            self.select = a.get("name", "")
        if tag == "input" and a.get("name") == "csrf_token" and self.page.csrf_token is None:
            self.page.csrf_token = a.get("value")
        elif tag == "option" and self.select is not None and "value" in a:
            self.page.options.setdefault(self.select, []).append(a["value"])
        elif tag == "a" and a.get("href") and (self.in_main or self.in_nav) and not self.hidden:
            index = len(self.page.blocks) - 1 if self.block is not None else None
            link = Link(a["href"], offset, index)
            self.page.links.append(link)
            if self.block is not None:
                self.block.links.append(link)
        if tag in _VOID or self_closing:
            self._close(role)
        else:
            self.stack.append((tag, role))

    def end(self, tag: str) -> None:
        if not any(open_tag == tag for open_tag, _ in self.stack):
            return  # a stray end tag closes nothing
        while self.stack:
            open_tag, role = self.stack.pop()
            self._close(role)
            if open_tag == tag:
                break

    def _close(self, role: str) -> None:
        if role == "main":
            self.in_main -= 1
        elif role == "nav":
            self.in_nav -= 1
        elif role == "block" and self.block is not None:
            self.block.identity = identity(html.unescape(" ".join(self.text)))
            self.block = None
        elif role == "hidden":
            self.hidden -= 1
        elif role == "select":
            self.select = None

    def data(self, text: str) -> None:
        if self.hidden or not self.in_main:
            return
        self.page.words += len(text.split())
        if self.block is not None:
            self.block.words += len(text.split())
            self.text.append(text)


def read_page(path: str, text: str) -> Page:
    """Parse a rendered page into what the simulated visitor sees of it."""
    page = Page(path=path)
    _Reader(page).feed(text)
    return page
