"""The hidden truth next to what the app measured, for every rule test and every learning block.

The measured side is the app's own analysis over its own records
(``app.ml.experiments.rule_tests`` and ``learn_block`` over
``app.store.analysis.decision_rows`` and ``Outcomes``), exactly what the learn
job and the reports compute. The truth side may look at anything: the run's
ledger (``app.sim.ledger``: which blocks each visitor read, the page script's
names for them), the hidden effects and the app's records. Only the simulated
visitors' behaviour was blind to names.

**True lift of a rule** (its goal: a click on the block, or a sign-up within
the goal window). For a visitor in the test, the expected goal with the rule's
content minus with what its control group sees, each computed from the hidden
model over that visitor's own exposures (holding what they read fixed, and a
click counted only where the page ran the beacon, as in the app's records):

- click: ``1 - prod(1 - c_e)`` over the exposures, ``c_e`` the click chance of
  that content for that visitor in that segment if they read the block (0 if
  they did not, if the content has no link or the page sent no beacon);
- sign-up: ``1 - prod(1 - s_d)`` over the sign-up forms they reached within the
  goal window after an exposure, ``s_d`` the submit chance with that content
  in place of what they read in the block during that visit.

The records name both contents only for the visitors in the control group (a
treated visitor's control is whatever would have matched next, which no
record names); they are a random share of the visitors the rule matched, so
the true lift is the mean difference over them. Visitors' paths are held
fixed: a content's effect on where they went next (and so on later
exposures) is left out, and the rule's content is taken as shown even where
the page's variation budget would have passed it over.

**True goal rate of a learning candidate** in a segment: the same expected
goal with that candidate in the block, averaged over the visitors the app
drew in that segment for whom it was eligible (the decision's ``candidates``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask

from app import store
from app.content import current_site
from app.extensions import db
from app.ml.experiments import SEGMENT_DIMENSIONS, learn_block, rule_tests, seed_for
from app.ml.learn import current_pauses, rule_settings
from app.sim.effects import HiddenEffects, logit, sigmoid
from app.sim.ledger import Ledger, PageLog, PersonLog, SeenBlock, VisitLog
from app.sim.population import BASE_CLICK
from app.store.analysis import GOAL_WINDOW, DecisionRow, Outcomes, decision_rows

#: A true lift within this (absolute) counts as no effect when rules are called helpful or harmful.
NEUTRAL = 0.005
#: Intervals are counted for coverage only with at least this many visitors in each arm
#: (or on each learning candidate): a handful of visitors gives an interval too wide to say anything.
COUNT_MIN = 10
#: Segment cells with fewer control-group visitors than this are not listed (they are counted).
LIST_SEGMENT_MIN = 20


@dataclass
class _Exposure:
    person: PersonLog
    visit: VisitLog
    page: PageLog
    block: SeenBlock
    at: datetime


class Truth:
    """The hidden model's expected goal for a visitor's exposures with a given content."""

    def __init__(self, ledger: Ledger, effects: HiddenEffects) -> None:
        self.effects = effects
        self.views = {
            (person.app_id, page.path, page.at): (person, visit, page)
            for person, visit, page in ledger.views()
            if person.app_id is not None
        }
        self.identities = ledger.identities()
        self.linked = ledger.linked()
        self._read: dict[int, dict[str, set[str]]] = {}
        self.unmatched = 0

    def exposure(self, row: DecisionRow) -> _Exposure | None:
        """The ledger's record of the page view and block a decision row is about."""
        found = self.views.get((row.visitor, row.path, row.at))
        if found is not None:
            person, visit, page = found
            for block in page.blocks:
                if block.name == row.block:
                    return _Exposure(person, visit, page, block, row.at)
        self.unmatched += 1
        return None

    def content(self, block: str, variant: str) -> str | None:
        """The identity of a variant's visible text (None when it was never shown in the run)."""
        return self.identities.get((block, variant))

    def _visit_read(self, visit: VisitLog) -> dict[str, set[str]]:
        read = self._read.get(id(visit))
        if read is None:
            read = self._read[id(visit)] = visit.read()
        return read

    def expected(self, exposures: list[_Exposure], content: str | None, goal: str) -> float:
        """The chance that the goal is reached after these exposures if the block showed ``content``
        (None: what it did show)."""
        miss = 1.0
        if goal == "click":
            for e in exposures:
                shown = e.block.identity if content is None else content
                if e.page.beacon and e.page.clickable and e.block.reached and self.linked.get(shown, False):
                    shift = self.effects.shift("click", shown, e.visit.segment)
                    miss *= 1 - sigmoid(logit(BASE_CLICK) + e.person.clickiness + shift)
            return 1 - miss
        visits: dict[int, tuple[VisitLog, list[_Exposure]]] = {}
        for e in exposures:
            visits.setdefault(id(e.visit), (e.visit, []))[1].append(e)
        for visit, shown in visits.values():
            form = visit.form
            if form is None or not any(e.at <= form.at <= e.at + GOAL_WINDOW for e in shown):
                continue
            name = shown[0].block.name
            read = self._visit_read(visit)
            identities = set(read)
            if content is not None and any(name in blocks for blocks in read.values()):  # they read the block
                identities = {i for i, blocks in read.items() if blocks != {name}} | {content}
            total = form.base + sum(self.effects.shift("signup", i, visit.segment) for i in identities)
            miss *= 1 - sigmoid(total)
        return 1 - miss


