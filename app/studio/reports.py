"""The learning loop's report as pictures: every chart with its numbers in a table beside it.

The numbers are ``flask report``'s (:func:`app.ml.report.build_report`) where
it has them: holdout against personalized, every rule's lift against its
control, the segments where a rule hurts, the learning blocks. What the
command reports only as totals is read here over time from the store: the
holdout comparison day by day (cumulative, so the last point is the
report's), each learning block's published allocations, the model versions
with their metrics, and the job runs.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.content import Site
from app.ml import stats
from app.ml.report import build_report, lift_text, rate_text
from app.store import studio as queries
from app.store.analysis import GOAL_WINDOW
from app.studio import charts
from app.studio.charts import Chart

#: At most this many points on a chart over time (a long period is sampled evenly).
MAX_POINTS = 60
#: At most this many rows in the segments' forest plot (the table has them all).
MAX_SEGMENT_ROWS = 40
JOB_RUNS = 100


@dataclass(frozen=True)
class Table:
    """A chart's numbers: a caption, the column heads and the rows (``marks``: a row's class, e.g. hurts)."""

    caption: str
    head: Sequence[str]
    rows: Sequence[Sequence[str]]
    marks: Sequence[str] = ()


@dataclass(frozen=True)
class Panel:
    """A chart (None when there is nothing to draw) and its table; ``note`` says why there is no chart."""

    table: Table | None
    chart: Chart | None = None
    note: str = ""


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    panels: Sequence[Panel] = ()
    facts: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Records:
    """Everything the report page reads from the store, read before anything is drawn."""

    since: datetime
    until: datetime
    report: Mapping[str, Any]
    visits: Sequence[queries.FirstVisit]
    allocations: Mapping[str, Sequence[tuple[int, datetime, dict[str, Any]]]]
    models: Mapping[str, Sequence[Any]]
    runs: Sequence[Any]


def read(since: datetime, until: datetime, site: Site, config: Mapping[str, Any]) -> Records:
    """The report's numbers and the histories it charts (inside an app context)."""
    return Records(
        since=since,
        until=until,
        report=build_report(since, until, site, config),
        visits=queries.first_visits(since, until),
        allocations=queries.allocation_history(until),
        models=queries.model_history(),
        runs=queries.job_runs(JOB_RUNS),
    )


def build(records: Records) -> list[Section]:
    """Every section of the report page, in reading order; nothing here reads the store."""
    report = records.report
    return [
        holdout_section(report["holdout"], records.visits, records.since, records.until),
        rules_section(report["rules"]),
        segments_section(report["rules"]),
        learning_section(report["learning"], records.allocations),
        models_section(records.models),
        jobs_section(records.runs),
    ]


# ------------------------------------------------------------- formatting


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _when(moment: datetime | None) -> str:
    return "–" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _mark(lift: Mapping[str, float] | None) -> str:
    if lift is not None and lift["high"] < 0:
        return "hurts"
    if lift is not None and lift["low"] > 0:
        return "helps"
    return ""


# ---------------------------------------------------------------- holdout


@dataclass(frozen=True)
class _Point:
    at: datetime
    counts: tuple[int, int, int, int]  # personalized visitors, conversions, holdout visitors, conversions


