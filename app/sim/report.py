"""The lift report, computed from the app's own records only.

Read-only SQL over four tables, for every visitor in the database with at
least one exposure (a page render):

- **holdout or personalized**: the ``holdout`` flag the app wrote on the
  visitor's first exposure row;
- **arm**: the visitor's stored layer settings (``visitors.contextual``,
  ``behavioral``, ``predictive``; unset means on, the default): all on is
  "all layers", only predictive off is "contextual+behavioral", behavioral and
  predictive off is "contextual only", anything else "other settings";
- **converted**: at least one ``conversions`` row with goal ``signup``;
- **pages**: ``exposures`` rows per visitor;
- **dwell seconds**: the sum of ``events`` dwell ``ms`` per visitor / 1000,
  averaged over visitors whose settings allow the behavioral layer (only their
  pages carry the beacon, so only they can have events).

Intervals are 95%: Wilson score for a conversion rate, normal approximation
for a mean, and Newcombe's hybrid score interval (method 10) for the
difference of two rates (the lift, in absolute terms).
"""

from __future__ import annotations

import math
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ml.stats import Z, newcombe, wilson
from app.store.models import Conversion, Event, Exposure, Visitor

ARM_ORDER = ("all layers", "contextual+behavioral", "contextual only", "other settings")


def mean_interval(values: list[float]) -> tuple[float, float, float] | None:
    """Mean with a 95% normal-approximation interval; None without values."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    half = Z * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def arm_of(contextual: bool | None, behavioral: bool | None, predictive: bool | None) -> str:
    on = (contextual is not False, behavioral is not False, predictive is not False)
    return {
        (True, True, True): "all layers",
        (True, True, False): "contextual+behavioral",
        (True, False, False): "contextual only",
    }.get(on, "other settings")


def _r(value: float) -> float:
    return round(value, 6)


def _triple(result: tuple[float, float, float] | None, name: str) -> dict[str, float] | None:
    if result is None:
        return None
    value, low, high = result
    return {name: _r(value), "low": _r(low), "high": _r(high)}


def _group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    converted = sum(r["converted"] for r in rows)
    dwell = [r["dwell"] for r in rows if r["beacon"]]
    pages = mean_interval([float(r["pages"]) for r in rows])
    seconds = mean_interval(dwell)
    return {
        "visitors": len(rows),
        "converted": converted,
        "conversion": _triple(wilson(converted, len(rows)), "rate"),
        "pages": None if pages is None else {**_triple(pages, "mean"), "n": len(rows)},  # type: ignore[dict-item]
        "dwell_seconds": None if seconds is None else {**_triple(seconds, "mean"), "n": len(dwell)},  # type: ignore[dict-item]
    }


def visitor_rows() -> list[dict[str, Any]]:
    """One row per visitor with exposures: holdout, arm, converted, pages, dwell (inside an app context)."""
    first = select(func.min(Exposure.id).label("id")).group_by(Exposure.visitor_id).subquery()
    holdout = dict(
        db.session.execute(select(Exposure.visitor_id, Exposure.holdout).join(first, Exposure.id == first.c.id)).all()
    )
    pages = dict(db.session.execute(select(Exposure.visitor_id, func.count()).group_by(Exposure.visitor_id)).all())
    converted = set(db.session.scalars(select(Conversion.visitor_id).where(Conversion.goal == "signup").distinct()))
    dwell = dict(
        db.session.execute(
            select(Event.visitor_id, func.sum(Event.ms)).where(Event.type == "dwell").group_by(Event.visitor_id)
        ).all()
    )
    settings = {
        vid: (c, b, p)
        for vid, c, b, p in db.session.execute(
            select(Visitor.id, Visitor.contextual, Visitor.behavioral, Visitor.predictive)
        ).all()
    }
    rows = []
    for vid in sorted(pages):
        c, b, p = settings.get(vid, (None, None, None))
        rows.append(
            {
                "visitor": vid,
                "holdout": bool(holdout.get(vid)),
                "arm": arm_of(c, b, p),
                "converted": vid in converted,
                "pages": int(pages[vid]),
                "dwell": int(dwell.get(vid) or 0) / 1000,
                "beacon": b is not False,
            }
        )
    return rows


def lift_report(app: Flask) -> dict[str, Any]:
    """Groups, conversion, engagement and lift by layer from the app's own records."""
    with app.app_context():
        rows = visitor_rows()
        db.session.remove()
    control = [r for r in rows if r["holdout"]]
    treated = [r for r in rows if not r["holdout"]]
    groups: dict[str, Any] = {"holdout": _group(control), "personalized": _group(treated)}
    arms = [a for a in ARM_ORDER if any(r["arm"] == a for r in treated)]
    for arm in arms:
        groups[arm] = _group([r for r in treated if r["arm"] == arm])
    kc, nc = sum(r["converted"] for r in control), len(control)
    lift = {}
    for name in ("personalized", *arms):
        g = groups[name]
        lift[name] = _triple(newcombe(g["converted"], g["visitors"], kc, nc), "difference")
    return {
        "visitors": len(rows),
        "converted": sum(r["converted"] for r in rows),
        "groups": groups,
        "lift": lift,
    }


def _pct(t: dict[str, float] | None) -> str:
    if t is None:
        return "n/a"
    return f"{100 * t['rate']:.1f}% [{100 * t['low']:.1f}, {100 * t['high']:.1f}]"


def _num(t: dict[str, float] | None, digits: int = 1) -> str:
    if t is None:
        return "n/a"
    return f"{t['mean']:.{digits}f} [{t['low']:.{digits}f}, {t['high']:.{digits}f}]"


def _pts(t: dict[str, float] | None) -> str:
    if t is None:
        return "n/a"
    return f"{100 * t['difference']:+.1f} pts [{100 * t['low']:+.1f}, {100 * t['high']:+.1f}]"


def _verdict(t: dict[str, float] | None) -> str:
    if t is None:
        return "n/a: a group is empty"
    if t["low"] > 0:
        return "better than the holdout"
    if t["high"] < 0:
        return "worse than the holdout"
    return "no clear difference"


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table."""
    table = [("group", "visitors", "converted", "conversion [95% CI]", "pages/visitor [95% CI]",
              "dwell s/visitor [95% CI]")]  # fmt: skip
    for name, g in report["groups"].items():
        dwell = _num(g["dwell_seconds"], 0)
        if g["dwell_seconds"] is not None and g["dwell_seconds"]["n"] < g["visitors"]:
            dwell += f" (n={g['dwell_seconds']['n']})"
        label = name if name in ("holdout", "personalized") else f"  {name}"
        table.append((label, str(g["visitors"]), str(g["converted"]), _pct(g["conversion"]), _num(g["pages"]), dwell))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                 *(cell.ljust(w) for cell, w in zip(row[3:], widths[3:], strict=True))]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("Lift by layer: conversion rate minus the holdout's (absolute), 95% Newcombe interval")
    lift = [
        (name if name == "personalized" else f"  {name}", _pts(t), _verdict(t)) for name, t in report["lift"].items()
    ]
    w0 = max((len(r[0]) for r in lift), default=0)
    w1 = max((len(r[1]) for r in lift), default=0)
    lines.extend(f"{a.ljust(w0)}  {b.ljust(w1)}  {c}" for a, b, c in lift)
    lines.append("")
    lines.append(
        "Rates: Wilson intervals. Means: normal intervals. Dwell: over visitors who allow the\n"
        "behavioral layer (only their pages send the beacon; n when fewer, n/a when none).\n"
        "Holdout: the flag on each visitor's first exposure. Arms: the visitor's stored layer settings."
    )
    return "\n".join(lines)
