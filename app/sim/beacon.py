"""What the page script (``static/tessera.js``) reports, and nothing the visitor decides.

The script runs only where ``<body>`` carries ``data-beacon``; when a link in
a block is clicked, it names the block and the variant from the block
element's ``data-block`` and ``data-variant`` and the link's ``data-target``
(``link`` without one), because the beacon contract needs them. The simulated
visitor never sees these values: it chooses a link by what it reads
(``app.sim.reader``), and only then does this module look up, at the offsets
the reader noted, what the script would send.
"""

from __future__ import annotations

import html
import re

_BODY = re.compile(r"<body\b([^>]*)>", re.S)
_TAG = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*([^>]*)>", re.S)
_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


def _attributes(raw: str) -> dict[str, str]:
    return {m[1].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.finditer(raw)}


def _tag_at(text: str, offset: int) -> dict[str, str]:
    m = _TAG.match(text, offset)
    return _attributes(m[1]) if m else {}


def beacon_url(text: str) -> str | None:
    """The beacon's URL when the page runs the script's reporting (``<body data-beacon>``), else None."""
    m = _BODY.search(text)
    return _attributes(m[1]).get("data-beacon") if m else None


def click(text: str, path: str, block_offset: int, link_offset: int) -> dict[str, str]:
    """The click event the script sends for the link at ``link_offset`` inside the block at ``block_offset``."""
    block, link = _tag_at(text, block_offset), _tag_at(text, link_offset)
    return {
        "type": "click",
        "page": path,
        "block": block.get("data-block", ""),
        "variant": block.get("data-variant", ""),
        "target": link.get("data-target") or "link",
    }


def names(text: str, block_offsets: list[int]) -> list[tuple[str, str]]:
    """Each block's (``data-block``, ``data-variant``): for the hidden truth's ledger, never for the visitor."""
    found = []
    for offset in block_offsets:
        a = _tag_at(text, offset)
        found.append((a.get("data-block", ""), a.get("data-variant", "")))
    return found
