"""``flask report`` and ``flask report policy-value``: the measurement loop's findings, in words or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app import store
from app.clock import utcnow


def _parse(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date or date-time such as 2026-11-01 or 2026-11-01T12:00"
        ) from exc
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _period(since: str | None, until: str | None, days: int) -> tuple[datetime, datetime]:
    end = _parse(until) if until else utcnow()
    start = _parse(since) if since else end - timedelta(days=days)
    if start >= end:
        raise click.BadParameter("--since must be before --until")
    return start, end


def period_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--since", metavar="DATE", help="Start (ISO date or date-time, UTC unless it says)."),
        click.option("--until", metavar="DATE", help="End of the period (default: now)."),
        click.option("--days", default=28, show_default=True, type=click.IntRange(min=1), help="Days before --until."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON (its schema is in the README)."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def _print(data: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text(data))


@click.group("report", cls=AppGroup, invoke_without_command=True)
@period_options
@click.pass_context
@with_appcontext
def report_cli(context: click.Context, since: str | None, until: str | None, days: int, as_json: bool) -> None:
    """What helped and what hurt, with 95% intervals, from the app's own records.

    The holdout against the personalized visitors, every rule against its own
    control group (with segments, Holm-corrected, and sample-ratio checks),
    and every learning block's allocation and posteriors.
    """
    if context.invoked_subcommand is not None:
        return
    from app.content import current_site
    from app.ml.report import build_report, format_report

    store.ready()
    start, end = _period(since, until, days)
    _print(build_report(start, end, current_site(), current_app.config), as_json, format_report)


@report_cli.command("policy-value")
@period_options
@click.option("--bootstrap", default=500, show_default=True, type=click.IntRange(min=50), help="Bootstrap resamples.")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap and the reward model's folds."
)
def policy_value_command(since: str | None, until: str | None, days: int, as_json: bool, bootstrap: int,
                         seed: int) -> None:  # fmt: skip
    """Estimate other policies' goal rates off the logged propensities (IPS, SNIPS, doubly robust).

    Too little data (an effective sample under 100) gives no number, and says so.
    """
    from app.content import current_site
    from app.ml.report import format_policy_value, policy_value

    store.ready()
    start, end = _period(since, until, days)
    result = policy_value(start, end, current_site(), current_app.config, bootstrap=bootstrap, seed=seed)
    _print(result, as_json, format_policy_value)