# ------------------------------------------------------------------ rule tests


@dataclass
class _Cell:
    """Control-group visitors of one test (or one of its segments): summed expected goals."""

    visitors: int = 0
    rule: float = 0.0
    control: float = 0.0

    def add(self, with_rule: float, with_control: float) -> None:
        self.visitors += 1
        self.rule += with_rule
        self.control += with_control

    def lift(self) -> float | None:
        return (self.rule - self.control) / self.visitors if self.visitors else None


def _interval(t: tuple[float, float, float] | None) -> dict[str, float] | None:
    return None if t is None else {"difference": t[0], "low": t[1], "high": t[2]}


def _covered(measured: tuple[float, float, float] | None, true: float | None) -> bool | None:
    if measured is None or true is None:
        return None
    return measured[1] <= true <= measured[2]


def _enough(test: Any) -> bool:
    return min(test.treated.visitors, test.control.visitors) >= COUNT_MIN


def _rules(truth: Truth, rows: list[DecisionRow], outcomes: Outcomes, site: Any, control_share: float,
           min_sample: int) -> list[dict[str, Any]]:  # fmt: skip
    goals, shares, fingerprints = rule_settings(site, control_share)
    tests = rule_tests(
        rows, outcomes, goals=goals, shares=shares, paused=current_pauses(fingerprints), min_sample=min_sample
    )
    units: dict[tuple[str, str], list[_Exposure]] = defaultdict(list)
    first: dict[tuple[str, str], DecisionRow] = {}
    for row in rows:
        if row.test is None or not row.control:
            continue
        key = (row.test, row.visitor)
        first.setdefault(key, row)
        exposure = truth.exposure(row)
        if exposure is not None:
            units[key].append(exposure)
    overall: dict[str, _Cell] = defaultdict(_Cell)
    segments: dict[tuple[str, str, str], _Cell] = defaultdict(_Cell)
    possible: dict[str, bool] = defaultdict(bool)
    for (test, visitor), exposures in units.items():
        block, variant = test.split("/", 1)
        rule_content = truth.content(block, variant)
        if rule_content is None:
            continue
        goal = goals.get(block, "click")
        with_rule = truth.expected(exposures, rule_content, goal)
        with_control = truth.expected(exposures, None, goal)  # what the control group saw
        # A click cannot happen without a link in either version, nor without the beacon.
        possible[test] |= goal != "click" or (
            any(e.page.beacon for e in exposures)
            and (truth.linked.get(rule_content, False) or any(truth.linked.get(e.block.identity) for e in exposures))
        )
        overall[test].add(with_rule, with_control)
        row = first[(test, visitor)]
        for dimension in SEGMENT_DIMENSIONS:
            segments[(test, dimension, getattr(row, dimension) or "unknown")].add(with_rule, with_control)
    results = []
    for test in tests:
        cell = overall.get(test.rule)
        true = cell.lift() if cell is not None else None
        seg_results = []
        for s in test.segments:
            seg = segments.get((test.rule, s.dimension, s.value))
            seg_true = seg.lift() if seg is not None else None
            seg_results.append(
                {
                    "dimension": s.dimension,
                    "value": s.value,
                    "treated": s.treated.visitors,
                    "control": s.control.visitors,
                    "measured": _interval(s.lift),
                    "hurts": s.hurts,
                    "true": seg_true,
                    "covered": _covered(s.lift, seg_true) if possible[test.rule] and _enough(s) else None,
                }
            )
        results.append(
            {
                "rule": test.rule,
                "goal": test.goal,
                "status": test.status,
                "control_share": test.control_share,
                "treated": {"visitors": test.treated.visitors, "goals": test.treated.goals},
                "control": {"visitors": test.control.visitors, "goals": test.control.goals},
                "measured": _interval(test.lift),
                "srm": test.srm,
                "true": true,
                "true_rates": None if not cell or not cell.visitors else
                {"rule": cell.rule / cell.visitors, "control": cell.control / cell.visitors},
                # A test whose goal cannot happen (no link in either content, no beacon) proves nothing.
                "goal_possible": possible[test.rule],
                "covered": _covered(test.lift, true) if possible[test.rule] and _enough(test) else None,
                "segments": seg_results,
            }
        )  # fmt: skip
    return results


