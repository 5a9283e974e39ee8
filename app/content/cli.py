"""``flask content``: commands for editors."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.content.loader import Loader
from components import load_registry

content_cli = AppGroup("content", help="Check the site's pages and variant files.")


@content_cli.command("lint")
def lint() -> None:
    """Validate every page and variant file; list the problems and exit 1 if there are any.

    Each problem is one ``file:line: field: message`` line on stdout, sorted by
    file and line, followed by a summary line.
    """
    root = Path(current_app.config["CONTENT_ROOT"])
    # A fresh load: the files as they are now, not the snapshot this app serves.
    site = Loader(root, load_registry()).load()
    for problem in site.problems:
        click.echo(str(problem))
    if site.problems:
        files = len({problem.path for problem in site.problems})
        click.echo(f"{_count(len(site.problems), 'problem')} in {_count(files, 'file')} under {root}.")
        raise SystemExit(1)
    click.echo(
        f"All good: {len(site.pages)} pages, {len(site.catalog.defaults)} blocks, {site.variant_count()} variants."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