def holdout_timeline(visits: Sequence[queries.FirstVisit], since: datetime, until: datetime) -> list[_Point]:
    """Cumulative counts at the end of each day (or each step of a long period), the last at ``until``."""
    step = max(timedelta(days=1), (until - since) / MAX_POINTS)
    ends: list[datetime] = []
    moment = datetime.combine(since.date(), datetime.min.time()) + step
    while moment < until:
        ends.append(moment)
        moment += step
    ends.append(until)
    # The first end at which each visitor is counted, and each conversion (within the goal window).
    visitors = [[0] * (len(ends) + 1) for _ in range(2)]
    conversions = [[0] * (len(ends) + 1) for _ in range(2)]
    counted_until = [end + GOAL_WINDOW for end in ends]
    for visit in visits:
        group = int(visit.holdout)
        enters = bisect.bisect_right(ends, visit.at)
        visitors[group][enters] += 1
        if visit.converted_at is not None:
            converts = bisect.bisect_right(counted_until, visit.converted_at)
            conversions[group][max(enters, converts)] += 1
    points, totals = [], [0, 0, 0, 0]
    for i, end in enumerate(ends):
        totals = [totals[0] + visitors[0][i], totals[1] + conversions[0][i],
                  totals[2] + visitors[1][i], totals[3] + conversions[1][i]]  # fmt: skip
        points.append(_Point(end, (totals[0], totals[1], totals[2], totals[3])))
    return points


def holdout_section(
    holdout: Mapping[str, Any], visits: Sequence[queries.FirstVisit], since: datetime, until: datetime
) -> Section:
    points = holdout_timeline(visits, since, until)
    rows, marks = [], []
    bands = {"personalized": ([], [], []), "holdout": ([], [], [])}
    for point in points:
        pv, pk, hv, hk = point.counts
        cells = [f"{point.at:%Y-%m-%d %H:%M}"]
        for name, k, n in (("personalized", pk, pv), ("holdout", hk, hv)):
            found = stats.wilson(k, n)
            rate, low, high = found if found is not None else (None, None, None)
            bands[name][0].append(rate)
            bands[name][1].append(low)
            bands[name][2].append(high)
            cells += [str(n), str(k), rate_text(None if found is None else {"rate": rate, "low": low, "high": high})]
        lift = stats.newcombe(pk, pv, hk, hv)
        as_lift = None if lift is None else {"diff": lift[0], "low": lift[1], "high": lift[2]}
        cells.append(lift_text(as_lift))
        rows.append(cells)
        marks.append(_mark(as_lift))
    table = Table(
        caption="Cumulative conversion of the visitors first seen since the start of the period, with 95% intervals",
        head=[
            "until (UTC)",
            "personalized visitors",
            "conversions",
            "rate [95% CI]",
            "holdout visitors",
            "conversions",
            "rate [95% CI]",
            "lift [95% CI]",
        ],  # fmt: skip
        rows=rows,
        marks=marks,
    )
    days = [p.at for p in points]
    chart = None
    if any(p.counts[0] or p.counts[2] for p in points):
        chart = charts.rates_over_time(
            "Holdout vs personalized: conversion over time",
            "Line chart of the cumulative conversion rate of personalized visitors and of the holdout over the "
            "period, with 95% intervals; the numbers are in the table beside it.",
            [charts.Band(name, days, *values) for name, values in bands.items()],
            "conversion (cumulative)",
        )
    facts = [
        f"Holdout share {holdout['share']:.0%}: a randomized comparison, so the difference is caused by "
        "personalization.",
        f"Over the period: personalized {rate_text(holdout['personalized']['conversion'])} "
        f"(n={holdout['personalized']['visitors']}), holdout {rate_text(holdout['holdout']['conversion'])} "
        f"(n={holdout['holdout']['visitors']}), lift {lift_text(holdout['conversion_lift'])}.",
    ]
    if holdout["srm"]:
        facts.append(f"Sample ratio mismatch (p = {holdout['srm_p']:.3g}): the split is not what the share says; "
                     "check it before trusting these numbers.")  # fmt: skip
    note = "" if chart else "No visitor was first seen in this period."
    return Section("holdout", "Holdout vs personalized", "Visitors in the holdout see the default site everywhere.",
                   [Panel(table, chart, note)], facts)  # fmt: skip


# ------------------------------------------------------------------ rules


