"""The simulation's report: the hidden truth next to what the app measured, in plain text.

Measured numbers come only from the app's records, for the run's own
visitors (a database with other traffic is never mixed in):

- **holdout or personalized**: the ``holdout`` flag on the visitor's first
  exposure; **arm**: the visitor's stored layer settings (unset means on);
- **converted**: a ``conversions`` row with goal ``signup``; **pages**:
  ``exposures`` rows; **dwell seconds**: the sum of ``events`` dwell ``ms`` /
  1000, over visitors whose settings allow the behavioral layer (only their
  pages carry the beacon);
- **blocks by layer**: the ``layer`` of every block in ``exposures.blocks``;
- rule tests and learning blocks: ``app.sim.truth`` (the app's own analysis).

Intervals are 95%: Wilson score for a rate, normal approximation for a mean,
Newcombe's hybrid score interval for the difference of two rates.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.ml.stats import Z, newcombe, wilson
from app.sim.truth import COUNT_MIN, LIST_SEGMENT_MIN, NEUTRAL
from app.store.models import Conversion, Event, Exposure, Visitor

ARM_ORDER = ("all layers", "contextual+behavioral", "contextual only", "other settings")
LAYER_ORDER = ("default", "contextual", "behavioral", "predictive")


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


def visitor_rows(visitors: set[str] | None = None) -> list[dict[str, Any]]:
    """One row per visitor with exposures (of ``visitors`` when given): holdout, arm, converted, pages, dwell."""
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
        if visitors is not None and vid not in visitors:
            continue
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


def layer_counts(visitors: set[str] | None = None) -> dict[str, int]:
    """Blocks shown to personalized visitors, by the layer that chose them (``default``: nothing did)."""
    counts: Counter[str] = Counter()
    query = select(Exposure.visitor_id, Exposure.blocks).where(Exposure.holdout.is_(False))
    for vid, blocks in db.session.execute(query.execution_options(yield_per=5000)):
        if visitors is None or vid in visitors:
            counts.update(b.get("layer", "default") for b in blocks)
    return {layer: counts.get(layer, 0) for layer in LAYER_ORDER}


def lift_report(app: Flask, visitors: set[str] | None = None) -> dict[str, Any]:
    """Groups, conversion, engagement and lift by layer from the app's own records."""
    with app.app_context():
        rows = visitor_rows(visitors)
        layers = layer_counts(visitors)
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
        "layers": layers,
    }


# ------------------------------------------------------------------ formatting


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


def _pt(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} pts"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({100 * part / whole:.0f}%)" if whole else "none to count"


