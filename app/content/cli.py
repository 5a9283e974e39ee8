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
    """Validate every page and variant file; exit 1 and list the problems if any."""
    root = Path(current_app.config["CONTENT_ROOT"])
    site = Loader(root, load_registry()).load()
    for problem in site.problems:
        click.echo(str(problem), err=True)
    if site.problems:
        click.echo(f"{len(site.problems)} problem(s) found in {root}.", err=True)
        raise SystemExit(1)
    click.echo(
        f"All good: {len(site.pages)} pages, {len(site.catalog.defaults)} blocks, {site.variant_count()} variants."
    )
