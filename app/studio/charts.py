"""The reports' charts: SVG drawn on the server by Matplotlib, shown as images.

Matplotlib's SVG styles its shapes with ``style`` attributes and a ``<style>``
element, which the site's Content-Security-Policy (``style-src 'self'``)
would block inside the page. So each chart is an image with a ``data:`` URL
(``img-src 'self' data:`` allows it; an image's SVG runs no script and loads
nothing): the page's policy stays as strict as everywhere else. Every chart
is drawn twice, wide for desktops and narrow for phones, so that its text
stays readable at both widths, and its numbers are in a table beside it.

Only the object-oriented API is used (``Figure``, never ``pyplot``): no global
figure state, safe in a threaded server. The Matplotlib settings are applied
under a lock, since ``rc_context`` changes them process-wide while it lasts.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import matplotlib
from matplotlib import dates, ticker
from matplotlib.figure import Figure

#: Wide (desktop) and narrow (phone) widths, in inches.
WIDE, NARROW = 7.6, 4.2
INK = "#13212b"
MUTED = "#56636d"
GRID = "#e1e7ea"
ACCENT = "#0b6670"
OTHER = "#c05a17"
DANGER = "#b42318"
SUCCESS = "#1e7b3a"
#: Distinguishable colours for several series (Okabe-Ito, readable by colour-blind people).
SERIES = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
_RC = {
    "svg.fonttype": "none",  # text stays text: smaller, and sharp at any size
    "svg.hashsalt": "tessera-studio",  # the same chart gives the same SVG
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Chart:
    """A chart as two ``data:`` URLs (wide, narrow) and the sentence an image's ``alt`` needs."""

    title: str
    alt: str
    wide: str
    narrow: str


def _draw(title: str, alt: str, height: float | tuple[float, float], paint: Callable[[Figure, bool], None]) -> Chart:
    """Paint the figure wide and narrow (``height`` may differ between them) into two SVG ``data:`` URLs."""
    heights = height if isinstance(height, tuple) else (height, height)
    urls = []
    with _LOCK, matplotlib.rc_context(_RC):
        for width, tall in zip((WIDE, NARROW), heights, strict=True):
            figure = Figure(figsize=(width, tall), layout="constrained")
            paint(figure, width == NARROW)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
            urls.append("data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return Chart(title=title, alt=alt, wide=urls[0], narrow=urls[1])


def _pct_axis(axis: Any) -> None:
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v * 100:.0f}%"))


def _pts_axis(axis: Any) -> None:
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v * 100:+.0f}"))


def _dates(axes: Any, narrow: bool) -> None:
    locator = dates.AutoDateLocator(maxticks=4 if narrow else 8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))


def _legend(figure: Figure, axes: Any, narrow: bool, columns: int = 2) -> None:
    """The legend below the plot, outside it (the constrained layout makes room)."""
    handles, labels = axes.get_legend_handles_labels()
    figure.legend(handles, labels, frameon=False, fontsize=9, loc="outside lower center",
                  ncol=columns if narrow else 4)  # fmt: skip


# ------------------------------------------------------------------ charts


@dataclass(frozen=True)
class Band:
    """A rate over time with its 95% interval."""

    label: str
    days: Sequence[datetime]
    rate: Sequence[float | None]
    low: Sequence[float | None]
    high: Sequence[float | None]


