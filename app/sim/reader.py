"""Read a rendered page the way the simulated visitor "sees" it: only the public HTML.

Everything here comes from the HTML contract in ARCHITECTURE.md (``data-block``,
``data-variant``, ``data-topics``, ``data-target``, ``<body data-beacon>``) and
from what any reader of the page would see (its words, its prices, its links).
Nothing reads the engine, the store or a variant id's meaning. Standard library
only (a small tokenizer), so the command works without the test extras.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_VOID = frozenset(
    ("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr")
)
_WANTED = ("data-", "href", "name=", "value=", "plan__")


@dataclass
class Link:
    """A link a visitor could follow."""

    href: str
    target: str | None  # data-target ("cta", "article", "link", ...), None outside blocks
    block: str | None = None  # the data-block it sits in
    variant: str | None = None


@dataclass
class Block:
    """One personalizable block as rendered."""

    block: str
    component: str
    variant: str
    layer: str
    topics: tuple[str, ...]
    words: int = 0
    links: list[Link] = field(default_factory=list)


@dataclass
class Page:
    """What a visitor can read off a rendered page."""

    path: str
    beacon: str | None = None
    blocks: list[Block] = field(default_factory=list)
    #: Visible words in <main> (the "Why am I seeing this?" notes are folded away, not counted).
    words: int = 0
    #: Every followable link in <main> and the navigation, in document order.
    links: list[Link] = field(default_factory=list)
    #: Texts of the plan prices (``.plan__amount``), e.g. "€19".
    prices: list[str] = field(default_factory=list)
    csrf_token: str | None = None
    #: Choices of each <select>, by its name (e.g. the sign-up form's team sizes).
    options: dict[str, list[str]] = field(default_factory=dict)

    def above_the_fold(self, count: int = 3) -> list[Block]:
        return self.blocks[:count]


_TOKEN = re.compile(
    r"<!--.*?-->"  # a comment
    r"|<![^>]*>"  # the doctype
    r"|<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>"  # a tag (autoescaped attribute values hold no ">")
    r"|([^<]+)"  # text
    r"|<",  # a stray "<" in text
    re.S,
)
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_HIDDEN = frozenset(("script", "style", "svg", "template"))


def _attributes(raw: str) -> dict[str, str]:
    return {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(raw)}


class _Reader:
    """A small tokenizer for the well-formed HTML the templates render (several times
    faster than ``html.parser``, which matters when a run reads thousands of pages)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.stack: list[tuple[str, str]] = []  # (tag, role): role marks main/nav/block/hidden/price/select
        self.block: Block | None = None
        self.in_main = 0
        self.in_nav = 0
        self.hidden = 0
        self.price: list[str] | None = None
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
                    # Only attributes this reader looks at are worth parsing.
                    wanted = raw and any(marker in raw for marker in _WANTED)
                    self.start(tag, _attributes(raw) if wanted else {}, raw.endswith("/"))

    def start(self, tag: str, a: dict[str, str], self_closing: bool) -> None:
        role = ""
        if tag == "body" and "data-beacon" in a:
            self.page.beacon = a["data-beacon"]
        if tag == "main":
            role = "main"
            self.in_main += 1
        elif tag == "nav" and "data-locked" in a:
            role = "nav"
            self.in_nav += 1
        elif "data-block" in a and self.block is None:
            role = "block"
            self.block = Block(a["data-block"], a.get("data-component", ""), a.get("data-variant", ""),
                               a.get("data-layer", ""), tuple(a.get("data-topics", "").split()))  # fmt: skip
            self.page.blocks.append(self.block)
        elif (tag == "details" and "data-why" in a) or tag in _HIDDEN:
            role = "hidden"
            self.hidden += 1
        elif tag == "select":
            role = "select"
            self.select = a.get("name", "")
        elif "plan__amount" in a.get("class", "").split():
            role = "price"
            self.price = []
        if tag == "input" and a.get("name") == "csrf_token" and self.page.csrf_token is None:
            self.page.csrf_token = a.get("value")
        elif tag == "option" and self.select is not None and "value" in a:
            self.page.options.setdefault(self.select, []).append(a["value"])
        elif tag == "a" and a.get("href") and (self.in_main or self.in_nav) and not self.hidden:
            block = self.block
            link = Link(a["href"], a.get("data-target") or None,
                        block.block if block else None, block.variant if block else None)  # fmt: skip
            self.page.links.append(link)
            if block is not None:
                block.links.append(link)
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
        elif role == "block":
            self.block = None
        elif role == "hidden":
            self.hidden -= 1
        elif role == "select":
            self.select = None
        elif role == "price" and self.price is not None:
            self.page.prices.append(" ".join(html.unescape("".join(self.price)).split()))
            self.price = None

    def data(self, text: str) -> None:
        if self.hidden:
            return
        if self.price is not None:
            self.price.append(text)
        if self.in_main:
            words = len(text.split())
            self.page.words += words
            if self.block is not None:
                self.block.words += words


def read_page(path: str, text: str) -> Page:
    """Parse a rendered page into what the simulated visitor reads off it."""
    page = Page(path=path)
    _Reader(page).feed(text)
    return page
