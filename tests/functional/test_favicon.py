"""The site's icon: linked from every page and answered at /favicon.ico, as browsers ask."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import get, soup


def test_favicon_ico_is_an_icon(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # the ICO header


@pytest.mark.parametrize("path", ["/", "/pricing", "/guides", "/preferences", "/no-such-page"])
def test_every_page_links_icons_that_answer(client: FlaskClient, path: str) -> None:
    icons = soup(get(client, path)).select("head link[rel~=icon]")
    assert icons, f"no icon linked on {path}"
    for link in icons:
        with client.get(link["href"]) as response:
            assert response.status_code == 200, link["href"]
            assert response.mimetype.startswith("image/"), link["href"]
            if link.get("type"):
                assert response.mimetype == link["type"]