def rates_over_time(title: str, alt: str, bands: Sequence[Band], ylabel: str) -> Chart:
    """Lines with shaded intervals: e.g. the holdout's and the personalized visitors' conversion."""

    def paint(figure: Figure, narrow: bool) -> None:
        axes = figure.subplots()
        for band, colour in zip(bands, (ACCENT, OTHER), strict=False):
            points = [(d, r, lo, hi) for d, r, lo, hi in zip(band.days, band.rate, band.low, band.high, strict=True)
                      if r is not None]  # fmt: skip
            if not points:
                continue
            days, rate, low, high = zip(*points, strict=True)
            axes.fill_between(days, low, high, color=colour, alpha=0.15, linewidth=0)
            axes.plot(days, rate, color=colour, linewidth=2, marker="o", markersize=3, label=band.label)
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0)
        axes.grid(axis="y", color=GRID)
        _pct_axis(axes.yaxis)
        _dates(axes, narrow)
        _legend(figure, axes, narrow)

    return _draw(title, alt, 3.6, paint)


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: an estimate and its 95% interval, and how to mark it."""

    label: str
    estimate: float
    low: float
    high: float
    #: "hurts" (red), "helps" (green) or "" (neutral).
    mark: str = ""


def forest(title: str, alt: str, rows: Sequence[Interval], xlabel: str) -> Chart:
    """Estimates with their intervals around a zero line; hurting rows in red, helping ones in green."""
    colours = {"hurts": DANGER, "helps": SUCCESS, "": ACCENT}

    def paint(figure: Figure, narrow: bool) -> None:
        axes = figure.subplots()
        y = list(range(len(rows)))[::-1]
        for row, at in zip(rows, y, strict=True):
            colour = colours[row.mark]
            axes.plot([row.low, row.high], [at, at], color=colour, linewidth=2, solid_capstyle="butt")
            axes.plot([row.estimate], [at], marker="s" if row.mark else "o", color=colour, markersize=6)
        axes.axvline(0, color=MUTED, linewidth=1, linestyle="--")
        axes.set_yticks(y, [_short(row.label, 26 if narrow else 48) for row in rows], fontsize=8 if narrow else 9)
        axes.set_ylim(-0.7, len(rows) - 0.3)
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", color=GRID)
        _pts_axis(axes.xaxis)

    return _draw(title, alt, 1.1 + 0.32 * len(rows), paint)


def shares_over_time(title: str, alt: str, times: Sequence[datetime], shares: dict[str, Sequence[float]]) -> Chart:
    """A learning block's allocation: each candidate's share of the visitors, version after version."""

    def paint(figure: Figure, narrow: bool) -> None:
        axes = figure.subplots()
        for (name, values), colour in zip(sorted(shares.items()), SERIES * 4, strict=False):
            axes.step(times, values, where="post", color=colour, linewidth=2, label=name)
            axes.plot(times, values, linestyle="none", marker="o", markersize=3, color=colour)
        axes.set_ylim(0, 1)
        axes.set_ylabel("share of visitors")
        axes.grid(axis="y", color=GRID)
        _pct_axis(axes.yaxis)
        _dates(axes, narrow)
        _legend(figure, axes, narrow)

    return _draw(title, alt, 3.6, paint)


@dataclass(frozen=True)
class Metric:
    """A model metric per version, against its baseline; ``better`` says which way is better."""

    name: str
    versions: Sequence[int]
    values: Sequence[float | None]
    baseline: Sequence[float | None]
    better: str  # "higher" or "lower"
    rejected: Sequence[bool]


def model_metrics(title: str, alt: str, metrics: Sequence[Metric]) -> Chart:
    """One panel per metric: each version's value (rejected ones hollow and red) and the baseline's."""

    def paint(figure: Figure, narrow: bool) -> None:
        panels = figure.subplots(len(metrics), 1, squeeze=False)[:, 0] if narrow else \
            figure.subplots(1, len(metrics), squeeze=False)[0]  # fmt: skip
        for axes, metric in zip(panels, metrics, strict=True):
            pairs = [(v, x, b, r) for v, x, b, r in zip(metric.versions, metric.values, metric.baseline,
                                                           metric.rejected, strict=True) if x is not None]  # fmt: skip
            if pairs:
                versions, values, baseline, rejected = zip(*pairs, strict=True)
                axes.plot(versions, values, color=ACCENT, linewidth=2, label="model")
                kept = [(v, x) for v, x, r in zip(versions, values, rejected, strict=True) if not r]
                lost = [(v, x) for v, x, r in zip(versions, values, rejected, strict=True) if r]
                if kept:
                    axes.plot(*zip(*kept, strict=True), linestyle="none", marker="o", color=ACCENT, label="published")
                if lost:
                    axes.plot(*zip(*lost, strict=True), linestyle="none", marker="o", markerfacecolor="white",
                              color=DANGER, label="rejected")  # fmt: skip
                if any(b is not None for b in baseline):
                    axes.plot(versions, [b if b is not None else float("nan") for b in baseline], color=MUTED,
                              linestyle="--", linewidth=1.5, label="baseline")  # fmt: skip
            axes.set_title(f"{metric.name} ({metric.better} is better)", fontsize=10, color=INK)
            axes.set_xlabel("version")
            axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            axes.grid(axis="y", color=GRID)
        _legend(figure, panels[-1], narrow)

    return _draw(title, alt, (3.4, 0.6 + 2.6 * len(metrics)), paint)


def calibration(title: str, alt: str, predicted: Sequence[float], observed: Sequence[float]) -> Chart:
    """Observed rate against predicted probability per bin; the diagonal is perfect calibration."""

    def paint(figure: Figure, narrow: bool) -> None:
        axes = figure.subplots()
        axes.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1, label="perfectly calibrated")
        axes.plot(predicted, observed, color=ACCENT, marker="o", linewidth=2, label="model")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("predicted probability")
        axes.set_ylabel("observed rate")
        axes.set_aspect("equal")
        axes.grid(color=GRID)
        axes.legend(frameon=False, fontsize=9, loc="upper left")

    return _draw(title, alt, 3.8, paint)


@dataclass(frozen=True)
class Run:
    job: str
    started: datetime
    seconds: float
    failed: bool


def job_runs(title: str, alt: str, runs: Sequence[Run]) -> Chart:
    """How long each run took, by job; failed runs as red crosses."""

    def paint(figure: Figure, narrow: bool) -> None:
        axes = figure.subplots()
        jobs = sorted({run.job for run in runs})
        for job, colour in zip(jobs, SERIES * 4, strict=False):
            ok = [(r.started, r.seconds) for r in runs if r.job == job and not r.failed]
            if ok:
                axes.plot(*zip(*ok, strict=True), linestyle="none", marker="o", color=colour, label=job)
        failed = [(r.started, r.seconds) for r in runs if r.failed]
        if failed:
            axes.plot(*zip(*failed, strict=True), linestyle="none", marker="x", markersize=8, color=DANGER,
                      label="failed")  # fmt: skip
        axes.set_ylabel("seconds")
        axes.set_ylim(bottom=0)
        axes.grid(axis="y", color=GRID)
        _dates(axes, narrow)
        _legend(figure, axes, narrow, columns=3)

    return _draw(title, alt, 3.4, paint)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
