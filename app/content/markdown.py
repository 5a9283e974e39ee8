"""Safe rendering of editor-written markdown: no raw HTML, only safe link schemes."""

from __future__ import annotations

from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markupsafe import Markup

SAFE_SCHEMES = {"http", "https", "mailto"}


def is_safe_link(url: str) -> bool:
    """True for http(s), mailto and same-site relative URLs (not ``//host`` or ``javascript:``)."""
    url = url.strip()
    if not url or url.startswith("//") or any(ord(c) < 32 for c in url):
        return False
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme == "" or scheme in SAFE_SCHEMES


def _parser() -> MarkdownIt:
    # "commonmark" with html off: raw HTML in a variant is shown as text, never run.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = is_safe_link  # type: ignore[method-assign]
    return md


_MD = _parser()


def render_inline(text: str) -> Markup:
    """Render one paragraph's worth of inline markdown (emphasis, code, links)."""
    return Markup(_MD.renderInline(text))


def render_block(text: str) -> Markup:
    """Render a whole markdown document (an article body)."""
    return Markup(_MD.render(text))


def links_in(text: str) -> list[str]:
    """Every link target written in ``text``, to lint them before anything renders."""
    targets: list[str] = []
    for token in _MD_ALL_LINKS.parse(text):
        for child in token.children or ():
            if child.type == "link_open":
                targets.append(str(child.attrs.get("href", "")))
    return targets


# A parser that accepts every link, so lint can report the ones the renderer drops.
_MD_ALL_LINKS = MarkdownIt("commonmark", {"html": False})
_MD_ALL_LINKS.validateLink = lambda url: True  # type: ignore[method-assign]