def rules_section(rules: Sequence[Mapping[str, Any]]) -> Section:
    rows, marks, intervals = [], [], []
    for rule in rules:
        lift = rule["lift"]
        mark = "hurts" if rule["status"] in ("hurting", "paused") else _mark(lift)
        rows.append([
            rule["rule"], rule["goal"], rule["status"],
            f"{rule['treated']['goals']}/{rule['treated']['visitors']}", rate_text(rule["treated"]["rate"]),
            f"{rule['control']['goals']}/{rule['control']['visitors']}", rate_text(rule["control"]["rate"]),
            lift_text(lift), ", ".join(rule["hurts_in"]) or "–",
            f"paused {rule['paused']['at']}: {rule['paused']['reason']}" if rule["paused"] else "–",
        ])  # fmt: skip
        marks.append(mark)
        if lift is not None:
            intervals.append(charts.Interval(rule["rule"], lift["diff"], lift["low"], lift["high"], mark))
    table = Table(
        caption="Every rule against its own control group (randomized), goal rate and lift with 95% intervals",
        head=[
            "rule",
            "goal",
            "status",
            "treated goals/visitors",
            "treated rate",
            "control goals/visitors",
            "control rate",
            "lift [95% CI]",
            "hurts in",
            "paused",
        ],  # fmt: skip
        rows=rows,
        marks=marks,
    )
    chart = None
    if intervals:
        chart = charts.forest(
            "Each rule's lift against its control",
            "Forest plot of each rule's lift in goal rate against its control group, in percentage points with "
            "95% intervals; rules that hurt are red, rules that clearly help green; the numbers are in the table.",
            intervals,
            "lift, percentage points",
        )
    note = "" if chart else "No rule has enough visitors in both groups for a lift in this period."
    return Section("rules", "Rules against their control groups",
                   "Every rule runs as a test: a share of the visitors it matches sees what they would have seen "
                   "without it.", [Panel(table, chart, note)])  # fmt: skip


def segments_section(rules: Sequence[Mapping[str, Any]]) -> Section:
    rows, marks, intervals = [], [], []
    hurting_rules = {rule["rule"] for rule in rules if rule["hurts_in"]}
    for rule in rules:
        for segment in rule["segments"]:
            lift = segment["lift"]
            label = f"{rule['rule']} · {segment['dimension']}={segment['value']}"
            # Red only where the report finds harm (Holm-corrected), not wherever an interval is below zero.
            mark = "hurts" if segment["hurts"] else ""
            rows.append([
                rule["rule"], f"{segment['dimension']}={segment['value']}",
                f"{segment['treated']['goals']}/{segment['treated']['visitors']}",
                f"{segment['control']['goals']}/{segment['control']['visitors']}", lift_text(lift),
                _num(segment["p"]), _num(segment["adjusted_p"]), "yes" if segment["hurts"] else "no",
            ])  # fmt: skip
            marks.append(mark)
            if lift is not None:
                interval = charts.Interval(label, lift["diff"], lift["low"], lift["high"], mark)
                intervals.append((rule["rule"] not in hurting_rules, interval))
    # The rules that hurt somewhere first, so they are drawn even when there are many segments.
    drawn = [interval for _, interval in sorted(intervals, key=lambda pair: pair[0])][:MAX_SEGMENT_ROWS]
    table = Table(
        caption="Each rule by device, country and daypart: lift with 95% intervals, p and Holm-adjusted p",
        head=[
            "rule",
            "segment",
            "treated goals/visitors",
            "control goals/visitors",
            "lift [95% CI]",
            "p",
            "adjusted p",
            "hurts",
        ],  # fmt: skip
        rows=rows,
        marks=marks,
    )
    chart = None
    if drawn:
        chart = charts.forest(
            "Segments: where a rule hurts",
            "Forest plot of each rule's lift by segment, with 95% intervals; segments where the rule hurts "
            "(Holm-corrected) are red; the numbers are in the table.",
            drawn,
            "lift, percentage points",
        )
    facts = [f"{rule['rule']} hurts in {', '.join(rule['hurts_in'])}." for rule in rules if rule["hurts_in"]]
    note = "" if chart else "No segment has enough visitors in both groups in this period."
    return Section("segments", "Segments where a rule hurts",
                   "A rule can help overall and still hurt some visitors; those segments are marked.",
                   [Panel(table, chart, note)], facts or ["No rule hurts in any segment in this period."])  # fmt: skip