def _mark(covered: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[covered]


def _table(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _verdict(t: dict[str, float] | None) -> str:
    if t is None:
        return "n/a: a group is empty"
    if t["low"] > 0:
        return "better than the holdout"
    if t["high"] < 0:
        return "worse than the holdout"
    return "no clear difference"


def format_headline(report: dict[str, Any]) -> list[str]:
    truth = report["truth"]
    coverage = truth["coverage"]
    lines = [
        "How often the app's 95% intervals contained the hidden truth (about 95% is what a 95% interval promises):",
        f"  rule tests still running, lift against control:  {_share(**_args(coverage['rules']))}",
        f"  the same, within each segment:                    {_share(**_args(coverage['segments']))}",
        f"  rule tests the learn job paused (stopped early):  {_share(**_args(coverage['paused_rules']))}",
        f"  learning candidates' goal rates (posterior):      {_share(**_args(coverage['learning']))}",
    ]
    lines.append(f"  (an interval counts when each arm, or the candidate, has at least {COUNT_MIN} visitors)")
    if coverage["impossible_goal"]:
        lines.append(f"  (not counted: {coverage['impossible_goal']} rule tests whose goal cannot happen: "
                     "no link to click in either version, or no beacon)")  # fmt: skip
    pauses = truth["pauses"]
    paused = pauses["paused"]
    lines.append("")
    if paused:
        lines.append(f"Rules the learn job paused: {len(paused)}")
        lines.extend(f"  {p['rule']}: truly {p['truly']} ({_pt(p['true'])})" for p in paused)
    else:
        lines.append("Rules the learn job paused: none")
    wrong = pauses["wrongly_paused"]
    lines.append(f"Helpful rules wrongly paused: {', '.join(wrong) if wrong else 'none'}")
    serving = pauses["harmful_serving"]
    lines.append(f"Rules that truly hurt (true lift below {-100 * NEUTRAL:.1f} pts) and still serve: "
                 f"{len(serving)}{': ' + ', '.join(serving) if serving else ''}")  # fmt: skip
    learning = truth["learning"]
    found = [(b["block"], s) for b in learning for s in b["segments"] if s["best"] is not None]
    if found:
        right = sum(s["favourite"] == s["best"] for _, s in found)
        lines.append(f"Learning blocks: the allocation's favourite is the truly best candidate in {right} of "
                     f"{len(found)} segments")  # fmt: skip
    return lines


def _args(count: dict[str, int]) -> dict[str, int]:
    return {"part": count["covered"], "whole": count["of"]}


def format_holdout(report: dict[str, Any]) -> list[str]:
    table = [("group", "visitors", "converted", "conversion [95% CI]", "pages/visitor [95% CI]",
              "dwell s/visitor [95% CI]")]  # fmt: skip
    for name, g in report["groups"].items():
        dwell = _num(g["dwell_seconds"], 0)
        if g["dwell_seconds"] is not None and g["dwell_seconds"]["n"] < g["visitors"]:
            dwell += f" (n={g['dwell_seconds']['n']})"
        label = name if name in ("holdout", "personalized") else f"  {name}"
        table.append((label, str(g["visitors"]), str(g["converted"]), _pct(g["conversion"]), _num(g["pages"]), dwell))
    lines = ["Holdout vs personalized: conversion and engagement (causal: the holdout is the app's random bucket)", ""]
    lines.extend(_table(table, right=(1, 2)))
    lines.append("")
    lines.append("Lift: conversion rate minus the holdout's (absolute), 95% Newcombe interval")
    lift = [
        (name if name == "personalized" else f"  {name}", _pts(t), _verdict(t)) for name, t in report["lift"].items()
    ]
    w0 = max((len(r[0]) for r in lift), default=0)
    w1 = max((len(r[1]) for r in lift), default=0)
    lines.extend(f"{a.ljust(w0)}  {b.ljust(w1)}  {c}" for a, b, c in lift)
    lines.append(
        "The indented arms are the visitors' own layer settings: their choice, not a randomized assignment,\n"
        "so their rows describe, they do not show cause. Dwell: only where the beacon runs (n when fewer)."
    )
    layers = report["layers"]
    total = sum(layers.values())
    if total:
        shown = ", ".join(f"{layer} {n} ({100 * n / total:.0f}%)" for layer, n in layers.items())
        lines.append("")
        lines.append(f"Blocks shown to personalized visitors, by the layer that chose them: {shown}")
    return lines


def format_rules(rules: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Rule tests: each rule against its own control group (the app's analysis) next to the hidden true lift",
        "",
    ]
    table = [("rule", "goal", "status", "treated", "control", "measured lift [95% CI]", "always-valid [95%]",
              "true lift", "in CI")]  # fmt: skip
    for r in rules:
        table.append((r["rule"], r["goal"], r["status"], f"{r['treated']['goals']}/{r['treated']['visitors']}",
                      f"{r['control']['goals']}/{r['control']['visitors']}", _pts(r["measured"]),
                      _pts(r.get("sequence")), _pt(r["true"]),
                      _mark(r["covered"]) if r["goal_possible"] else "no goal"))  # fmt: skip
    lines.extend(_table(table, right=(3, 4)))
    lines.append("(status and pauses follow the always-valid interval: the rules are looked at after every run of the "
                 "learn job, and a one-look interval below zero is not yet evidence enough)")  # fmt: skip
    lines.append("")
    lines.append(f"Per segment (only cells with at least {LIST_SEGMENT_MIN} visitors in control are listed; all are "
                 "counted above; '!' marks a cell the app flags as hurting after Holm's correction):")  # fmt: skip
    table = [("rule", "segment", "treated", "control", "measured lift [95% CI]", "true lift", "in CI")]
    for r in rules:
        for s in r["segments"]:
            if s["control"] < LIST_SEGMENT_MIN:
                continue
            table.append((r["rule"], f"{s['dimension']}={s['value']}{' !' if s['hurts'] else ''}", str(s["treated"]),
                          str(s["control"]), _pts(s["measured"]), _pt(s["true"]), _mark(s["covered"])))  # fmt: skip
    if len(table) > 1:
        lines.extend(_table(table, right=(2, 3)))
    else:
        lines.append("  (none yet)")
    return lines


def format_learning(learning: list[dict[str, Any]]) -> list[str]:
    lines = [
        "Learning blocks: each candidate's hidden truth next to the app's posterior and served allocation",
        "(true rate: the expected goal of the visitors shown it; true gain: its expected goal minus the",
        "default's over every visitor it was eligible for; the truly best has the highest gain)",
    ]
    for b in learning:
        lines.append("")
        by = ", ".join(b["by"]) or "nothing"
        lines.append(f"{b['block']} (goal {b['goal']}, by {by}; allocation version {b['version']} serves)")
        for s in b["segments"]:
            verdict = "-" if s["best"] is None else ("yes" if s["favourite"] == s["best"] else "NO")
            traffic = s["best_traffic"]
            went = "" if traffic is None else (f"; {100 * traffic['share']:.0f}% of the {traffic['draws']} draws "
                                                f"under version {traffic['version']} showed the truly best "
                                                "candidate eligible for them")  # fmt: skip
            lines.append(f"  segment {s['segment']}: favourite {s['favourite'] or 'n/a'}, truly best "
                         f"{s['best'] or 'n/a'} (favourite is best: {verdict}{went})")  # fmt: skip
            table = [("    candidate", "visitors", "goals", "posterior [95%]", "true rate", "in CI", "eligible",
                      "true gain", "share")]  # fmt: skip
            for c in s["candidates"]:
                p = c["posterior"]
                table.append((f"    {c['variant']}", str(c["visitors"]), str(c["goals"]),
                              f"{100 * p['mean']:.1f}% [{100 * p['low']:.1f}, {100 * p['high']:.1f}]",
                              _rate(c["true"]), _mark(c["covered"]), str(c["eligible"]), _pt(c["gain"]),
                              _rate(c["share"])))  # fmt: skip
            lines.extend(_table(table, right=(1, 2, 6)))
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The whole report as plain text."""
    truth = report["truth"]
    world = report["world"]
    lines = [
        "SYNTHETIC TRAFFIC: every visitor below was simulated (seeded traits, hidden effects drawn from",
        f"effects seed {world['effects_seed']}, app/sim/effects.py). These are not measurements of real people.",
        "",
        *format_headline(report),
        "",
        *format_holdout(report),
        "",
        *format_rules(truth["rules"]),
        "",
        *format_learning(truth["learning"]),
    ]
    if truth["unmatched_rows"]:
        lines.extend(["", f"({truth['unmatched_rows']} decision rows had no page view in the run's ledger.)"])
    return "\n".join(lines)
