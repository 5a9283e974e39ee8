"""The hidden truth next to what the app measured, for every rule test and every learning block.

The measured side is the app's own analysis over its own records
(``app.ml.experiments.rule_tests`` and ``learn_block`` over
``app.store.analysis.decision_rows`` and ``Outcomes``), exactly what the learn
job computes. The truth side may look at anything: the run's ledger
(``app.sim.ledger``: which blocks each visitor read, the page script's names
for them), the hidden effects and the app's records. Only the simulated
visitors' behaviour was blind to names.

**Expected goal of a visitor** (the app's unit: a visitor in one arm of a
test, or shown one candidate in one segment), from the hidden model over the
exposures they had, on the path they took:

- click: ``1 - prod(1 - c_e)`` over the exposures, ``c_e`` the click chance of
  the content shown for that visitor in that segment if they read the block (0
  if they did not, if it has no link, or if the page sent no beacon: the app
  never hears of such a click);
- sign-up: ``1 - prod(1 - s_d)`` over the sign-up forms they reached within the
  goal window after an exposure, ``s_d`` their submit chance on it.

That is the measured goal without its coin flips: the chances, not whether
the coin fell.

**True lift of a rule**: the mean expected goal of the visitors in its treated
arm minus that of its control arm. The arms are random shares of the visitors
the rule matched, each on the paths its own content led them to, so this is
the rule's effect for the visitors it matched (including where what they were
shown took them next). Which visitors fell in which arm is noise this truth
shares with the measurement: in the runs measured, the variation of the
expected goals between visitors was about an eighth of the variance of a
visitor's goal, so a 95% interval should contain it about 96% of the time.

**Learning blocks**, per segment and candidate: the **true rate** is the mean
expected goal of the visitors shown that candidate (what the posterior
estimates); the **true gain** is, over every visitor for whom it was eligible
(the decision's ``candidates``), the expected goal with it minus with the
default on the same exposures (paths held as they were: what a content does to
where they go next is left out here). The truly best candidate of a segment is
the one with the highest gain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask

from app import store
from app.content import current_site
from app.extensions import db
from app.ml.experiments import SEGMENT_DIMENSIONS, learn_block, rule_tests, seed_for
from app.ml.learn import current_pauses, rule_settings
from app.sim.effects import HiddenEffects
from app.sim.ledger import Ledger, PageLog, PersonLog, SeenBlock, VisitLog
from app.sim.population import click_chance, signup_chance
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
        #: Decision rows with no page view in the ledger (there should be none).
        self.unmatched: set[tuple[str, datetime, str]] = set()

    def exposure(self, row: DecisionRow) -> _Exposure | None:
        """The ledger's record of the page view and block a decision row is about."""
        found = self.views.get((row.visitor, row.path, row.at))
        if found is not None:
            person, visit, page = found
            for block in page.blocks:
                if block.name == row.block:
                    return _Exposure(person, visit, page, block, row.at)
        self.unmatched.add((row.visitor, row.at, row.block))
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
                    miss *= 1 - click_chance(e.person.clickiness, shown, e.visit.segment, self.effects)
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
            miss *= 1 - signup_chance(form.base, sorted(identities), visit.segment, self.effects)
        return 1 - miss


# ------------------------------------------------------------------ rule tests


@dataclass
class _Cell:
    """One test (or one of its segments): per arm, visitors and their summed expected goals."""

    visitors: list[int] = field(default_factory=lambda: [0, 0])  # [with the rule, control]
    expected: list[float] = field(default_factory=lambda: [0.0, 0.0])

    def add(self, control: bool, value: float) -> None:
        self.visitors[control] += 1
        self.expected[control] += value

    def rates(self) -> tuple[float, float] | None:
        if not all(self.visitors):
            return None
        return self.expected[0] / self.visitors[0], self.expected[1] / self.visitors[1]

    def lift(self) -> float | None:
        rates = self.rates()
        return None if rates is None else rates[0] - rates[1]


