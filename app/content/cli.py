"""``flask content``: commands for editors."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.content.loader import Loader, Site
from components import load_registry

content_cli = AppGroup("content", help="Check the site's pages and variant files.")


@content_cli.command("lint")
def lint() -> None:
    """Validate every page and variant file; list the problems and warnings, and exit 1 if there are problems.

    Each is one ``file:line: field: message`` line on stdout (a warning's
    message starts with ``warning:``), all sorted together by file and line,
    followed by a summary line. Warnings alone exit 0: their files are served.
    """
    root = Path(current_app.config["CONTENT_ROOT"])
    # A fresh load: the files as they are now, not the snapshot this app serves.
    site = Loader(root, load_registry()).load()
    for problem in site.problems:
        click.echo(str(problem))
    for line in paused_lines(site):
        click.echo(line)
    errors, summary = lint_summary(site, root)
    click.echo(summary)
    if errors:
        raise SystemExit(1)


def lint_summary(site: Site, root: Path | str) -> tuple[int, str]:
    """(problems, the summary line) of a lint of ``site`` loaded from ``root``."""
    errors = sum(1 for problem in site.problems if problem.severity == "error")
    warnings = len(site.problems) - errors
    files = _count(len({problem.path for problem in site.problems}), "file")
    if errors:
        also = f" and {_count(warnings, 'warning')}" if warnings else ""
        return errors, f"{_count(errors, 'problem')}{also} in {files} under {root}."
    served = f"{len(site.pages)} pages, {len(site.catalog.defaults)} blocks, {site.variant_count()} variants"
    if warnings:
        return 0, f"{_count(warnings, 'warning')} in {files} under {root}, no problems: {served}."
    return 0, f"All good: {served}."


def paused_lines(site: Site) -> list[str]:
    """Rules the learn job paused (their test showed they hurt), for the file version on disk now."""
    from app import store
    from app.ml.learn import rule_settings

    _, _, fingerprints = rule_settings(site, 0.0)
    sources = {v.rule_id: v.source for vs in site.catalog.conditional.values() for v in vs}
    from sqlalchemy.exc import DBAPIError

    from app.extensions import db

    path = store.schema.sqlite_path(db.engine)
    if path is not None and not path.exists():
        return []  # no database yet: nothing can be paused (and lint creates none)
    try:
        pauses = store.paused_rules()
    except (*store.health.UNAVAILABLE, DBAPIError) as error:
        db.session.rollback()
        return [f"(paused rules not checked: {str(error).splitlines()[0][:160]})"]
    return [
        f"{sources[rule]}: paused since {at:%Y-%m-%d %H:%M} UTC because its test shows it hurts ({reason}); "
        "it serves again when you change the file"
        for rule, fingerprint, at, reason in pauses
        if fingerprints.get(rule) == fingerprint and rule in sources
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