# ------------------------------------------------------------------ learning blocks


def _learning(truth: Truth, rows: list[DecisionRow], outcomes: Outcomes, site: Any) -> list[dict[str, Any]]:
    results = []
    for block, settings in sorted(site.catalog.settings.items()):
        default = site.catalog.defaults.get(block)
        if settings.strategy != "learn" or default is None:
            continue
        candidates = [default.id, *(v.id for v in site.catalog.conditional.get(block, ()))]
        drawn = [r for r in rows if r.block == block and r.strategy == "learn" and r.allocation is not None]
        served = store.newest_allocation(block)
        version = served[0] if served is not None else 0
        learned = learn_block(block, drawn, outcomes, candidates=candidates, default=default.id, goal=settings.goal,
                              by=settings.by, explore=settings.explore, seed=seed_for(block, version))  # fmt: skip
        units: dict[tuple[str, str], list[_Exposure]] = defaultdict(list)
        eligible: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in drawn:
            key = (row.segment or "*", row.visitor)
            eligible[key].update(row.candidates.split() if row.candidates else candidates)
            exposure = truth.exposure(row)
            if exposure is not None:
                units[key].append(exposure)
        # Expected goal per candidate: summed over the eligible visitors, per segment and block-wide.
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for key, exposures in units.items():
            for candidate in eligible[key]:
                content = truth.content(block, candidate)
                if content is None:
                    continue
                value = truth.expected(exposures, content, settings.goal)
                for segment in {key[0], "*"}:
                    total = sums[(segment, candidate)]
                    total[0] += 1
                    total[1] += value
        table = served[1] if served is not None else learned.table()
        segments = []
        for allocation in (learned.overall, *learned.segments):
            shares = table.get("overall", {}) if allocation.segment == "*" else table.get("segments", {}).get(
                allocation.segment, {})  # fmt: skip
            rows_out = []
            for c in allocation.candidates:
                n, expected = sums.get((allocation.segment, c.variant), (0.0, 0.0))
                true = expected / n if n else None
                rows_out.append(
                    {
                        "variant": c.variant,
                        "visitors": c.visitors,
                        "goals": c.goals,
                        "posterior": {"mean": c.mean, "low": c.low, "high": c.high},
                        "share": float(shares.get(c.variant, 0.0)),
                        "true": true,
                        "covered": (c.low <= true <= c.high) if true is not None and c.visitors >= COUNT_MIN else None,
                    }
                )
            known = [r for r in rows_out if r["true"] is not None]
            best = max(known, key=lambda r: r["true"])["variant"] if known else None
            favourite = max(rows_out, key=lambda r: r["share"])["variant"] if shares else None
            segments.append(
                {
                    "segment": allocation.segment,
                    "candidates": rows_out,
                    "best": best,
                    "favourite": favourite,
                    "best_share": next((r["share"] for r in rows_out if r["variant"] == best), None),
                    "best_traffic": _traffic(drawn, allocation.segment, best),
                }
            )
        results.append(
            {"block": block, "goal": settings.goal, "by": list(settings.by), "version": version, "segments": segments}
        )
    return results