def _interval(t: tuple[float, float, float] | None) -> dict[str, float] | None:
    return None if t is None else {"difference": t[0], "low": t[1], "high": t[2]}


def _covered(measured: tuple[float, float, float] | None, true: float | None) -> bool | None:
    if measured is None or true is None:
        return None
    return measured[1] <= true <= measured[2]


def _enough(test: Any) -> bool:
    return min(test.treated.visitors, test.control.visitors) >= COUNT_MIN


def _units(
    truth: Truth, rows: Iterable[DecisionRow], key: Any
) -> tuple[dict[Any, list[_Exposure]], dict[Any, DecisionRow]]:
    """Exposures per unit (``key(row)``; None skips the row) and each unit's first row."""
    units: dict[Any, list[_Exposure]] = defaultdict(list)
    first: dict[Any, DecisionRow] = {}
    for row in rows:
        unit = key(row)
        if unit is None:
            continue
        first.setdefault(unit, row)
        exposure = truth.exposure(row)
        if exposure is not None:
            units[unit].append(exposure)
    return units, first


def _rules(truth: Truth, rows: list[DecisionRow], outcomes: Outcomes, site: Any, control_share: float,
           min_sample: int) -> list[dict[str, Any]]:  # fmt: skip
    goals, shares, fingerprints = rule_settings(site, control_share)
    tests = rule_tests(
        rows, outcomes, goals=goals, shares=shares, paused=current_pauses(fingerprints), min_sample=min_sample
    )
    # The app's unit: a visitor in one arm of one test.
    units, first = _units(truth, rows, lambda r: None if r.test is None else (r.test, r.control, r.visitor))
    overall: dict[str, _Cell] = defaultdict(_Cell)
    segments: dict[tuple[str, str, str], _Cell] = defaultdict(_Cell)
    possible: dict[str, bool] = defaultdict(bool)
    for (test, control, visitor), exposures in units.items():
        block, variant = test.split("/", 1)
        goal = goals.get(block, "click")
        value = truth.expected(exposures, None, goal)  # what this arm showed them, on their own path
        # A click cannot happen without a link in either version, nor without the beacon.
        possible[test] |= goal != "click" or (
            any(e.page.beacon for e in exposures) and any(truth.linked.get(e.block.identity, False) for e in exposures)
        )
        overall[test].add(control, value)
        row = first[(test, control, visitor)]
        for dimension in SEGMENT_DIMENSIONS:
            segments[(test, dimension, getattr(row, dimension) or "unknown")].add(control, value)
    results = []
    for test in tests:
        cell = overall[test.rule]
        true = cell.lift()
        seg_results = []
        for s in test.segments:
            seg_true = segments[(test.rule, s.dimension, s.value)].lift()
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
        rates = cell.rates()
        results.append(
            {
                "rule": test.rule,
                "goal": test.goal,
                "status": test.status,
                "control_share": test.control_share,
                "treated": {"visitors": test.treated.visitors, "goals": test.treated.goals},
                "control": {"visitors": test.control.visitors, "goals": test.control.goals},
                "measured": _interval(test.lift),
                # The always-valid interval the status (and a pause) is decided on: wider than the one-look one.
                "sequence": _interval(test.sequence),
                "srm": test.srm,
                "true": true,
                "true_rates": None if rates is None else {"rule": rates[0], "control": rates[1]},
                # A test whose goal cannot happen (no link in either version, no beacon) proves nothing.
                "goal_possible": possible[test.rule],
                "covered": _covered(test.lift, true) if possible[test.rule] and _enough(test) else None,
                "segments": seg_results,
            }
        )
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
        goal = settings.goal
        # True rate: like the posterior's unit, a visitor shown a candidate in a segment, on their own path.
        shown, _ = _units(truth, drawn, lambda r: (r.segment or "*", r.variant, r.visitor))
        rate: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for (segment, variant, _visitor), exposures in shown.items():
            value = truth.expected(exposures, None, goal)
            for name in {segment, "*"}:
                rate[(name, variant)][0] += 1
                rate[(name, variant)][1] += value
        # True gain over the default: every visitor for whom a candidate was eligible, both contents
        # on the same exposures (paths held as they were).
        visits, _ = _units(truth, drawn, lambda r: (r.segment or "*", r.visitor))
        eligible: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in drawn:
            eligible[(row.segment or "*", row.visitor)].update(row.candidates.split() if row.candidates else candidates)
        gain: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        base_content = truth.content(block, default.id)
        for key, exposures in visits.items():
            if base_content is None:
                break
            base = truth.expected(exposures, base_content, goal)
            for candidate in eligible[key]:
                content = truth.content(block, candidate)
                if content is None:
                    continue
                value = truth.expected(exposures, content, goal) - base
                for name in {key[0], "*"}:
                    gain[(name, candidate)][0] += 1
                    gain[(name, candidate)][1] += value
        table = served[1] if served is not None else learned.table()
        segments = []
        for allocation in (learned.overall, *learned.segments):
            name = allocation.segment
            shares = table.get("overall", {}) if name == "*" else table.get("segments", {}).get(name, {})
            rows_out = []
            for c in allocation.candidates:
                n, expected = rate.get((name, c.variant), (0.0, 0.0))
                m, gained = gain.get((name, c.variant), (0.0, 0.0))
                true = expected / n if n else None
                rows_out.append(
                    {
                        "variant": c.variant,
                        "visitors": c.visitors,
                        "goals": c.goals,
                        "posterior": {"mean": c.mean, "low": c.low, "high": c.high},
                        "share": float(shares.get(c.variant, 0.0)),
                        "true": true,
                        "eligible": int(m),
                        "gain": gained / m if m else None,
                        "covered": (c.low <= true <= c.high) if true is not None and c.visitors >= COUNT_MIN else None,
                    }
                )
            ranked = sorted((r for r in rows_out if r["gain"] is not None and r["eligible"] >= COUNT_MIN),
                            key=lambda r: -r["gain"])  # fmt: skip
            best = ranked[0]["variant"] if ranked else None
            # The favourite among the candidates some visitor of the segment could get.
            possible = [r for r in rows_out if r["eligible"]]
            favourite = max(possible, key=lambda r: r["share"])["variant"] if shares and possible else None
            segments.append(
                {
                    "segment": name,
                    "candidates": rows_out,
                    "best": best,
                    "favourite": favourite,
                    "best_share": next((r["share"] for r in rows_out if r["variant"] == best), None),
                    "best_traffic": _traffic(drawn, name, [r["variant"] for r in ranked]),
                }
            )
        results.append(
            {"block": block, "goal": settings.goal, "by": list(settings.by), "version": version, "segments": segments}
        )
    return results


