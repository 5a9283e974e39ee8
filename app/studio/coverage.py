"""Coverage: which variant every common visitor gets, and the content nobody sees.

The matrix runs the preview's engine call for a grid of common contexts
(device x daypart x weekday or weekend x a few countries, each with its usual
language and time zone) and for the common personas, on one week's dates,
with personalization on, outside the holdout and treated in every test. Two
things are flagged: a variant that no row reaches (with the trace's reason,
so "always loses to a stronger rule" reads differently from "its condition
matches none of these visitors"), and a block where every row gets the
default. A learning block's variant counts as reached where it is a
candidate of the draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time

from app.content import Site
from app.engine.model import BlockDecision, Experiments, Variant
from app.engine.trace import CandidateTrace
from app.studio.inputs import PreviewInputs, next_weekday, presets
from app.studio.preview import Preview, run_preview

DEVICES = ("mobile", "tablet", "desktop")
#: A typical hour of each daypart.
DAYPARTS = {"morning": 9, "afternoon": 14, "evening": 19, "night": 23}
#: Countries and the language their visitors' browsers usually ask for.
COUNTRIES = {"US": "en", "DE": "de", "GB": "en", "IN": "en"}
DEVICE_LABELS = {"mobile": "phone", "tablet": "tablet", "desktop": "desktop"}
#: Which reason best explains a variant nobody gets: the nearest miss first.
_NEAREST = ("priority", "control", "budget", "allocation", "paused", "schedule", "condition", "layer")


@dataclass(frozen=True)
class Row:
    """One visitor of the matrix: a label, the group it belongs to and the inputs it was previewed with."""

    label: str
    group: str
    inputs: PreviewInputs


@dataclass(frozen=True)
class Unreached:
    """A variant no row reaches, and the reason seen nearest to reaching it (with the row it was seen in)."""

    variant: Variant
    reason: str
    row: str


@dataclass(frozen=True)
class PageCoverage:
    page: str
    blocks: tuple[str, ...]
    rows: tuple[Row, ...]
    #: Row label -> block -> the decision.
    cells: Mapping[str, Mapping[str, BlockDecision]]
    #: block -> variant id -> rows that reach it.
    reach: Mapping[str, Mapping[str, int]]
    unreached: tuple[Unreached, ...]
    #: Blocks where every row gets the default.
    all_default: tuple[str, ...]


def matrix_rows(page: str, site: Site, on: date) -> list[Row]:
    """The grid of contexts on the week of ``on`` (its next weekday and weekend day), then the personas."""
    weekday, weekend = next_weekday(on, False), next_weekday(on, True)
    rows = []
    for device in DEVICES:
        for day in (weekday, weekend):
            for part, hour in DAYPARTS.items():
                for country, language in COUNTRIES.items():
                    label = f"{DEVICE_LABELS[device]} · {day:%a} {part} · {country}"
                    inputs = PreviewInputs(page=page, device=device, day=day, clock=time(hour), country=country,
                                           language=language)  # fmt: skip
                    rows.append(Row(label, "context", inputs))
    base = PreviewInputs(page=page, device="desktop", day=weekday, clock=time(14), country="US", language="en")
    rows += [Row(preset.name, "persona", preset.apply(base)) for preset in presets(site.topics)]
    return rows


def page_coverage(
    site: Site,
    page: str,
    on: date,
    *,
    experiments: Experiments,
    holdout_share: float,
    min_evidence: int,
    versions: dict[str, int],
) -> PageCoverage:
    """Preview ``page`` for every row, and find what no row reaches."""
    rows = matrix_rows(page, site, on)
    previews = [
        run_preview(site, row.inputs, experiments=experiments, holdout_share=holdout_share,
                    min_evidence=min_evidence, versions=versions)
        for row in rows
    ]  # fmt: skip
    spec = site.pages[page].spec
    blocks = tuple(slot.block for slot in spec.slots if slot.block in site.catalog.defaults)
    cells = {
        row.label: {b.block: b for b in preview.decision.blocks} for row, preview in zip(rows, previews, strict=True)
    }
    reach: dict[str, dict[str, int]] = {block: {} for block in blocks}
    for preview in previews:
        for decision in preview.decision.blocks:
            found = set(decision.candidates) | {decision.variant.id}
            for variant in found:
                reach[decision.block][variant] = reach[decision.block].get(variant, 0) + 1
    unreached = []
    for block in blocks:
        for variant in site.catalog.conditional.get(block, ()):
            if variant.id not in reach[block]:
                unreached.append(_nearest(variant, rows, previews))
    all_default = tuple(block for block in blocks if all(cells[row.label][block].variant.rule is None for row in rows))
    return PageCoverage(page, blocks, tuple(rows), cells, reach, tuple(unreached), all_default)


def _nearest(variant: Variant, rows: Sequence[Row], previews: Sequence[Preview]) -> Unreached:
    """Why a variant nobody gets is missed: the reason nearest to reaching it among the rows."""
    best: tuple[int, CandidateTrace, Row] | None = None
    for row, preview in zip(rows, previews, strict=True):
        trace = preview.trace(variant.block)
        candidate = trace.candidate(variant.id) if trace is not None else None
        if candidate is None:
            continue
        rank = _NEAREST.index(candidate.kind) if candidate.kind in _NEAREST else len(_NEAREST)
        if best is None or rank < best[0]:
            best = (rank, candidate, row)
    if best is None:
        return Unreached(variant, "it is not on this page.", "")
    _, candidate, row = best
    return Unreached(variant, candidate.reason, row.label)


def site_flags(coverages: Sequence[PageCoverage]) -> tuple[list[tuple[str, Unreached, list[str]]], list[str]]:
    """Across pages: the variants no row of any page reaches (with the pages that show their block), and
    the blocks that show their default on every row of every page."""
    reached: dict[str, set[str]] = {}
    pages: dict[str, list[str]] = {}
    defaults: dict[str, bool] = {}
    for coverage in coverages:
        for block in coverage.blocks:
            reached.setdefault(block, set()).update(coverage.reach[block])
            pages.setdefault(block, []).append(coverage.page)
            defaults[block] = defaults.get(block, True) and block in coverage.all_default
    unreached, seen = [], set()
    for coverage in coverages:
        for miss in coverage.unreached:
            key = (miss.variant.block, miss.variant.id)
            if miss.variant.id not in reached[miss.variant.block] and key not in seen:
                seen.add(key)
                unreached.append((miss.variant.block, miss, pages[miss.variant.block]))
    return unreached, sorted(block for block, every in defaults.items() if every)