def _traffic(drawn: list[DecisionRow], segment: str, best: str | None) -> dict[str, Any] | None:
    """Under the last allocation that served visitors: the share of draws that showed ``best``,
    among the draws where it was eligible (what "traffic to the best" means when candidates
    are eligible for different visitors)."""
    if best is None or not drawn:
        return None
    last = max(row.allocation or 0 for row in drawn)
    eligible = [
        row
        for row in drawn
        if row.allocation == last
        and (segment == "*" or row.segment == segment)
        and (row.candidates is None or best in row.candidates.split())
    ]
    if not eligible:
        return None
    return {"version": last, "draws": len(eligible), "share": sum(r.variant == best for r in eligible) / len(eligible)}


# ------------------------------------------------------------------ pauses and the headline


def _pauses(rules: list[dict[str, Any]]) -> dict[str, Any]:
    true = {r["rule"]: r["true"] for r in rules}
    paused = []
    for rule, _fingerprint, at, reason in store.paused_rules():
        lift = true.get(rule)
        verdict = "unknown" if lift is None else _verdict(lift)
        paused.append({"rule": rule, "at": at.isoformat(sep=" ", timespec="minutes"), "reason": reason,
                       "true": lift, "truly": verdict})  # fmt: skip
    names = {p["rule"] for p in paused}
    return {
        "paused": paused,
        "wrongly_paused": [p["rule"] for p in paused if p["truly"] == "helps"],
        "harmful_serving": [
            r["rule"]
            for r in rules
            if r["true"] is not None and _verdict(r["true"]) == "hurts" and r["rule"] not in names
        ],  # fmt: skip
    }


def _verdict(lift: float) -> str:
    if lift > NEUTRAL:
        return "helps"
    if lift < -NEUTRAL:
        return "hurts"
    return "about neutral"


def _count(flags: Iterable[bool | None]) -> dict[str, int]:
    values = [f for f in flags if f is not None]
    return {"covered": sum(values), "of": len(values)}


def truth_report(app: Flask, ledger: Ledger, effects: HiddenEffects, since: datetime,
                 until: datetime) -> dict[str, Any]:  # fmt: skip
    """Per rule test and learning block: what the app measured and what was true, and how often they agree."""
    run_ids = {p.app_id for p in ledger.people if p.app_id is not None}
    truth = Truth(ledger, effects)
    with app.app_context():
        site = current_site()
        rows = [r for r in decision_rows(since, until) if r.visitor in run_ids]
        outcomes = Outcomes(since, until)
        config = app.config
        rules = _rules(truth, rows, outcomes, site, config["RULE_CONTROL_SHARE"], config["RULE_MIN_SAMPLE"])
        learning = _learning(truth, rows, outcomes, site)
        pauses = _pauses(rules)
        db.session.remove()
    return {
        "rules": rules,
        "learning": learning,
        "pauses": pauses,
        "coverage": {
            "rules": _count(r["covered"] for r in rules),
            "segments": _count(s["covered"] for r in rules for s in r["segments"]),
            "learning": _count(c["covered"] for b in learning for s in b["segments"] for c in s["candidates"]),
            "impossible_goal": sum(not r["goal_possible"] for r in rules),
        },
        "unmatched_rows": truth.unmatched,
    }