def _traffic(drawn: list[DecisionRow], segment: str, ranking: list[str]) -> dict[str, Any] | None:
    """Under the last allocation that served visitors: the share of draws that showed the truly best
    candidate among those eligible for that draw (candidates are eligible for different visitors)."""
    if not ranking or not drawn:
        return None
    last = max(row.allocation or 0 for row in drawn)
    hits = draws = 0
    for row in drawn:
        if row.allocation != last or (segment != "*" and row.segment != segment):
            continue
        available = set(row.candidates.split()) if row.candidates else set(ranking)
        best = next((c for c in ranking if c in available), None)
        if best is not None:
            draws += 1
            hits += row.variant == best
    return {"version": last, "draws": draws, "share": hits / draws} if draws else None


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
            # A paused test stopped when it looked worst: its interval is judged apart.
            "rules": _count(r["covered"] for r in rules if r["status"] != "paused"),
            "paused_rules": _count(r["covered"] for r in rules if r["status"] == "paused"),
            "segments": _count(s["covered"] for r in rules if r["status"] != "paused" for s in r["segments"]),
            "learning": _count(c["covered"] for b in learning for s in b["segments"] for c in s["candidates"]),
            "impossible_goal": sum(not r["goal_possible"] for r in rules),
        },
        "unmatched_rows": len(truth.unmatched),
    }