# --------------------------------------------------------------- learning


def learning_section(
    learning: Sequence[Mapping[str, Any]], history: Mapping[str, Sequence[tuple[int, datetime, dict[str, Any]]]]
) -> Section:
    panels = []
    for block in learning:
        versions = history.get(block["block"], [])
        candidates = sorted({c for _, _, table in versions for c in table.get("overall", {})})
        rows = [[f"v{version}", _when(at), *(_share(table.get("overall", {}).get(c)) for c in candidates)]
                for version, at, table in versions]  # fmt: skip
        table = Table(
            caption=f"{block['block']}: each candidate's overall share, version by version (goal {block['goal']})",
            head=["version", "published (UTC)", *candidates],
            rows=rows,
        )
        chart = None
        if versions:
            chart = charts.shares_over_time(
                f"{block['block']}: allocation over time",
                f"Step chart of the share of visitors each candidate of {block['block']} gets, per published "
                "allocation version; the numbers are in the table.",
                [at for _, at, _ in versions],
                {c: [table.get("overall", {}).get(c, 0.0) for _, _, table in versions] for c in candidates},
            )
        note = "" if chart else block.get("note", "No allocation published yet.")
        panels.append(Panel(table, chart, note))
        current = block.get("overall")
        if current:
            panels.append(Panel(Table(
                caption=f"{block['block']}: the newest allocation's posteriors (all segments together)",
                head=["candidate", "visitors", "goals", "posterior mean [95% interval]", "share"],
                rows=[[c["variant"], str(c["visitors"]), str(c["goals"]),
                       f"{c['mean'] * 100:.1f}% [{c['low'] * 100:.1f}, {c['high'] * 100:.1f}]", _share(c["share"])]
                      for c in current["candidates"]],
            )))  # fmt: skip
    return Section("learning", "Learning blocks", "Blocks that learn which variant works for which visitors: "
                   "the share each candidate gets as the learn job publishes new allocations.", panels)  # fmt: skip


# ----------------------------------------------------------------- models


def models_section(history: Mapping[str, Sequence[Any]]) -> Section:
    panels, facts = [], []
    for kind, versions in sorted(history.items()):
        binary = any("roc_auc" in (m.metrics or {}) for m in versions)
        names = (("ROC AUC", "roc_auc", "baseline_roc_auc", "higher"), ("log loss", "log_loss", "baseline_log_loss",
                 "lower")) if binary else (("log loss", "log_loss", "baseline_log_loss", "lower"),
                                           ("accuracy", "accuracy", "baseline_accuracy", "higher"))  # fmt: skip
        metrics = [
            charts.Metric(
                name=label,
                versions=[m.version for m in versions],
                values=[(m.metrics or {}).get(key) for m in versions],
                baseline=[(m.metrics or {}).get(base) for m in versions],
                better=better,
                rejected=[m.status != "published" for m in versions],
            )
            for label, key, base, better in names
        ]
        rows = [[f"v{m.version}", _when(m.trained_at), m.status,
                 f"{(m.metrics or {}).get('n_train', '–')}/{(m.metrics or {}).get('n_validation', '–')}",
                 *(f"{_num((m.metrics or {}).get(key))} vs {_num((m.metrics or {}).get(base))}"
                   for _, key, base, _ in names),
                 m.reason or "–"] for m in versions]  # fmt: skip
        table = Table(
            caption=f"Model “{kind}”: every version, its validation metrics against the baseline, and why it was "
            "not published",
            head=[
                "version",
                "trained (UTC)",
                "status",
                "training/validation rows",
                *(f"{label} (model vs baseline)" for label, *_ in names),
                "why not published",
            ],  # fmt: skip
            rows=rows,
            marks=["hurts" if m.status != "published" else "" for m in versions],
        )
        has_values = any(v is not None for metric in metrics for v in metric.values)
        chart = charts.model_metrics(
            f"Model “{kind}”: versions against the baseline",
            f"Charts of each version of the {kind} model: {' and '.join(n[0] for n in names)} on validation data "
            "against the naive baseline; rejected versions are hollow red dots; the numbers are in the table.",
            metrics,
        ) if has_values else None  # fmt: skip
        panels.append(Panel(table, chart, "" if chart else "No version has validation metrics yet."))
        serving = next((m for m in reversed(versions) if m.status == "published"), None)
        if serving is None:
            facts.append(f"{kind}: no version is published; no {kind} score is used.")
            continue
        metrics_now = serving.metrics or {}
        summary = ", ".join(f"{label} {_num(metrics_now.get(key))} (baseline {_num(metrics_now.get(base))})"
                            for label, key, base, _ in names)  # fmt: skip
        if "calibration_error" in metrics_now:
            summary += f", calibration error {_num(metrics_now['calibration_error'])}"
        facts.append(f"{kind}: v{serving.version} serves, trained {_when(serving.trained_at)}: {summary}.")
        if binary:  # a calibration plot is for probabilities of one outcome
            panels.append(_calibration(kind, serving))
    if not history:
        facts.append("No model has been trained yet.")
    return Section("models", "Model cards", "Each model is published only when it beats a naive baseline on "
                   "validation data from after its training data.", panels, facts)  # fmt: skip


