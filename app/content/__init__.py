"""Content: pages and editors' variant files, validated against the component registry.

``init_app`` loads the site once at start-up; in debug mode it reloads when a
file changes (checked at most once a second), keeping the last good version of
any file that breaks.

A snapshot's problems are logged when it starts being served (the first
request, or a reload), not when the app is built: every ``flask`` command
builds the app, and ``flask content lint`` prints the problems itself.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from flask import Flask, current_app

from app.content.loader import Loader, Page, Problem, Site
from components import load_registry

__all__ = ["ContentStore", "Page", "Problem", "Site", "current_site", "init_app"]

log = logging.getLogger(__name__)


class ContentStore:
    """Holds the current :class:`Site` snapshot and swaps it on reload."""

    def __init__(self, root: Path, *, watch: bool) -> None:
        self.loader = Loader(root, load_registry())
        self.root = root
        self.watch = watch
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp = self._fingerprint()
        self.site = self.loader.load()
        self._logged = False

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        files = [
            *self.root.joinpath("pages").rglob("*.y*ml"),
            *self.root.joinpath("content_variants").rglob("*"),
        ]
        stamp = []
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            stamp.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(sorted(stamp))

    def current(self) -> Site:
        """The site to serve; in watch mode, reloaded first if files changed."""
        if self.watch and time.monotonic() - self._checked > 1.0:
            with self._lock:
                self._checked = time.monotonic()
                stamp = self._fingerprint()
                if stamp != self._stamp:
                    self._stamp = stamp
                    self.reload()
        if not self._logged:
            with self._lock:
                if not self._logged:
                    self._log_problems()
        return self.site

    def reload(self) -> Site:
        """Load again, keeping the previous good version of any file that now fails."""
        self.site = self.loader.load(previous=self.site)
        counts = {
            "pages": len(self.site.pages),
            "variants": self.site.variant_count(),
            "problems": len(self.site.problems),
        }
        log.info(
            "content reloaded: %(pages)d pages, %(variants)d variants, %(problems)d problems",
            counts,
            extra={"event": "content_reload", **counts},
        )
        self._log_problems()
        return self.site

    def _log_problems(self) -> None:
        for problem in self.site.problems:
            log.warning("content problem: %s", problem, extra={"event": "content_problem", "problem": str(problem)})
        self._logged = True


def init_app(app: Flask) -> None:
    from app.content.cli import content_cli

    app.cli.add_command(content_cli)
    root = Path(app.config["CONTENT_ROOT"])
    app.extensions["tessera.content"] = ContentStore(root, watch=bool(app.debug or app.config.get("CONTENT_WATCH")))


def current_site() -> Site:
    store: ContentStore = current_app.extensions["tessera.content"]
    return store.current()
