"""The bare-bytes floor for ``bench/load.py``: a Flask view that returns a captured page as it is.

    BENCH_BARE_PAGE=capture.json gunicorn -c gunicorn.conf.py -w 2 -b 127.0.0.1:PORT bench.bare:app

``capture.json`` (written by ``bench/load.py``) holds the personalized home
page's body and headers as Tessera served them to one of the benchmark's
visitors. Every request gets those bytes and headers back, with no database,
no content, no engine and no template: what the same server settings cost
for the same response, the ceiling any Tessera page could reach.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response


def make_app(body: bytes, headers: list[tuple[str, str]]) -> Flask:
    """A Flask app whose every GET answers ``body`` with ``headers``: nothing else happens."""
    bare = Flask(__name__)

    @bare.get("/", defaults={"path": ""})
    @bare.get("/<path:path>")
    def page(path: str) -> Response:
        return Response(body, status=200, headers=headers)

    return bare


if "BENCH_BARE_PAGE" in os.environ:  # under gunicorn (bench/load.py); bench/render.py calls make_app
    _captured = json.loads(Path(os.environ["BENCH_BARE_PAGE"]).read_text(encoding="utf-8"))
    app = make_app(_captured["body"].encode("utf-8"), [(name, value) for name, value in _captured["headers"]])