def _calibration(kind: str, model: Any) -> Panel:
    bins = (model.metrics or {}).get("calibration")
    if not bins:
        return Panel(None, None, f"Model “{kind}” v{model.version} recorded no calibration bins, only its "
                     "calibration error, so there is no calibration plot for it.")  # fmt: skip
    table = Table(
        caption=f"Model “{kind}” v{model.version}: calibration on validation data, per bin of predicted probability",
        head=["mean predicted", "observed rate", "visitors"],
        rows=[[f"{p:.2f}", f"{o:.2f}", str(n)] for p, o, n in bins],
    )
    chart = charts.calibration(
        f"Model “{kind}” v{model.version}: calibration",
        f"Calibration plot of the {kind} model: the observed rate against the mean predicted probability per bin, "
        "with the diagonal of perfect calibration; the numbers are in the table.",
        [p for p, _, _ in bins],
        [o for _, o, _ in bins],
    )
    return Panel(table, chart)


# ------------------------------------------------------------------- jobs


def jobs_section(runs: Sequence[Any]) -> Section:
    drawn = [charts.Run(r.job, r.started_at, (r.finished_at - r.started_at).total_seconds(),
                        r.status in ("failed", "expired")) for r in runs if r.finished_at is not None]  # fmt: skip
    newest_first = list(reversed(runs))
    table = Table(
        caption=f"The newest {JOB_RUNS} job runs, newest first",
        head=["job", "started (UTC)", "finished (UTC)", "status", "seconds", "owner", "detail"],
        rows=[
            [
                r.job,
                _when(r.started_at),
                _when(r.finished_at),
                r.status,
                _num((r.finished_at - r.started_at).total_seconds(), 1) if r.finished_at else "–",
                r.owner,
                r.detail or "–",
            ]
            for r in newest_first
        ],  # fmt: skip
        marks=["hurts" if r.status in ("failed", "expired") else "" for r in newest_first],
    )
    chart = None
    if drawn:
        chart = charts.job_runs(
            "Job runs: how long each took",
            "Scatter chart of the duration of each job run over time, by job; failed runs are red crosses; the "
            "numbers are in the table.",
            drawn,
        )
    return Section("jobs", "Job runs", "Training, scoring, learning and purging run on a schedule; each run is "
                   "recorded.", [Panel(table, chart, "" if chart else "No job has run yet.")])  # fmt: skip
